/**
 * A client of a running pipeline, over its public interfaces only: uploads to ingest as a
 * streamed HTTP body, the API's REST reads validated with the core contracts, and the API's
 * `/ws` live feed.
 */
import { request } from "node:http";
import {
  serverMessageSchema,
  summarySchema,
  uploadAcceptedSchema,
  uploadStatusSchema,
  windowResultSchema,
  type Summary,
  type UploadAccepted,
  type UploadStatus,
  type WindowResult,
} from "@floodwatch/core";
import { z } from "zod";
import { WebSocket } from "ws";

/**
 * Where a running pipeline answers: a `PipelineStack` (tests/stack.ts), or the launcher's children under
 * test. The client needs nothing else.
 */
export interface PipelineEndpoints {
  readonly ingest: { readonly url: string };
  readonly api: { readonly url: string };
}

/** Something that yields CSV text or bytes, as `generateFlowCsv` or a file stream does. */
export type CsvSource = AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;

/** An HTTP answer that is not the one expected. */
export class UnexpectedAnswerError extends Error {
  override readonly name = "UnexpectedAnswerError";
  constructor(
    readonly what: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${what}: HTTP ${status}: ${body.slice(0, 2_000)}`);
  }
}

/** The raw answer to an upload. */
export interface UploadAnswer {
  status: number;
  body: string;
}

/**
 * POSTs `source` to ingest's `/api/uploads` as a chunked `text/csv` body, chunk by chunk with
 * backpressure, so that a body of any size is never held in memory. Stops sending if ingest
 * answers early (a refusal).
 */
export function postUpload(
  ingestUrl: string,
  source: CsvSource,
  name: string,
): Promise<UploadAnswer> {
  const url = new URL(`/api/uploads?name=${encodeURIComponent(name)}`, ingestUrl);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(url, { method: "POST", headers: { "content-type": "text/csv" } }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.on("error", (error) => {
      if (!answered) reject(error);
    });
    void (async () => {
      try {
        for await (const chunk of source) {
          if (answered || req.destroyed) return;
          if (!req.write(chunk)) {
            await new Promise<void>((drained) => {
              const done = () => {
                req.off("drain", done);
                req.off("close", done);
                drained();
              };
              req.on("drain", done);
              req.on("close", done);
            });
          }
        }
        req.end();
      } catch (error) {
        req.destroy(error as Error);
      }
    })();
  });
}

/** Uploads `source` and expects `201` with an `uploadAccepted` body. */
export async function uploadCsv(
  stack: PipelineEndpoints,
  source: CsvSource,
  name: string,
): Promise<UploadAccepted> {
  const answer = await postUpload(stack.ingest.url, source, name);
  if (answer.status !== 201) {
    throw new UnexpectedAnswerError(`upload ${name}`, answer.status, answer.body);
  }
  return uploadAcceptedSchema.parse(JSON.parse(answer.body));
}

async function getJson<T>(url: string, schema: z.ZodType<T>): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  if (!response.ok) throw new UnexpectedAnswerError(`GET ${url}`, response.status, text);
  return schema.parse(JSON.parse(text));
}

/** `GET /api/uploads/:id`. */
export function readUpload(stack: PipelineEndpoints, uploadId: string): Promise<UploadStatus> {
  return getJson(
    `${stack.api.url}/api/uploads/${encodeURIComponent(uploadId)}`,
    uploadStatusSchema,
  );
}

/** `GET /api/uploads`: the newest uploads first. */
export function listUploads(stack: PipelineEndpoints): Promise<UploadStatus[]> {
  return getJson(`${stack.api.url}/api/uploads?limit=100`, z.array(uploadStatusSchema));
}

/** `GET /api/summary`. */
export function readSummary(stack: PipelineEndpoints): Promise<Summary> {
  return getJson(`${stack.api.url}/api/summary`, summarySchema);
}

/** The most windows `GET /api/windows` returns in one answer. */
export const MAX_WINDOWS_PER_QUERY = 2_000;

/** `GET /api/windows?uploadId=..&limit=2000`: an upload's recent results, newest first. */
export function readWindows(stack: PipelineEndpoints, uploadId: string): Promise<WindowResult[]> {
  const query = `uploadId=${encodeURIComponent(uploadId)}&limit=${MAX_WINDOWS_PER_QUERY}`;
  return getJson(`${stack.api.url}/api/windows?${query}`, z.array(windowResultSchema));
}

/**
 * Polls `check` until it returns a value other than undefined; throws, naming `what` and the last
 * value seen, after `timeoutMs`.
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Waits until the upload has ended: `done`, or `failed` with nothing of it left for the detectors
 * (every queued window scored, or the stack's backlog empty: a failed upload never turns `done`,
 * but what it queued before failing is still scored). Returns its final status.
 */
export function waitForUploadEnd(
  stack: PipelineEndpoints,
  uploadId: string,
  timeoutMs = 60_000,
): Promise<UploadStatus> {
  return waitUntil(
    `upload ${uploadId} to end`,
    async () => {
      const status = await readUpload(stack, uploadId);
      if (status.state === "done") return status;
      if (status.state !== "failed") return undefined;
      if (status.windowsScored >= status.windowsQueued) return status;
      if ((await readSummary(stack)).backlog > 0) return undefined;
      // Read again: windows committed between the two reads count too.
      return readUpload(stack, uploadId);
    },
    timeoutMs,
  );
}

/**
 * The one upload in progress (`streaming` or `scoring`) on a stack that matches `predicate`, found
 * while its POST may still be open (the upload id is only in the answer, which comes once the
 * body is read). Each test has its own stack, so there is one such upload at a time.
 */
export function waitForUploadInProgress(
  stack: PipelineEndpoints,
  predicate: (status: UploadStatus) => boolean,
  what: string,
  timeoutMs = 60_000,
  intervalMs = 20,
): Promise<UploadStatus> {
  return waitUntil(
    what,
    async () =>
      (await listUploads(stack)).find(
        (s) => (s.state === "streaming" || s.state === "scoring") && predicate(s),
      ),
    timeoutMs,
    intervalMs,
  );
}

/** A `window` message as the client received it. */
export interface ReceivedWindows {
  windows: WindowResult[];
  /** `Date.now()` when the message was parsed. */
  receivedAt: number;
}

/**
 * A client of the API's `/ws`: every `window` message is validated against the contract and
 * counted per upload and window index (the `history` sent on connect is not counted: it is what
 * came before the client).
 */
export class LiveFeed {
  /** How often each (upload, window) arrived in `window` messages. */
  readonly #seen = new Map<string, Map<number, number>>();
  readonly #socket: WebSocket;
  #invalid = 0;
  onWindows: ((message: ReceivedWindows) => void) | undefined;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.on("message", (data: Buffer) => this.#take(data));
  }

  /** Connects to the stack's API and resolves once the socket is open. */
  static async connect(apiUrl: string): Promise<LiveFeed> {
    const socket = new WebSocket(`${apiUrl.replace(/^http/, "ws")}/ws`);
    const feed = new LiveFeed(socket);
    await new Promise<void>((resolve, reject) => {
      socket.on("open", resolve);
      socket.on("error", reject);
    });
    return feed;
  }

  /** Messages that did not match the contract. */
  get invalidMessages(): number {
    return this.#invalid;
  }

  /** Window index -> times received, for one upload. */
  occurrences(uploadId: string): ReadonlyMap<number, number> {
    return this.#seen.get(uploadId) ?? new Map<number, number>();
  }

  close(): void {
    this.#socket.close();
  }

  #take(data: Buffer): void {
    const receivedAt = Date.now();
    const parsed = serverMessageSchema.safeParse(JSON.parse(data.toString("utf8")));
    if (!parsed.success) {
      this.#invalid++;
      return;
    }
    const message = parsed.data;
    if (message.type !== "window") return;
    for (const window of message.windows) {
      let counts = this.#seen.get(window.uploadId);
      if (counts === undefined) {
        counts = new Map<number, number>();
        this.#seen.set(window.uploadId, counts);
      }
      counts.set(window.window, (counts.get(window.window) ?? 0) + 1);
    }
    this.onWindows?.({ windows: message.windows, receivedAt });
  }
}
