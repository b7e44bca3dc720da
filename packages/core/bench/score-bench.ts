/**
 * `pnpm bench:core`: single-process throughput of scoring CICFlowMeter CSV, parse included,
 * at stride 50 and stride 1, plus the parser alone and csv-parse for comparison, and peak RSS.
 * At stride 50 also the same flows with their who/when columns unread (what context costs) and
 * with anomalous windows explained (what `floodwatch score` does by default), each the faster of
 * two runs, and the explainer alone on the first 5,000 windows (CPU per window, best of five).
 *
 *   pnpm bench:core [--flows 1000000] [--strides 50,1]
 */
import { parseArgs } from "node:util";
import { parse } from "csv-parse";
import {
  DEFAULT_FEATURES,
  FlowCsvReader,
  TOOL_VERSION,
  TrainingFlows,
  explainerFor,
  scoreFlowCsv,
  windowFindings,
  type ExplainMode,
  trainModel,
  type FloodwatchModel,
} from "../src/index.ts";
import {
  corpusFlows,
  loadBenchCorpus,
  repeatCorpus,
  withoutContextColumns,
  type BenchCorpus,
} from "./bench-data.ts";

const { values } = parseArgs({
  options: {
    flows: { type: "string", default: "1000000" },
    strides: { type: "string", default: "50,1" },
  },
});
const strides = new Set(values.strides.split(",").map(Number));
const requestedFlows = Number(values.flows);

const corpus = loadBenchCorpus();
const flows = corpusFlows(corpus, requestedFlows);
const mb = (bytes: number) => bytes / 1e6;
const streamBytes = corpus.header.length + (flows / corpus.bodyFlows) * corpus.body.length;

function train(stride: number, trainStride: number): FloodwatchModel {
  const reader = new FlowCsvReader({ features: DEFAULT_FEATURES });
  const training = new TrainingFlows(DEFAULT_FEATURES.length);
  for (const batch of [...reader.push(corpus.benignTraining), ...reader.end()]) training.add(batch);
  training.endSequence();
  return trainModel(training, {
    features: DEFAULT_FEATURES,
    window: { size: 50, stride },
    trainStride,
    createdAt: new Date(0).toISOString(),
    toolVersion: TOOL_VERSION,
    contentHash: "bench",
    sources: ["bench"],
  });
}

function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

function benchParser(): number {
  const reader = new FlowCsvReader({ features: DEFAULT_FEATURES });
  const started = performance.now();
  for (const chunk of repeatCorpus(corpus, requestedFlows)) reader.push(chunk);
  reader.end();
  return reader.stats.rowsAccepted / ((performance.now() - started) / 1000);
}

async function benchCsvParse(sample: BenchCorpus, rows: number): Promise<number> {
  const parser = parse({ relax_column_count: true });
  let seen = 0;
  parser.on("data", () => seen++);
  const done = new Promise((resolve) => parser.on("end", resolve));
  const started = performance.now();
  for (const chunk of repeatCorpus(sample, rows)) {
    if (!parser.write(chunk)) await new Promise((resolve) => parser.once("drain", resolve));
  }
  parser.end();
  await done;
  return (seen - 1) / ((performance.now() - started) / 1000);
}

type ScoreRun = Awaited<ReturnType<typeof benchScore>>;

async function benchScore(
  model: FloodwatchModel,
  input: BenchCorpus = corpus,
  explain: ExplainMode = "none",
) {
  const started = performance.now();
  let windows = 0;
  const explainer = explain === "none" ? null : explainerFor(model);
  const summary = await scoreFlowCsv(repeatCorpus(input, requestedFlows), model, (scored) => {
    windows += scored.scores.count;
    // As `floodwatch score` does: every window's findings, explained under `explain`.
    if (explainer !== null) {
      for (let w = 0; w < scored.scores.count; w++) windowFindings(scored, w, explain, explainer);
    }
  });
  const seconds = (performance.now() - started) / 1000;
  return {
    flowsPerSecond: summary.stats.rowsAccepted / seconds,
    windowsPerSecond: windows / seconds,
    windows,
    anomalies: summary.anomalies,
    seconds,
  };
}

