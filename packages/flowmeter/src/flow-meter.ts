/**
 * Builds bidirectional flows from decoded packets with CICFlowMeter's rules and computes its 77
 * flow features. Each rule and the Java method it comes from is listed in the package README.
 *
 * Flow state lives in flat typed arrays (one Float64Array row of {@link STRIDE} numbers per
 * flow, one Uint32Array row for its key) indexed by a slot number, and a chained hash table of
 * Int32Arrays finds the slot of a packet's 5-tuple in either direction. A packet therefore costs
 * a hash, a few comparisons and some arithmetic on numbers, and no allocation; objects are made
 * only when a flow ends, for its record. Slots are also threaded on a list in creation order, so
 * the oldest flow (the next to time out, or to be evicted when the table is full) is its head.
 */
import {
  type DecodedPacket,
  TCP_ACK,
  TCP_CWR,
  TCP_ECE,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
} from "./packet-decoder.ts";
import { type FlowEndReason, FEATURE_COUNT, type FlowRecord } from "./flow-record.ts";

/** CICFlowMeter's default flow timeout: 120 s from the flow's first packet. */
export const DEFAULT_FLOW_TIMEOUT_MICROS = 120_000_000;
/** CICFlowMeter's default activity timeout: a gap longer than 5 s starts an idle period. */
export const DEFAULT_ACTIVITY_TIMEOUT_MICROS = 5_000_000;
/**
 * Default cap on concurrent flows. At {@link STRIDE} · 8 + 56 bytes a flow (about 830 bytes) a
 * full table takes about 0.8 GB, which a sensor host can spare and a spoofed SYN flood cannot
 * exceed.
 */
export const DEFAULT_MAX_FLOWS = 1_000_000;

export interface FlowMeterOptions {
  /** Reproduce CICFlowMeter's documented bugs (see the README); default false. */
  cicCompat?: boolean;
  flowTimeoutMicros?: number;
  activityTimeoutMicros?: number;
  maxFlows?: number;
  /**
   * Receives every flow as it ends. The record is reused for the next flow (a million flows a
   * second must not mean a million objects): use it during the call, or keep a
   * {@link cloneFlowRecord} of it.
   */
  onFlow: (flow: FlowRecord) => void;
}

/** Running totals. */
export interface FlowMeterStats {
  /** Packets given to {@link FlowMeter.addPacket}. */
  packets: number;
  /** Flows handed to `onFlow`. */
  flows: number;
  /** Flows ended early because the table was full. */
  evicted: number;
  /** Single-packet flows dropped (compat mode only). */
  droppedSinglePacket: number;
  /** Packets CICFlowMeter discards after a flow's FIN (compat mode only). */
  discardedAfterFin: number;
}

// Offsets in a flow's Float64Array row. A "stat" is 6 numbers: count, sum, mean, M2 (Welford's
// sum of squared deviations, for a sample variance without cancellation), min, max.
const N = 0;
const SUM = 1;
const MEAN = 2;
const M2 = 3;
const MIN = 4;
const MAX = 5;
const START = 0;
const LAST = 1;
const FWD_LAST = 2;
const BWD_LAST = 3;
const ACT_START = 4;
const ACT_END = 5;
const FWD_LEN = 6;
const BWD_LEN = 12;
const ALL_LEN = 18;
const FLOW_IAT = 24;
const FWD_IAT = 30;
const BWD_IAT = 36;
const ACTIVE = 42;
const IDLE = 48;
const FWD_HDR = 54;
const BWD_HDR = 55;
const FWD_PSH = 56;
const BWD_PSH = 57;
const FWD_URG = 58;
const BWD_URG = 59;
const FWD_FIN = 60;
const BWD_FIN = 61;
const FLAG_FIN = 62; // then SYN, RST, PSH, ACK, URG, CWR, ECE
const ACT_DATA = 70;
const MIN_SEG = 71;
const INIT_WIN_FWD = 72;
const INIT_WIN_BWD = 73;
const SF_LAST = 74;
const SF_COUNT = 75;
const FWD_BULK = 76;
const BWD_BULK = 84;
// Bulk block offsets (8 numbers per direction).
const B_DURATION = 0;
const B_PACKETS = 1;
const B_BYTES = 2;
const B_STATES = 3;
const B_PACKET_HELPER = 4;
const B_START_HELPER = 5;
const B_SIZE_HELPER = 6;
const B_LAST_TS = 7;
const FWD_WIRE = 92;
const BWD_WIRE = 93;
const CLOSING = 94;
/** Numbers per flow row. */
export const STRIDE = 95;
/** Key words per flow: source address (4), destination address (4), ports, protocol. */
const KEY = 10;

