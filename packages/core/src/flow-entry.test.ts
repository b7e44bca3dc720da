import { describe, expect, it } from "vitest";
import {
  decodeFlowEntry,
  encodeFlowEntry,
  FlowEntryBuilder,
  FlowEntryError,
  windowsPerEntry,
  type FlowEntry,
} from "./flow-entry.ts";
import { scoreFlowEntry } from "./flow-entry-scoring.ts";
import { allocateFlowContext, sliceFlowContext } from "./flow-context.ts";
import { FlowScoringSession } from "./flow-scoring.ts";
import { TrainingFlows, trainModel } from "./model-training.ts";
import { createPrng } from "./prng.ts";
import { windowCount, type FlowBatch, type WindowSpec } from "./window-aggregator.ts";

const FEATURES = ["Flow Duration", "Flow Packets/s", "SYN Flag Count"];

function flows(count: number, seed: number, attackFrom = Infinity): FlowBatch {
  const rng = createPrng(seed);
  const values = new Float64Array(count * 3);
  const attack = new Uint8Array(count);
  const lines = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const hostile = i >= attackFrom;
    values[i * 3] = hostile ? 5 + rng.nextFloat() : Math.exp(8 + 2 * rng.nextFloat());
    values[i * 3 + 1] = hostile ? 2e5 * (1 + rng.nextFloat()) : Math.exp(3 + rng.nextFloat());
    values[i * 3 + 2] = hostile || rng.nextFloat() < 0.05 ? 1 : 0;
    attack[i] = hostile ? 1 : 0;
    lines[i] = i + 2;
  }
  return { count, featureCount: 3, values, lines, attack };
}

/** Splits a batch into pieces of the given sizes, as a reader's batches would arrive. */
function pieces(batch: FlowBatch, size: number): FlowBatch[] {
  const out: FlowBatch[] = [];
  for (let at = 0; at < batch.count; at += size) {
    const n = Math.min(size, batch.count - at);
    out.push({
      count: n,
      featureCount: 3,
      values: batch.values.slice(at * 3, (at + n) * 3),
      lines: batch.lines.slice(at, at + n),
      attack: batch.attack.slice(at, at + n),
    });
  }
  return out;
}

function buildEntries(batch: FlowBatch, window: WindowSpec, perEntry: number, pieceSize = 333) {
  const builder = new FlowEntryBuilder({
    uploadId: "u1",
    featureCount: 3,
    window,
    windowsPerEntry: perEntry,
    modelVersion: "m1",
    labelled: true,
    now: () => 1_000,
  });
  const entries: FlowEntry[] = [];
  for (const piece of pieces(batch, pieceSize)) entries.push(...builder.push(piece));
  const last = builder.flush();
  if (last) entries.push(last);
  return { builder, entries };
}

function model(window: WindowSpec) {
  const training = new TrainingFlows(3);
  training.add(flows(3_000, 7));
  training.endSequence();
  return trainModel(training, {
    features: FEATURES,
    window,
    trainStride: Math.min(10, window.stride),
    createdAt: "2026-01-01T00:00:00.000Z",
    toolVersion: "test",
    contentHash: "sha256:test",
    sources: ["synthetic"],
  });
}

describe("FlowEntryBuilder", () => {
  it.each([
    { size: 50, stride: 50 },
    { size: 50, stride: 10 },
    { size: 50, stride: 1 },
  ])("cuts every window exactly once, with its left context, at %o", (window) => {
    const total = 2_017;
    const batch = flows(total, 1);
    const perEntry = windowsPerEntry(window, 400);
    const { builder, entries } = buildEntries(batch, window, perEntry);
    const expectedWindows = windowCount(total, window);
    let nextWindow = 0;
    for (const [seq, entry] of entries.entries()) {
      const { meta } = entry;
      expect(meta.seq).toBe(seq);
      expect(meta.firstWindow).toBe(nextWindow);
      expect(meta.flowCount).toBe((meta.windowCount - 1) * window.stride + window.size);
      // The entry's flows are exactly the sequence's flows from its first window on.
      const firstFlow = meta.firstWindow * window.stride;
      expect(entry.lines[0]).toBe(firstFlow + 2);
      expect(entry.lines[meta.flowCount - 1]).toBe(firstFlow + meta.flowCount - 1 + 2);
      expect([...entry.values.subarray(0, 3)]).toEqual([
        ...batch.values.subarray(firstFlow * 3, firstFlow * 3 + 3),
      ]);
      nextWindow += meta.windowCount;
    }
    expect(nextWindow).toBe(expectedWindows);
    expect(builder.windowsQueued).toBe(expectedWindows);
    expect(entries.slice(0, -1).every((e) => e.meta.windowCount === perEntry)).toBe(true);
    const covered = (expectedWindows - 1) * window.stride + window.size;
    expect(builder.tailFlows).toBe(total - covered);
  });

  it("keeps entries on the boundaries where sliding statistics re-anchor", () => {
    expect(windowsPerEntry({ size: 50, stride: 10 }, 500)).toBe(45);
    expect(windowsPerEntry({ size: 50, stride: 1 }, 2_000)).toBe(1_950);
    expect(windowsPerEntry({ size: 50, stride: 7 }, 100)).toBe(50);
    expect(windowsPerEntry({ size: 50, stride: 50 }, 2_000)).toBe(40);
    expect(() => buildEntries(flows(10, 1), { size: 50, stride: 10 }, 4)).toThrow(/multiple of 5/);
  });

  it("reports a short upload as tail flows and emits nothing", () => {
    const { builder, entries } = buildEntries(flows(49, 1), { size: 50, stride: 50 }, 10);
    expect(entries).toEqual([]);
    expect(builder.tailFlows).toBe(49);
  });
});

