/** Windows on the model's first two principal components, normal and anomalous. */
import type { WindowResult } from "@floodwatch/core/stream-contracts";
import type { ChartOptions, TooltipItem } from "chart.js";
import { useLayoutEffect, useMemo, useRef, useState } from "react";
import { Scatter } from "react-chartjs-2";
import { scatterSeries, type WindowPoint } from "../lib/chart-series.ts";
import { formatCount, formatLineRange, formatPercent, formatScore } from "../lib/format.ts";
import type { WindowHistories } from "../lib/live-store.ts";
import { CHART_COLOURS, type Chart } from "./chart-setup.ts";
import { Panel } from "./ui.tsx";
import { useChartFont } from "./use-root-font-size.ts";
import { useThrottledRedraw } from "./use-throttled-redraw.ts";

/** Props of {@link PcaScatter}. */
export interface PcaScatterProps {
  histories: WindowHistories;
  windowsVersion: number;
  /** Share of the benign training variance on PC1 and PC2 (from the active model). */
  explainedVariance: readonly [number, number] | null;
  uploadName: (uploadId: string) => string;
  thresholdOf: (modelVersion: string) => number | null;
}

/** Tooltip lines of a window, shared with the timeline. Canvas text: never parsed as HTML. */
export function windowTooltipLines(
  w: WindowResult,
  uploadName: string,
  threshold: number | null,
): string[] {
  return [
    `${w.anomaly ? "ANOMALY" : "normal"} · window #${w.window} of ${uploadName}`,
    formatLineRange(w.firstLine, w.lastLine),
    `score ${formatScore(w.score)}` +
      (threshold === null ? "" : ` (threshold ${formatScore(threshold)})`),
    `PC1 ${w.pc1.toFixed(2)} · PC2 ${w.pc2.toFixed(2)} · model ${w.modelVersion}`,
  ];
}

/** The PCA scatter panel. */
export function PcaScatter({
  histories,
  windowsVersion,
  explainedVariance,
  uploadName,
  thresholdOf,
}: PcaScatterProps) {
  const chartRef = useRef<Chart<"scatter", WindowPoint[]>>(undefined);
  const [counts, setCounts] = useState({ normal: 0, anomalies: 0, offScale: 0 });
  const lookups = useRef({ uploadName, thresholdOf });
  useLayoutEffect(() => {
    lookups.current = { uploadName, thresholdOf };
  });

  useThrottledRedraw(() => {
    const { normal, anomalies, offScale, x, y } = scatterSeries(histories.all);
    const chart = chartRef.current;
    if (chart !== undefined) {
      const [normalSet, anomalySet, offScaleSet] = chart.data.datasets;
      if (normalSet !== undefined) normalSet.data = normal;
      if (anomalySet !== undefined) anomalySet.data = anomalies;
      if (offScaleSet !== undefined) offScaleSet.data = offScale;
      // Axes fit the bulk of the windows; the few beyond sit on the edge, marked apart.
      const scales = chart.options.scales;
      if (scales?.x !== undefined && scales.y !== undefined) {
        const padX = (x.max - x.min) * 0.03;
        const padY = (y.max - y.min) * 0.03;
        scales.x.min = x.min - padX;
        scales.x.max = x.max + padX;
        scales.y.min = y.min - padY;
        scales.y.max = y.max + padY;
      }
      chart.update("none");
    }
    // Counts are of windows, wherever drawn: an off-scale window is still normal or anomalous.
    const offAnomalies = offScale.filter((p) => p.w.anomaly).length;
    const next = {
      normal: normal.length + offScale.length - offAnomalies,
      anomalies: anomalies.length + offAnomalies,
      offScale: offScale.length,
    };
    setCounts((c) =>
      c.normal === next.normal && c.anomalies === next.anomalies && c.offScale === next.offScale
        ? c
        : next,
    );
  }, [windowsVersion, histories]);

  // Only the first render's data is handed to react-chartjs-2; later points are set on the chart.
  const data = useMemo(
    () => ({
      datasets: [
        {
          label: "Normal window",
          data: [] as WindowPoint[],
          backgroundColor: CHART_COLOURS.normal,
          borderColor: CHART_COLOURS.normal,
          pointRadius: 2.5,
          pointHoverRadius: 5,
          order: 1,
        },
        {
          label: "Anomalous window",
          data: [] as WindowPoint[],
          backgroundColor: CHART_COLOURS.anomaly,
          borderColor: CHART_COLOURS.anomaly,
          pointStyle: "triangle" as const,
          pointRadius: 4.5,
          pointHoverRadius: 7,
          order: 0,
        },
        {
          label: "Off-scale window (on the edge)",
          data: [] as WindowPoint[],
          backgroundColor: "transparent",
          borderColor: CHART_COLOURS.anomaly,
          borderWidth: 2,
          pointStyle: "rectRot" as const,
          pointRadius: 6,
          pointHoverRadius: 8,
          order: -1,
        },
      ],
    }),
    [],
  );

  const [ev1, ev2] = explainedVariance ?? [null, null];
  const font = useChartFont();
  const options = useMemo<ChartOptions<"scatter">>(
    () => ({
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      parsing: false,
      scales: {
        x: {
          type: "linear",
          title: {
            font,
            display: true,
            text: ev1 === null ? "PC1" : `PC1 (${formatPercent(ev1)} of variance)`,
          },
          ticks: { font },
        },
        y: {
          type: "linear",
          title: {
            font,
            display: true,
            text: ev2 === null ? "PC2" : `PC2 (${formatPercent(ev2)} of variance)`,
          },
          ticks: { font },
        },
      },
      plugins: {
        legend: { position: "top", labels: { font, usePointStyle: true } },
        tooltip: {
          titleFont: font,
          bodyFont: font,
          callbacks: {
            label: (item: TooltipItem<"scatter">) => {
              const w = (item.raw as WindowPoint).w;
              return windowTooltipLines(
                w,
                lookups.current.uploadName(w.uploadId),
                lookups.current.thresholdOf(w.modelVersion),
              );
            },
          },
        },
      },
    }),
    [ev1, ev2, font],
  );

  return (
    <Panel id="pca-scatter" title="PCA scatter" testId="pca-scatter-panel">
      <div
        data-testid="pca-scatter"
        data-normal-points={counts.normal}
        data-anomaly-points={counts.anomalies}
        data-off-scale-points={counts.offScale}
        className="relative h-72 min-h-0 2xl:h-96"
      >
        <Scatter
          ref={chartRef}
          data={data}
          options={options}
          updateMode="none"
          role="img"
          aria-label={`Scatter of ${counts.normal} normal and ${counts.anomalies} anomalous windows on the first two principal components`}
        />
      </div>
      <p className="mt-2 text-xs text-slate-300">
        <span className="font-semibold text-slate-200">
          {formatCount(counts.normal)} normal · {formatCount(counts.anomalies)} anomalous
          {counts.offScale > 0 ? ` · ${formatCount(counts.offScale)} off-scale, on the edge` : ""}.
        </span>{" "}
        A projection of the model&apos;s benign training space: it shows where windows fall, it does
        not decide anything. The score does.
      </p>
    </Panel>
  );
}
