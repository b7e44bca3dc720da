/** Score per window over time, with the alert threshold as a line. */
import type { ChartOptions, TooltipItem } from "chart.js";
import { useLayoutEffect, useMemo, useRef, useState } from "react";
import { Scatter } from "react-chartjs-2";
import { timelineSeries, type TimelineAxis, type WindowPoint } from "../lib/chart-series.ts";
import { formatClock, formatScore } from "../lib/format.ts";
import type { WindowHistories } from "../lib/live-store.ts";
import { CHART_COLOURS, type Chart } from "./chart-setup.ts";
import { windowTooltipLines } from "./pca-scatter.tsx";
import { Panel } from "./ui.tsx";
import { useChartFont } from "./use-root-font-size.ts";
import { useThrottledRedraw } from "./use-throttled-redraw.ts";

/** A point of the threshold line (no window behind it). */
interface ThresholdPoint {
  x: number;
  y: number;
}

/** Props of {@link ScoreTimeline}. */
export interface ScoreTimelineProps {
  histories: WindowHistories;
  windowsVersion: number;
  /** `window` for one upload (x = window number), `arrival` across uploads. */
  axis: TimelineAxis;
  threshold: number | null;
  uploadName: (uploadId: string) => string;
  thresholdOf: (modelVersion: string) => number | null;
}

/** The score timeline panel. */
export function ScoreTimeline({
  histories,
  windowsVersion,
  axis,
  threshold,
  uploadName,
  thresholdOf,
}: ScoreTimelineProps) {
  const chartRef = useRef<Chart<"scatter", (WindowPoint | ThresholdPoint)[]>>(undefined);
  const [points, setPoints] = useState(0);
  // The axis asked for, or `traffic` when every window of the upload has a traffic time.
  const [shownAxis, setShownAxis] = useState<TimelineAxis>(axis);
  const context = useRef({ uploadName, thresholdOf, histories });
  useLayoutEffect(() => {
    context.current = { uploadName, thresholdOf, histories };
  });

  useThrottledRedraw(() => {
    const series = timelineSeries(histories.all, axis);
    const chart = chartRef.current;
    if (chart !== undefined) {
      const [thresholdSet, anomalySet, scoreSet] = chart.data.datasets;
      if (thresholdSet !== undefined) {
        thresholdSet.data =
          threshold === null
            ? []
            : [
                { x: series.xMin, y: threshold },
                { x: series.xMax, y: threshold },
              ];
      }
      if (anomalySet !== undefined) anomalySet.data = series.anomalies;
      if (scoreSet !== undefined) scoreSet.data = series.scores;
      chart.update("none");
    }
    setPoints(series.scores.length);
    setShownAxis(series.axis);
  }, [windowsVersion, histories, axis, threshold]);

  const data = useMemo(
    () => ({
      datasets: [
        {
          label: "Alert threshold",
          data: [] as (WindowPoint | ThresholdPoint)[],
          borderColor: CHART_COLOURS.threshold,
          backgroundColor: CHART_COLOURS.threshold,
          borderDash: [6, 4],
          borderWidth: 2,
          showLine: true,
          pointRadius: 0,
          pointHitRadius: 0,
          order: 0,
        },
        {
          label: "Anomalous window",
          data: [] as (WindowPoint | ThresholdPoint)[],
          backgroundColor: CHART_COLOURS.anomaly,
          borderColor: CHART_COLOURS.anomaly,
          pointStyle: "triangle" as const,
          pointRadius: 3.5,
          order: 1,
        },
        {
          label: "Score",
          data: [] as (WindowPoint | ThresholdPoint)[],
          borderColor: CHART_COLOURS.score,
          backgroundColor: CHART_COLOURS.normal,
          borderWidth: 1,
          showLine: true,
          pointRadius: 1.2,
          order: 2,
        },
      ],
    }),
    [],
  );

  const font = useChartFont();
  const options = useMemo<ChartOptions<"scatter">>(
    () => ({
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      parsing: false,
      interaction: { mode: "nearest", intersect: false, axis: "x" },
      scales: {
        x: {
          type: "linear",
          title: {
            font,
            display: true,
            text:
              shownAxis === "window"
                ? "Window in the file (not every window has a traffic time)"
                : shownAxis === "traffic"
                  ? "Traffic time (UTC, first flow of each window)"
                  : "Windows in the order scored (processing time)",
          },
          ticks: {
            font,
            maxTicksLimit: 8,
            callback: (value) => {
              const x = Number(value);
              if (shownAxis === "window") return `#${x}`;
              if (shownAxis === "traffic") return new Date(x).toISOString().slice(11, 19);
              // Arrival order: label ticks with the time the window there was scored.
              const { histories: h } = context.current;
              const w = h.all.at(Math.round(x) - h.all.evicted);
              return w === undefined ? "" : formatClock(w.scoredAt);
            },
          },
        },
        y: {
          type: "linear",
          title: { font, display: true, text: "Score (lower = more anomalous)" },
          ticks: { font, callback: (value) => formatScore(Number(value)) },
        },
      },
      plugins: {
        legend: { position: "top", labels: { font, usePointStyle: true } },
        tooltip: {
          titleFont: font,
          bodyFont: font,
          filter: (item) => (item.raw as Partial<WindowPoint>).w !== undefined,
          callbacks: {
            label: (item: TooltipItem<"scatter">) => {
              const w = (item.raw as WindowPoint).w;
              return windowTooltipLines(
                w,
                context.current.uploadName(w.uploadId),
                context.current.thresholdOf(w.modelVersion),
              );
            },
          },
        },
      },
    }),
    [shownAxis, font],
  );

  return (
    <Panel id="score-timeline" title="Score timeline" testId="score-timeline-panel">
      <div
        data-testid="score-timeline"
        data-points={points}
        data-threshold={threshold ?? ""}
        className="relative h-72 min-h-0 2xl:h-96"
      >
        <Scatter
          ref={chartRef}
          data={data}
          options={options}
          updateMode="none"
          role="img"
          aria-label={`Scores of the last ${points} windows against the threshold ${formatScore(threshold)}`}
        />
      </div>
    </Panel>
  );
}