describe("scoreFlowEntry", () => {
  it.each([
    { size: 50, stride: 50 },
    { size: 50, stride: 10 },
    { size: 50, stride: 1 },
  ])("scores entries alone exactly as the whole sequence at %o", (window) => {
    const m = model(window);
    const batch = flows(3_000, 2, 1_500);
    const whole = new FlowScoringSession(m).push({
      ...batch,
      values: batch.values.slice(),
    });
    const { entries } = buildEntries(batch, window, windowsPerEntry(window, 500));
    const results = entries.flatMap((entry) => scoreFlowEntry(entry, m, { now: 5 }).results);
    expect(results.map((r) => r.window)).toEqual(results.map((_, i) => i));
    expect(results.map((r) => r.score)).toEqual([...whole.scores.decision]);
    expect(results.map((r) => r.firstLine)).toEqual([...whole.windows.firstLine]);
    expect(results.every((r) => r.modelVersion === m.version && r.receivedAt === 1_000)).toBe(true);
    const anomalies = results.filter((r) => r.anomaly).length;
    expect(anomalies).toBeGreaterThan(0);
    const tallies = entries.map((entry) => scoreFlowEntry(entry, m).tally);
    const tally = {
      windows: tallies.reduce((sum, t) => sum + t.windows, 0),
      anomalies: tallies.reduce((sum, t) => sum + t.anomalies, 0),
      flows: tallies.reduce((sum, t) => sum + t.flows, 0),
    };
    const covered = (results.length - 1) * window.stride + window.size;
    expect(tally).toEqual({ windows: results.length, anomalies, flows: covered });
  });

  it("refuses an entry the model cannot score", () => {
    const m = model({ size: 50, stride: 50 });
    const { entries } = buildEntries(flows(200, 3), { size: 50, stride: 10 }, 5);
    expect(() => scoreFlowEntry(entries[0]!, m)).toThrow(FlowEntryError);
    expect(() => scoreFlowEntry(entries[0]!, m)).toThrow(/window 50\/10/);
  });
});

describe("encodeFlowEntry / decodeFlowEntry", () => {
  const entry = () => buildEntries(flows(300, 4, 100), { size: 50, stride: 50 }, 3).entries[0]!;

  it("round-trips, also from unaligned buffers as Redis replies give them", () => {
    const original = entry();
    const encoded = encodeFlowEntry(original);
    // As ioredis gives them: Node Buffers at odd offsets inside one larger reply buffer.
    const unaligned = (bytes: Uint8Array) => {
      const padded = Buffer.alloc(bytes.byteLength + 1);
      padded.set(bytes, 1);
      return padded.subarray(1);
    };
    const decoded = decodeFlowEntry({
      meta: new TextEncoder().encode(encoded.meta),
      values: unaligned(encoded.values),
      lines: unaligned(encoded.lines),
      attack: unaligned(encoded.attack),
    });
    expect(decoded.meta).toEqual(original.meta);
    expect([...decoded.values]).toEqual([...original.values]);
    expect([...decoded.lines]).toEqual([...original.lines]);
    expect([...decoded.attack]).toEqual([...original.attack]);
  });

  it("carries line numbers in 4 bytes a flow, and still reads an entry queued with 8", () => {
    const original = entry();
    const encoded = encodeFlowEntry(original);
    expect(encoded.lines.byteLength).toBe(original.meta.flowCount * 4);
    const doubles = new Uint8Array(Float64Array.from(original.lines).buffer);
    const decoded = decodeFlowEntry({ ...encoded, lines: doubles });
    expect(decoded.lines).toBeInstanceOf(Uint32Array);
    expect([...decoded.lines]).toEqual([...original.lines]);
    expect(() => decodeFlowEntry({ ...encoded, lines: doubles.subarray(4) })).toThrow(
      /lines holds \d+ bytes, expected \d+/,
    );
  });

  it("says what is wrong with a damaged entry", () => {
    const encoded = encodeFlowEntry(entry());
    const decode = (patch: Partial<Record<keyof typeof encoded, unknown>>) => () =>
      decodeFlowEntry({ ...encoded, ...patch } as never);
    expect(decode({ attack: undefined })).toThrow(/lacks one of the fields/);
    expect(decode({ meta: "{not json" })).toThrow(/not JSON/);
    const meta = JSON.parse(encoded.meta);
    expect(decode({ meta: JSON.stringify({ ...meta, flowCount: 149 }) })).toThrow(
      /meta invalid at flowCount/,
    );
    expect(decode({ values: encoded.values.subarray(8) })).toThrow(/values holds \d+ bytes/);
    expect(decode({ attack: encoded.attack.subarray(1) })).toThrow(FlowEntryError);
  });
});

