/**
 * Streaming reader of CICFlowMeter CSV files.
 *
 * A byte-level scanner rather than a general CSV library: it materialises only the feature and
 * label columns, parses numbers straight from the bytes, and never builds a string per field.
 * On the 91-column CIC-IDS2017 files csv-parse reads about 38,000 rows/s on this machine; this
 * reader does several times that (see `pnpm bench:core`), which is what makes real-time scoring
 * of a full-rate capture possible on one core.
 *
 * It reads the files people actually download: BOM, CRLF, quoted fields (with `""` escapes and
 * embedded newlines), header names in any spelling (see {@link canonicalColumnKey}),
 * `Infinity`/`NaN`/empty numeric cells (kept as non-finite values for the model's imputation
 * rules), ragged rows and a last line cut off mid-row. Memory is bounded by one batch plus one
 * record, whatever the file size.
 */
import {
  allocateFlowContext,
  hasAnyContext,
  sliceFlowContext,
  type FlowContext,
  type FlowContextPresence,
} from "./flow-context.ts";
import { BENIGN_LABEL, LABEL_KEY, canonicalColumnKey } from "./flow-features.ts";
import { TimestampColumn, zoneOffset } from "./flow-timestamp.ts";
import type { FlowCsvErrorCode } from "./flow-csv-errors.ts";
import type { FlowBatch } from "./window-aggregator.ts";

/** Why a whole input was refused before any row was read. */
export { FLOW_CSV_ERROR_CODES, type FlowCsvErrorCode } from "./flow-csv-errors.ts";

/** The last line number a flow can carry (flow batches hold line numbers as 32-bit integers). */
export const MAX_FLOW_LINE = 0xffff_ffff;

/** A whole input is unusable; nothing of it may be scored. */
export class FlowCsvError extends Error {
  override readonly name = "FlowCsvError";
  constructor(
    readonly code: FlowCsvErrorCode,
    message: string,
    /** 1-based line where the problem was found, when it is tied to one. */
    readonly line?: number,
  ) {
    super(message);
  }

  /** Name of the input (file, upload) it came from, set by whoever opened the input. */
  source?: string;
}

/** The file lacks feature columns the model needs. */
export class MissingColumnsError extends FlowCsvError {
  constructor(
    /** Required features that no header name matched. */
    readonly missing: readonly string[],
    /** The header names as they appear in the file (trimmed). */
    readonly seen: readonly string[],
  ) {
    super(
      "missing_columns",
      `missing required column${missing.length === 1 ? "" : "s"}: ${missing.join(", ")} ` +
        `(columns seen: ${seen.join(", ")})`,
      1,
    );
  }
}

/** One rejected row: where and why. */
export interface RejectedRow {
  /** 1-based physical line where the record starts (the header is line 1). */
  line: number;
  /** 1-based column of the offending field, when one field is to blame. */
  column?: number;
  reason: string;
}

/** Where the reader found each column it needs. */
export interface FlowColumns {
  /** Header names as in the file, trimmed. */
  header: readonly string[];
  /** Column index of each requested feature, in the requested order. */
  featureColumns: Int32Array;
  /** Column index of `Label`, or -1 when the file is unlabelled. */
  labelColumn: number;
  /** Column index of each optional context column, or -1 when the file lacks it. */
  context: FlowContextColumns;
}

/** Column indexes of the who/when columns (-1 = absent). */
export interface FlowContextColumns {
  dstIp: number;
  srcIp: number;
  dstPort: number;
  protocol: number;
  timestamp: number;
}

/** Canonical keys of the context columns (see {@link canonicalColumnKey}'s aliases). */
export const CONTEXT_KEYS: Readonly<Record<keyof FlowContextColumns, string>> = {
  dstIp: "destinationip",
  srcIp: "sourceip",
  dstPort: "destinationport",
  protocol: "protocol",
  timestamp: "timestamp",
};

/** Running totals of a read. */
export interface FlowReadStats {
  rowsAccepted: number;
  rowsRejected: number;
  /** The first `maxRejectedKept` rejections, in file order. */
  rejected: RejectedRow[];
  /** Accepted rows whose label is not BENIGN (0 for an unlabelled file). */
  attackRows: number;
  /** Non-finite numeric cells in accepted rows (`Infinity`, `-Infinity`, `NaN`). */
  nonFiniteValues: number;
  /** Empty numeric cells in accepted rows. */
  emptyValues: number;
  /**
   * Accepted rows whose `Timestamp` is empty or in no accepted format (0 when the file has no
   * `Timestamp` column); the row is kept, its windows get no times.
   */
  timestampsUnparsed: number;
  /** Lines read so far, header included. */
  lines: number;
  bytes: number;
}