/** Aggregates packets into flows; see the module comment. */
export class FlowMeter {
  readonly stats: FlowMeterStats = {
    packets: 0,
    flows: 0,
    evicted: 0,
    droppedSinglePacket: 0,
    discardedAfterFin: 0,
  };
  private readonly compat: boolean;
  private readonly flowTimeout: number;
  private readonly activityTimeout: number;
  private readonly maxFlows: number;
  private readonly onFlow: (flow: FlowRecord) => void;

  private capacity = 0;
  private state = new Float64Array(0);
  private keys = new Uint32Array(0);
  private buckets = new Int32Array(0);
  private mask = 0;
  private chain = new Int32Array(0);
  /** Each slot's full hash, so growing the table rehashes without reading keys. */
  private hashOf = new Uint32Array(0);
  private older = new Int32Array(0);
  private newer = new Int32Array(0);
  private free = new Int32Array(0);
  private freeCount = 0;
  /** Slots below this have been used at least once. */
  private fresh = 0;
  private readonly out: FlowRecord = {
    ipVersion: 4,
    src: new Uint32Array(4),
    dst: new Uint32Array(4),
    srcPort: 0,
    dstPort: 0,
    protocol: 0,
    startMicros: 0,
    features: new Float64Array(FEATURE_COUNT),
    fwdWireBytes: 0,
    bwdWireBytes: 0,
    endReason: "end",
  };
  private oldest = -1;
  private newest = -1;
  private count = 0;

  constructor(options: FlowMeterOptions) {
    this.compat = options.cicCompat ?? false;
    this.flowTimeout = options.flowTimeoutMicros ?? DEFAULT_FLOW_TIMEOUT_MICROS;
    this.activityTimeout = options.activityTimeoutMicros ?? DEFAULT_ACTIVITY_TIMEOUT_MICROS;
    this.maxFlows = options.maxFlows ?? DEFAULT_MAX_FLOWS;
    if (!(this.maxFlows >= 1)) throw new RangeError("maxFlows must be at least 1");
    this.onFlow = options.onFlow;
    this.allocate(this.maxFlows);
  }

  /** Flows currently open. */
  get activeFlows(): number {
    return this.count;
  }

  /**
   * Ends every flow that has outlived the flow timeout at time `nowMicros`: the packet clock
   * when reading a file (done by {@link addPacket}), the wall clock when capturing live.
   */
  expire(nowMicros: number): void {
    const s = this.state;
    while (this.oldest !== -1 && nowMicros - s[this.oldest * STRIDE + START]! > this.flowTimeout) {
      this.end(this.oldest, "timeout");
    }
  }

  /** Ends every open flow (the end of a capture). */
  flush(): void {
    while (this.oldest !== -1) this.end(this.oldest, "end");
  }

