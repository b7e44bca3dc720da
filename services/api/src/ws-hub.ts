/**
 * The WebSocket clients of one API process and what they are sent: window batches from the
 * relay, a summary each tick, changed uploads, model activations and training events. Every
 * message is serialised once and the same text goes to every client. Windows travel as the JSON
 * texts the detector wrote: a `window` or `history` message is spliced from them, never parsed.
 */
import type { ResultEntryWindows, ServerMessage, Summary, UploadStatus } from "@floodwatch/core";
import type { Logger } from "pino";
import type { WebSocket } from "ws";
import type { ApiMetrics } from "./metrics.ts";

/** Timing of the live feed, in ms. */
export interface LiveTiming {
  /** Pending windows are sent at least this often. */
  flushMs: number;
  /** Summary and upload changes are computed and sent this often. */
  tickMs: number;
  /** Clients are pinged this often; one that did not answer the previous ping is dropped. */
  heartbeatMs: number;
}

/** The defaults: a chart that moves smoothly without a message per window. */
export const DEFAULT_LIVE_TIMING: LiveTiming = { flushMs: 50, tickMs: 1_000, heartbeatMs: 30_000 };

/** Windows per `window` message at most, so one message stays small enough to parse quickly. */
export const MAX_BATCH_WINDOWS = 500;

/**
 * A client whose send buffer exceeds this many times the drop bound is not reading at all:
 * it is disconnected, because even the messages never dropped would grow without end.
 */
const STALLED_FACTOR = 4;

/** WebSocket close code 1001: the server is going away. */
const GOING_AWAY = 1001;

/** What {@link WsHub} needs. */
export interface WsHubOptions {
  logger: Logger;
  metrics: ApiMetrics;
  /** Above this many bytes queued to a client, window batches and summaries skip it. */
  maxBufferedBytes: number;
  /** Windows kept for the `history` message. */
  historyWindows: number;
  timing: LiveTiming;
  readSummary: () => Promise<Summary>;
  /** Uploads changed since the previous call (the first call takes a baseline). */
  readChangedUploads: () => Promise<UploadStatus[]>;
  clock?: () => number;
}

interface ClientState {
  /** Whether the client answered the last ping. */
  alive: boolean;
  /** Windows it was not sent because it lagged. */
  droppedWindows: number;
}

/** Fans the live feed out to WebSocket clients. */
export class WsHub {
  private readonly clients = new Map<WebSocket, ClientState>();
  private readonly logger: Logger;
  private readonly options: WsHubOptions;
  private readonly clock: () => number;
  /** Windows' JSON texts waiting for the next batch, and when ingest received each. */
  private pending: string[] = [];
  private pendingReceivedAt: number[] = [];
  /** The newest windows' JSON texts, oldest first. */
  private history: string[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  /** When the last window batch went out (monotonic ms). */
  private lastFlushAt = -Infinity;
  private tickTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private ticking = false;
  private closed = false;

  constructor(options: WsHubOptions) {
    this.options = options;
    this.logger = options.logger;
    this.clock = options.clock ?? Date.now;
  }

  /** Connected clients. */
  get size(): number {
    return this.clients.size;
  }

  /** Sets the history new clients receive (oldest first), before the relay starts. */
  seedHistory(windows: readonly string[]): void {
    this.history = windows.slice(Math.max(0, windows.length - this.options.historyWindows));
  }

  /** Starts the summary tick and the heartbeat. */
  start(): void {
    if (this.closed || this.tickTimer) return;
    this.tickTimer = setInterval(() => void this.tick(), this.options.timing.tickMs);
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.options.timing.heartbeatMs);
  }

  /**
   * Takes a new client: it is sent the history and the current summary, then every later batch.
   * History and registration happen in the same turn, so no window falls between them.
   */
  add(socket: WebSocket): void {
    if (this.closed) {
      socket.close(GOING_AWAY, "server shutting down");
      return;
    }
    const state: ClientState = { alive: true, droppedWindows: 0 };
    this.clients.set(socket, state);
    socket.on("pong", () => {
      state.alive = true;
    });
    socket.on("close", () => {
      this.clients.delete(socket);
      if (state.droppedWindows > 0) {
        this.logger.info({ droppedWindows: state.droppedWindows }, "slow WebSocket client left");
      }
    });
    socket.on("error", (error) => this.logger.debug({ err: error }, "WebSocket client error"));
    this.sendTo(socket, windowsMessage("history", this.history));
    this.options.readSummary().then(
      (summary) => {
        if (this.clients.has(socket)) this.sendTo(socket, serialize({ type: "summary", summary }));
      },
      (error: unknown) => this.logger.warn({ err: error }, "summary for a new client failed"),
    );
  }

