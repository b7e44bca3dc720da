/** The counters strip: which numbers it shows for the current selection, and how they read. */
import type { Summary, UploadStatus } from "@floodwatch/core/stream-contracts";
import { formatCount, formatRate, formatScore } from "./format.ts";

/** How a counter should stand out. */
export type CounterTone = "plain" | "alert" | "warn";

/** One counter tile. */
export interface Counter {
  /** Stable id, also the test id suffix (`counter-<key>`). */
  key: string;
  label: string;
  /** The raw value, exposed for tests and tooltips; null before any data. */
  value: number | null;
  text: string;
  tone: CounterTone;
  /** Whether the number is the selected upload's own or the whole system's. */
  scope: "upload" | "system";
}

/**
 * Counters for the whole system (`upload` null) or one upload. Per-upload figures replace the
 * global ones where the upload has them; threshold, rate, backlog and detectors stay global.
 * Dead letters appear only when there are some.
 */
export function countersOf(summary: Summary | null, upload: UploadStatus | null): Counter[] {
  const scope = upload === null ? "system" : "upload";
  const anomalies = upload?.anomalies ?? summary?.anomalies ?? null;
  const windowsScored = upload?.windowsScored ?? summary?.windowsScored ?? null;
  const lastScore = upload === null ? (summary?.lastScore ?? null) : upload.lastScore;
  const worstScore = upload === null ? (summary?.worstScore ?? null) : upload.worstScore;
  const deadLetters = upload?.deadLetters ?? summary?.deadLetters ?? 0;
  const threshold = summary?.threshold ?? summary?.model?.threshold ?? null;
  const backlog = summary?.backlog ?? null;
  const detectors = summary?.detectors.active ?? null;

  const counters: Counter[] = [
    {
      key: "anomalies",
      label: "Anomalies",
      value: anomalies,
      text: formatCount(anomalies),
      tone: anomalies !== null && anomalies > 0 ? "alert" : "plain",
      scope,
    },
    {
      key: "threshold",
      label: "Alert threshold",
      value: threshold,
      text: formatScore(threshold),
      tone: "plain",
      scope: "system",
    },
    {
      key: "last-score",
      label: "Last score",
      value: lastScore,
      text: formatScore(lastScore),
      tone: lastScore !== null && threshold !== null && lastScore < threshold ? "alert" : "plain",
      scope,
    },
    {
      key: "worst-score",
      label: "Worst score",
      value: worstScore,
      text: formatScore(worstScore),
      tone: worstScore !== null && threshold !== null && worstScore < threshold ? "alert" : "plain",
      scope,
    },
    {
      key: "windows-scored",
      label: "Windows scored",
      value: windowsScored,
      text: formatCount(windowsScored),
      tone: "plain",
      scope,
    },
    {
      key: "flows-per-second",
      label: "Flows/s now",
      value: summary?.flowsPerSecond ?? null,
      text: formatRate(summary?.flowsPerSecond ?? null, ""),
      tone: "plain",
      scope: "system",
    },
    {
      key: "backlog",
      label: "Backlog (entries)",
      value: backlog,
      text: formatCount(backlog),
      tone: backlog !== null && backlog > 0 ? "warn" : "plain",
      scope: "system",
    },
    {
      key: "detectors",
      label: "Active detectors",
      value: detectors,
      text: formatCount(detectors),
      tone: detectors === 0 ? "alert" : "plain",
      scope: "system",
    },
  ];
  if (deadLetters > 0) {
    counters.push({
      key: "dead-letters",
      label: "Dead letters",
      value: deadLetters,
      text: formatCount(deadLetters),
      tone: "alert",
      scope,
    });
  }
  return counters;
}
