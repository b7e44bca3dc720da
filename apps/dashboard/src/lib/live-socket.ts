/**
 * The WebSocket to the API's live feed: validates every message, reports its state, and reconnects
 * with exponential backoff after any close it did not ask for.
 */
import { serverMessageSchema, type ServerMessage } from "@floodwatch/core/stream-contracts";
import { reconnectDelay } from "./backoff.ts";
import type { ConnectionState } from "./live-store.ts";

/** Subprotocol the API speaks; the token travels as a second one (`bearer.<token>`). */
export const LIVE_SUBPROTOCOL = "floodwatch";

/** Subprotocols to offer: browsers cannot set headers on a WebSocket, so the token rides here. */
export function liveSubprotocols(token: string | null): string[] {
  return token === null ? [LIVE_SUBPROTOCOL] : [LIVE_SUBPROTOCOL, `bearer.${token}`];
}

/** The part of the browser's WebSocket this client uses. */
export interface SocketLike {
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  close(code?: number, reason?: string): void;
}

/** Options of {@link LiveSocket}. */
export interface LiveSocketOptions {
  url: string;
  token: () => string | null;
  onMessage: (message: ServerMessage) => void;
  onState: (state: ConnectionState) => void;
  /** Called on every successful open; the page catches up from the REST API here. */
  onOpen?: () => void;
  /** Called with a message that failed validation (at most once per connection). */
  onInvalidMessage?: (problem: string) => void;
  createSocket?: (url: string, protocols: string[]) => SocketLike;
  random?: () => number;
  setTimer?: (callback: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  now?: () => number;
}

/** One live connection, kept open until {@link LiveSocket.stop}. */
export class LiveSocket {
  readonly #options: LiveSocketOptions;
  #socket: SocketLike | null = null;
  #timer: unknown = null;
  #attempt = 0;
  #running = false;
  #reportedInvalid = false;

  constructor(options: LiveSocketOptions) {
    this.#options = options;
  }

  /** Opens the connection (again, after {@link stop}). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#attempt = 0;
    this.#connect();
  }

  /** Closes the connection and stops reconnecting. */
  stop(): void {
    this.#running = false;
    this.#clearTimer();
    const socket = this.#socket;
    this.#socket = null;
    if (socket !== null) {
      detach(socket);
      socket.close(1000, "dashboard closed");
    }
    this.#options.onState({ status: "closed" });
  }

  /** Drops the current connection or pending retry and connects now (new token, network back). */
  reconnectNow(): void {
    if (!this.#running) return;
    this.#clearTimer();
    const socket = this.#socket;
    this.#socket = null;
    if (socket !== null) {
      detach(socket);
      socket.close(1000, "reconnecting");
    }
    this.#connect();
  }

  #connect(): void {
    const { url, token, onState } = this.#options;
    const create =
      this.#options.createSocket ??
      ((u: string, protocols: string[]): SocketLike => new WebSocket(u, protocols));
    onState({ status: "connecting", attempt: this.#attempt });
    this.#reportedInvalid = false;
    let socket: SocketLike;
    try {
      socket = create(url, liveSubprotocols(token()));
    } catch (error) {
      // A malformed URL throws synchronously; retrying will not fix it, but the state must say so.
      this.#scheduleRetry(error instanceof Error ? error.message : "cannot open WebSocket");
      return;
    }
    this.#socket = socket;
    socket.onopen = () => {
      this.#attempt = 0;
      onState({ status: "open" });
      this.#options.onOpen?.();
    };
    socket.onmessage = (event) => this.#receive(event.data);
    socket.onerror = () => {
      // The close event follows and carries the decision.
    };
    socket.onclose = (event) => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      detach(socket);
      this.#scheduleRetry(closeReason(event));
    };
  }

  #receive(data: unknown): void {
    if (typeof data !== "string") return;
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      this.#reportInvalid("a message that is not JSON");
      return;
    }
    const parsed = serverMessageSchema.safeParse(json);
    if (!parsed.success) {
      this.#reportInvalid(parsed.error.issues[0]?.message ?? "invalid message");
      return;
    }
    this.#options.onMessage(parsed.data);
  }

  #reportInvalid(problem: string): void {
    if (this.#reportedInvalid) return;
    this.#reportedInvalid = true;
    this.#options.onInvalidMessage?.(problem);
  }

  #scheduleRetry(reason: string): void {
    if (!this.#running) return;
    this.#attempt += 1;
    const delay = reconnectDelay(this.#attempt, this.#options.random);
    const now = this.#options.now ?? Date.now;
    this.#options.onState({
      status: "reconnecting",
      attempt: this.#attempt,
      retryAt: now() + delay,
      reason,
    });
    const setTimer = this.#options.setTimer ?? ((cb: () => void, ms: number) => setTimeout(cb, ms));
    this.#timer = setTimer(() => {
      this.#timer = null;
      if (this.#running) this.#connect();
    }, delay);
  }

  #clearTimer(): void {
    if (this.#timer === null) return;
    const clear =
      this.#options.clearTimer ??
      ((handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>));
    clear(this.#timer);
    this.#timer = null;
  }
}

function detach(socket: SocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = null;
}

function closeReason(event: CloseEvent): string {
  if (event.reason !== "") return event.reason;
  // 1006 is all a browser reveals about a refused handshake (401 included) or a dead server.
  return event.code === 1006 ? "connection lost" : `closed (code ${event.code})`;
}
