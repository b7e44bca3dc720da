/**
 * Who and when of each window: its traffic time range, top victims (destination IPs), top
 * sources, top destination port/protocol pairs, and window-level features derived from the same
 * codes (entropies, top-destination share, distinct sources) that a detector may use.
 *
 * Runs beside {@link WindowAggregator} with the same geometry (window k covers flows
 * `[k * stride, k * stride + size)` from the first flow pushed). The last `size` flows sit in a
 * ring of integer codes; a closing window copies its codes into a scratch array and sorts them,
 * so counting is a run-length pass: no Map or object per flow, a few objects per window.
 */
import type { FlowContext, FlowContextPresence } from "./flow-context.ts";
import { validateWindowSpec, type WindowSpec } from "./window-aggregator.ts";

/**
 * Window-level features computed from the codes, in this order in
 * {@link WindowContextBatch.features}. Entropies are Shannon entropies in bits over the flows
 * whose value is known; NaN when the input lacks the column.
 */
export const WINDOW_CONTEXT_FEATURES = [
  "dstIpEntropy",
  "srcIpEntropy",
  "dstPortEntropy",
  "topDstShare",
  "distinctSources",
] as const;

/** One of {@link WINDOW_CONTEXT_FEATURES}. */
export type WindowContextFeature = (typeof WINDOW_CONTEXT_FEATURES)[number];

const CONTEXT_FEATURE_COUNT = WINDOW_CONTEXT_FEATURES.length;

/** How many victims, sources and ports a window reports. */
export const WINDOW_TOP_COUNT = 3;

/** An address and how many of the window's flows it took part in. */
export interface WindowPeer {
  ip: string;
  flows: number;
}

/** A destination port with its protocol (null when the input has no protocol column). */
export interface WindowPort {
  port: number;
  protocol: number | null;
  flows: number;
}

/** The top sources and how many distinct sources the window has. */
export interface WindowSources {
  top: WindowPeer[];
  distinct: number;
}

/** Who and when of the windows closed by one push, aligned with the {@link WindowBatch}. */
export interface WindowContextBatch {
  count: number;
  has: FlowContextPresence;
  /**
   * Earliest flow time of each window (epoch ms); NaN when the input has no timestamps or any
   * flow of the window has an unparsed one (the earliest is then unknown).
   */
  start: Float64Array;
  /** Latest flow time of each window (epoch ms); NaN as for `start`. */
  end: Float64Array;
  /** `count * WINDOW_CONTEXT_FEATURES.length`, row-major. */
  features: Float64Array;
  /** Top destination IPs per window; null when the input has no destination IP column. */
  victims: WindowPeer[][] | null;
  /** Top sources per window; null when the input has no source IP column. */
  sources: WindowSources[] | null;
  /** Top destination port/protocol pairs per window; null without a destination port column. */
  ports: WindowPort[][] | null;
  /**
   * Each window's flow codes (`count * size`, window-major) when asked for with `keepCodes`:
   * destination IP, source IP and service (`port * 256 + protocol`, 255 = unknown protocol)
   * codes, -1 where unknown. Codes are equal exactly when the values are, within one batch.
   */
  codes?: { size: number; dstIp: Int32Array; srcIp: Int32Array; service: Int32Array };
}

/** Service code of a port and protocol, or -1 without a port. */
function serviceCode(port: number, protocol: number): number {
  if (port < 0) return -1;
  return port * 256 + (protocol >= 0 && protocol < 255 ? protocol : 255);
}

/** Options of {@link WindowContextAggregator}. */
export interface WindowContextOptions {
  /** Keep every window's codes in the output (for window-level feature engineering). */
  keepCodes?: boolean;
}

/** Turns flow contexts into per-window who and when. One instance per window sequence. */
export class WindowContextAggregator {
  readonly #size: number;
  readonly #stride: number;
  readonly #keepCodes: boolean;
  #has: FlowContextPresence | undefined;
  #flowsSeen = 0;
  readonly #ringDst: Int32Array;
  readonly #ringSrc: Int32Array;
  readonly #ringService: Int32Array;
  readonly #ringTime: Float64Array;
  /** The sequence's IP dictionary (compacted to the ring's addresses when it grows). */
  #strings: string[] = [];
  #codeOf = new Map<string, number>();
  readonly #scratch: Int32Array;
  // Per-window run-length results of the last count: top codes and their counts.
  readonly #topCode = new Int32Array(WINDOW_TOP_COUNT);
  readonly #topCount = new Int32Array(WINDOW_TOP_COUNT);
  #topFilled = 0;
  #distinct = 0;
  #entropy = 0;