/** Reader settings. */
export interface FlowCsvReaderOptions {
  /** Feature names to extract, in model order (any spelling; matched by canonical key). */
  features: readonly string[];
  /** Flows per emitted batch. */
  batchSize?: number;
  /** How many rejected rows to keep with their reasons; all are counted. */
  maxRejectedKept?: number;
  /** Longest record accepted; a longer one means an unbalanced quote or not a CSV at all. */
  maxRecordBytes?: number;
  /**
   * Zone of naive timestamps: `UTC` (default), a `±hh:mm` offset or an IANA name. Throws a
   * `RangeError` at construction when it is none of these.
   */
  timestampZone?: string;
}

/** Kinds of non-feature columns the scanner acts on. */
const ColumnKind = {
  None: 0,
  Label: 1,
  DstIp: 2,
  SrcIp: 3,
  DstPort: 4,
  Protocol: 5,
  Timestamp: 6,
} as const;

// Bytes the scanner branches on.
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const SPACE = 0x20;
const TAB = 0x09;

/** 2048 flows per batch: large enough to amortise per-batch work, small enough for low latency. */
const DEFAULT_BATCH_SIZE = 2048;
const DEFAULT_MAX_REJECTED_KEPT = 100;
/** A CICFlowMeter row is under 2 KiB; 1 MiB leaves room for anything legitimate. */
const DEFAULT_MAX_RECORD_BYTES = 1 << 20;

/** Exact powers of ten: any integer below 2^53 times or divided by one of these rounds once. */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** Outcome of the last number parse, kept out of the return value to avoid allocation. */
const NumberStatus = { Ok: 0, Empty: 1, NonFinite: 2, Invalid: 3 } as const;
type NumberStatus = (typeof NumberStatus)[keyof typeof NumberStatus];

/** Outcome of the last {@link parseNumberField} call (module state: the scanner is synchronous). */
let numberStatus: NumberStatus = NumberStatus.Ok;

/** A short ASCII slice as a string: cheaper than a TextDecoder call for a dozen bytes. */
function asciiString(data: Uint8Array, start: number, end: number): string {
  let text = "";
  for (let i = start; i < end; i++) text += String.fromCharCode(data[i]!);
  return text;
}
const utf8 = new TextDecoder("utf-8");

/**
 * Streaming reader: feed it chunks with {@link push}, finish with {@link end}; each returns the
 * batches of flows completed so far. Throws {@link FlowCsvError} for an input that is unusable
 * as a whole; rejects (and counts) individual bad rows and reads on.
 */
