/**
 * Flow context: who talked to whom, on which port, and when — the columns an analyst needs to
 * act on a window, carried beside the features but never fed to the model.
 *
 * IP addresses are strings, and a string per flow per column would dominate the hot path's
 * allocations; so a batch or entry holds a small dictionary of the distinct addresses it saw and
 * each flow an `Int32Array` code into it. Ports and protocols are integers already; timestamps
 * are epoch milliseconds in a `Float64Array`.
 */

/** Which context columns the input has; a missing column's arrays are all "unknown". */
export interface FlowContextPresence {
  dstIp: boolean;
  srcIp: boolean;
  dstPort: boolean;
  protocol: boolean;
  timestamp: boolean;
}

/** The context of `n` flows, aligned with their feature rows. */
export interface FlowContext {
  has: FlowContextPresence;
  /** Distinct IP strings; `dstIp` and `srcIp` index into it. */
  strings: string[];
  /** Code into `strings` of each flow's destination IP; -1 when empty or absent. */
  dstIp: Int32Array;
  /** Code into `strings` of each flow's source IP; -1 when empty or absent. */
  srcIp: Int32Array;
  /** Destination port; -1 when empty, unparseable or absent. */
  dstPort: Int32Array;
  /** IP protocol number (6 TCP, 17 UDP, ...); -1 when empty, unparseable or absent. */
  protocol: Int32Array;
  /** Flow start time, epoch ms; NaN when empty, unparsed or absent. */
  time: Float64Array;
}

/** Whether the input has any context column at all (otherwise no context is carried). */
export function hasAnyContext(has: FlowContextPresence): boolean {
  return has.dstIp || has.srcIp || has.dstPort || has.protocol || has.timestamp;
}

/** Empty context arrays for `capacity` flows. */
export function allocateFlowContext(has: FlowContextPresence, capacity: number): FlowContext {
  return {
    has,
    strings: [],
    dstIp: new Int32Array(capacity),
    srcIp: new Int32Array(capacity),
    dstPort: new Int32Array(capacity),
    protocol: new Int32Array(capacity),
    time: new Float64Array(capacity),
  };
}

/** A copy of flows `from..from+count` with its own dictionary. */
export function sliceFlowContext(context: FlowContext, from: number, count: number): FlowContext {
  const out = allocateFlowContext(context.has, count);
  out.dstPort.set(context.dstPort.subarray(from, from + count));
  out.protocol.set(context.protocol.subarray(from, from + count));
  out.time.set(context.time.subarray(from, from + count));
  const local = new Map<number, number>();
  const recode = (src: Int32Array, dst: Int32Array) => {
    for (let i = 0; i < count; i++) {
      const code = src[from + i]!;
      if (code < 0) {
        dst[i] = -1;
        continue;
      }
      let mapped = local.get(code);
      if (mapped === undefined) {
        mapped = out.strings.length;
        out.strings.push(context.strings[code]!);
        local.set(code, mapped);
      }
      dst[i] = mapped;
    }
  };
  recode(context.dstIp, out.dstIp);
  recode(context.srcIp, out.srcIp);
  return out;
}

/**
 * A growable run of flow contexts with one dictionary: the buffer of a flow-entry builder.
 * Appending re-codes a batch's codes into the buffer's dictionary; dropping flows from the front
 * rebuilds the dictionary when it has grown well past what the kept flows use, so a spoofed
 * flood (a new source per flow) cannot grow it without bound.
 */
export class FlowContextBuffer {
  readonly has: FlowContextPresence;
  #context: FlowContext;
  #codeOf = new Map<string, number>();

  constructor(has: FlowContextPresence, capacity: number) {
    this.has = has;
    this.#context = allocateFlowContext(has, capacity);
  }

  /** Copies flows `from..from+count` of `source` to positions `at..` of the buffer. */
  append(source: FlowContext, from: number, count: number, at: number): void {
    const c = this.#context;
    c.dstPort.set(source.dstPort.subarray(from, from + count), at);
    c.protocol.set(source.protocol.subarray(from, from + count), at);
    c.time.set(source.time.subarray(from, from + count), at);
    const translation = new Int32Array(source.strings.length).fill(-1);
    const recode = (src: Int32Array, dst: Int32Array) => {
      for (let i = 0; i < count; i++) {
        const code = src[from + i]!;
        if (code < 0) {
          dst[at + i] = -1;
          continue;
        }
        let mapped = translation[code]!;
        if (mapped < 0) {
          const text = source.strings[code]!;
          mapped = this.#codeOf.get(text) ?? -1;
          if (mapped < 0) {
            mapped = c.strings.length;
            c.strings.push(text);
            this.#codeOf.set(text, mapped);
          }
          translation[code] = mapped;
        }
        dst[at + i] = mapped;
      }
    };
    recode(source.dstIp, c.dstIp);
    recode(source.srcIp, c.srcIp);
  }

