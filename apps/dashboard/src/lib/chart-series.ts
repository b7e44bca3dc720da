/** What the scatter and the timeline plot, computed from a window history. */
import type { WindowResult } from "@floodwatch/core/stream-contracts";
import type { CappedHistory } from "./capped-history.ts";

/** A plotted window; `w` rides along for the tooltip (Chart.js keeps it as the point's raw data). */
export interface WindowPoint {
  x: number;
  y: number;
  w: WindowResult;
}

/** The scatter's series: windows on PC1/PC2, normal and anomalous, and its axis ranges. */
export interface ScatterSeries {
  normal: WindowPoint[];
  anomalies: WindowPoint[];
  /** Windows beyond the axes, drawn on the edge they lie past (their own marker). */
  offScale: WindowPoint[];
  x: { min: number; max: number };
  y: { min: number; max: number };
}

/**
 * Axis range that holds the bulk of the values: the 2nd to 98th percentile, widened by half its
 * span on each side, never wider than the data. One window at PC2 = 90,000,000 would otherwise
 * stretch the axis and squash every other window onto a line.
 */
export function bulkRange(values: number[]): { min: number; max: number } {
  if (values.length === 0) return { min: -1, max: 1 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const lo = at(0.02);
  const hi = at(0.98);
  const span = hi - lo || Math.abs(hi) || 1;
  const min = Math.max(sorted[0]!, lo - span / 2);
  const max = Math.min(sorted.at(-1)!, hi + span / 2);
  return max > min ? { min, max } : { min: min - 0.5, max: max + 0.5 };
}

/** Splits a history into normal and anomalous points on PC1/PC2, outliers clipped to the edge. */
export function scatterSeries(history: CappedHistory<WindowResult>): ScatterSeries {
  const windows: WindowResult[] = [];
  for (let i = 0; i < history.size; i += 1) {
    const w = history.at(i) as WindowResult;
    // A degenerate projection (constant feature) must not put NaN into the chart's scales.
    if (Number.isFinite(w.pc1) && Number.isFinite(w.pc2)) windows.push(w);
  }
  const x = bulkRange(windows.map((w) => w.pc1));
  const y = bulkRange(windows.map((w) => w.pc2));
  const normal: WindowPoint[] = [];
  const anomalies: WindowPoint[] = [];
  const offScale: WindowPoint[] = [];
  const clamp = (v: number, r: { min: number; max: number }) => Math.min(r.max, Math.max(r.min, v));
  for (const w of windows) {
    const px = clamp(w.pc1, x);
    const py = clamp(w.pc2, y);
    const point = { x: px, y: py, w };
    if (px !== w.pc1 || py !== w.pc2) offScale.push(point);
    else (w.anomaly ? anomalies : normal).push(point);
  }
  return { normal, anomalies, offScale, x, y };
}

/**
 * The timeline's x axis: a window's position in its file, or arrival order across uploads; a
 * `window` axis becomes `traffic` (epoch ms of each window's first flow) when every window has it.
 */
export type TimelineAxis = "window" | "arrival" | "traffic";

/** The timeline's series. */
export interface TimelineSeries {
  axis: TimelineAxis;
  /** Every window's score, in x order. */
  scores: WindowPoint[];
  /** The anomalous ones again, drawn on top in the anomaly colour. */
  anomalies: WindowPoint[];
  xMin: number;
  xMax: number;
}

/**
 * Scores over time. For one upload, x is the window's number in the file, which is capture time
 * (detectors score entries out of order, so arrival order would zigzag); across uploads, x is the
 * order in which windows were scored.
 */
export function timelineSeries(
  history: CappedHistory<WindowResult>,
  axis: TimelineAxis,
): TimelineSeries {
  const windows = history.toArray();
  if (axis !== "arrival") {
    const traffic = windows.map((w) => (w.start === null ? Number.NaN : Date.parse(w.start)));
    if (windows.length > 0 && traffic.every(Number.isFinite)) axis = "traffic";
    else if (axis === "traffic") axis = "window";
  }
  if (axis === "window") windows.sort((a, b) => a.window - b.window);
  if (axis === "traffic") windows.sort((a, b) => Date.parse(a.start!) - Date.parse(b.start!));
  const scores: WindowPoint[] = [];
  const anomalies: WindowPoint[] = [];
  windows.forEach((w, index) => {
    const x =
      axis === "window"
        ? w.window
        : axis === "traffic"
          ? Date.parse(w.start!)
          : history.evicted + index;
    const point = { x, y: w.score, w };
    scores.push(point);
    if (w.anomaly) anomalies.push(point);
  });
  const xMin = scores[0]?.x ?? 0;
  const xMax = scores.at(-1)?.x ?? 1;
  return { axis, scores, anomalies, xMin, xMax: xMax > xMin ? xMax : xMin + 1 };
}