  /** Meters one decoded packet. */
  addPacket(p: DecodedPacket): void {
    this.stats.packets++;
    const t = p.timestampMicros;
    this.expire(t);
    const src = p.src;
    const dst = p.dst;
    const protoWord = p.protocol | (p.ipVersion << 8);
    const portsFwd = ((p.srcPort << 16) | p.dstPort) >>> 0;
    const portsBwd = ((p.dstPort << 16) | p.srcPort) >>> 0;
    const hash = flowHash(src, p.srcPort, dst, p.dstPort, protoWord);
    const k = this.keys;
    let slot = this.buckets[hash & this.mask]!;
    let forward = true;
    for (; slot !== -1; slot = this.chain[slot]!) {
      const o = slot * KEY;
      if (k[o + 9] !== protoWord) continue;
      if (
        k[o + 8] === portsFwd &&
        k[o] === src[0] &&
        k[o + 4] === dst[0] &&
        k[o + 1] === src[1] &&
        k[o + 2] === src[2] &&
        k[o + 3] === src[3] &&
        k[o + 5] === dst[1] &&
        k[o + 6] === dst[2] &&
        k[o + 7] === dst[3]
      ) {
        forward = true;
        break;
      }
      if (
        k[o + 8] === portsBwd &&
        k[o] === dst[0] &&
        k[o + 4] === src[0] &&
        k[o + 1] === dst[1] &&
        k[o + 2] === dst[2] &&
        k[o + 3] === dst[3] &&
        k[o + 5] === src[1] &&
        k[o + 6] === src[2] &&
        k[o + 7] === src[3]
      ) {
        forward = false;
        break;
      }
    }
    if (slot === -1) {
      this.open(p, hash, protoWord, portsFwd);
      return;
    }
    const s = this.state;
    const row = slot * STRIDE;
    if (t - s[row + START]! > this.flowTimeout) {
      // Out-of-order timestamps can leave a timed-out flow behind the list head.
      this.end(slot, "timeout");
      this.open(p, hash, protoWord, portsFwd);
      return;
    }
    if (this.compat) {
      // CICFlowMeter's direction test compares IP addresses only (BasicFlow.addPacket:
      // Arrays.equals(this.src, packet.getSrc())), so both ends of a same-host flow are
      // "forward".
      const o = slot * KEY;
      forward =
        k[o] === src[0] && k[o + 1] === src[1] && k[o + 2] === src[2] && k[o + 3] === src[3];
      this.compatPacket(slot, row, p, forward);
    } else {
      this.correctedPacket(slot, row, p, forward);
    }
  }

  /** FlowGenerator.addPacket with the termination fixes (see README, "Corrections"). */
  private correctedPacket(slot: number, row: number, p: DecodedPacket, forward: boolean): void {
    const s = this.state;
    const flags = p.tcpFlags;
    this.updateActiveIdle(row, p.timestampMicros);
    this.addToFlow(row, p, forward);
    if (flags & TCP_RST) {
      this.end(slot, "rst");
    } else if (s[row + CLOSING] === 1) {
      // The packet after both FINs (the last ACK of the teardown) still belongs to the
      // connection; ending here keeps it from starting a one-packet "appendix" flow.
      this.end(slot, "fin");
    } else if (flags & TCP_FIN) {
      s[row + (forward ? FWD_FIN : BWD_FIN)]!++;
      if (s[row + FWD_FIN]! > 0 && s[row + BWD_FIN]! > 0) s[row + CLOSING] = 1;
    }
  }

  /** FlowGenerator.addPacket as written, bugs included. */
  private compatPacket(slot: number, row: number, p: DecodedPacket, forward: boolean): void {
    const s = this.state;
    const flags = p.tcpFlags;
    const t = p.timestampMicros;
    if (flags & TCP_FIN) {
      if (forward) {
        if (++s[row + FWD_FIN]! === 1) {
          // `getBwdFINFlags() + getBwdFINFlags() == 2` in the original: a forward FIN ends the
          // flow only after a backward one, which has already ended it; so never.
          if (s[row + BWD_FIN]! + s[row + BWD_FIN]! === 2) {
            this.addToFlow(row, p, forward);
            this.end(slot, "fin");
          } else {
            this.updateActiveIdle(row, t);
            this.addToFlow(row, p, forward);
          }
        } else {
          this.stats.discardedAfterFin++;
        }
      } else if (++s[row + BWD_FIN]! === 1) {
        // The same test after incrementing the backward count is always true: the first
        // backward FIN ends the flow (Engelen et al. 2021).
        this.addToFlow(row, p, forward);
        this.end(slot, "fin");
      } else {
        this.stats.discardedAfterFin++;
      }
    } else if (flags & TCP_RST) {
      this.addToFlow(row, p, forward);
      this.end(slot, "rst");
    } else if ((forward && s[row + FWD_FIN] === 0) || s[row + BWD_FIN] === 0) {
      this.updateActiveIdle(row, t);
      this.addToFlow(row, p, forward);
    } else {
      this.stats.discardedAfterFin++;
    }
  }

