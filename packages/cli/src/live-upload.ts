/**
 * The sensor's side of a live source: one long-lived chunked `POST /api/uploads` that flow CSV
 * lines are written into as flows end. Ingest reads an upload as a stream, so each line moves
 * on as it arrives and the upload stays `streaming` for as long as the sensor runs.
 *
 * When ingest goes away (restart, network), the request fails; lines keep queueing in a bounded
 * buffer (the oldest dropped, and counted, when it is full) and a new upload is opened with the
 * same name after a back-off, starting with the header line again. Lines already written into
 * the socket that broke may be lost: HTTP gives no acknowledgement short of the final answer.
 */
import { request, type ClientRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { uploadAcceptedSchema } from "@floodwatch/core";

/** The id of ingest's 201 answer (core's schema); the rest of the answer is not used here. */
const acceptedIdSchema = uploadAcceptedSchema.pick({ uploadId: true });

export interface LiveUploadOptions {
  /** Base URL of ingest, e.g. `http://127.0.0.1:8080`. */
  ingestUrl: string;
  /** Upload name shown on the dashboard. */
  name: string;
  /** The CSV header line (no line end), written first on every connection. */
  header: string;
  /** Most bytes of lines held while ingest cannot take them. */
  maxBufferBytes: number;
  /** Back-off after a failed connection: doubles from `minRetryMs` to `maxRetryMs`. */
  minRetryMs?: number;
  maxRetryMs?: number;
  log: (message: string) => void;
}

export interface LiveUploadStats {
  linesQueued: number;
  linesWritten: number;
  /** Lines dropped because the buffer was full while ingest was unreachable. */
  linesDropped: number;
  /** Uploads opened (1 + reconnections). */
  connections: number;
  /** Ids of the uploads ingest answered for (known only when an upload ends). */
  uploadIds: string[];
}

/** A client error (4xx) from ingest: retrying would get the same answer. */
export class LiveUploadRefused extends Error {
  override readonly name = "LiveUploadRefused";
}

export class LiveUpload {
  readonly stats: LiveUploadStats = {
    linesQueued: 0,
    linesWritten: 0,
    linesDropped: 0,
    connections: 0,
    uploadIds: [],
  };
  readonly #options: LiveUploadOptions;
  #queue: string[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  #request: ClientRequest | null = null;
  #writable = false;
  #retryMs: number;
  #retryTimer: NodeJS.Timeout | null = null;
  #closing = false;
  #fatal: Error | null = null;
  #settled: (() => void) | null = null;

  constructor(options: LiveUploadOptions) {
    this.#options = options;
    this.#retryMs = options.minRetryMs ?? 500;
    this.#connect();
  }

  /** Queues one CSV line (no line end). */
  push(line: string): void {
    if (this.#fatal) throw this.#fatal;
    this.stats.linesQueued++;
    this.#queue.push(line);
    this.#queuedBytes += line.length + 1;
    while (
      this.#queuedBytes > this.#options.maxBufferBytes &&
      this.#queueHead < this.#queue.length
    ) {
      this.#queuedBytes -= this.#queue[this.#queueHead++]!.length + 1;
      this.stats.linesDropped++;
    }
    this.#pump();
  }

  /** Lines waiting for ingest. */
  get backlog(): number {
    return this.#queue.length - this.#queueHead;
  }

  /**
   * Sends what is queued, ends the upload and waits for ingest's answer (retrying through
   * outages until everything queued is in). Throws {@link LiveUploadRefused} on a 4xx.
   */
  async close(): Promise<void> {
    this.#closing = true;
    await new Promise<void>((resolve) => {
      this.#settled = resolve;
      this.#pump();
    });
    if (this.#fatal) throw this.#fatal;
  }

  #connect(): void {
    // Everything was sent before the connection broke; a header-only upload would be refused.
    if (this.#closing && this.backlog === 0) return this.#settle();
    const { ingestUrl, name, header, log } = this.#options;
    const url = new URL(`/api/uploads?name=${encodeURIComponent(name)}`, ingestUrl);
    const send = url.protocol === "https:" ? httpsRequest : request;
    this.stats.connections++;
    const req = send(url, {
      method: "POST",
      headers: { "content-type": "text/csv", "transfer-encoding": "chunked" },
    });
    this.#request = req;
    this.#writable = false;
    req.on("socket", (socket) => {
      socket.setNoDelay(true);
      const ready = () => {
        if (this.#request !== req) return;
        this.#writable = req.write(header + "\n");
        this.#retryMs = this.#options.minRetryMs ?? 500;
        this.#pump();
      };
      if (socket.connecting) socket.once("connect", ready);
      else ready();
    });
    req.on("drain", () => {
      if (this.#request !== req) return;
      this.#writable = true;
      this.#pump();
    });
    req.on("response", (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (d: string) => (body += d));
      response.on("end", () => {
        if (this.#request !== req) return;
        this.#request = null;
        const status = response.statusCode ?? 0;
        if (status === 201) {
          try {
            this.stats.uploadIds.push(acceptedIdSchema.parse(JSON.parse(body)).uploadId);
          } catch {
            // An answer without an id still ended the upload.
          }
          if (this.#closing && this.backlog === 0) return this.#settle();
          log(`ingest ended the upload early (201); opening a new one`);
          return this.#reconnectLater();
        }
        if (status >= 400 && status < 500 && status !== 408 && status !== 413 && status !== 429) {
          this.#fatal = new LiveUploadRefused(`ingest refused the upload: ${status} ${body}`);
          return this.#settle();
        }
        log(`ingest answered ${status} ${body.slice(0, 200)}; retrying`);
        this.#reconnectLater();
      });
    });
    req.on("error", (error) => {
      if (this.#request !== req) return;
      this.#request = null;
      log(`ingest connection failed (${error.message}); ${this.backlog} flows queued, retrying`);
      this.#reconnectLater();
    });
  }

  #reconnectLater(): void {
    if (this.#retryTimer !== null) return;
    const wait = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, this.#options.maxRetryMs ?? 10_000);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#connect();
    }, wait);
  }

  #pump(): void {
    const req = this.#request;
    if (req === null || !this.#writable) return;
    while (this.#writable && this.#queueHead < this.#queue.length) {
      // One write per batch of lines keeps chunk framing overhead small under load.
      let text = "";
      while (this.#queueHead < this.#queue.length && text.length < 64 * 1024) {
        const line = this.#queue[this.#queueHead++]!;
        this.#queuedBytes -= line.length + 1;
        text += line + "\n";
        this.stats.linesWritten++;
      }
      this.#writable = req.write(text);
    }
    if (this.#queueHead > 4096 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
    if (this.#closing && this.backlog === 0 && !req.writableEnded) req.end();
  }

  #settle(): void {
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#settled?.();
  }
}