/** Windows {@link benchExplain} explains per round. */
const EXPLAIN_WINDOWS = 5_000;

/**
 * CPU time of `WindowExplainer.explain` alone, per window, best of five rounds over the first
 * {@link EXPLAIN_WINDOWS} windows of the corpus: the explanation's own cost, without the noise of
 * subtracting two whole-run throughputs.
 */
async function benchExplain(model: FloodwatchModel): Promise<{ micros: number; windows: number }> {
  const rows: Float64Array[] = [];
  let width = 0;
  let windows = 0;
  const enough = EXPLAIN_WINDOWS * model.window.stride + model.window.size;
  await scoreFlowCsv(repeatCorpus(corpus, Math.min(requestedFlows, enough)), model, (scored) => {
    const take = Math.min(scored.windows.count, EXPLAIN_WINDOWS - windows);
    if (take <= 0) return;
    width = scored.windows.width;
    rows.push(scored.windows.features.slice(0, take * width));
    windows += take;
  });
  const explainer = explainerFor(model);
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const started = process.cpuUsage();
    for (const row of rows) {
      for (let offset = 0; offset < row.length; offset += width) explainer.explain(row, offset);
    }
    const used = process.cpuUsage(started);
    best = Math.min(best, (used.user + used.system) / windows);
  }
  return { micros: best, windows };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(`floodwatch core benchmark — ${corpus.description}`);
console.log(
  `${fmt(flows)} flows, ${mb(streamBytes).toFixed(0)} MB of CSV, one process, node ${process.version}`,
);
console.log("");

const parserRate = benchParser();
console.log(
  `parse only (FlowCsvReader)      ${fmt(parserRate)} flows/s  (${mb((parserRate / flows) * streamBytes).toFixed(0)} MB/s)`,
);
const csvParseRows = Math.min(100_000, requestedFlows);
const csvParseRate = await benchCsvParse(corpus, csvParseRows);
console.log(
  `parse only (csv-parse, ${fmt(corpusFlows(corpus, csvParseRows))} rows) ${fmt(csvParseRate)} rows/s`,
);

/** The faster of two runs: the first also pays for compiling the scoring path. */
async function bestOfTwo(run: () => Promise<ScoreRun>): Promise<ScoreRun> {
  const first = await run();
  const second = await run();
  return second.seconds < first.seconds ? second : first;
}

for (const [stride, trainStride] of [
  [50, 10],
  [1, 5],
] as const) {
  if (!strides.has(stride)) continue;
  const model = train(stride, trainStride);
  const result = stride === 50 ? await bestOfTwo(() => benchScore(model)) : await benchScore(model);
  console.log(
    `score, window 50 stride ${String(stride).padEnd(2)}      ${fmt(result.flowsPerSecond)} flows/s  ` +
      `${fmt(result.windowsPerSecond)} windows/s  ${fmt(result.windows)} windows, ` +
      `${fmt(result.anomalies)} anomalous, ${result.seconds.toFixed(2)} s`,
  );
  if (stride === 50) {
    // The same flows with the who/when columns unread: what carrying context costs.
    const bare = await bestOfTwo(() => benchScore(model, withoutContextColumns(corpus)));
    console.log(
      `  same, who/when columns unread  ${fmt(bare.flowsPerSecond)} flows/s  ` +
        `(context costs ${(100 * (1 - result.flowsPerSecond / bare.flowsPerSecond)).toFixed(1)} %)`,
    );
    // As `floodwatch score` runs by default: anomalous windows explained.
    const explained = await bestOfTwo(() => benchScore(model, corpus, "anomalies"));
    console.log(
      `  same, anomalies explained      ${fmt(explained.flowsPerSecond)} flows/s  ` +
        `(${fmt(explained.anomalies)} explanations, ` +
        `${(((explained.seconds - result.seconds) / explained.anomalies) * 1e6).toFixed(1)} µs each)`,
    );
    const alone = await benchExplain(model);
    console.log(
      `  explanation alone              ${alone.micros.toFixed(1)} µs CPU per window ` +
        `(best of 5 over ${fmt(alone.windows)} windows)`,
    );
  }
}
console.log(`peak RSS                         ${peakRssMb().toFixed(0)} MB`);