  /** BasicFlow.updateActiveIdleTime. */
  private updateActiveIdle(row: number, t: number): void {
    const s = this.state;
    const end = s[row + ACT_END]!;
    if (t - end > this.activityTimeout) {
      const active = end - s[row + ACT_START]!;
      if (active > 0) addStat(s, row + ACTIVE, active);
      addStat(s, row + IDLE, t - end);
      s[row + ACT_START] = t;
      s[row + ACT_END] = t;
    } else {
      s[row + ACT_END] = t;
    }
  }

  /** BasicFlow.detectUpdateSubflows: a gap over 1 s starts a subflow. */
  private updateSubflows(row: number, t: number): void {
    const s = this.state;
    if (s[row + SF_LAST] === -1) s[row + SF_LAST] = t;
    if (t - s[row + SF_LAST]! > 1_000_000) {
      s[row + SF_COUNT]!++;
      this.updateActiveIdle(row, t);
    }
    s[row + SF_LAST] = t;
  }

  /** BasicFlow.updateForwardBulk / updateBackwardBulk. */
  private updateBulk(row: number, p: DecodedPacket, forward: boolean): void {
    const s = this.state;
    const b = row + (forward ? FWD_BULK : BWD_BULK);
    const other = s[row + (forward ? BWD_BULK : FWD_BULK) + B_LAST_TS]!;
    const size = p.payloadBytes;
    const t = p.timestampMicros;
    if (other > s[b + B_START_HELPER]!) s[b + B_START_HELPER] = 0;
    if (size <= 0) return;
    if (s[b + B_START_HELPER] === 0) {
      s[b + B_START_HELPER] = t;
      s[b + B_PACKET_HELPER] = 1;
      s[b + B_SIZE_HELPER] = size;
      s[b + B_LAST_TS] = t;
    } else if (t - s[b + B_LAST_TS]! > 1_000_000) {
      s[b + B_START_HELPER] = t;
      s[b + B_LAST_TS] = t;
      s[b + B_PACKET_HELPER] = 1;
      s[b + B_SIZE_HELPER] = size;
    } else {
      const packets = ++s[b + B_PACKET_HELPER]!;
      s[b + B_SIZE_HELPER]! += size;
      if (packets === 4) {
        s[b + B_STATES]!++;
        s[b + B_PACKETS]! += packets;
        s[b + B_BYTES]! += s[b + B_SIZE_HELPER]!;
        s[b + B_DURATION]! += t - s[b + B_START_HELPER]!;
      } else if (packets > 4) {
        s[b + B_PACKETS]!++;
        s[b + B_BYTES]! += size;
        s[b + B_DURATION]! += t - s[b + B_LAST_TS]!;
      }
      s[b + B_LAST_TS] = t;
    }
  }

  /** BasicFlow.checkFlags. */
  private countFlags(row: number, flags: number): void {
    if (flags === 0) return;
    const s = this.state;
    const f = row + FLAG_FIN;
    if (flags & TCP_FIN) s[f]!++;
    if (flags & TCP_SYN) s[f + 1]!++;
    if (flags & TCP_RST) s[f + 2]!++;
    if (flags & TCP_PSH) s[f + 3]!++;
    if (flags & TCP_ACK) s[f + 4]!++;
    if (flags & TCP_URG) s[f + 5]!++;
    if (flags & TCP_CWR) s[f + 6]!++;
    if (flags & TCP_ECE) s[f + 7]!++;
  }

