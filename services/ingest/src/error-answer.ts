/**
 * The one mapping from errors to HTTP answers (`errorBodySchema` of core). A client error says
 * what was wrong and where (line, column, missing columns); a server error says nothing of the
 * internals, which go to the log instead.
 */
import {
  FlowCsvError,
  MissingColumnsError,
  errorCodeForStatus,
  type ErrorBody,
} from "@floodwatch/core";
import { UploadError } from "./upload-errors.ts";

/** An HTTP answer to an error. */
export interface ErrorAnswer {
  statusCode: number;
  body: ErrorBody;
  /** Whether it is our fault (logged as an error with the stack). */
  internal: boolean;
}

function clientStatusOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const status = (error as { statusCode?: unknown }).statusCode;
  return typeof status === "number" && status >= 400 && status < 500 ? status : undefined;
}

/** The answer to any error thrown while serving a request. */
export function errorAnswer(error: unknown): ErrorAnswer {
  if (error instanceof MissingColumnsError) {
    return {
      statusCode: 422,
      body: {
        error: "missing_columns",
        message: error.message,
        line: 1,
        missing: [...error.missing],
        seen: [...error.seen],
      },
      internal: false,
    };
  }
  if (error instanceof FlowCsvError) {
    return {
      statusCode: 400,
      body: {
        error: error.code,
        message: error.message,
        ...(error.line === undefined ? {} : { line: error.line }),
      },
      internal: false,
    };
  }
  if (error instanceof UploadError) {
    return {
      statusCode: error.statusCode,
      body: {
        error: error.code,
        message: error.message,
        ...(error.line === undefined ? {} : { line: error.line }),
      },
      internal: false,
    };
  }
  const clientStatus = clientStatusOf(error);
  if (clientStatus !== undefined) {
    return {
      statusCode: clientStatus,
      body: { error: errorCodeForStatus(clientStatus), message: (error as Error).message },
      internal: false,
    };
  }
  return {
    statusCode: 500,
    body: { error: "internal_error", message: "internal error; the ingest log has the details" },
    internal: true,
  };
}