export class FlowCsvReader {
  readonly #features: readonly string[];
  readonly #batchSize: number;
  readonly #maxRejectedKept: number;
  readonly #maxRecordBytes: number;
  #columns: FlowColumns | undefined;
  /** Column index -> feature slot, -1 for columns not needed. */
  #slotOfColumn = new Int32Array(0);
  #pending: Uint8Array = new Uint8Array(0);
  #line = 1;
  #sawInput = false;
  #batch: FlowBatch;
  #batchFill = 0;
  readonly #row: Float64Array;
  readonly #stats: FlowReadStats = {
    rowsAccepted: 0,
    rowsRejected: 0,
    rejected: [],
    attackRows: 0,
    nonFiniteValues: 0,
    emptyValues: 0,
    timestampsUnparsed: 0,
    lines: 0,
    bytes: 0,
  };
  /** Column index -> {@link ColumnKind} for columns that are not features. */
  #kindOfColumn = new Uint8Array(0);
  #contextPresence: FlowContextPresence | undefined;
  /** The timestamp column's parser, with its same-hour shortcut. */
  readonly #timestamps: TimestampColumn;
  /** Interns the IP strings of the current batch; reset with each batch's dictionary. */
  readonly #interner: ByteInterner;
  /**
   * Where the current row's context cells lie: start and end of its destination IP, source IP,
   * destination port, protocol and timestamp (start -1 when the row has not reached the column).
   */
  readonly #contextCells = new Int32Array(10);

  constructor(options: FlowCsvReaderOptions) {
    if (options.features.length === 0) throw new RangeError("features: at least one is needed");
    this.#features = options.features;
    this.#batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    this.#maxRejectedKept = options.maxRejectedKept ?? DEFAULT_MAX_REJECTED_KEPT;
    this.#maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this.#row = new Float64Array(options.features.length);
    this.#timestamps = new TimestampColumn(zoneOffset(options.timestampZone));
    this.#interner = new ByteInterner(this.#batchSize * 2);
    this.#batch = this.#newBatch();
  }

  /** The resolved columns, once the header has been read. */
  get columns(): FlowColumns | undefined {
    return this.#columns;
  }

  /** Whether the file has a `Label` column (known once the header has been read). */
  get labelled(): boolean {
    return (this.#columns?.labelColumn ?? -1) >= 0;
  }

  /** Totals so far. */
  get stats(): Readonly<FlowReadStats> {
    return this.#stats;
  }

  /** Reads a chunk; returns the batches it completed. */
  push(chunk: Uint8Array | string): FlowBatch[] {
    const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
    if (bytes.length === 0) return [];
    this.#stats.bytes += bytes.length;
    const out: FlowBatch[] = [];
    let data = bytes;
    const pending = this.#pending;
    if (pending.length > 0) {
      // Finish the record cut at the last chunk's end by joining it with this chunk's first line
      // only: copying whole chunks behind it cost a twentieth of the parse. A line end inside a
      // quoted field leaves the record open; then the rest joins as before.
      const lineEnd = bytes.indexOf(LF);
      const head = new Uint8Array(pending.length + (lineEnd < 0 ? bytes.length : lineEnd + 1));
      head.set(pending, 0);
      head.set(lineEnd < 0 ? bytes : bytes.subarray(0, lineEnd + 1), pending.length);
      if (lineEnd < 0) {
        data = head;
      } else {
        const tail = bytes.subarray(lineEnd + 1);
        const consumed = this.#scan(head, false, out);
        if (consumed === head.length) {
          data = tail;
        } else {
          data = new Uint8Array(head.length - consumed + tail.length);
          data.set(head.subarray(consumed), 0);
          data.set(tail, head.length - consumed);
        }
      }
    } else if (!this.#sawInput) {
      this.#sawInput = true;
      checkTextInput(data);
    }
    const consumed = this.#scan(data, false, out);
    const rest = data.length - consumed;
    if (rest > this.#maxRecordBytes) {
      throw new FlowCsvError(
        "record_too_long",
        `line ${this.#line}: record longer than ${this.#maxRecordBytes} bytes ` +
          `(an unbalanced quote, or not a CSV file)`,
        this.#line,
      );
    }
    // Copy the unfinished record so the caller's chunk can be released.
    this.#pending = rest === 0 ? new Uint8Array(0) : data.slice(consumed);
    return out;
  }

  /** Finishes the input: reads a last line without newline, flushes the partial batch. */
  /**
   * Hands over the rows read so far that have not filled a batch yet, as a batch of their own
   * (or nothing). A live source calls this after each chunk so its flows move on without waiting
   * for {@link FlowCsvReaderOptions.batchSize} rows; the reader's buffers are reused.
   */
  flush(): FlowBatch[] {
    return this.#batchFill > 0 ? [this.#takeBatch()] : [];
  }

  end(): FlowBatch[] {
    const out: FlowBatch[] = [];
    if (this.#pending.length > 0) {
      this.#scan(this.#pending, true, out);
      this.#pending = new Uint8Array(0);
    }
    if (this.#columns === undefined) {
      throw new FlowCsvError("empty", "the input is empty: no header line", 1);
    }
    if (this.#batchFill > 0) out.push(this.#takeBatch());
    return out;
  }

  #newBatch(): FlowBatch {
    const featureCount = this.#features.length;
    const batch: FlowBatch = {
      count: 0,
      featureCount,
      values: new Float64Array(this.#batchSize * featureCount),
      lines: new Uint32Array(this.#batchSize),
      attack: new Uint8Array(this.#batchSize),
    };
    if (this.#contextPresence !== undefined) {
      batch.context = allocateFlowContext(this.#contextPresence, this.#batchSize);
      this.#interner.reset(batch.context.strings);
    }
    return batch;
  }

  #takeBatch(): FlowBatch {
    const full = this.#batch;
    const n = this.#batchFill;
    const featureCount = this.#features.length;
    this.#batchFill = 0;
    if (n === this.#batchSize) {
      // The full buffers go to the caller; later rows need new ones.
      this.#batch = this.#newBatch();
      return { ...full, count: n };
    }
    // A partial batch is copied out, and the buffers stay for the rows still to come.
    const partial: FlowBatch = {
      count: n,
      featureCount,
      values: full.values.slice(0, n * featureCount),
      lines: full.lines.slice(0, n),
      attack: full.attack.slice(0, n),
    };
    if (full.context !== undefined) {
      partial.context = sliceFlowContext(full.context, 0, n);
      full.context.strings = [];
      this.#interner.reset(full.context.strings);
    }
    return partial;
  }

  #reject(line: number, reason: string, column?: number): void {
    this.#stats.rowsRejected++;
    if (this.#stats.rejected.length < this.#maxRejectedKept) {
      this.#stats.rejected.push(column === undefined ? { line, reason } : { line, column, reason });
    }
  }

  /**
   * Scans complete records from `data`; returns how many bytes were consumed. With `final`,
   * a record without a trailing newline is complete too.
   */
  #scan(data: Uint8Array, final: boolean, out: FlowBatch[]): number {
    let pos = 0;
    const end = data.length;
    if (this.#columns === undefined) {
      const headerEnd = findRecordEnd(data, 0, end);
      if (headerEnd < 0 && !final) return 0;
      const stop = headerEnd < 0 ? end : headerEnd;
      this.#readHeader(data, stop);
      pos = headerEnd < 0 ? end : headerEnd + 1;
      this.#line += countNewlines(data, 0, pos);
    }
    const columns = this.#columns;
    if (columns === undefined) return pos;
    const slotOfColumn = this.#slotOfColumn;
    const columnCount = columns.header.length;
    const featureCount = this.#features.length;
    const row = this.#row;
    const slotCount = slotOfColumn.length;
    const kindOfColumn = this.#kindOfColumn;
    const hasContext = this.#contextPresence !== undefined;

    while (pos < end) {
      const recordLine = this.#line;
      let column = 0;
      let fieldStart = pos;
      let i = pos;
      let newlines = 0;
      let badColumn = -1;
      let badReason = "";
      let isAttack = 0;
      let nonFinite = 0;
      let empty = 0;
      let complete = false;
      let blank = true;
      let unterminated = false;
      const cells = this.#contextCells;
      if (hasContext) {
        cells[0] = -1;
        cells[2] = -1;
        cells[4] = -1;
        cells[6] = -1;
        cells[8] = -1;
      }

      // One record, field by field: a tight loop to the next delimiter for plain fields, a
      // quote-aware loop only for fields that open with a quote.
      for (;;) {
        fieldStart = i;
        let c = -1;
        if (i < end && data[i] === QUOTE) {
          i++;
          let closed = false;
          let undecided = false;
          while (i < end) {
            c = data[i]!;
            if (c === QUOTE) {
              if (i + 1 < end && data[i + 1] === QUOTE) {
                i += 2;
                continue;
              }
              if (i + 1 === end && !final) {
                undecided = true; // cannot tell `"` from `""` yet
                break;
              }
              i++;
              closed = true;
              break;
            }
            if (c === LF) newlines++;
            i++;
          }
          if (undecided || (!closed && !final)) break;
          if (!closed) {
            // Input ended inside a quoted field: the last line was cut off.
            badColumn = column;
            badReason = "input ends inside a quoted field (last line cut off)";
            complete = true;
            unterminated = true;
            i = end;
            column++;
            break;
          }
        }
        while (i < end) {
          c = data[i]!;
          if (c === COMMA || c === LF) break;
          i++;
        }
        if (i === end) {
          if (!final) break;
          c = LF; // the last line of the input ends at end of input
          unterminated = true;
        }
        let fieldEnd = i;
        if (c === LF && fieldEnd > fieldStart && data[fieldEnd - 1] === CR) fieldEnd--;
        if (fieldEnd > fieldStart) blank = false;
        if (column < slotCount && badColumn < 0) {
          const slot = slotOfColumn[column]!;
          if (slot >= 0) {
            const value = parseNumberField(data, fieldStart, fieldEnd);
            if (numberStatus === NumberStatus.Ok) {
              row[slot] = value;
            } else if (numberStatus === NumberStatus.Invalid) {
              badColumn = column;
              badReason = `column ${column + 1} (${this.#features[slot]}): not a number: ${quoteForMessage(data, fieldStart, fieldEnd)}`;
            } else {
              if (numberStatus === NumberStatus.Empty) empty++;
              else nonFinite++;
              row[slot] = value;
            }
          } else {
            const kind = kindOfColumn[column]!;
            if (kind === 1) {
              isAttack = isBenign(data, fieldStart, fieldEnd) ? 0 : 1;
            } else if (kind !== 0) {
              // Only noted here; read once the row is accepted (see #readContext).
              const at = (kind - ColumnKind.DstIp) * 2;
              cells[at] = fieldStart;
              cells[at + 1] = fieldEnd;
            }
          }
        }
        column++;
        i++;
        if (c === LF) {
          complete = true;
          break;
        }
      }
      if (!complete) break; // the record continues in the next chunk
      pos = Math.min(i, end);
      if (recordLine > MAX_FLOW_LINE) {
        throw new FlowCsvError(
          "too_many_lines",
          `line ${recordLine}: inputs end at line ${MAX_FLOW_LINE}; split the file`,
          recordLine,
        );
      }
      this.#line += newlines + 1;
      this.#stats.lines = this.#line - 1;

      if (blank && column === 1) continue; // an empty line
      if (badColumn >= 0) {
        this.#reject(recordLine, badReason, badColumn + 1);
        continue;
      }
      if (column !== columnCount) {
        const cutOff = unterminated && column < columnCount;
        this.#reject(
          recordLine,
          cutOff
            ? `last line cut off: ${column} of ${columnCount} fields`
            : `ragged row: ${column} fields, the header has ${columnCount}`,
        );
        continue;
      }
      // Accept the row into the batch.
      const batch = this.#batch;
      const at = this.#batchFill;
      batch.values.set(row, at * featureCount);
      batch.lines[at] = recordLine;
      batch.attack[at] = isAttack;
      const context = batch.context;
      if (context !== undefined) this.#readContext(data, context, at);
      this.#batchFill = at + 1;
      this.#stats.rowsAccepted++;
      this.#stats.attackRows += isAttack;
      this.#stats.nonFiniteValues += nonFinite;
      this.#stats.emptyValues += empty;
      if (this.#batchFill === this.#batchSize) out.push(this.#takeBatch());
    }
    return pos;
  }

  #readHeader(data: Uint8Array, stop: number): void {
    let start = 0;
    if (stop >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) start = 3;
    const text = utf8.decode(data.subarray(start, stop)).replace(/\r$/, "");
    if (text.trim() === "")
      throw new FlowCsvError("empty", "the input is empty: no header line", 1);
    const header = splitCsvLine(text).map((name) => name.trim());
    this.#columns = resolveFlowColumns(header, this.#features);
    const slots = new Int32Array(header.length).fill(-1);
    this.#columns.featureColumns.forEach((column, slot) => {
      slots[column] = slot;
    });
    this.#slotOfColumn = slots;
    const kinds = new Uint8Array(header.length);
    const { labelColumn, context } = this.#columns;
    if (labelColumn >= 0) kinds[labelColumn] = ColumnKind.Label;
    // A context column that is also a requested feature (`Destination Port`) stays a feature.
    const mark = (column: number, kind: number) => {
      if (column >= 0 && slots[column]! < 0) kinds[column] = kind;
    };
    mark(context.dstIp, ColumnKind.DstIp);
    mark(context.srcIp, ColumnKind.SrcIp);
    mark(context.dstPort, ColumnKind.DstPort);
    mark(context.protocol, ColumnKind.Protocol);
    mark(context.timestamp, ColumnKind.Timestamp);
    this.#kindOfColumn = kinds;
    const presence: FlowContextPresence = {
      dstIp: kinds[context.dstIp] === ColumnKind.DstIp,
      srcIp: kinds[context.srcIp] === ColumnKind.SrcIp,
      dstPort: kinds[context.dstPort] === ColumnKind.DstPort,
      protocol: kinds[context.protocol] === ColumnKind.Protocol,
      timestamp: kinds[context.timestamp] === ColumnKind.Timestamp,
    };
    if (hasAnyContext(presence)) {
      this.#contextPresence = presence;
      // The first batch was made before the header was known.
      this.#batch = this.#newBatch();
    }
  }

  /**
   * Reads the accepted row's context cells (noted by the scan in {@link #contextCells}) into
   * flow `at` of the batch: one call a row, out of the scan loop, so the context columns do not
   * crowd the number parser out of that loop's inlining budget (it ran at half speed with them
   * inline), and a rejected row adds nothing to the batch's dictionary.
   */
  #readContext(data: Uint8Array, context: FlowContext, at: number): void {
    const cells = this.#contextCells;
    context.dstIp[at] = cells[0]! < 0 ? -1 : this.#interner.intern(data, cells[0]!, cells[1]!);
    context.srcIp[at] = cells[2]! < 0 ? -1 : this.#interner.intern(data, cells[2]!, cells[3]!);
    context.dstPort[at] = cells[4]! < 0 ? -1 : parseSmallInt(data, cells[4]!, cells[5]!);
    context.protocol[at] = cells[6]! < 0 ? -1 : parseSmallInt(data, cells[6]!, cells[7]!);
    const time = cells[8]! < 0 ? Number.NaN : this.#timestamp(data, cells[8]!, cells[9]!);
    context.time[at] = time;
    if (context.has.timestamp && Number.isNaN(time)) this.#stats.timestampsUnparsed++;
  }

  /** Parses a timestamp cell (trimmed of spaces and quotes); NaN when empty or unreadable. */
  #timestamp(data: Uint8Array, start: number, end: number): number {
    while (start < end && (data[start] === SPACE || data[start] === QUOTE)) start++;
    while (end > start && (data[end - 1] === SPACE || data[end - 1] === QUOTE)) end--;
    return start === end ? Number.NaN : this.#timestamps.parse(data, start, end);
  }
}

