/**
 * A parse worker thread: runs `FlowCsvReader` and `FlowEntryBuilder` for the uploads the main
 * thread hands it, and posts back their entries (buffers transferred) with the reader's totals.
 * Scanning the CSV is most of ingest's CPU; here it runs beside the main thread's HTTP and Redis
 * work instead of in turn with it. Loaded through `parse-worker-entry.mjs`.
 */
import { parentPort } from "node:worker_threads";
import { FlowCsvReader, FlowEntryBuilder, type FlowBatch, type FlowEntry } from "@floodwatch/core";
import {
  describeParseFailure,
  entryBuffers,
  type ParseEnd,
  type ParseJobSpec,
  type ParseReply,
  type ParseRequest,
  type ParseStats,
} from "./parse-protocol.ts";

/** One upload being parsed, as `UploadRun` used to do it in the main thread. */
class ParseJob {
  readonly #spec: ParseJobSpec;
  readonly #reader: FlowCsvReader;
  #builder: FlowEntryBuilder | undefined;
  /** Kept rejected rows already sent. */
  #rejectedSent = 0;

  constructor(spec: ParseJobSpec) {
    this.#spec = spec;
    this.#reader = new FlowCsvReader({
      features: spec.features,
      ...(spec.timestampZone === undefined ? {} : { timestampZone: spec.timestampZone }),
    });
  }

  /** Reads a chunk; its rows move on at once (flush), as a live upload needs. */
  chunk(bytes: Uint8Array): FlowEntry[] {
    const entries: FlowEntry[] = [];
    this.#absorb(this.#reader.push(bytes), entries);
    this.#absorb(this.#reader.flush(), entries);
    return entries;
  }

  end(): { entries: FlowEntry[]; end: ParseEnd } {
    const entries: FlowEntry[] = [];
    this.#absorb(this.#reader.end(), entries);
    const builder = this.#builder;
    const last = builder?.flush() ?? null;
    if (last !== null) entries.push(last);
    return { entries, end: { sawRows: builder !== undefined, tailFlows: builder?.tailFlows ?? 0 } };
  }

  stats(): ParseStats {
    const { rowsAccepted, rowsRejected, rejected } = this.#reader.stats;
    const stats: ParseStats = { rowsAccepted, rowsRejected, labelled: this.#reader.labelled };
    if (rejected.length !== this.#rejectedSent) {
      this.#rejectedSent = rejected.length;
      stats.rejected = [...rejected];
    }
    return stats;
  }

  /** The builder starts with the first data row, when the file's labelling is known. */
  #absorb(batches: FlowBatch[], out: FlowEntry[]): void {
    let builder = this.#builder;
    if (builder === undefined) {
      const { rowsAccepted, rowsRejected } = this.#reader.stats;
      if (rowsAccepted + rowsRejected === 0) return;
      const spec = this.#spec;
      builder = new FlowEntryBuilder({
        uploadId: spec.uploadId,
        featureCount: spec.features.length,
        window: spec.window,
        windowsPerEntry: spec.windowsPerEntry,
        modelVersion: spec.modelVersion,
        labelled: this.#reader.labelled,
      });
      this.#builder = builder;
    }
    for (const batch of batches) out.push(...builder.push(batch));
  }
}

const port = parentPort;
if (port === null) throw new Error("parse-worker.ts runs as a worker thread only");
const jobs = new Map<number, ParseJob>();

function post(reply: ParseReply, entries: readonly FlowEntry[] = []): void {
  port!.postMessage(reply, entries.flatMap(entryBuffers));
}

port.on("message", (request: ParseRequest) => {
  if (request.kind === "open") {
    jobs.set(request.job, new ParseJob(request.spec));
    return;
  }
  if (request.kind === "close") {
    jobs.delete(request.job);
    return;
  }
  // A job failed or closed already: later chunks of it are dropped.
  const job = jobs.get(request.job);
  if (job === undefined) return;
  try {
    if (request.kind === "chunk") {
      const entries = job.chunk(request.bytes);
      post({ kind: "parsed", job: request.job, entries, stats: job.stats() }, entries);
    } else {
      const { entries, end } = job.end();
      jobs.delete(request.job);
      post({ kind: "parsed", job: request.job, entries, stats: job.stats(), end }, entries);
    }
  } catch (error) {
    jobs.delete(request.job);
    post({ kind: "failed", job: request.job, failure: describeParseFailure(error) });
  }
});
