/**
 * Flow entries: the unit of work on the flows stream. Ingest cuts an upload's flow sequence
 * into runs of whole windows; each entry carries every flow its windows need (for stride < size
 * the left context too, so consecutive entries overlap by size - stride flows), packed as
 * binary. Any detector scores any entry alone; no window is ever assembled across workers.
 */
import {
  decodeFlowContext,
  encodeFlowContext,
  FlowContextBuffer,
  type FlowContext,
} from "./flow-context.ts";
import { flowEntryMetaSchema, type FlowEntryMeta } from "./stream-contracts.ts";
import {
  validateWindowSpec,
  windowCount,
  type FlowBatch,
  type WindowSpec,
} from "./window-aggregator.ts";

/** Packed numbers are little-endian: refuse to run where typed arrays are not. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** An entry in memory. */
export interface FlowEntry {
  meta: FlowEntryMeta;
  /** `flowCount * featureCount` raw feature values (non-finite values kept for the model). */
  values: Float64Array;
  /** Source line of each flow. */
  lines: Uint32Array;
  /** 1 for a labelled non-BENIGN flow. */
  attack: Uint8Array;
  /** Who and when of each flow (own dictionary), when the upload has those columns. */
  context?: FlowContext;
}

/** An entry as stream fields. */
export interface EncodedFlowEntry {
  meta: string;
  values: Uint8Array;
  lines: Uint8Array;
  attack: Uint8Array;
  /** {@link encodeFlowContext}'s packing; absent when the upload has no context columns. */
  context?: Uint8Array;
}

/** A stream entry that cannot be decoded; the reason goes to the dead-letter stream. */
export class FlowEntryError extends Error {
  override readonly name = "FlowEntryError";
}

