/**
 * The row writer of the flow generator: derives the 85 CICFlowMeter columns of one flow from its
 * shape (length and gap summaries, flags, bulk fields) and writes them as one CSV row.
 */
import { AsciiChunkWriter } from "./ascii-writer.ts";
import { ACTIVITY_TIMEOUT_US, type FlowShape } from "./traffic-shapes.ts";

export interface Summary {
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  squaredDeviations: number;
}

export function emptySummary(): Summary {
  return { count: 0, sum: 0, min: 0, max: 0, mean: 0, squaredDeviations: 0 };
}

/** Summarises the multiset {a × na, b × nb, c × nc}; all zeros when it is empty. */
export function summarise(
  out: Summary,
  a: number,
  na: number,
  b: number,
  nb: number,
  c: number,
  nc: number,
): void {
  const count = na + nb + nc;
  out.count = count;
  if (count === 0) {
    out.sum = out.min = out.max = out.mean = out.squaredDeviations = 0;
    return;
  }
  const sum = a * na + b * nb + c * nc;
  const mean = sum / count;
  out.sum = sum;
  out.mean = mean;
  out.min = Math.min(na > 0 ? a : Infinity, nb > 0 ? b : Infinity, nc > 0 ? c : Infinity);
  out.max = Math.max(na > 0 ? a : -Infinity, nb > 0 ? b : -Infinity, nc > 0 ? c : -Infinity);
  // Deviations from the mean rather than sum of squares: µs gaps squared exceed 2^53.
  out.squaredDeviations = na * (a - mean) ** 2 + nb * (b - mean) ** 2 + nc * (c - mean) ** 2;
}

/** Sample variance (n − 1), as CICFlowMeter computes it. */
export function variance(summary: Summary): number {
  return summary.count > 1 ? summary.squaredDeviations / (summary.count - 1) : 0;
}

/** Scratch summaries of one row, reused so that writing a row allocates nothing. */
export class RowSummaries {
  readonly fwdLength = emptySummary();
  readonly bwdLength = emptySummary();
  readonly flowIat = emptySummary();
  readonly fwdIat = emptySummary();
  readonly bwdIat = emptySummary();
  readonly active = emptySummary();
  readonly idle = emptySummary();
}

/** Summarises one direction's payload sizes {first, bulk × k, rest × remainder}. */
export function summariseLengths(
  out: Summary,
  packets: number,
  first: number,
  bulk: number,
  bulkCount: number,
  rest: number,
): void {
  if (packets === 0) {
    summarise(out, 0, 0, 0, 0, 0, 0);
    return;
  }
  const bulkPackets = Math.min(bulkCount, packets - 1);
  summarise(out, first, 1, bulk, bulkPackets, rest, packets - 1 - bulkPackets);
}

/**
 * Summarises one direction's `gaps` inter-arrival times: `idleGaps` of them span an idle period
 * of `idleGap`, the others share what is left of `total` as evenly as whole µs allow.
 */
export function summariseDirectionGaps(
  out: Summary,
  gaps: number,
  total: number,
  idleGaps: number,
  idleGap: number,
): void {
  if (gaps <= 0) {
    summarise(out, 0, 0, 0, 0, 0, 0);
    return;
  }
  const idle = Math.min(idleGaps, gaps);
  const others = gaps - idle;
  if (others === 0) {
    summarise(out, idleGap, idle, 0, 0, 0, 0);
    return;
  }
  const remaining = Math.max(0, total - idle * idleGap);
  const even = Math.floor(remaining / others);
  summarise(out, remaining - even * (others - 1), 1, idleGap, idle, even, others - 1);
}

/** Bulk features are always 0 in CIC-IDS2017. */
export const BULK_FIELDS = 6;