/** A non-negative integer cell (port, protocol), or -1 when empty or not one. */
function parseSmallInt(data: Uint8Array, start: number, end: number): number {
  while (start < end && (data[start] === SPACE || data[start] === QUOTE)) start++;
  while (end > start && (data[end - 1] === SPACE || data[end - 1] === QUOTE)) end--;
  if (start === end || end - start > 9) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const c = data[i]! - 0x30;
    if (c < 0 || c > 9) return -1;
    value = value * 10 + c;
  }
  return value;
}

/**
 * Interns short byte strings (IP addresses) into a batch dictionary without building a string
 * for a text already seen: an open-addressing table of FNV-1a hashes, verified byte by byte.
 */
class ByteInterner {
  #strings: string[] = [];
  #hashes: Int32Array;
  /** Slot -> code + 1 (0 = empty). */
  #table: Int32Array;
  #mask: number;

  constructor(maxDistinct: number) {
    let size = 16;
    while (size < maxDistinct * 2) size *= 2;
    this.#table = new Int32Array(size);
    this.#mask = size - 1;
    this.#hashes = new Int32Array(maxDistinct);
  }

  /** Starts a new dictionary, filled into `strings`. */
  reset(strings: string[]): void {
    this.#strings = strings;
    this.#table.fill(0);
  }