  /** BasicFlow.addPacket. */
  private addToFlow(row: number, p: DecodedPacket, forward: boolean): void {
    const s = this.state;
    const t = p.timestampMicros;
    const payload = p.payloadBytes;
    // The original compares byte arrays with `==` (always false), so every packet goes to the
    // backward bulk counters.
    this.updateBulk(row, p, this.compat ? false : forward);
    this.updateSubflows(row, t);
    this.countFlags(row, p.tcpFlags);
    addStat(s, row + ALL_LEN, payload);
    if (forward) {
      if (payload >= 1) s[row + ACT_DATA]!++;
      addStat(s, row + FWD_LEN, payload);
      s[row + FWD_HDR]! += p.headerBytes;
      s[row + FWD_WIRE]! += p.wireBytes;
      if (s[row + FWD_LEN + N]! > 1) addStat(s, row + FWD_IAT, t - s[row + FWD_LAST]!);
      s[row + FWD_LAST] = t;
      if (p.headerBytes < s[row + MIN_SEG]!) s[row + MIN_SEG] = p.headerBytes;
      if (!this.compat) {
        // The original counts PSH and URG per direction on the first packet only.
        if (p.tcpFlags & TCP_PSH) s[row + FWD_PSH]!++;
        if (p.tcpFlags & TCP_URG) s[row + FWD_URG]!++;
      }
    } else {
      const first = s[row + BWD_LEN + N] === 0;
      addStat(s, row + BWD_LEN, payload);
      // The original overwrites the "initial" backward window with every backward packet's.
      if (this.compat) s[row + INIT_WIN_BWD] = Math.max(p.window, 0);
      else if (first) s[row + INIT_WIN_BWD] = p.window;
      s[row + BWD_HDR]! += p.headerBytes;
      s[row + BWD_WIRE]! += p.wireBytes;
      if (!first) addStat(s, row + BWD_IAT, t - s[row + BWD_LAST]!);
      s[row + BWD_LAST] = t;
      if (!this.compat) {
        if (p.tcpFlags & TCP_PSH) s[row + BWD_PSH]!++;
        if (p.tcpFlags & TCP_URG) s[row + BWD_URG]!++;
      }
    }
    addStat(s, row + FLOW_IAT, t - s[row + LAST]!);
    s[row + LAST] = t;
  }

  /** A new flow from its first packet: FlowGenerator.addPacket's last branch, BasicFlow.firstPacket. */
  private open(p: DecodedPacket, hash: number, protoWord: number, ports: number): void {
    if (this.count === this.capacity) {
      this.stats.evicted++;
      this.end(this.oldest, "evicted");
    }
    // Reuse a freed slot (its pages are already committed) before touching a fresh one.
    const slot = this.freeCount > 0 ? this.free[--this.freeCount]! : this.fresh++;
    // Key, in the direction of the first packet: that is what makes it "forward".
    const o = slot * KEY;
    const k = this.keys;
    for (let i = 0; i < 4; i++) {
      k[o + i] = p.src[i]!;
      k[o + 4 + i] = p.dst[i]!;
    }
    k[o + 8] = ports;
    k[o + 9] = protoWord;
    const bucket = hash & this.mask;
    this.chain[slot] = this.buckets[bucket]!;
    this.buckets[bucket] = slot;
    this.hashOf[slot] = hash;
    this.older[slot] = this.newest;
    this.newer[slot] = -1;
    if (this.newest !== -1) this.newer[this.newest] = slot;
    else this.oldest = slot;
    this.newest = slot;
    this.count++;

    const s = this.state;
    const row = slot * STRIDE;
    s.fill(0, row, row + STRIDE);
    const t = p.timestampMicros;
    const payload = p.payloadBytes;
    s[row + SF_LAST] = -1;
    s[row + INIT_WIN_BWD] = this.compat ? 0 : -1;
    this.updateBulk(row, p, !this.compat);
    this.updateSubflows(row, t);
    this.countFlags(row, p.tcpFlags);
    s[row + START] = t;
    s[row + LAST] = t;
    s[row + ACT_START] = t;
    s[row + ACT_END] = t;
    addStat(s, row + ALL_LEN, payload);
    // BasicFlow.firstPacket adds the first packet's length to the flow statistics twice.
    if (this.compat) addStat(s, row + ALL_LEN, payload);
    s[row + MIN_SEG] = p.headerBytes;
    s[row + INIT_WIN_FWD] = this.compat ? Math.max(p.window, 0) : p.window;
    addStat(s, row + FWD_LEN, payload);
    s[row + FWD_HDR] = p.headerBytes;
    s[row + FWD_WIRE] = p.wireBytes;
    s[row + FWD_LAST] = t;
    if (p.tcpFlags & TCP_PSH) s[row + FWD_PSH] = 1;
    if (p.tcpFlags & TCP_URG) s[row + FWD_URG] = 1;
    // The original starts counting data packets at the second packet.
    if (!this.compat && payload >= 1) s[row + ACT_DATA] = 1;
    if (!this.compat) {
      // The original looks at FIN and RST only from a flow's second packet on: a capture that
      // starts mid-teardown, or a lone RST (backscatter of a spoofed flood), would wait out the
      // flow timeout. Here the first packet's flags count like any other's.
      if (p.tcpFlags & TCP_RST) this.end(slot, "rst");
      else if (p.tcpFlags & TCP_FIN) s[row + FWD_FIN] = 1;
    }
  }

