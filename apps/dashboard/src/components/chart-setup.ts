/**
 * Chart.js, registered with only what the two charts use, and styled for the dark page. Streaming
 * data is never animated: every redraw is `update("none")`.
 */
import {
  Chart,
  Legend,
  LinearScale,
  LineElement,
  PointElement,
  ScatterController,
  Tooltip,
} from "chart.js";

Chart.register(ScatterController, LinearScale, PointElement, LineElement, Tooltip, Legend);
Chart.defaults.color = "#cbd5e1";
Chart.defaults.borderColor = "#334155";
Chart.defaults.font.family =
  'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans", Arial, sans-serif';
Chart.defaults.animation = false;
Chart.defaults.scale.grid.color = "#1e293b";

/** Colours of the two kinds of window, the same in both charts and the legend. */
export const CHART_COLOURS = {
  normal: "#38bdf8",
  anomaly: "#fb7185",
  threshold: "#facc15",
  score: "#94a3b8",
} as const;

export { Chart };
