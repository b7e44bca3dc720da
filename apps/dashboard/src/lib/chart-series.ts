/** What the scatter and the timeline plot, computed from a window history. */
import type { WindowResult } from "@floodwatch/core/stream-contracts";
import type { CappedHistory } from "./capped-history.ts";

/** A plotted window; `w` rides along for the tooltip (Chart.js keeps it as the point's raw data). */
export interface WindowPoint {
  x: number;
  y: number;
  w: WindowResult;
}

/** The scatter's two series: windows on PC1/PC2, normal and anomalous. */
export interface ScatterSeries {
  normal: WindowPoint[];
  anomalies: WindowPoint[];
}

/** Splits a history into normal and anomalous points on PC1/PC2. */
export function scatterSeries(history: CappedHistory<WindowResult>): ScatterSeries {
  const normal: WindowPoint[] = [];
  const anomalies: WindowPoint[] = [];
  for (let i = 0; i < history.size; i += 1) {
    const w = history.at(i) as WindowResult;
    // A degenerate projection (constant feature) must not put NaN into the chart's scales.
    if (!Number.isFinite(w.pc1) || !Number.isFinite(w.pc2)) continue;
    (w.anomaly ? anomalies : normal).push({ x: w.pc1, y: w.pc2, w });
  }
  return { normal, anomalies };
}

/** The timeline's x axis: a window's position in its file, or arrival order across uploads. */
export type TimelineAxis = "window" | "arrival";

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
  if (axis === "window") windows.sort((a, b) => a.window - b.window);
  const scores: WindowPoint[] = [];
  const anomalies: WindowPoint[] = [];
  windows.forEach((w, index) => {
    const point = { x: axis === "window" ? w.window : history.evicted + index, y: w.score, w };
    scores.push(point);
    if (w.anomaly) anomalies.push(point);
  });
  const xMin = scores[0]?.x ?? 0;
  const xMax = scores.at(-1)?.x ?? 1;
  return { axis, scores, anomalies, xMin, xMax: xMax > xMin ? xMax : xMin + 1 };
}