describe("flow entry context", () => {
  /** Flows whose destination is `dst-{i % 7}` and source a new address every flow (spoofed). */
  function withContext(batch: FlowBatch): FlowBatch {
    const n = batch.count;
    const context = allocateFlowContext(
      { dstIp: true, srcIp: true, dstPort: true, protocol: true, timestamp: true },
      n,
    );
    for (let i = 0; i < n; i++) {
      context.strings.push(`dst-${i % 7}`, `src-${i}`);
      context.dstIp[i] = 2 * i;
      context.srcIp[i] = 2 * i + 1;
      context.dstPort[i] = 80 + (i % 3);
      context.protocol[i] = i % 2 === 0 ? 6 : 17;
      context.time[i] = i === 5 ? Number.NaN : 1_500_000_000_000 + i;
    }
    return { ...batch, context };
  }

  it("travels through the builder and the stream encoding, flow for flow", () => {
    const all = withContext(flows(2_000, 3));
    const window = { size: 50, stride: 10 };
    const builder = new FlowEntryBuilder({
      uploadId: "u1",
      featureCount: 3,
      window,
      windowsPerEntry: windowsPerEntry(window, 400),
      modelVersion: "m1",
      labelled: true,
    });
    const entries: FlowEntry[] = [];
    for (let at = 0; at < all.count; at += 333) {
      const n = Math.min(333, all.count - at);
      entries.push(
        ...builder.push({
          count: n,
          featureCount: 3,
          values: all.values.slice(at * 3, (at + n) * 3),
          lines: all.lines.slice(at, at + n),
          attack: all.attack.slice(at, at + n),
          context: sliceFlowContext(all.context!, at, n),
        }),
      );
    }
    entries.push(builder.flush()!);
    for (const original of entries) {
      const encoded = encodeFlowEntry(original);
      const entry = decodeFlowEntry({ ...encoded, values: encoded.values.slice() });
      const c = entry.context!;
      const first = entry.meta.firstWindow * window.stride;
      // Each entry's dictionary holds only the addresses its own flows use.
      expect(c.strings.length).toBe(7 + entry.meta.flowCount);
      for (let i = 0; i < entry.meta.flowCount; i++) {
        const g = first + i;
        expect(c.strings[c.dstIp[i]!]).toBe(`dst-${g % 7}`);
        expect(c.strings[c.srcIp[i]!]).toBe(`src-${g}`);
        expect(c.dstPort[i]).toBe(80 + (g % 3));
        expect(c.protocol[i]).toBe(g % 2 === 0 ? 6 : 17);
        if (g === 5) expect(c.time[i]).toBeNaN();
        else expect(c.time[i]).toBe(1_500_000_000_000 + g);
      }
    }
  });

  it("refuses a context that does not fit the entry", () => {
    const entry = buildEntries(withContext(flows(200, 1)), { size: 50, stride: 50 }, 2, 200)
      .entries[0]!;
    const encoded = encodeFlowEntry({
      ...entry,
      context: sliceFlowContext(withContext(flows(200, 1)).context!, 0, 100),
    });
    expect(() =>
      decodeFlowEntry({
        ...encoded,
        context: encoded.context!.subarray(0, encoded.context!.length - 4),
      }),
    ).toThrow(/context holds fewer values than flows/);
  });
});
