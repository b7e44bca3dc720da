import { describe, expect, it } from "vitest";
import { allocateFlowContext, sliceFlowContext, type FlowContext } from "./flow-context.ts";
import {
  WINDOW_CONTEXT_FEATURES,
  WindowContextAggregator,
  type WindowContextBatch,
} from "./window-context.ts";

const ALL = { dstIp: true, srcIp: true, dstPort: true, protocol: true, timestamp: true };

/**
 * Flows 0..n-1: destination `victim` for flows with i % 4 != 3, else `other-{i % 3}`; source
 * `src-{i}` (all distinct, as a spoofed flood); port 80/TCP except every fifth flow 53/UDP; time
 * 1000 * i ms.
 */
function flows(n: number): FlowContext {
  const c = allocateFlowContext(ALL, n);
  for (let i = 0; i < n; i++) {
    const dst = i % 4 !== 3 ? "victim" : `other-${i % 3}`;
    let code = c.strings.indexOf(dst);
    if (code < 0) code = c.strings.push(dst) - 1;
    c.dstIp[i] = code;
    c.srcIp[i] = c.strings.push(`src-${i}`) - 1;
    c.dstPort[i] = i % 5 === 4 ? 53 : 80;
    c.protocol[i] = i % 5 === 4 ? 17 : 6;
    c.time[i] = 1000 * i;
  }
  return c;
}

describe("WindowContextAggregator", () => {
  it("reports each window's time range, top victims, sources and ports, however flows arrive", () => {
    const all = flows(200);
    for (const piece of [7, 50, 200]) {
      const aggregator = new WindowContextAggregator({ size: 20, stride: 10 }, { keepCodes: true });
      const windows = [];
      for (let at = 0; at < 200; at += piece) {
        const n = Math.min(piece, 200 - at);
        const out = aggregator.push(sliceFlowContext(all, at, n), n);
        for (let w = 0; w < out.count; w++) {
          windows.push({
            start: out.start[w],
            end: out.end[w],
            victims: out.victims![w],
            sources: out.sources![w],
            ports: out.ports![w],
            features: Array.from(out.features.subarray(w * 5, w * 5 + 5)),
          });
        }
      }
      expect(windows).toHaveLength(19);
      const second = windows[1]!; // flows 10..29
      expect(second.start).toBe(10_000);
      expect(second.end).toBe(29_000);
      // Flows 10..29: i % 4 == 3 at 11, 15, 19, 23, 27 -> others 2, 0, 1, 2, 0.
      expect(second.victims).toEqual([
        { ip: "victim", flows: 15 },
        // A tie goes to the smaller address text.
        { ip: "other-0", flows: 2 },
        { ip: "other-2", flows: 2 },
      ]);
      expect(second.sources!.distinct).toBe(20);
      expect(second.sources!.top).toHaveLength(3);
      expect(second.ports).toEqual([
        { port: 80, protocol: 6, flows: 16 },
        { port: 53, protocol: 17, flows: 4 },
      ]);
      const [dstEntropy, srcEntropy, portEntropy, topShare, distinct] = second.features;
      const h = (counts: number[]) => -counts.reduce((s, n) => s + (n / 20) * Math.log2(n / 20), 0);
      expect(dstEntropy).toBeCloseTo(h([15, 2, 2, 1]), 12);
      expect(srcEntropy).toBeCloseTo(Math.log2(20), 12);
      expect(portEntropy).toBeCloseTo(h([16, 4]), 12);
      expect(topShare).toBe(0.75);
      expect(distinct).toBe(20);
    }
    expect(WINDOW_CONTEXT_FEATURES).toHaveLength(5);
  });

  it("gives no times to a window with an unparsed timestamp, and null columns the file lacks", () => {
    const c = allocateFlowContext(
      { dstIp: true, srcIp: false, dstPort: true, protocol: false, timestamp: true },
      4,
    );
    c.strings.push("10.0.0.1");
    c.dstIp.set([0, 0, -1, 0]);
    c.srcIp.fill(-1);
    c.dstPort.set([443, 443, 443, -1]);
    c.protocol.fill(-1);
    c.time.set([5, Number.NaN, 7, 8]);
    const out = new WindowContextAggregator({ size: 2, stride: 2 }).push(c, 4);
    expect(Array.from(out.start)).toEqual([Number.NaN, 7]);
    expect(Array.from(out.end)).toEqual([Number.NaN, 8]);
    expect(out.sources).toBeNull();
    expect(out.victims).toEqual([[{ ip: "10.0.0.1", flows: 2 }], [{ ip: "10.0.0.1", flows: 1 }]]);
    expect(out.ports).toEqual([
      [{ port: 443, protocol: null, flows: 2 }],
      [{ port: 443, protocol: null, flows: 1 }],
    ]);
  });

  it("keeps its dictionary bounded under a spoofed flood", () => {
    const aggregator = new WindowContextAggregator({ size: 50, stride: 50 });
    const outs: WindowContextBatch[] = [];
    for (let k = 0; k < 100; k++) {
      const c = allocateFlowContext(ALL, 100);
      for (let i = 0; i < 100; i++) {
        c.dstIp[i] = 0;
        c.srcIp[i] = i + 1;
        c.time[i] = k * 100 + i;
      }
      c.strings.push("victim", ...Array.from({ length: 100 }, (_, i) => `s-${k}-${i}`));
      outs.push(aggregator.push(c, 100));
    }
    const last = outs[99]!;
    expect(last.sources![1]!.distinct).toBe(50);
    expect(last.sources![1]!.top[0]).toEqual({ ip: "s-99-50", flows: 1 });
    expect(last.victims![1]).toEqual([{ ip: "victim", flows: 50 }]);
  });
});