  /** Flows `from..from+count` as a self-contained context (for one flow entry). */
  slice(from: number, count: number): FlowContext {
    return sliceFlowContext(this.#context, from, count);
  }

  /** Moves flows `keepFrom..buffered` to the front; the rest is dropped. */
  shift(keepFrom: number, buffered: number): void {
    const c = this.#context;
    c.dstIp.copyWithin(0, keepFrom, buffered);
    c.srcIp.copyWithin(0, keepFrom, buffered);
    c.dstPort.copyWithin(0, keepFrom, buffered);
    c.protocol.copyWithin(0, keepFrom, buffered);
    c.time.copyWithin(0, keepFrom, buffered);
    const kept = buffered - keepFrom;
    if (c.strings.length > 2 * c.time.length) {
      const compact = sliceFlowContext(c, 0, kept);
      c.dstIp.set(compact.dstIp);
      c.srcIp.set(compact.srcIp);
      c.strings = compact.strings;
      this.#codeOf = new Map(compact.strings.map((text, code) => [text, code]));
    }
  }
}

// Binary form on the flows stream: a little-endian u32 byte length of a JSON head
// ({has, strings}), the head, zero padding to a multiple of 8, then for each present column in
// the order time, dstIp, srcIp, dstPort, protocol its `n` values.

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Packs a context of `n` flows (only the columns the input has). */
export function encodeFlowContext(context: FlowContext, n: number): Uint8Array {
  const head = textEncoder.encode(JSON.stringify({ has: context.has, strings: context.strings }));
  const headEnd = 4 + head.length;
  const padded = Math.ceil(headEnd / 8) * 8;
  const { has } = context;
  const size =
    padded +
    (has.timestamp ? n * 8 : 0) +
    ((has.dstIp ? 1 : 0) + (has.srcIp ? 1 : 0) + (has.dstPort ? 1 : 0) + (has.protocol ? 1 : 0)) *
      n *
      4;
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 4);
  let at = padded;
  const put = (array: Float64Array | Int32Array) => {
    const bytes = new Uint8Array(array.buffer, array.byteOffset, n * array.BYTES_PER_ELEMENT);
    out.set(bytes, at);
    at += bytes.length;
  };
  if (has.timestamp) put(context.time);
  if (has.dstIp) put(context.dstIp);
  if (has.srcIp) put(context.srcIp);
  if (has.dstPort) put(context.dstPort);
  if (has.protocol) put(context.protocol);
  return out;
}

/**
 * Unpacks a context of `n` flows; throws an `Error` saying what is wrong (the caller wraps it in
 * its own error class).
 */
export function decodeFlowContext(bytes: Uint8Array, n: number): FlowContext {
  if (bytes.byteLength < 4) throw new Error("context is shorter than its header");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headLength = view.getUint32(0, true);
  if (4 + headLength > bytes.byteLength) throw new Error("context head runs past its end");
  let head: { has?: Partial<FlowContextPresence>; strings?: unknown };
  try {
    head = JSON.parse(textDecoder.decode(bytes.subarray(4, 4 + headLength))) as typeof head;
  } catch {
    throw new Error("context head is not JSON");
  }
  const strings = head.strings;
  if (!Array.isArray(strings) || !strings.every((s) => typeof s === "string")) {
    throw new Error("context strings must be an array of strings");
  }
  const has: FlowContextPresence = {
    dstIp: head.has?.dstIp === true,
    srcIp: head.has?.srcIp === true,
    dstPort: head.has?.dstPort === true,
    protocol: head.has?.protocol === true,
    timestamp: head.has?.timestamp === true,
  };
  const context = allocateFlowContext(has, n);
  context.strings = strings;
  context.dstIp.fill(-1);
  context.srcIp.fill(-1);
  context.dstPort.fill(-1);
  context.protocol.fill(-1);
  context.time.fill(Number.NaN);
  let at = Math.ceil((4 + headLength) / 8) * 8;
  const take = (array: Float64Array | Int32Array) => {
    const length = n * array.BYTES_PER_ELEMENT;
    if (at + length > bytes.byteLength) throw new Error("context holds fewer values than flows");
    // Copy: Redis reply buffers are seldom aligned for a typed-array view.
    new Uint8Array(array.buffer).set(bytes.subarray(at, at + length));
    at += length;
  };
  if (has.timestamp) take(context.time);
  if (has.dstIp) take(context.dstIp);
  if (has.srcIp) take(context.srcIp);
  if (has.dstPort) take(context.dstPort);
  if (has.protocol) take(context.protocol);
  if (at !== bytes.byteLength) throw new Error("context holds more values than flows");
  const limit = strings.length;
  for (let i = 0; i < n; i++) {
    if (context.dstIp[i]! >= limit || context.srcIp[i]! >= limit) {
      throw new Error(`context flow ${i} names an address beyond its dictionary`);
    }
  }
  return context;
}