  /** Removes a flow and hands its record on (or drops it, in compat mode, if it is one packet). */
  private end(slot: number, reason: FlowEndReason): void {
    const s = this.state;
    const row = slot * STRIDE;
    const packets = s[row + FWD_LEN + N]! + s[row + BWD_LEN + N]!;
    if (this.compat && packets <= 1) {
      this.stats.droppedSinglePacket++;
    } else {
      if (!this.compat) {
        // The original never closes the last active period (Lanvin et al. 2022).
        const active = s[row + ACT_END]! - s[row + ACT_START]!;
        if (active > 0) addStat(s, row + ACTIVE, active);
      }
      this.stats.flows++;
      this.onFlow(this.record(slot, reason));
    }
    this.unlink(slot);
  }

  private unlink(slot: number): void {
    const bucket = this.hashOf[slot]! & this.mask;
    let at = this.buckets[bucket]!;
    if (at === slot) {
      this.buckets[bucket] = this.chain[slot]!;
    } else {
      while (this.chain[at] !== slot) at = this.chain[at]!;
      this.chain[at] = this.chain[slot]!;
    }
    const older = this.older[slot]!;
    const newer = this.newer[slot]!;
    if (older !== -1) this.newer[older] = newer;
    else this.oldest = newer;
    if (newer !== -1) this.older[newer] = older;
    else this.newest = older;
    this.free[this.freeCount++] = slot;
    this.count--;
  }