  /** Queues scored windows; they go out within `flushMs`, or at once when a batch is full. */
  pushWindows(windows: ResultEntryWindows): void {
    if (this.closed) return;
    for (const text of windows.texts) {
      this.pending.push(text);
      this.pendingReceivedAt.push(windows.receivedAt);
    }
    if (this.pending.length >= MAX_BATCH_WINDOWS) {
      this.flush();
    } else if (!this.flushTimer) {
      // Leading edge: when nothing went out for a flush period, send at once (a quiet feed pays
      // no batching delay); under load, batches go out at most once per period.
      const wait = this.lastFlushAt + this.options.timing.flushMs - performance.now();
      if (wait <= 0) this.flush();
      else this.flushTimer = setTimeout(() => this.flush(), wait);
    }
  }

  /** Sends a message to every client. Droppable messages skip clients that lag. */
  broadcast(message: ServerMessage, droppable = false): void {
    if (this.closed || this.clients.size === 0) return;
    const text = serialize(message);
    for (const [socket, state] of this.clients) {
      if (droppable && this.lags(socket, state, 0)) continue;
      this.sendTo(socket, text);
    }
  }

  /** Sends what is pending now. */
  flush(): void {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    if (this.pending.length === 0) return;
    this.lastFlushAt = performance.now();
    const windows = this.pending;
    const receivedAt = this.pendingReceivedAt;
    this.pending = [];
    this.pendingReceivedAt = [];
    this.remember(windows);
    if (this.clients.size === 0) return;
    const now = this.clock();
    for (const at of receivedAt) {
      this.options.metrics.relayLatency.observe(Math.max(0, now - at) / 1000);
    }
    for (let start = 0; start < windows.length; start += MAX_BATCH_WINDOWS) {
      const batch = windows.slice(start, start + MAX_BATCH_WINDOWS);
      const text = windowsMessage("window", batch);
      for (const [socket, state] of this.clients) {
        if (this.lags(socket, state, batch.length)) continue;
        this.sendTo(socket, text);
      }
    }
  }

  /** Disconnects every client and stops the timers. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    clearInterval(this.tickTimer);
    clearInterval(this.heartbeatTimer);
    for (const socket of this.clients.keys()) socket.close(GOING_AWAY, "server shutting down");
    this.clients.clear();
  }

  /** Computes the summary once and sends it, with changed uploads, to every client. */
  async tick(): Promise<void> {
    // A tick that outlasts the interval (Redis slow or down) is not stacked with another.
    if (this.ticking || this.closed) return;
    this.ticking = true;
    try {
      const uploads = await this.options.readChangedUploads();
      if (this.clients.size === 0) return;
      for (const upload of uploads) this.broadcast({ type: "upload", upload });
      const summary = await this.options.readSummary();
      this.broadcast({ type: "summary", summary }, true);
    } catch (error) {
      this.logger.warn({ err: error }, "live tick failed");
    } finally {
      this.ticking = false;
    }
  }

  private remember(windows: readonly string[]): void {
    const limit = this.options.historyWindows;
    const merged = windows.length >= limit ? [] : this.history;
    for (const window of windows) merged.push(window);
    this.history = merged.length > limit ? merged.slice(merged.length - limit) : merged;
  }

  /**
   * Whether a client is too far behind for a droppable message; counts the windows it misses.
   * A client that stalled completely is disconnected.
   */
  private lags(socket: WebSocket, state: ClientState, windows: number): boolean {
    const buffered = socket.bufferedAmount;
    if (buffered <= this.options.maxBufferedBytes) return false;
    if (buffered > STALLED_FACTOR * this.options.maxBufferedBytes) {
      this.logger.warn({ buffered }, "disconnecting a WebSocket client that stopped reading");
      this.clients.delete(socket);
      socket.terminate();
      return true;
    }
    if (windows > 0) {
      state.droppedWindows += windows;
      this.options.metrics.droppedWindows.inc(windows);
    }
    return true;
  }

  private sendTo(socket: WebSocket, text: string): void {
    // OPEN: a socket closing in the meantime is left to its close event.
    if (socket.readyState !== 1) return;
    socket.send(text, (error) => {
      if (error) this.logger.debug({ err: error }, "WebSocket send failed");
    });
  }

  private heartbeat(): void {
    for (const [socket, state] of this.clients) {
      if (!state.alive) {
        this.clients.delete(socket);
        socket.terminate();
        continue;
      }
      state.alive = false;
      socket.ping();
    }
  }
}

function serialize(message: ServerMessage): string {
  return JSON.stringify(message);
}

/**
 * A `window` or `history` message spliced from the windows' JSON texts: the same bytes
 * `serialize` gives for `{ type, windows }` (core's `serverMessageSchema`).
 */
function windowsMessage(type: "window" | "history", windows: readonly string[]): string {
  return `{"type":"${type}","windows":[${windows.join(",")}]}`;
}