/** Settings of a {@link FlowEntryBuilder}. */
export interface FlowEntryBuilderOptions {
  uploadId: string;
  featureCount: number;
  window: WindowSpec;
  /** Windows per entry (the last entry of an upload may hold fewer). */
  windowsPerEntry: number;
  modelVersion: string;
  labelled: boolean;
  /**
   * Clock for `receivedAt` (ms since epoch), the one stamp of an entry's latency start: taken as
   * the entry is cut, when its last flow has been read (in ingest, on the parse worker).
   */
  now?: () => number;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * The number of windows every entry (but an upload's last) must hold a multiple of: entries then
 * start at a flow whose number is a multiple of the window size. The sliding aggregator
 * re-anchors its running sums exactly every `size` flows counted from its first flow, so an
 * entry that starts on such a boundary reproduces the whole sequence's statistics bit for bit;
 * one that starts elsewhere rounds differently (about 1e-16), and a forest that split between
 * two such roundings of the same training value would score the window differently.
 */
export function entryWindowMultiple(window: WindowSpec): number {
  return window.size / gcd(window.size, window.stride);
}

/**
 * How many windows an entry of about `targetFlows` flows holds: a positive multiple of
 * {@link entryWindowMultiple}.
 */
export function windowsPerEntry(window: WindowSpec, targetFlows: number): number {
  const multiple = entryWindowMultiple(window);
  const fit = Math.floor((targetFlows - window.size) / window.stride) + 1;
  return Math.max(1, Math.floor(fit / multiple)) * multiple;
}

/**
 * Cuts one upload's flows into entries. Memory: one entry's flows plus one batch.
 */
export class FlowEntryBuilder {
  readonly #options: FlowEntryBuilderOptions;
  readonly #entryFlows: number;
  #values: Float64Array;
  #lines: Uint32Array;
  #attack: Uint8Array;
  /** Created with the first batch that carries context. */
  #context: FlowContextBuffer | undefined;
  /** Global index of the first buffered flow. */
  #bufferStart = 0;
  #buffered = 0;
  #flows = 0;
  #nextWindow = 0;
  #seq = 0;

  constructor(options: FlowEntryBuilderOptions) {
    validateWindowSpec(options.window);
    if (!Number.isInteger(options.windowsPerEntry) || options.windowsPerEntry < 1) {
      throw new RangeError(
        `windowsPerEntry must be a positive integer, got ${options.windowsPerEntry}`,
      );
    }
    const multiple = entryWindowMultiple(options.window);
    if (options.windowsPerEntry % multiple !== 0) {
      throw new RangeError(
        `windowsPerEntry must be a multiple of ${multiple} for window ${options.window.size}/${options.window.stride} ` +
          `(so entries start where the sliding statistics re-anchor), got ${options.windowsPerEntry}`,
      );
    }
    this.#options = options;
    this.#entryFlows = (options.windowsPerEntry - 1) * options.window.stride + options.window.size;
    const capacity = this.#entryFlows * 2;
    this.#values = new Float64Array(capacity * options.featureCount);
    this.#lines = new Uint32Array(capacity);
    this.#attack = new Uint8Array(capacity);
  }

  /** Flows pushed so far. */
  get flows(): number {
    return this.#flows;
  }

  /** Windows handed out in entries so far. */
  get windowsQueued(): number {
    return this.#nextWindow;
  }

  /** Entries handed out so far. */
  get entries(): number {
    return this.#seq;
  }

  /** Flows after the last complete window: they form no window and are reported as the tail. */
  get tailFlows(): number {
    const complete = windowCount(this.#flows, this.#options.window);
    if (complete === 0) return this.#flows;
    return this.#flows - ((complete - 1) * this.#options.window.stride + this.#options.window.size);
  }

  /** Adds flows; returns the entries they completed. */
  push(batch: FlowBatch): FlowEntry[] {
    const { featureCount } = this.#options;
    if (batch.featureCount !== featureCount) {
      throw new RangeError(`flows have ${batch.featureCount} features, expected ${featureCount}`);
    }
    const out: FlowEntry[] = [];
    let offset = 0;
    while (offset < batch.count) {
      const room = this.#lines.length - this.#buffered;
      const take = Math.min(room, batch.count - offset);
      const at = this.#buffered;
      this.#values.set(
        batch.values.subarray(offset * featureCount, (offset + take) * featureCount),
        at * featureCount,
      );
      this.#lines.set(batch.lines.subarray(offset, offset + take), at);
      this.#attack.set(batch.attack.subarray(offset, offset + take), at);
      if (batch.context !== undefined) {
        this.#context ??= new FlowContextBuffer(batch.context.has, this.#lines.length);
        this.#context.append(batch.context, offset, take, at);
      }
      this.#buffered += take;
      this.#flows += take;
      offset += take;
      for (;;) {
        const complete = windowCount(this.#flows, this.#options.window);
        if (complete - this.#nextWindow < this.#options.windowsPerEntry) break;
        out.push(this.#emit(this.#options.windowsPerEntry));
      }
    }
    return out;
  }

  /** Emits the complete windows not yet in an entry (the end of an upload), or null. */
  flush(): FlowEntry | null {
    const pending = windowCount(this.#flows, this.#options.window) - this.#nextWindow;
    return pending > 0 ? this.#emit(pending) : null;
  }

  #emit(windows: number): FlowEntry {
    const { window, featureCount } = this.#options;
    const firstFlow = this.#nextWindow * window.stride;
    const flowCount = (windows - 1) * window.stride + window.size;
    const from = firstFlow - this.#bufferStart;
    const meta: FlowEntryMeta = {
      v: 1,
      uploadId: this.#options.uploadId,
      seq: this.#seq++,
      firstWindow: this.#nextWindow,
      windowCount: windows,
      flowCount,
      featureCount,
      window: { size: window.size, stride: window.stride },
      modelVersion: this.#options.modelVersion,
      labelled: this.#options.labelled,
      receivedAt: (this.#options.now ?? Date.now)(),
    };
    // The entry takes the buffers as they are (views, no copy); the flows later windows still
    // need move to fresh buffers, as they would have moved to the front of these.
    const entry: FlowEntry = {
      meta,
      values: this.#values.subarray(from * featureCount, (from + flowCount) * featureCount),
      lines: this.#lines.subarray(from, from + flowCount),
      attack: this.#attack.subarray(from, from + flowCount),
    };
    if (this.#context !== undefined) entry.context = this.#context.slice(from, flowCount);
    this.#nextWindow += windows;
    // Keep only the flows a later window needs: the left context of the next window on.
    const keepFrom = this.#nextWindow * window.stride - this.#bufferStart;
    const keep = this.#buffered - keepFrom;
    const values = new Float64Array(this.#values.length);
    values.set(this.#values.subarray(keepFrom * featureCount, this.#buffered * featureCount));
    const lines = new Uint32Array(this.#lines.length);
    lines.set(this.#lines.subarray(keepFrom, this.#buffered));
    const attack = new Uint8Array(this.#attack.length);
    attack.set(this.#attack.subarray(keepFrom, this.#buffered));
    this.#values = values;
    this.#lines = lines;
    this.#attack = attack;
    this.#context?.shift(keepFrom, this.#buffered);
    this.#bufferStart += keepFrom;
    this.#buffered = keep;
    return entry;
  }
}

/** Packs an entry into stream fields (views, no copies). */
export function encodeFlowEntry(entry: FlowEntry): EncodedFlowEntry {
  if (!LITTLE_ENDIAN) throw new Error("flow entries are little-endian; this platform is not");
  const bytes = (a: Float64Array | Uint32Array | Uint8Array) =>
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const encoded: EncodedFlowEntry = {
    meta: JSON.stringify(entry.meta),
    values: bytes(entry.values),
    lines: bytes(entry.lines),
    attack: entry.attack,
  };
  if (entry.context !== undefined) {
    encoded.context = encodeFlowContext(entry.context, entry.meta.flowCount);
  }
  return encoded;
}

/** Doubles from bytes; copies when the bytes are not 8-byte aligned (as Redis replies often are). */
function float64s(bytes: Uint8Array, what: string, expected: number): Float64Array {
  if (bytes.byteLength !== expected * 8) {
    throw new FlowEntryError(`${what} holds ${bytes.byteLength} bytes, expected ${expected * 8}`);
  }
  if (bytes.byteOffset % 8 === 0) return new Float64Array(bytes.buffer, bytes.byteOffset, expected);
  // Uint8Array's own slice copies; a Node Buffer's `slice` would return a view of the whole
  // reply buffer (ioredis hands us Buffers).
  return new Float64Array(Uint8Array.prototype.slice.call(bytes).buffer, 0, expected);
}

/**
 * Line numbers from bytes: 4 per flow (32-bit), or 8 per flow from an entry queued before line
 * numbers shrank to 4 bytes (a stream that outlived an upgrade), converted.
 */
function lineNumbers(bytes: Uint8Array, expected: number): Uint32Array {
  if (bytes.byteLength === expected * 8)
    return Uint32Array.from(float64s(bytes, "lines", expected));
  if (bytes.byteLength !== expected * 4) {
    throw new FlowEntryError(`lines holds ${bytes.byteLength} bytes, expected ${expected * 4}`);
  }
  if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, expected);
  return new Uint32Array(Uint8Array.prototype.slice.call(bytes).buffer, 0, expected);
}

/** Unpacks and validates stream fields; throws {@link FlowEntryError} saying what is wrong. */
export function decodeFlowEntry(fields: {
  meta: string | Uint8Array | undefined;
  values: Uint8Array | undefined;
  lines: Uint8Array | undefined;
  attack: Uint8Array | undefined;
  /** Optional: entries of uploads without who/when columns, and older entries, lack it. */
  context?: Uint8Array | undefined;
}): FlowEntry {
  if (!LITTLE_ENDIAN) throw new Error("flow entries are little-endian; this platform is not");
  if (
    fields.meta === undefined ||
    fields.values === undefined ||
    fields.lines === undefined ||
    fields.attack === undefined
  ) {
    throw new FlowEntryError("entry lacks one of the fields meta, values, lines, attack");
  }
  const metaText =
    typeof fields.meta === "string" ? fields.meta : new TextDecoder().decode(fields.meta);
  let raw: unknown;
  try {
    raw = JSON.parse(metaText);
  } catch {
    throw new FlowEntryError("entry meta is not JSON");
  }
  const parsed = flowEntryMetaSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new FlowEntryError(
      `entry meta invalid at ${issue.path.join(".") || "(root)"}: ${issue.message}`,
    );
  }
  const meta = parsed.data;
  const values = float64s(fields.values, "values", meta.flowCount * meta.featureCount);
  const lines = lineNumbers(fields.lines, meta.flowCount);
  if (fields.attack.byteLength !== meta.flowCount) {
    throw new FlowEntryError(
      `attack holds ${fields.attack.byteLength} bytes, expected ${meta.flowCount}`,
    );
  }
  const entry: FlowEntry = { meta, values, lines, attack: fields.attack };
  if (fields.context !== undefined && fields.context.byteLength > 0) {
    try {
      entry.context = decodeFlowContext(fields.context, meta.flowCount);
    } catch (error) {
      throw new FlowEntryError(`entry context invalid: ${(error as Error).message}`);
    }
  }
  return entry;
}

/** The entry's flows as a batch for a {@link WindowAggregator}. */
export function flowEntryBatch(entry: FlowEntry): FlowBatch {
  const batch: FlowBatch = {
    count: entry.meta.flowCount,
    featureCount: entry.meta.featureCount,
    values: entry.values,
    lines: entry.lines,
    attack: entry.attack,
  };
  if (entry.context !== undefined) batch.context = entry.context;
  return batch;
}