  private record(slot: number, reason: FlowEndReason): FlowRecord {
    const s = this.state;
    const row = slot * STRIDE;
    const o = slot * KEY;
    const k = this.keys;
    const r = this.out;
    const f = r.features;
    f.fill(0);
    const duration = s[row + LAST]! - s[row + START]!;
    const fwdN = s[row + FWD_LEN + N]!;
    const bwdN = s[row + BWD_LEN + N]!;
    const packets = fwdN + bwdN;
    const fwdBytes = s[row + FWD_LEN + SUM]!;
    const bwdBytes = s[row + BWD_LEN + SUM]!;
    const seconds = duration / 1e6;
    let i = 0;
    f[i++] = duration;
    f[i++] = fwdN;
    f[i++] = bwdN;
    f[i++] = fwdBytes;
    f[i++] = bwdBytes;
    i = putMaxMinMeanStd(f, i, s, row + FWD_LEN);
    i = putMaxMinMeanStd(f, i, s, row + BWD_LEN);
    // Java double division: x/0 is Infinity, 0/0 is NaN, and CICFlowMeter prints them so.
    f[i++] = (fwdBytes + bwdBytes) / seconds;
    f[i++] = packets / seconds;
    const iat = row + FLOW_IAT;
    if (s[iat + N]! > 0 || this.compat) {
      f[i++] = s[iat + N]! > 0 ? s[iat + MEAN]! : NaN;
      f[i++] = std(s, iat);
      f[i++] = s[iat + N]! > 0 ? s[iat + MAX]! : NaN;
      f[i++] = s[iat + N]! > 0 ? s[iat + MIN]! : NaN;
    } else {
      i += 4;
    }
    i = putIat(f, i, s, row + FWD_IAT, fwdN > 1);
    i = putIat(f, i, s, row + BWD_IAT, bwdN > 1);
    f[i++] = s[row + FWD_PSH]!;
    f[i++] = s[row + BWD_PSH]!;
    f[i++] = s[row + FWD_URG]!;
    f[i++] = s[row + BWD_URG]!;
    f[i++] = s[row + FWD_HDR]!;
    f[i++] = s[row + BWD_HDR]!;
    f[i++] = duration > 0 ? fwdN / seconds : 0;
    f[i++] = duration > 0 ? bwdN / seconds : 0;
    const all = row + ALL_LEN;
    f[i++] = s[all + MIN]!;
    f[i++] = s[all + MAX]!;
    f[i++] = s[all + MEAN]!;
    f[i++] = std(s, all);
    f[i++] = variance(s, all);
    for (let flag = 0; flag < 8; flag++) f[i++] = s[row + FLAG_FIN + flag]!;
    // Java integer division: `(double)(backward.size()/forward.size())`.
    f[i++] = fwdN > 0 ? Math.floor(bwdN / fwdN) : 0;
    f[i++] = packets > 0 ? s[all + SUM]! / packets : 0;
    f[i++] = fwdN > 0 ? fwdBytes / fwdN : 0;
    f[i++] = bwdN > 0 ? bwdBytes / bwdN : 0;
    f[i++] = s[row + FWD_HDR]!;
    i = putBulk(f, i, s, row + FWD_BULK);
    i = putBulk(f, i, s, row + BWD_BULK);
    // The original divides by the number of >1 s gaps (0 gaps: all zero); the corrected count
    // is gaps + 1 subflows, which gives Subflow = Total as in the published CIC-IDS2017 files.
    const subflows = s[row + SF_COUNT]! + (this.compat ? 0 : 1);
    f[i++] = subflows > 0 ? Math.floor(fwdN / subflows) : 0;
    f[i++] = subflows > 0 ? Math.floor(fwdBytes / subflows) : 0;
    f[i++] = subflows > 0 ? Math.floor(bwdN / subflows) : 0;
    f[i++] = subflows > 0 ? Math.floor(bwdBytes / subflows) : 0;
    f[i++] = s[row + INIT_WIN_FWD]!;
    f[i++] = s[row + INIT_WIN_BWD]!;
    f[i++] = s[row + ACT_DATA]!;
    f[i++] = s[row + MIN_SEG]!;
    i = putMeanStdMaxMin(f, i, s, row + ACTIVE);
    i = putMeanStdMaxMin(f, i, s, row + IDLE);
    for (let w = 0; w < 4; w++) {
      r.src[w] = k[o + w]!;
      r.dst[w] = k[o + 4 + w]!;
    }
    r.ipVersion = k[o + 9]! >> 8;
    r.srcPort = k[o + 8]! >>> 16;
    r.dstPort = k[o + 8]! & 0xffff;
    r.protocol = k[o + 9]! & 0xff;
    r.startMicros = s[row + START]!;
    r.fwdWireBytes = s[row + FWD_WIRE]!;
    r.bwdWireBytes = s[row + BWD_WIRE]!;
    r.endReason = reason;
    return r;
  }

