/**
 * Why an upload was refused or stopped, each with its HTTP status and the stable `error` code
 * of the error body. The app's error handler turns these into `errorBodySchema` answers.
 */
import type { ErrorCode } from "@floodwatch/core";

/** Ingest's one error class: an upload problem the client is told about in so many words. */
export class UploadError extends Error {
  override name = "UploadError";
  constructor(
    /** HTTP status of the answer. */
    readonly statusCode: number,
    /** Stable machine-readable code (`error` of the body). */
    readonly code: ErrorCode,
    message: string,
    /** 1-based line of the CSV the problem is tied to, when known. */
    readonly line?: number,
  ) {
    super(message);
  }
}

/** The request body is not a CSV in one of the accepted forms. */
export class UnsupportedMediaTypeError extends UploadError {
  override name = "UnsupportedMediaTypeError";
  constructor(mediaType: string | undefined) {
    super(
      415,
      "unsupported_media_type",
      `${mediaType ? `unsupported Content-Type ${JSON.stringify(mediaType)}` : "no Content-Type"}: ` +
        "send the CSV as text/csv (or application/csv, text/plain, application/octet-stream), " +
        'or as multipart/form-data with the file in a field named "file"',
    );
  }
}

/** The upload is larger than `INGEST_MAX_UPLOAD_BYTES`. */
export class UploadTooLargeError extends UploadError {
  override name = "UploadTooLargeError";
  constructor(limitBytes: number, detail: string) {
    super(413, "upload_too_large", `upload exceeds the limit of ${limitBytes} bytes: ${detail}`);
  }
}

/** The file has a header but not one data row. */
export class NoDataRowsError extends UploadError {
  override name = "NoDataRowsError";
  constructor() {
    // Line 2 is where the first data row should have been.
    super(400, "no_data_rows", "the file has a header but no data rows: nothing to score", 2);
  }
}

/** A multipart body without the CSV in its `file` field. */
export class MissingFileFieldError extends UploadError {
  override name = "MissingFileFieldError";
  constructor(found: string | undefined) {
    super(
      400,
      "missing_file",
      found === undefined
        ? 'the multipart body holds no file: put the CSV in a field named "file"'
        : `the multipart body's file is in field ${JSON.stringify(found)}: name the field "file"`,
    );
  }
}

/** A request parameter that is not acceptable, named with the reason. */
export class InvalidUploadRequestError extends UploadError {
  override name = "InvalidUploadRequestError";
  constructor(message: string) {
    super(400, "invalid_request", message);
  }
}

/** No model is active, so an upload has no features and window to be shaped with. */
export class NoActiveModelError extends UploadError {
  override name = "NoActiveModelError";
  constructor(detail = "no model is active yet") {
    super(503, "no_active_model", `${detail}: publish or activate a model, then retry`);
  }
}

/** Redis did not answer in time; the upload cannot be stored. */
export class RedisUnavailableError extends UploadError {
  override name = "RedisUnavailableError";
  constructor(timeoutMs: number, step: string) {
    super(503, "redis_unavailable", `Redis did not answer within ${timeoutMs} ms (${step})`);
  }
}

/** What stopped an upload from outside: its client went away, or ingest is shutting down. */
export type UploadInterruption = "client-disconnected" | "shutdown";

/** An upload stopped before its body ended, for an outside reason. */
export class UploadInterruptedError extends UploadError {
  override name = "UploadInterruptedError";
  constructor(
    readonly interruption: UploadInterruption,
    rowsRead: number,
  ) {
    super(
      interruption === "shutdown" ? 503 : 400,
      interruption === "shutdown" ? "shutting_down" : "client_disconnected",
      interruption === "shutdown"
        ? `ingest shut down after ${rowsRead} rows; upload again to score the rest`
        : `client disconnected after ${rowsRead} rows`,
    );
  }
}
