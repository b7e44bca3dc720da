/**
 * Everything live on one page: the store, the API client, the token gate and the WebSocket, wired
 * so that every (re)connection catches up from the REST API and a new token reconnects at once.
 */
import type { RuntimeConfig } from "../env.ts";
import { ApiClient } from "./api-client.ts";
import { AuthGate } from "./auth-gate.ts";
import { HISTORY_CAPACITY, LiveStore } from "./live-store.ts";
import { LiveSocket, type SocketLike } from "./live-socket.ts";

/** Test seams of {@link LiveSession}. */
export interface LiveSessionOptions extends RuntimeConfig {
  auth?: AuthGate;
  store?: LiveStore;
  fetch?: typeof fetch;
  createSocket?: (url: string, protocols: string[]) => SocketLike;
  /** Where catch-up failures are reported (the page shows them). */
  onProblem?: (problem: string | null) => void;
}

/** The live side of the dashboard. */
export class LiveSession {
  readonly store: LiveStore;
  readonly auth: AuthGate;
  readonly api: ApiClient;
  readonly #socket: LiveSocket;
  readonly #onProblem: (problem: string | null) => void;
  #lastToken: string | null;
  #unsubscribeAuth: (() => void) | null = null;
  #started = false;

  constructor(options: LiveSessionOptions) {
    this.auth = options.auth ?? new AuthGate();
    this.store = options.store ?? new LiveStore();
    this.api = new ApiClient({
      apiUrl: options.apiUrl,
      ingestUrl: options.ingestUrl,
      auth: this.auth,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    });
    this.#onProblem = options.onProblem ?? (() => undefined);
    this.#lastToken = this.auth.token();
    this.#socket = new LiveSocket({
      url: this.api.liveUrl(),
      token: () => this.auth.token(),
      onMessage: (message) => this.store.enqueue(message),
      onState: (state) => {
        this.store.setConnection(state);
        // A refused handshake looks like any lost connection to a browser; a REST call tells a
        // 401 apart and opens the token dialog.
        if (state.status === "reconnecting" && state.attempt >= 2) void this.#probe();
      },
      onOpen: () => void this.catchUp(),
      onInvalidMessage: (problem) =>
        this.#onProblem(`ignored a malformed live message: ${problem}`),
      ...(options.createSocket === undefined ? {} : { createSocket: options.createSocket }),
    });
  }

  /** Connects and loads the current state. Idempotent. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#unsubscribeAuth = this.auth.subscribe(() => {
      const token = this.auth.token();
      if (token !== this.#lastToken) {
        this.#lastToken = token;
        this.#socket.reconnectNow();
      }
    });
    this.#socket.start();
    void this.catchUp();
  }

  /** Disconnects. Idempotent; {@link start} may follow (React's development double mount). */
  stop(): void {
    if (!this.#started) return;
    this.#started = false;
    this.#unsubscribeAuth?.();
    this.#unsubscribeAuth = null;
    this.#socket.stop();
  }

  /** Reconnects now instead of waiting for the next retry. */
  reconnectNow(): void {
    this.#socket.reconnectNow();
  }

  /**
   * Loads what the live feed may have missed: the summary, every upload, the recent windows and
   * the recent anomalies (which a flood of normal windows would push out of the recent ones).
   */
  async catchUp(): Promise<void> {
    try {
      const [summary, uploads, windows, anomalies] = await Promise.all([
        this.api.summary(),
        this.api.uploads(),
        this.api.windows({ limit: HISTORY_CAPACITY }),
        this.api.windows({ anomaliesOnly: true, limit: HISTORY_CAPACITY }),
      ]);
      this.store.enqueue({ type: "summary", summary });
      for (const upload of uploads) this.store.enqueue({ type: "upload", upload });
      // The API answers newest first; the store takes history oldest first.
      this.store.enqueue({ type: "history", windows: [...windows, ...anomalies].reverse() });
      this.#onProblem(null);
    } catch (error) {
      this.#onProblem(`could not load the current state: ${messageOf(error)}`);
    }
  }

  /** Loads the recent windows of one upload (selected, but older than what the page kept). */
  async loadUpload(uploadId: string): Promise<void> {
    try {
      const [upload, windows, anomalies] = await Promise.all([
        this.api.upload(uploadId),
        this.api.windows({ uploadId, limit: HISTORY_CAPACITY }),
        this.api.windows({ uploadId, anomaliesOnly: true, limit: HISTORY_CAPACITY }),
      ]);
      this.store.enqueue({ type: "upload", upload });
      this.store.enqueue({ type: "history", windows: [...windows, ...anomalies].reverse() });
    } catch (error) {
      this.#onProblem(`could not load upload ${uploadId}: ${messageOf(error)}`);
    }
  }

  async #probe(): Promise<void> {
    try {
      const summary = await this.api.summary();
      this.store.enqueue({ type: "summary", summary });
    } catch {
      // The API is down: the connection badge already says so.
    }
  }
}

/** A readable message from anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
