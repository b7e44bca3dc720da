/**
 * A parse worker thread: runs `FlowCsvReader` and `FlowEntryBuilder` for the uploads the main
 * thread hands it, and posts back their entries (buffers transferred) with the reader's totals.
 * Scanning the CSV is most of ingest's CPU; here it runs beside the main thread's HTTP and Redis
 * work instead of in turn with it. Loaded through `parse-worker-entry.mjs`.
 *
 * A pcap or pcapng upload (told apart by its magic number, whatever its content type) is metered
 * into CICFlowMeter CSV here first, so the rest of the path is the CSV one.
 */
import { parentPort } from "node:worker_threads";
import {
  FlowCsvError,
  FlowCsvReader,
  FlowEntryBuilder,
  type FlowBatch,
  type FlowEntry,
} from "@floodwatch/core";
import { CaptureFormatError, detectCaptureKind, FlowCsvTranscoder } from "@floodwatch/flowmeter";
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
  /** The upload's first bytes, until there are enough to tell a capture from CSV. */
  #head: Uint8Array | null = new Uint8Array(0);
  /** Set when the upload is a capture. */
  #capture: FlowCsvTranscoder | null = null;

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
    const csv = this.#csv(bytes);
    if (csv === null) return entries;
    this.#absorb(this.#reader.push(csv), entries);
    this.#absorb(this.#reader.flush(), entries);
    return entries;
  }

  end(): { entries: FlowEntry[]; end: ParseEnd } {
    const entries: FlowEntry[] = [];
    if (this.#head !== null && this.#head.length > 0)
      this.#absorb(this.#reader.push(this.#head), entries);
    if (this.#capture !== null) {
      const { text, error } = this.#capture.end();
      this.#absorb(this.#reader.push(encoder.encode(text)), entries);
      if (error !== null) throw captureError(error);
    }
    this.#absorb(this.#reader.end(), entries);
    const builder = this.#builder;
    const last = builder?.flush() ?? null;
    if (last !== null) entries.push(last);
    return { entries, end: { sawRows: builder !== undefined, tailFlows: builder?.tailFlows ?? 0 } };
  }

  /** The CSV bytes of a chunk: itself, or the flows a capture chunk ended; null while unsure. */
  #csv(bytes: Uint8Array): Uint8Array | null {
    if (this.#head !== null) {
      const head = new Uint8Array(this.#head.length + bytes.length);
      head.set(this.#head);
      head.set(bytes, this.#head.length);
      if (head.length < 4) {
        this.#head = head;
        return null;
      }
      this.#head = null;
      if (detectCaptureKind(head) !== null) this.#capture = new FlowCsvTranscoder();
      bytes = head;
    }
    if (this.#capture === null) return bytes;
    try {
      return encoder.encode(this.#capture.push(bytes));
    } catch (error) {
      throw captureError(error);
    }
  }

  stats(): ParseStats {
    const { rowsAccepted, rowsRejected, rejected, timestampsUnparsed } = this.#reader.stats;
    const stats: ParseStats = {
      rowsAccepted,
      rowsRejected,
      timestampsUnparsed,
      labelled: this.#reader.labelled,
    };
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

const encoder = new TextEncoder();

/** A broken capture, as the CSV error the upload answers already know how to report. */
function captureError(error: unknown): unknown {
  if (!(error instanceof CaptureFormatError)) return error;
  return new FlowCsvError("binary", `unreadable pcap/pcapng capture: ${error.message}`);
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
