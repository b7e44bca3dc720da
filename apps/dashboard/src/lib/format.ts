/**
 * How numbers read on the dashboard. Counters must be legible across a room and must not jitter,
 * so every formatter has a fixed precision and a placeholder for "no value yet".
 */

/** Shown where a value does not exist yet (no window scored, no model). */
export const NO_VALUE = "—";

import type { WindowResult } from "@floodwatch/core/stream-contracts";

const grouped = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat("en-US", {
  notation: "compact",
  maximumFractionDigits: 1,
});

/** A count: grouped digits up to ten million, then compact (`12.3M`). */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return NO_VALUE;
  return Math.abs(n) < 10_000_000 ? grouped.format(n) : compact.format(n);
}

/**
 * A decision score. Four decimals: thresholds sit near zero (the default model's is -0.0568), so
 * fewer digits would print a score and the threshold it crossed as the same number.
 */
export function formatScore(score: number | null | undefined): string {
  if (score === null || score === undefined || !Number.isFinite(score)) return NO_VALUE;
  const text = score.toFixed(4);
  // -0.0000 would suggest a sign that rounding erased.
  return text === "-0.0000" ? "0.0000" : text;
}

/** A rate per second: whole numbers below 10,000, compact above (`12.3k/s`). */
export function formatRate(perSecond: number | null | undefined, unit = "/s"): string {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return NO_VALUE;
  const value = perSecond < 10_000 ? grouped.format(perSecond) : compact.format(perSecond);
  return `${value}${unit}`;
}

/** A ratio as a percentage (`0.657` -> `65.7%`). */
export function formatPercent(ratio: number | null | undefined, digits = 1): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return NO_VALUE;
  return `${(ratio * 100).toFixed(digits)}%`;
}

/** A ratio in [0, 1] with three decimals, for precision, recall and F1. */
export function formatRatio(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return NO_VALUE;
  return ratio.toFixed(3);
}

/** A window's signal value (mean packets/s, mean SYN count), compact so the log stays aligned. */
export function formatSignal(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return NO_VALUE;
  const magnitude = Math.abs(value);
  if (magnitude >= 10_000) return compact.format(value);
  if (magnitude >= 100) return grouped.format(value);
  return value.toFixed(2);
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** Local wall-clock time of an instant, `HH:MM:SS`. */
export function formatClock(epochMs: number): string {
  const d = new Date(epochMs);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** An ISO timestamp as `YYYY-MM-DD HH:MM UTC`; the input itself when it does not parse. */
export function formatUtcDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return (
    `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())} UTC`
  );
}

/** A byte size in binary units (`1.5 MiB`). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return NO_VALUE;
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The CSV lines a window covers (`lines 2–51`). */
export function formatLineRange(firstLine: number, lastLine: number): string {
  return firstLine === lastLine ? `line ${firstLine}` : `lines ${firstLine}–${lastLine}`;
}

/** A short form of an upload id for narrow places. */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

/** IANA names of the protocols CIC files carry; others print as their number. */
const PROTOCOL_NAMES: Readonly<Record<number, string>> = { 1: "ICMP", 6: "TCP", 17: "UDP" };

/** A port and protocol, `80/TCP`; the port alone when the protocol is unknown. */
export function formatPort(port: number, protocol: number | null): string {
  if (protocol === null) return String(port);
  return `${port}/${PROTOCOL_NAMES[protocol] ?? `proto ${protocol}`}`;
}

/**
 * A window's top victim with its top port, `192.168.10.50:80/TCP`, or null when the upload has
 * no destination column.
 */
export function formatTopVictim(w: WindowResult): string | null {
  const victim = w.victims?.[0];
  if (victim === undefined) return null;
  const port = w.ports?.[0];
  return port === undefined ? victim.ip : `${victim.ip}:${formatPort(port.port, port.protocol)}`;
}

/** How far a value is from its typical value, in a few characters: `41×`, `0.02×`, `+3.1k`. */
export function formatVersusTypical(value: number, typical: number): string {
  if (typical !== 0 && Math.sign(value) === Math.sign(typical)) {
    const ratio = value / typical;
    const text = ratio >= 10 ? compact.format(Math.round(ratio)) : ratio.toPrecision(2);
    return `${text}× typical`;
  }
  // A ratio to zero means nothing: say the value and the typical one instead.
  return `${formatSignal(value)} vs typical ${formatSignal(typical)}`;
}

/** The dimension that drove the score most, `Flow Packets/s max 41× typical`, or null. */
export function formatTopFeature(w: WindowResult): string | null {
  const top = w.explanation?.[0];
  if (top === undefined) return null;
  const statistic = top.statistic === "value" ? "" : ` ${top.statistic}`;
  return `${top.feature}${statistic} ${formatVersusTypical(top.value, top.typical)}`;
}

/** The traffic time of a window when its upload has timestamps, else null. */
export function trafficTime(w: WindowResult): number | null {
  if (w.start === null) return null;
  const ms = Date.parse(w.start);
  return Number.isNaN(ms) ? null : ms;
}

/** A UTC instant with seconds, `2017-07-07 19:06:02 UTC`. */
export function formatUtcSeconds(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${formatUtcDateTime(iso).slice(0, -4)}:${pad2(d.getUTCSeconds())} UTC`;
}
