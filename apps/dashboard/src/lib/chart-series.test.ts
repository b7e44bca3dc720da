import type { WindowResult } from "@floodwatch/core/stream-contracts";
import { describe, expect, it } from "vitest";
import { windowResult } from "../test-fixtures.ts";
import { CappedHistory } from "./capped-history.ts";
import { scatterSeries, timelineSeries } from "./chart-series.ts";
import { windowKey } from "./live-store.ts";

function historyOf(windows: WindowResult[], capacity = 100) {
  const h = new CappedHistory(capacity, windowKey);
  h.pushAll(windows);
  return h;
}

describe("chart series", () => {
  it("splits the scatter into normal and anomalous points on PC1/PC2", () => {
    const h = historyOf([
      windowResult({ window: 0 }),
      windowResult({ window: 1, anomaly: true }),
      windowResult({ window: 2, pc1: Number.NaN }),
      windowResult({ window: 3 }),
    ]);
    const { normal, anomalies } = scatterSeries(h);
    expect(normal.map((p) => p.w.window)).toEqual([0, 3]);
    expect(anomalies).toHaveLength(1);
    expect(anomalies[0]).toMatchObject({ x: 4, y: -2 });
  });

  it("orders one upload's timeline by window number", () => {
    const h = historyOf([2, 0, 1].map((w) => windowResult({ window: w, anomaly: w === 1 })));
    const series = timelineSeries(h, "window");
    expect(series.scores.map((p) => p.x)).toEqual([0, 1, 2]);
    expect(series.anomalies.map((p) => p.x)).toEqual([1]);
    expect([series.xMin, series.xMax]).toEqual([0, 2]);
  });

  it("numbers the arrival timeline on from the windows already dropped", () => {
    const h = historyOf(
      [0, 1, 2, 3, 4].map((w) => windowResult({ window: w })),
      3,
    );
    const series = timelineSeries(h, "arrival");
    expect(series.scores.map((p) => p.x)).toEqual([2, 3, 4]);
  });

  it("gives an empty or single-point timeline a non-empty x range", () => {
    expect(timelineSeries(historyOf([]), "arrival")).toMatchObject({ xMin: 0, xMax: 1 });
    const one = timelineSeries(historyOf([windowResult({ window: 5 })]), "window");
    expect([one.xMin, one.xMax]).toEqual([5, 6]);
  });
});

describe("scatter clipping", () => {
  it("keeps the axes on the bulk and puts a far-out window on the edge", () => {
    const windows = Array.from({ length: 100 }, (_, i) =>
      windowResult({ window: i, pc1: (i % 10) - 5, pc2: Math.floor(i / 10) - 5 }),
    );
    windows.push(windowResult({ window: 100, anomaly: true, pc1: 1, pc2: 90_000_000 }));
    const series = scatterSeries(historyOf(windows, 200));
    expect(series.y.max).toBeLessThan(20);
    expect(series.offScale).toHaveLength(1);
    expect(series.offScale[0]).toMatchObject({ x: 1, y: series.y.max });
    expect(series.offScale[0]!.w.pc2).toBe(90_000_000);
    expect(series.normal).toHaveLength(100);
  });
});

describe("traffic-time timeline", () => {
  it("plots an upload's windows at their traffic time when every window has one", () => {
    const at = (w: number) => new Date(Date.UTC(2017, 6, 7, 19, 0, w)).toISOString();
    const h = historyOf([
      windowResult({ window: 1, start: at(10) }),
      windowResult({ window: 0, start: at(5) }),
    ]);
    const series = timelineSeries(h, "window");
    expect(series.axis).toBe("traffic");
    expect(series.scores.map((p) => p.x)).toEqual([Date.parse(at(5)), Date.parse(at(10))]);
    const mixed = historyOf([
      windowResult({ window: 0, start: at(5) }),
      windowResult({ window: 1 }),
    ]);
    expect(timelineSeries(mixed, "window").axis).toBe("window");
  });
});
