/**
 * Window aggregation throughput: flows/s and per-push latency for tumbling (stride 50) and sliding
 * (stride 1) windows of 50 flows at 25 features over 2M seeded random flows.
 *
 *   pnpm exec tsx packages/core/bench/window-bench.ts
 */
import { createPrng } from "../src/prng.ts";
import { WindowAggregator, type FlowBatch, type WindowSpec } from "../src/window-aggregator.ts";

const FEATURES = 25;
const FLOWS = 2_000_000;
/** The CSV reader's default batch: what the aggregator is fed in production. */
const BATCH = 2048;
/** Two full runs before timing, so the measured run sees optimised code. */
const WARMUP_RUNS = 2;

type Distribution = "uniform" | "heavy-tailed";

function makeFlows(distribution: Distribution): Float64Array {
  const prng = createPrng(20240601);
  const values = new Float64Array(FLOWS * FEATURES);
  for (let i = 0; i < values.length; i++) {
    const u = prng.nextFloat();
    // Heavy-tailed is what CICFlowMeter rates look like (Flow Bytes/s spans 1e-3..1e9): 1% of
    // values are huge, so sliding windows keep losing outliers and recomputing exactly.
    values[i] = distribution === "uniform" ? u * 1000 : u < 0.01 ? 1e9 * prng.nextFloat() : u * 100;
  }
  return values;
}

function batches(values: Float64Array): FlowBatch[] {
  const out: FlowBatch[] = [];
  for (let start = 0; start < FLOWS; start += BATCH) {
    const count = Math.min(BATCH, FLOWS - start);
    const lines = new Uint32Array(count);
    for (let i = 0; i < count; i++) lines[i] = start + i + 2;
    out.push({
      count,
      featureCount: FEATURES,
      values: values.subarray(start * FEATURES, (start + count) * FEATURES),
      lines,
      attack: new Uint8Array(count),
    });
  }
  return out;
}

function run(spec: WindowSpec, input: FlowBatch[]): { seconds: number; pushMs: Float64Array } {
  const aggregator = new WindowAggregator(FEATURES, spec);
  const pushMs = new Float64Array(input.length);
  let checksum = 0;
  const start = process.hrtime.bigint();
  for (let b = 0; b < input.length; b++) {
    const t0 = process.hrtime.bigint();
    const windows = aggregator.push(input[b]!);
    pushMs[b] = Number(process.hrtime.bigint() - t0) / 1e6;
    checksum += windows.count;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  // Consuming the output keeps the work observable, so nothing can be optimised away.
  if (checksum !== aggregator.windowsClosed) throw new Error("window count mismatch");
  return { seconds, pushMs };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const cases: { name: string; spec: WindowSpec; distribution: Distribution }[] = [
  { name: "tumbling size 50 stride 50", spec: { size: 50, stride: 50 }, distribution: "uniform" },
  { name: "sliding  size 50 stride 1 ", spec: { size: 50, stride: 1 }, distribution: "uniform" },
  {
    name: "sliding  size 50 stride 1 ",
    spec: { size: 50, stride: 1 },
    distribution: "heavy-tailed",
  },
];

console.log(
  `${FLOWS.toLocaleString("en")} flows x ${FEATURES} features, batches of ${BATCH},` +
    ` node ${process.version}`,
);
const inputs = new Map<Distribution, FlowBatch[]>();
for (const { name, spec, distribution } of cases) {
  let input = inputs.get(distribution);
  if (input === undefined) {
    input = batches(makeFlows(distribution));
    inputs.set(distribution, input);
  }
  for (let i = 0; i < WARMUP_RUNS; i++) run(spec, input);
  const { seconds, pushMs } = run(spec, input);
  pushMs.sort();
  const flowsPerSecond = Math.round(FLOWS / seconds).toLocaleString("en");
  console.log(
    `${name} ${distribution.padEnd(12)} ${flowsPerSecond.padStart(11)} flows/s` +
      `  push p50 ${percentile(pushMs, 50).toFixed(3)} ms` +
      `  p99 ${percentile(pushMs, 99).toFixed(3)} ms` +
      `  max ${percentile(pushMs, 100).toFixed(3)} ms`,
  );
}
