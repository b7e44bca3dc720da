/**
 * The messages between ingest's main thread and its parse workers. Many uploads share a worker,
 * so every message names its job. Typed arrays travel by transfer (no copies); errors travel as
 * data, since a worker's exception loses its class on the way across.
 */
import {
  FlowCsvError,
  MissingColumnsError,
  type FlowCsvErrorCode,
  type FlowEntry,
  type RejectedRow,
  type WindowSpec,
} from "@floodwatch/core";

/** What a worker needs to parse one upload. */
export interface ParseJobSpec {
  uploadId: string;
  /** The active model's features, in model order. */
  features: readonly string[];
  window: WindowSpec;
  windowsPerEntry: number;
  modelVersion: string;
  /** Zone of naive timestamps (see core's `zoneOffset`); UTC when absent. */
  timestampZone?: string;
}

/** Main thread -> worker. */
export type ParseRequest =
  | { kind: "open"; job: number; spec: ParseJobSpec }
  | { kind: "chunk"; job: number; bytes: Uint8Array }
  | { kind: "end"; job: number }
  | { kind: "close"; job: number };

/** The reader's totals after a message's chunk. */
export interface ParseStats {
  rowsAccepted: number;
  rowsRejected: number;
  /** Timestamps that could not be read (their windows get no traffic times). */
  timestampsUnparsed: number;
  /** The kept rejected rows, sent only when the list grew since the previous message. */
  rejected?: RejectedRow[];
  labelled: boolean;
}

/** How the builder left the upload, sent with the last message. */
export interface ParseEnd {
  /** Whether any data row was read (else the file held a header alone). */
  sawRows: boolean;
  tailFlows: number;
}

/** A core `FlowCsvError` (or its `MissingColumnsError` kind), or anything else, as data. */
export type ParseFailure =
  | { kind: "missing_columns"; missing: string[]; seen: string[] }
  | { kind: "csv"; code: FlowCsvErrorCode; message: string; line?: number }
  | { kind: "internal"; message: string; stack?: string };

/** Worker -> main thread, in the order of the requests they answer. */
export type ParseReply =
  | { kind: "parsed"; job: number; entries: FlowEntry[]; stats: ParseStats; end?: ParseEnd }
  | { kind: "failed"; job: number; failure: ParseFailure };

/** Describes an error thrown while parsing, for the main thread. */
export function describeParseFailure(error: unknown): ParseFailure {
  if (error instanceof MissingColumnsError) {
    return { kind: "missing_columns", missing: [...error.missing], seen: [...error.seen] };
  }
  if (error instanceof FlowCsvError) {
    return {
      kind: "csv",
      code: error.code,
      message: error.message,
      ...(error.line === undefined ? {} : { line: error.line }),
    };
  }
  const failure = error instanceof Error ? error : new Error(String(error));
  return { kind: "internal", message: failure.message, stack: failure.stack };
}

/** The error a failure stands for, of the class the error answers know. */
export function parseFailureError(failure: ParseFailure): Error {
  switch (failure.kind) {
    case "missing_columns":
      return new MissingColumnsError(failure.missing, failure.seen);
    case "csv":
      return new FlowCsvError(failure.code, failure.message, failure.line);
    case "internal": {
      const error = new Error(`parse worker: ${failure.message}`);
      if (failure.stack !== undefined) error.stack = failure.stack;
      return error;
    }
  }
}

/** The buffers of an entry's arrays, to transfer rather than copy. */
export function entryBuffers(entry: FlowEntry): ArrayBuffer[] {
  const buffers = [entry.values.buffer, entry.lines.buffer, entry.attack.buffer];
  const context = entry.context;
  if (context !== undefined) {
    buffers.push(
      context.dstIp.buffer,
      context.srcIp.buffer,
      context.dstPort.buffer,
      context.protocol.buffer,
      context.time.buffer,
    );
  }
  return buffers as ArrayBuffer[];
}
