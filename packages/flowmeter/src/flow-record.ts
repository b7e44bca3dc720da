/**
 * A finished flow and its CSV line in the original CICFlowMeter layout (the CIC-IDS2017
 * GeneratedLabelledFlows header, which core's CSV reader and every model read).
 */
import { ORIGINAL_FLOW_CSV_HEADER } from "@floodwatch/core";

/** Why a flow ended. */
export type FlowEndReason = "fin" | "rst" | "timeout" | "evicted" | "end";

/** The 85 header names, spelled as in the original files (leading spaces included). */
const ORIGINAL_COLUMNS = ORIGINAL_FLOW_CSV_HEADER.split(",");
/** Columns before the features: Flow ID, Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp. */
const ID_COLUMNS = 7;

/** Names of the numeric features, in column order (`Flow Duration` … `Idle Min`). */
export const FEATURE_NAMES: readonly string[] = ORIGINAL_COLUMNS.slice(ID_COLUMNS, -1).map((c) =>
  c.trim(),
);
/** Number of numeric features in a record: 77. */
export const FEATURE_COUNT = FEATURE_NAMES.length;

/** One finished flow. */
export interface FlowRecord {
  /** 4 or 6. */
  ipVersion: number;
  /** Address of the endpoint that sent the first packet (IPv4 in word 0). */
  src: Uint32Array;
  dst: Uint32Array;
  srcPort: number;
  dstPort: number;
  protocol: number;
  /** Time of the first packet, µs since the Unix epoch. */
  startMicros: number;
  /** The {@link FEATURE_NAMES} values. */
  features: Float64Array;
  /** Frame bytes on the wire in each direction (not a CICFlowMeter column; tshark's "Bytes"). */
  fwdWireBytes: number;
  bwdWireBytes: number;
  endReason: FlowEndReason;
}

/** A copy of a record that outlives the meter's callback. */
export function cloneFlowRecord(r: FlowRecord): FlowRecord {
  return { ...r, src: r.src.slice(), dst: r.dst.slice(), features: r.features.slice() };
}

/** The CSV header line (no line end); `Label` only when rows carry one. */
export function flowCsvHeader(withLabel: boolean): string {
  return (withLabel ? ORIGINAL_COLUMNS : ORIGINAL_COLUMNS.slice(0, -1)).join(",");
}

/** Dotted quad or RFC 5952 text of a 4-word address. */
export function formatAddress(ipVersion: number, a: Uint32Array): string {
  if (ipVersion === 4) {
    const v = a[0]!;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 4; i++) groups.push(a[i]! >>> 16, a[i]! & 0xffff);
  // Compress the longest run (of two or more) of zero groups.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/** Network-order bytes of an address, for CICFlowMeter's Flow ID ordering. */
function addressBytes(ipVersion: number, a: Uint32Array): number[] {
  const words = ipVersion === 4 ? 1 : 4;
  const bytes: number[] = [];
  for (let i = 0; i < words; i++)
    bytes.push(a[i]! >>> 24, (a[i]! >>> 16) & 255, (a[i]! >>> 8) & 255, a[i]! & 255);
  return bytes;
}

/**
 * CICFlowMeter's Flow ID (BasicPacketInfo.generateFlowId): the two endpoints ordered by the
 * first differing address byte compared as Java's signed bytes (so 192.x sorts before 10.x).
 */
export function flowId(r: FlowRecord): string {
  const a = addressBytes(r.ipVersion, r.src);
  const b = addressBytes(r.ipVersion, r.dst);
  let forward = true;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      forward = (a[i]! << 24) >> 24 < (b[i]! << 24) >> 24;
      break;
    }
  }
  const src = formatAddress(r.ipVersion, r.src);
  const dst = formatAddress(r.ipVersion, r.dst);
  return forward
    ? `${src}-${dst}-${r.srcPort}-${r.dstPort}-${r.protocol}`
    : `${dst}-${src}-${r.dstPort}-${r.srcPort}-${r.protocol}`;
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/**
 * `2017-07-07 12:02:55.371187`, UTC: the spelling of the later CIC datasets (CIC-DDoS2019),
 * exact to the microsecond and read by core's CSV reader as UTC.
 */
export function formatTimestamp(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const d = new Date(ms);
  const fraction = String(Math.floor(micros - Math.floor(micros / 1e6) * 1e6)).padStart(6, "0");
  return (
    `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${fraction}`
  );
}

/** A number as CICFlowMeter prints Java doubles where it matters: `Infinity`, `NaN`. */
function formatNumber(x: number): string {
  if (Number.isInteger(x) || !Number.isFinite(x)) return String(x);
  // Plain decimal, no exponent: 12 significant digits is more than any feature carries.
  const text = x.toPrecision(12);
  if (!text.includes("e")) return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
  return x.toFixed(12).replace(/\.?0+$/, "");
}

/** The record as one CSV line in {@link flowCsvHeader} order (no line end). */
export function flowCsvLine(r: FlowRecord, label?: string): string {
  let line =
    `${flowId(r)},${formatAddress(r.ipVersion, r.src)},${r.srcPort},` +
    `${formatAddress(r.ipVersion, r.dst)},${r.dstPort},${r.protocol},${formatTimestamp(r.startMicros)}`;
  const f = r.features;
  for (let i = 0; i < f.length; i++) line += "," + formatNumber(f[i]!);
  if (label !== undefined) line += "," + label;
  return line;
}