/** Writes the 85 fields of one flow, in header order, as one CSV line. */
export function writeRow(
  w: AsciiChunkWriter,
  shape: FlowShape,
  s: RowSummaries,
  timestamp: Uint8Array,
  label: Uint8Array,
): void {
  const fwdPackets = shape.fwdPackets;
  const bwdPackets = shape.bwdPackets;
  const packets = fwdPackets + bwdPackets;
  summariseLengths(
    s.fwdLength,
    fwdPackets,
    shape.fwdFirst,
    shape.fwdBulk,
    shape.fwdBulkCount,
    shape.fwdRest,
  );
  summariseLengths(
    s.bwdLength,
    bwdPackets,
    shape.bwdFirst,
    shape.bwdBulk,
    shape.bwdBulkCount,
    shape.bwdRest,
  );
  const fwdBytes = s.fwdLength.sum;
  const bwdBytes = s.bwdLength.sum;
  const bytes = fwdBytes + bwdBytes;

  // Both directions together, by the parallel-variance formula.
  const lengthMean = bytes / packets;
  const lengthSquaredDeviations =
    s.fwdLength.squaredDeviations +
    fwdPackets * (s.fwdLength.mean - lengthMean) ** 2 +
    s.bwdLength.squaredDeviations +
    (bwdPackets > 0 ? bwdPackets * (s.bwdLength.mean - lengthMean) ** 2 : 0);
  const lengthVariance = packets > 1 ? lengthSquaredDeviations / (packets - 1) : 0;
  const lengthMin = bwdPackets > 0 ? Math.min(s.fwdLength.min, s.bwdLength.min) : s.fwdLength.min;
  const lengthMax = bwdPackets > 0 ? Math.max(s.fwdLength.max, s.bwdLength.max) : s.fwdLength.max;

  const gaps = Math.max(0, packets - 1);
  const idleGaps = gaps > 0 ? Math.min(shape.idleGapCount, gaps - 1) : 0;
  const restGaps = gaps > 0 ? gaps - 1 - idleGaps : 0;
  summarise(
    s.flowIat,
    shape.firstGap,
    gaps > 0 ? 1 : 0,
    shape.idleGap,
    idleGaps,
    shape.gap,
    restGaps,
  );
  const duration = s.flowIat.sum;

  if (bwdPackets === 0) {
    // All packets go forward, so the forward gaps are the flow's gaps.
    Object.assign(s.fwdIat, s.flowIat);
  } else {
    // The last packet is taken to be a reply, so forward packets stop one gap before the end.
    const fwdIdle = Math.min(idleGaps, Math.max(0, fwdPackets - 1));
    const fwdTotal = Math.min(duration, Math.max(duration - shape.gap, fwdIdle * shape.idleGap));
    summariseDirectionGaps(s.fwdIat, fwdPackets - 1, fwdTotal, fwdIdle, shape.idleGap);
  }
  // Replies start after the first gap and run to the end.
  const bwdIdle = Math.min(idleGaps, Math.max(0, bwdPackets - 1));
  summariseDirectionGaps(
    s.bwdIat,
    bwdPackets - 1,
    duration - shape.firstGap,
    bwdIdle,
    shape.idleGap,
  );

  summarise(
    s.idle,
    shape.firstGap,
    gaps > 0 && shape.firstGap > ACTIVITY_TIMEOUT_US ? 1 : 0,
    shape.idleGap,
    shape.idleGap > ACTIVITY_TIMEOUT_US ? idleGaps : 0,
    shape.gap,
    shape.gap > ACTIVITY_TIMEOUT_US ? restGaps : 0,
  );
  if (s.idle.count > 0) {
    const periods = s.idle.count + 1;
    summarise(s.active, Math.round((duration - s.idle.sum) / periods), periods, 0, 0, 0, 0);
  } else {
    summarise(s.active, 0, 0, 0, 0, 0, 0);
  }

  const fwdBulkPackets = fwdPackets > 0 ? Math.min(shape.fwdBulkCount, fwdPackets - 1) : 0;
  const actDataFwd =
    fwdPackets === 0
      ? 0
      : (shape.fwdFirst > 0 ? 1 : 0) +
        (shape.fwdBulk > 0 ? fwdBulkPackets : 0) +
        (shape.fwdRest > 0 ? fwdPackets - 1 - fwdBulkPackets : 0);

  w.flowId(
    shape.sourceIp,
    shape.destinationIp,
    shape.sourcePort,
    shape.destinationPort,
    shape.protocol,
  );
  w.ascii(shape.sourceIp);
  w.int(shape.sourcePort);
  w.ascii(shape.destinationIp);
  w.int(shape.destinationPort);
  w.int(shape.protocol);
  w.ascii(timestamp);
  w.int(duration);
  w.int(fwdPackets);
  w.int(bwdPackets);
  w.int(fwdBytes);
  w.int(bwdBytes);
  w.int(s.fwdLength.max);
  w.int(s.fwdLength.min);
  w.decimal(s.fwdLength.mean);
  w.decimal(Math.sqrt(variance(s.fwdLength)));
  w.int(s.bwdLength.max);
  w.int(s.bwdLength.min);
  w.decimal(s.bwdLength.mean);
  w.decimal(Math.sqrt(variance(s.bwdLength)));
  // 0 µs gives Infinity, or NaN for 0 bytes, exactly as CICFlowMeter divides.
  w.decimal((bytes * 1e6) / duration);
  w.decimal((packets * 1e6) / duration);
  writeTimeSummary(w, s.flowIat, false);
  writeTimeSummary(w, s.fwdIat, true);
  writeTimeSummary(w, s.bwdIat, true);
  w.int(shape.fwdPsh);
  w.int(0); // Bwd PSH Flags: always 0 in CIC-IDS2017
  w.int(0); // Fwd URG Flags
  w.int(0); // Bwd URG Flags
  w.int(fwdPackets * shape.headerBytes);
  w.int(bwdPackets * shape.headerBytes);
  // Directional rates are 0, not Infinity, for 0 µs flows in the real files.
  w.decimal(duration > 0 ? (fwdPackets * 1e6) / duration : 0);
  w.decimal(duration > 0 ? (bwdPackets * 1e6) / duration : 0);
  w.int(lengthMin);
  w.int(lengthMax);
  w.decimal(lengthMean);
  w.decimal(Math.sqrt(lengthVariance));
  w.decimal(lengthVariance);
  w.int(shape.fin);
  w.int(shape.syn);
  w.int(shape.rst);
  w.int(shape.psh);
  w.int(shape.ack);
  w.int(shape.urg);
  w.int(0); // CWE Flag Count
  w.int(0); // ECE Flag Count
  // The original files print Down/Up Ratio as the integer quotient.
  w.int(Math.floor(bwdPackets / fwdPackets));
  w.decimal(lengthMean);
  w.decimal(s.fwdLength.mean);
  w.decimal(s.bwdLength.mean);
  w.int(fwdPackets * shape.headerBytes);
  for (let i = 0; i < BULK_FIELDS; i++) w.int(0);
  w.int(fwdPackets);
  w.int(fwdBytes);
  w.int(bwdPackets);
  w.int(bwdBytes);
  w.int(shape.initWinForward);
  w.int(shape.initWinBackward);
  w.int(actDataFwd);
  w.int(shape.headerBytes);
  writeTimeSummary(w, s.active, false);
  writeTimeSummary(w, s.idle, false);
  w.lastField(label);
}

/** Writes [total,] mean, std, max, min of a set of µs durations. */
export function writeTimeSummary(w: AsciiChunkWriter, summary: Summary, withTotal: boolean): void {
  if (withTotal) w.int(summary.sum);
  w.decimal(summary.mean);
  w.decimal(Math.sqrt(variance(summary)));
  w.int(summary.max);
  w.int(summary.min);
}

/** 64 KiB: large enough that a chunk write amortises its cost, small enough to stream. */