  constructor(spec: WindowSpec, options: WindowContextOptions = {}) {
    validateWindowSpec(spec);
    this.#size = spec.size;
    this.#stride = spec.stride;
    this.#keepCodes = options.keepCodes ?? false;
    this.#ringDst = new Int32Array(spec.size);
    this.#ringSrc = new Int32Array(spec.size);
    this.#ringService = new Int32Array(spec.size);
    this.#ringTime = new Float64Array(spec.size);
    this.#scratch = new Int32Array(spec.size);
  }

  /** Adds `count` flows' context; returns the who and when of the windows they close. */
  push(context: FlowContext, count: number): WindowContextBatch {
    const has = (this.#has ??= context.has);
    const size = this.#size;
    const stride = this.#stride;
    const flowsBefore = this.#flowsSeen;
    const flowsAfter = flowsBefore + count;
    const closing =
      flowsAfter < size
        ? 0
        : Math.floor((flowsAfter - size) / stride) +
          1 -
          (flowsBefore < size ? 0 : Math.floor((flowsBefore - size) / stride) + 1);
    const out: WindowContextBatch = {
      count: closing,
      has,
      start: new Float64Array(closing),
      end: new Float64Array(closing),
      features: new Float64Array(closing * CONTEXT_FEATURE_COUNT),
      victims: has.dstIp ? new Array<WindowPeer[]>(closing) : null,
      sources: has.srcIp ? new Array<WindowSources>(closing) : null,
      ports: has.dstPort ? new Array<WindowPort[]>(closing) : null,
    };
    if (this.#keepCodes) {
      out.codes = {
        size,
        dstIp: new Int32Array(closing * size),
        srcIp: new Int32Array(closing * size),
        service: new Int32Array(closing * size),
      };
    }
    if (this.#strings.length > 4 * size + 64) this.#compact();
    const translation = new Int32Array(context.strings.length).fill(-1);
    const translate = (code: number): number => {
      if (code < 0) return -1;
      let mapped = translation[code]!;
      if (mapped < 0) {
        const text = context.strings[code]!;
        mapped = this.#codeOf.get(text) ?? -1;
        if (mapped < 0) {
          mapped = this.#strings.length;
          this.#strings.push(text);
          this.#codeOf.set(text, mapped);
        }
        translation[code] = mapped;
      }
      return mapped;
    };
    let w = 0;
    for (let i = 0; i < count; i++) {
      const slot = this.#flowsSeen % size;
      this.#ringDst[slot] = translate(context.dstIp[i]!);
      this.#ringSrc[slot] = translate(context.srcIp[i]!);
      this.#ringService[slot] = serviceCode(context.dstPort[i]!, context.protocol[i]!);
      this.#ringTime[slot] = context.time[i]!;
      this.#flowsSeen++;
      const n = this.#flowsSeen;
      if (n >= size && (n - size) % stride === 0) this.#close(out, w++);
    }
    return out;
  }

  #close(out: WindowContextBatch, w: number): void {
    const size = this.#size;
    const has = out.has;
    const features = out.features;
    const base = w * CONTEXT_FEATURE_COUNT;
    let start = Number.POSITIVE_INFINITY;
    let end = Number.NEGATIVE_INFINITY;
    const times = this.#ringTime;
    for (let k = 0; k < size; k++) {
      const t = times[k]!;
      // NaN fails both comparisons, so track it apart: one unknown time makes the range unknown.
      if (t < start) start = t;
      if (t > end) end = t;
      if (t !== t) start = end = Number.NaN;
      if (start !== start) break;
    }
    out.start[w] = has.timestamp ? start : Number.NaN;
    out.end[w] = has.timestamp ? end : Number.NaN;
    if (out.codes !== undefined) {
      out.codes.dstIp.set(this.#ringDst, w * size);
      out.codes.srcIp.set(this.#ringSrc, w * size);
      out.codes.service.set(this.#ringService, w * size);
    }

    if (has.dstIp) {
      this.#count(this.#ringDst, true);
      out.victims![w] = this.#peers();
      features[base] = this.#entropy;
      features[base + 3] = this.#topFilled > 0 ? this.#topCount[0]! / size : 0;
    } else {
      features[base] = Number.NaN;
      features[base + 3] = Number.NaN;
    }
    if (has.srcIp) {
      this.#count(this.#ringSrc, true);
      out.sources![w] = { top: this.#peers(), distinct: this.#distinct };
      features[base + 1] = this.#entropy;
      features[base + 4] = this.#distinct;
    } else {
      features[base + 1] = Number.NaN;
      features[base + 4] = Number.NaN;
    }
    if (has.dstPort) {
      this.#count(this.#ringService, false);
      const ports: WindowPort[] = [];
      for (let k = 0; k < this.#topFilled; k++) {
        const code = this.#topCode[k]!;
        const protocol = code & 255;
        ports.push({
          port: code >>> 8,
          protocol: protocol === 255 ? null : protocol,
          flows: this.#topCount[k]!,
        });
      }
      out.ports![w] = ports;
      features[base + 2] = this.#entropy;
    } else {
      features[base + 2] = Number.NaN;
    }
  }

  #peers(): WindowPeer[] {
    const peers: WindowPeer[] = [];
    for (let k = 0; k < this.#topFilled; k++) {
      peers.push({ ip: this.#strings[this.#topCode[k]!]!, flows: this.#topCount[k]! });
    }
    return peers;
  }

  /**
   * Counts the known codes of a ring: fills the top codes (most flows first), the number of
   * distinct values and the entropy in bits. Ties go to the smaller address text (`byText`) or
   * the smaller code (ports): never to whichever came first, which would depend on where the
   * sequence was cut into entries.
   */
  #count(ring: Int32Array, byText: boolean): void {
    const scratch = this.#scratch;
    scratch.set(ring);
    scratch.sort();
    const size = this.#size;
    let k = 0;
    while (k < size && scratch[k]! < 0) k++;
    const known = size - k;
    this.#topFilled = 0;
    this.#distinct = 0;
    let sumNLogN = 0;
    const topCode = this.#topCode;
    const topCount = this.#topCount;
    while (k < size) {
      const code = scratch[k]!;
      let run = 1;
      while (k + run < size && scratch[k + run] === code) run++;
      k += run;
      this.#distinct++;
      if (run > 1) sumNLogN += run * Math.log2(run);
      // Insert into the top list (kept sorted by count, then code).
      let at = this.#topFilled;
      while (
        at > 0 &&
        (topCount[at - 1]! < run ||
          (byText &&
            topCount[at - 1] === run &&
            this.#strings[code]! < this.#strings[topCode[at - 1]!]!))
      ) {
        at--;
      }
      if (at < WINDOW_TOP_COUNT) {
        const last = Math.min(this.#topFilled, WINDOW_TOP_COUNT - 1);
        for (let m = last; m > at; m--) {
          topCode[m] = topCode[m - 1]!;
          topCount[m] = topCount[m - 1]!;
        }
        topCode[at] = code;
        topCount[at] = run;
        if (this.#topFilled < WINDOW_TOP_COUNT) this.#topFilled++;
      }
    }
    // H = log2(N) - (1/N) sum n log2 n over the distinct values' counts n.
    this.#entropy = known > 0 ? Math.log2(known) - sumNLogN / known : 0;
  }

  /** Rebuilds the dictionary from the ring's codes: bounded memory under a spoofed flood. */
  #compact(): void {
    const strings: string[] = [];
    const codeOf = new Map<string, number>();
    const remap = (ring: Int32Array) => {
      for (let k = 0; k < ring.length; k++) {
        const code = ring[k]!;
        if (code < 0) continue;
        const text = this.#strings[code]!;
        let mapped = codeOf.get(text);
        if (mapped === undefined) {
          mapped = strings.length;
          strings.push(text);
          codeOf.set(text, mapped);
        }
        ring[k] = mapped;
      }
    };
    remap(this.#ringDst);
    remap(this.#ringSrc);
    this.#strings = strings;
    this.#codeOf = codeOf;
  }
}
