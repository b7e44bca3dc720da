/**
 * Why a whole flow CSV input is unusable: the flow CSV reader's error codes, which ingest answers
 * with as they are. Its own module so the HTTP contracts (bundled into the dashboard) can list
 * them without pulling in the reader.
 */
export const FLOW_CSV_ERROR_CODES = [
  "empty",
  "binary",
  "missing_columns",
  "record_too_long",
  "too_many_lines",
] as const;

/** One of {@link FLOW_CSV_ERROR_CODES}. */
export type FlowCsvErrorCode = (typeof FLOW_CSV_ERROR_CODES)[number];