  /**
   * Sizes every array for `maxFlows` at once. Typed arrays this large are zero pages mapped on
   * demand, so memory is committed only as slots are first used, and the table never pauses to
   * copy itself while a flood is filling it (doubling cost 12 % of a 3M-packet run).
   */
  private allocate(capacity: number): void {
    this.capacity = capacity;
    this.state = new Float64Array(capacity * STRIDE);
    this.keys = new Uint32Array(capacity * KEY);
    this.hashOf = new Uint32Array(capacity);
    this.chain = new Int32Array(capacity);
    this.older = new Int32Array(capacity);
    this.newer = new Int32Array(capacity);
    this.free = new Int32Array(capacity);
    // Two buckets per slot keeps chains short (mean length ≤ 0.5 when full).
    let size = 1;
    while (size < capacity * 2) size *= 2;
    this.buckets = new Int32Array(size).fill(-1);
    this.mask = size - 1;
  }
}

function addStat(s: Float64Array, at: number, x: number): void {
  const n = ++s[at + N]!;
  s[at + SUM]! += x;
  const delta = x - s[at + MEAN]!;
  s[at + MEAN]! += delta / n;
  s[at + M2]! += delta * (x - s[at + MEAN]!);
  if (n === 1) {
    s[at + MIN] = x;
    s[at + MAX] = x;
  } else {
    if (x < s[at + MIN]!) s[at + MIN] = x;
    if (x > s[at + MAX]!) s[at + MAX] = x;
  }
}

/** Commons Math's SummaryStatistics: the bias-corrected sample variance, 0 for one value. */
function variance(s: Float64Array, at: number): number {
  const n = s[at + N]!;
  if (n === 0) return NaN;
  return n === 1 ? 0 : s[at + M2]! / (n - 1);
}

function std(s: Float64Array, at: number): number {
  return Math.sqrt(variance(s, at));
}

function putMaxMinMeanStd(f: Float64Array, i: number, s: Float64Array, at: number): number {
  if (s[at + N]! > 0) {
    f[i] = s[at + MAX]!;
    f[i + 1] = s[at + MIN]!;
    f[i + 2] = s[at + MEAN]!;
    f[i + 3] = std(s, at);
  }
  return i + 4;
}

function putMeanStdMaxMin(f: Float64Array, i: number, s: Float64Array, at: number): number {
  if (s[at + N]! > 0) {
    f[i] = s[at + MEAN]!;
    f[i + 1] = std(s, at);
    f[i + 2] = s[at + MAX]!;
    f[i + 3] = s[at + MIN]!;
  }
  return i + 4;
}

function putIat(f: Float64Array, i: number, s: Float64Array, at: number, present: boolean): number {
  if (present) {
    f[i] = s[at + SUM]!;
    f[i + 1] = s[at + MEAN]!;
    f[i + 2] = std(s, at);
    f[i + 3] = s[at + MAX]!;
    f[i + 4] = s[at + MIN]!;
  }
  return i + 5;
}

/** fAvgBytesPerBulk, fAvgPacketsPerBulk, fAvgBulkRate (and the backward ones): Java longs. */
function putBulk(f: Float64Array, i: number, s: Float64Array, b: number): number {
  const states = s[b + B_STATES]!;
  const duration = s[b + B_DURATION]!;
  f[i] = states !== 0 ? Math.floor(s[b + B_BYTES]! / states) : 0;
  f[i + 1] = states !== 0 ? Math.floor(s[b + B_PACKETS]! / states) : 0;
  f[i + 2] = duration !== 0 ? Math.trunc(s[b + B_BYTES]! / (duration / 1e6)) : 0;
  return i + 3;
}

function mixSide(a: Uint32Array | ArrayLike<number>, at: number, port: number): number {
  let h = Math.imul(port ^ 0x2545f491, 0x9e3779b1);
  for (let i = 0; i < 4; i++) {
    h = Math.imul(h ^ a[at + i]!, 0x85ebca6b);
    h ^= h >>> 13;
  }
  return h;
}

/**
 * A hash equal for both directions of a 5-tuple: the two endpoints are mixed separately and
 * combined with XOR, which does not care about their order.
 */
function flowHash(
  src: Uint32Array,
  srcPort: number,
  dst: Uint32Array,
  dstPort: number,
  protoWord: number,
): number {
  let h = mixSide(src, 0, srcPort) ^ mixSide(dst, 0, dstPort) ^ Math.imul(protoWord, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}