  /** Code of the trimmed cell in the dictionary, adding it; -1 for an empty cell. */
  intern(data: Uint8Array, start: number, end: number): number {
    while (start < end && (data[start] === SPACE || data[start] === QUOTE)) start++;
    while (end > start && (data[end - 1] === SPACE || data[end - 1] === QUOTE)) end--;
    if (start === end) return -1;
    let hash = 0x811c9dc5 | 0;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ data[i]!, 0x01000193);
    const strings = this.#strings;
    const table = this.#table;
    const mask = this.#mask;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = table[slot]!;
      if (entry === 0) {
        const code = strings.length;
        if (code >= this.#hashes.length) {
          // Not reachable with two IP columns per row and one batch per dictionary.
          const grown = new Int32Array(this.#hashes.length * 2);
          grown.set(this.#hashes);
          this.#hashes = grown;
        }
        strings.push(utf8.decode(data.subarray(start, end)));
        this.#hashes[code] = hash;
        table[slot] = code + 1;
        return code;
      }
      const code = entry - 1;
      if (this.#hashes[code] === hash && sameText(strings[code]!, data, start, end)) return code;
    }
  }
}

/**
 * Whether an ASCII string equals the bytes. A non-ASCII text never matches, so it gets a new code
 * each time it occurs; later stages count by the string itself, so counts stay right.
 */
function sameText(text: string, data: Uint8Array, start: number, end: number): boolean {
  if (text.length !== end - start) return false;
  for (let k = 0; k < text.length; k++) if (text.charCodeAt(k) !== data[start + k]) return false;
  return true;
}

/** Parses a numeric cell; sets {@link numberStatus}. */
function parseNumberField(data: Uint8Array, start: number, end: number): number {
  // Trim spaces and tabs, then surrounding quotes.
  while (start < end && (data[start] === SPACE || data[start] === TAB)) start++;
  while (end > start && (data[end - 1] === SPACE || data[end - 1] === TAB)) end--;
  if (end - start >= 2 && data[start] === QUOTE && data[end - 1] === QUOTE) {
    start++;
    end--;
    while (start < end && data[start] === SPACE) start++;
    while (end > start && data[end - 1] === SPACE) end--;
  }
  if (start === end) {
    numberStatus = NumberStatus.Empty;
    return Number.NaN;
  }
  // Fast path: [sign] digits [. digits] [e [sign] digits], at most 15 significant digits.
  let i = start;
  let negative = false;
  let c = data[i]!;
  if (c === 0x2d || c === 0x2b) {
    negative = c === 0x2d;
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let fractionDigits = 0;
  let sawDigit = false;
  while (i < end && (c = data[i]!) >= 0x30 && c <= 0x39) {
    mantissa = mantissa * 10 + (c - 0x30);
    if (mantissa !== 0) digits++;
    sawDigit = true;
    i++;
  }
  if (i < end && data[i] === 0x2e) {
    i++;
    while (i < end && (c = data[i]!) >= 0x30 && c <= 0x39) {
      mantissa = mantissa * 10 + (c - 0x30);
      if (mantissa !== 0) digits++;
      fractionDigits++;
      sawDigit = true;
      i++;
    }
  }
  let exponent = 0;
  if (sawDigit && i < end && (data[i] === 0x65 || data[i] === 0x45)) {
    i++;
    let expNegative = false;
    if (i < end && (data[i] === 0x2d || data[i] === 0x2b)) {
      expNegative = data[i] === 0x2d;
      i++;
    }
    let expDigits = 0;
    while (i < end && (c = data[i]!) >= 0x30 && c <= 0x39) {
      exponent = exponent * 10 + (c - 0x30);
      expDigits++;
      i++;
    }
    if (expDigits === 0) i = -1; // "1e" is not a number
    if (expNegative) exponent = -exponent;
  }
  if (i === end && sawDigit) {
    const scale = exponent - fractionDigits;
    // Up to 15 significant digits the mantissa is an exact integer and one multiplication or
    // division by an exact power of ten rounds once: the result is what Number() gives. With
    // 16 to 19 digits (a third of the values in the CIC-IDS2017 "improved" files, which print
    // full doubles) the mantissa carries at most four roundings, a relative error below 1e-15:
    // far below anything a window statistic can notice, and five times cheaper than Number().
    if (digits <= 19 && scale >= -22 && scale <= 22) {
      const magnitude = scale >= 0 ? mantissa * POW10[scale]! : mantissa / POW10[-scale]!;
      numberStatus = NumberStatus.Ok;
      return negative ? -magnitude : magnitude;
    }
    // Too many digits or too large an exponent for the arithmetic above.
    numberStatus = NumberStatus.Ok;
    return Number(asciiString(data, start, end));
  }
  return parseSpecial(data, start, end);
}

function parseSpecial(data: Uint8Array, start: number, end: number): number {
  if (end - start > 12) {
    numberStatus = NumberStatus.Invalid;
    return Number.NaN;
  }
  const text = asciiString(data, start, end).toLowerCase();
  switch (text) {
    case "infinity":
    case "+infinity":
    case "inf":
    case "+inf":
      numberStatus = NumberStatus.NonFinite;
      return Number.POSITIVE_INFINITY;
    case "-infinity":
    case "-inf":
      numberStatus = NumberStatus.NonFinite;
      return Number.NEGATIVE_INFINITY;
    case "nan":
    case "-nan":
      numberStatus = NumberStatus.NonFinite;
      return Number.NaN;
    default:
      numberStatus = NumberStatus.Invalid;
      return Number.NaN;
  }
}

/**
 * Matches header names to the wanted features. Throws {@link MissingColumnsError} naming every
 * feature that no column matched, before any row is read.
 */
export function resolveFlowColumns(
  header: readonly string[],
  features: readonly string[],
): FlowColumns {
  const firstColumnOfKey = new Map<string, number>();
  header.forEach((name, column) => {
    const key = canonicalColumnKey(name);
    // A duplicated header (`Fwd Header Length` twice) keeps its first column.
    if (key !== "" && !firstColumnOfKey.has(key)) firstColumnOfKey.set(key, column);
  });
  const featureColumns = new Int32Array(features.length);
  const missing: string[] = [];
  features.forEach((feature, slot) => {
    const column = firstColumnOfKey.get(canonicalColumnKey(feature));
    if (column === undefined) missing.push(feature);
    else featureColumns[slot] = column;
  });
  if (missing.length > 0) throw new MissingColumnsError(missing, header);
  const optional = (key: string) => firstColumnOfKey.get(key) ?? -1;
  return {
    header,
    featureColumns,
    labelColumn: optional(LABEL_KEY),
    context: {
      dstIp: optional(CONTEXT_KEYS.dstIp),
      srcIp: optional(CONTEXT_KEYS.srcIp),
      dstPort: optional(CONTEXT_KEYS.dstPort),
      protocol: optional(CONTEXT_KEYS.protocol),
      timestamp: optional(CONTEXT_KEYS.timestamp),
    },
  };
}

/** Refuses input that is not text: a NUL byte, or mostly control bytes, in the first 4 KiB. */
function checkTextInput(data: Uint8Array): void {
  const n = Math.min(data.length, 4096);
  let control = 0;
  for (let i = 0; i < n; i++) {
    const c = data[i]!;
    if (c === 0) {
      throw new FlowCsvError(
        "binary",
        `not a CSV text file: a NUL byte at offset ${i} (binary data?)`,
        1 + countNewlines(data, 0, i),
      );
    }
    if (c < 0x20 && c !== LF && c !== CR && c !== TAB) control++;
  }
  if (control > n / 20) {
    throw new FlowCsvError(
      "binary",
      `not a CSV text file: ${control} control bytes in the first ${n}`,
      1,
    );
  }
}

/** Index of the newline that ends the record starting at `start`, or -1; honours quotes. */
function findRecordEnd(data: Uint8Array, start: number, end: number): number {
  let quoted = false;
  for (let i = start; i < end; i++) {
    const c = data[i];
    if (c === QUOTE) quoted = !quoted;
    else if (c === LF && !quoted) return i;
  }
  return -1;
}

function countNewlines(data: Uint8Array, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) if (data[i] === LF) n++;
  return n;
}

/** Whether a label cell says BENIGN (any case, surrounding spaces or quotes ignored). */
function isBenign(data: Uint8Array, start: number, end: number): boolean {
  while (start < end && (data[start] === SPACE || data[start] === QUOTE)) start++;
  while (end > start && (data[end - 1] === SPACE || data[end - 1] === QUOTE)) end--;
  if (end - start !== BENIGN_LABEL.length) return false;
  for (let k = 0; k < BENIGN_LABEL.length; k++) {
    // OR 0x20 folds ASCII letters to lower case.
    if ((data[start + k]! | 0x20) !== (BENIGN_LABEL.charCodeAt(k) | 0x20)) return false;
  }
  return true;
}

function quoteForMessage(data: Uint8Array, start: number, end: number): string {
  const text = utf8.decode(data.subarray(start, Math.min(end, start + 40)));
  return JSON.stringify(end - start > 40 ? `${text}…` : text);
}

/** Splits one CSV line (no newline) into fields, honouring quotes and `""` escapes. */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"') {
        if (line[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === ",") {
      fields.push(field);
      field = "";
    } else if (ch === '"' && field.trim() === "") {
      quoted = true;
      field = "";
    } else field += ch;
  }
  fields.push(field);
  return fields;
}

/**
 * Reads a whole byte stream into batches of flows. The reader is returned first so that the
 * caller can read its stats and columns while and after iterating.
 */
export function readFlowCsv(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  options: FlowCsvReaderOptions,
): { reader: FlowCsvReader; batches: AsyncGenerator<FlowBatch> } {
  const reader = new FlowCsvReader(options);
  async function* batches(): AsyncGenerator<FlowBatch> {
    for await (const chunk of source) yield* reader.push(chunk);
    yield* reader.end();
  }
  return { reader, batches: batches() };
}
