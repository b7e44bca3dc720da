/**
 * One entry of the results stream (`{p}:results`), as text: the detector validates and encodes a
 * flow entry's windows once ({@link encodeResultEntry}), and the API relays each window's JSON
 * as it was written ({@link decodeResultEntry}) instead of parsing, validating and re-encoding
 * every window on its way to the browser.
 *
 * The `windows` field stays one JSON `WindowResult[]` (the incident tracker parses it whole); the
 * other fields let a reader cut it into windows and filter them without parsing it.
 */
import { resultBatchSchema, type WindowResult } from "./stream-contracts.ts";

/** The fields of one results stream entry, as the detector's commit writes them. */
export interface ResultEntryFields {
  uploadId: string;
  /** JSON `WindowResult[]`, in window order: `[` + each window's JSON joined by `,` + `]`. */
  windows: string;
  /** Length (UTF-16 code units) of each window's JSON within `windows`, comma-separated. */
  windowLengths: string;
  /** Positions within the entry of the anomalous windows, comma-separated (empty: none). */
  anomalies: string;
  /** Earliest `receivedAt` of the windows (ms since epoch); a detector's windows share one. */
  receivedAt: string;
  /** Latest `scoredAt` of the windows (ms since epoch); a detector's windows share one. */
  scoredAt: string;
}

/** Names of the {@link ResultEntryFields}, in the order they are written. */
export const RESULT_ENTRY_FIELDS = [
  "uploadId",
  "windows",
  "windowLengths",
  "anomalies",
  "receivedAt",
  "scoredAt",
] as const satisfies readonly (keyof ResultEntryFields)[];

/** Results that break the contract (detector side) or an entry that does (reader side). */
export class ResultEntryError extends Error {
  override readonly name = "ResultEntryError";
}

/**
 * Validates a flow entry's windows against {@link resultBatchSchema} and encodes them as a
 * results entry. Throws {@link ResultEntryError} naming the first invalid field.
 */
export function encodeResultEntry(results: readonly WindowResult[]): ResultEntryFields {
  const parsed = resultBatchSchema.safeParse(results);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ResultEntryError(`window result ${issue.path.join(".")}: ${issue.message}`);
  }
  const windows = parsed.data;
  if (windows.length === 0) throw new ResultEntryError("a results entry needs at least one window");
  const uploadId = windows[0]!.uploadId;
  const texts = new Array<string>(windows.length);
  const lengths = new Array<number>(windows.length);
  const anomalies: number[] = [];
  let receivedAt = Infinity;
  let scoredAt = -Infinity;
  for (let i = 0; i < windows.length; i++) {
    const window = windows[i]!;
    if (window.uploadId !== uploadId) {
      throw new ResultEntryError(
        `window ${i} belongs to upload ${window.uploadId}, the entry to ${uploadId}`,
      );
    }
    texts[i] = JSON.stringify(window);
    lengths[i] = texts[i]!.length;
    if (window.anomaly) anomalies.push(i);
    if (window.receivedAt < receivedAt) receivedAt = window.receivedAt;
    if (window.scoredAt > scoredAt) scoredAt = window.scoredAt;
  }
  return {
    uploadId,
    windows: `[${texts.join(",")}]`,
    windowLengths: lengths.join(","),
    anomalies: anomalies.join(","),
    receivedAt: String(receivedAt),
    scoredAt: String(scoredAt),
  };
}

/** {@link ResultEntryFields} as the flat field/value list `XADD` takes. */
export function resultEntryArgs(fields: ResultEntryFields): string[] {
  return RESULT_ENTRY_FIELDS.flatMap((name) => [name, fields[name]]);
}

/** The windows of one results entry, each as the JSON text the detector wrote. */
export interface ResultEntryWindows {
  uploadId: string;
  /** Each window's JSON (a `WindowResult`), in window order. */
  texts: string[];
  /** Whether each window is anomalous, in the same order. */
  anomalous: boolean[];
  receivedAt: number;
  scoredAt: number;
}

/**
 * Cuts a results entry into its windows' JSON texts without parsing them: the detector already
 * validated them. Checks only that the layout fields fit the text. An entry written before the
 * layout fields existed (`windowLengths` absent) is parsed, validated and re-encoded instead.
 * Throws {@link ResultEntryError}.
 */
export function decodeResultEntry(
  field: (name: (typeof RESULT_ENTRY_FIELDS)[number]) => string | undefined,
): ResultEntryWindows {
  const text = field("windows");
  if (text === undefined) throw new ResultEntryError("no windows field");
  const lengths = field("windowLengths");
  if (lengths === undefined) return decodeResultEntry(legacyFields(text));
  const uploadId = field("uploadId");
  if (uploadId === undefined) throw new ResultEntryError("no uploadId field");
  const texts: string[] = [];
  let at = 1;
  for (const length of lengths.split(",")) {
    const n = Number(length);
    const end = at + n;
    if (!Number.isInteger(n) || n < 2 || end >= text.length) {
      throw new ResultEntryError(`windowLengths ${lengths} does not fit the windows field`);
    }
    const window = text.slice(at, end);
    if (window.charCodeAt(0) !== 0x7b || window.charCodeAt(n - 1) !== 0x7d) {
      throw new ResultEntryError(`window ${texts.length} is not a JSON object`);
    }
    texts.push(window);
    // The separator: `,` between windows, `]` after the last.
    at = end + 1;
    const separator = text.charCodeAt(end);
    if (separator === 0x5d) break;
    if (separator !== 0x2c) throw new ResultEntryError(`no ',' after window ${texts.length - 1}`);
  }
  if (text.charCodeAt(0) !== 0x5b || at !== text.length || texts.length !== lengthCount(lengths)) {
    throw new ResultEntryError(`windowLengths ${lengths} does not fit the windows field`);
  }
  const anomalous = new Array<boolean>(texts.length).fill(false);
  const anomalies = field("anomalies") ?? "";
  if (anomalies !== "") {
    for (const position of anomalies.split(",")) {
      const i = Number(position);
      if (!Number.isInteger(i) || i < 0 || i >= texts.length) {
        throw new ResultEntryError(`anomalies names window ${position} of ${texts.length}`);
      }
      anomalous[i] = true;
    }
  }
  return {
    uploadId,
    texts,
    anomalous,
    receivedAt: timeField(field, "receivedAt"),
    scoredAt: timeField(field, "scoredAt"),
  };
}

function lengthCount(lengths: string): number {
  let count = 1;
  for (let i = 0; i < lengths.length; i++) if (lengths.charCodeAt(i) === 0x2c) count++;
  return count;
}

function timeField(
  field: (name: (typeof RESULT_ENTRY_FIELDS)[number]) => string | undefined,
  name: "receivedAt" | "scoredAt",
): number {
  const value = Number(field(name));
  if (!Number.isFinite(value)) throw new ResultEntryError(`${name} is not a number`);
  return value;
}

/** The fields of an entry written as `uploadId` + `windows` only, re-encoded. */
function legacyFields(text: string): (name: keyof ResultEntryFields) => string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ResultEntryError("windows is not JSON");
  }
  const parsed = resultBatchSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ResultEntryError(`${issue.path.join(".")}: ${issue.message}`);
  }
  const fields = encodeResultEntry(parsed.data);
  return (name) => fields[name];
}
