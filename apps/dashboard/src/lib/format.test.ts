import { describe, expect, it } from "vitest";
import {
  formatBytes,
  formatCount,
  formatLineRange,
  formatPercent,
  formatRate,
  formatRatio,
  formatScore,
  formatSignal,
  formatTopFeature,
  formatTopVictim,
  formatUtcDateTime,
  formatVersusTypical,
  NO_VALUE,
} from "./format.ts";
import { windowResult } from "../test-fixtures.ts";

describe("format", () => {
  it("groups counts and compacts very large ones", () => {
    expect(formatCount(0)).toBe("0");
    expect(formatCount(1_234_567)).toBe("1,234,567");
    expect(formatCount(12_300_000)).toBe("12.3M");
    expect(formatCount(null)).toBe(NO_VALUE);
    expect(formatCount(Number.NaN)).toBe(NO_VALUE);
  });

  it("prints scores with four decimals so a score and its threshold never look equal", () => {
    expect(formatScore(-0.056814947999275965)).toBe("-0.0568");
    expect(formatScore(-0.05695)).toBe("-0.0570");
    expect(formatScore(0.1)).toBe("0.1000");
    expect(formatScore(-0.00001)).toBe("0.0000");
    expect(formatScore(null)).toBe(NO_VALUE);
  });

  it("prints rates whole, compact above ten thousand", () => {
    expect(formatRate(1234.6)).toBe("1,235/s");
    expect(formatRate(48_250, "")).toBe("48.3K");
    expect(formatRate(undefined)).toBe(NO_VALUE);
  });

  it("prints ratios and percentages with fixed decimals", () => {
    expect(formatPercent(0.6571997)).toBe("65.7%");
    expect(formatPercent(0.01002, 2)).toBe("1.00%");
    expect(formatRatio(6 / 7)).toBe("0.857");
    expect(formatRatio(null)).toBe(NO_VALUE);
  });

  it("keeps window signals short", () => {
    expect(formatSignal(0.0234)).toBe("0.02");
    expect(formatSignal(120.5)).toBe("121");
    expect(formatSignal(25_000)).toBe("25K");
    expect(formatSignal(null)).toBe(NO_VALUE);
  });

  it("prints sizes, line ranges and UTC times", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(3 * 1024 * 1024)).toBe("3.0 MiB");
    expect(formatLineRange(2, 51)).toBe("lines 2–51");
    expect(formatLineRange(7, 7)).toBe("line 7");
    expect(formatUtcDateTime("2026-11-23T04:05:00.000Z")).toBe("2026-11-23 04:05 UTC");
    expect(formatUtcDateTime("not a date")).toBe("not a date");
  });
});

describe("window findings", () => {
  const w = windowResult({
    anomaly: true,
    victims: [{ ip: "192.168.10.50", flows: 48 }],
    ports: [{ port: 80, protocol: 6, flows: 50 }],
    explanation: [
      { feature: "Flow Packets/s", statistic: "max", value: 41_000, typical: 1000, weight: 0.4 },
    ],
  });

  it("names the top victim with its port and protocol", () => {
    expect(formatTopVictim(w)).toBe("192.168.10.50:80/TCP");
    expect(formatTopVictim(windowResult())).toBeNull();
  });

  it("says the top feature in a few words", () => {
    expect(formatTopFeature(w)).toBe("Flow Packets/s max 41× typical");
    expect(formatVersusTypical(1_454_267, 0)).toBe("1.5M vs typical 0.00");
    expect(formatVersusTypical(5, 2)).toBe("2.5× typical");
  });
});
