/**
 * `pnpm bench:relay`: CPU per window of the results hop, before and after the API relays the
 * detector's JSON as it is (issue 11). Real windows: `../shared/data/cicids2017/friday-ddos.csv`,
 * `wednesday-dos.csv` and `train-benign-mon-tue-thu.csv` scored with the shipped model (explanations on anomalies, victims,
 * sources, ports, times), cut into entries of the pipeline's default size.
 *
 * - API, before: `JSON.parse` + `resultBatchSchema` per results entry, `JSON.stringify` of each
 *   `window` message of up to 500 windows.
 * - API, after: core's `decodeResultEntry` (cut the text by its lengths) and the message spliced.
 * - detector, before: `JSON.stringify` of the entry's results; after: `encodeResultEntry`
 *   (validation against the schema, then one `JSON.stringify` per window).
 *
 * Rounds alternate before and after, so a machine whose load changes slows both alike; the
 * figure is the median round.
 *
 *   pnpm bench:relay [--rounds 15]
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  FlowCsvReader,
  FlowEntryBuilder,
  decodeResultEntry,
  encodeResultEntry,
  parseModel,
  resultBatchSchema,
  scoreFlowEntry,
  windowsPerEntry,
  type FlowBatch,
  type FlowEntry,
  type ResultEntryFields,
  type WindowResult,
} from "@floodwatch/core";
import { defaultModelPath } from "@floodwatch/platform";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "15" },
  },
});
const ROUNDS = Number(args.rounds);
/** The pipeline's default entry size (INGEST_ENTRY_FLOWS). */
const ENTRY_FLOWS = 2_000;
/** The hub's MAX_BATCH_WINDOWS. */
const BATCH = 500;

const DATA = join(import.meta.dirname, "../../shared/data/cicids2017");
const FILES = ["friday-ddos.csv", "wednesday-dos.csv", "train-benign-mon-tue-thu.csv"];
/** Passes over all windows per measurement, so one measurement takes tens of ms. */
const PASSES = 10;

/** CPU µs per window of `scoreFlowEntry` itself, for scale. */
const scoring: number[] = [];

function scoredEntries(file: string): WindowResult[][] {
  const model = parseModel(readFileSync(defaultModelPath(), "utf8"));
  const reader = new FlowCsvReader({ features: model.features });
  const builder = new FlowEntryBuilder({
    uploadId: file,
    featureCount: model.features.length,
    window: model.window,
    windowsPerEntry: windowsPerEntry(model.window, ENTRY_FLOWS),
    modelVersion: model.version,
    labelled: true,
  });
  const entries: FlowEntry[] = [];
  const take = (batches: FlowBatch[]) => {
    for (const batch of batches) entries.push(...builder.push(batch));
  };
  take(reader.push(readFileSync(join(DATA, file))));
  take(reader.end());
  const last = builder.flush();
  if (last) entries.push(last);
  const score = () => entries.map((e) => scoreFlowEntry(e, model, { now: Date.now() }).results);
  const results = score();
  const windows = results.reduce((sum, r) => sum + r.length, 0);
  scoring.push(median(Array.from({ length: 5 }, () => microsPerWindow(score, windows))) * windows);
  return results;
}

function apiBefore(entries: readonly string[]): number {
  let bytes = 0;
  let pending: WindowResult[] = [];
  for (const text of entries) {
    pending.push(...resultBatchSchema.parse(JSON.parse(text)));
    if (pending.length >= BATCH) {
      bytes += JSON.stringify({ type: "window", windows: pending.slice(0, BATCH) }).length;
      pending = pending.slice(BATCH);
    }
  }
  return bytes + JSON.stringify({ type: "window", windows: pending }).length;
}

function apiAfter(entries: readonly ResultEntryFields[]): number {
  let bytes = 0;
  let pending: string[] = [];
  const message = (texts: string[]) => `{"type":"window","windows":[${texts.join(",")}]}`;
  for (const fields of entries) {
    pending.push(...decodeResultEntry((name) => fields[name]).texts);
    if (pending.length >= BATCH) {
      bytes += message(pending.slice(0, BATCH)).length;
      pending = pending.slice(BATCH);
    }
  }
  return bytes + message(pending).length;
}

function microsPerWindow(run: () => unknown, windows: number): number {
  const started = process.cpuUsage();
  for (let pass = 0; pass < PASSES; pass++) run();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / (windows * PASSES);
}

function median(values: number[]): number {
  return values.sort((a, b) => a - b)[values.length >> 1]!;
}

const results = FILES.flatMap(scoredEntries);
const windows = results.reduce((sum, r) => sum + r.length, 0);
const encoded = results.map((r) => encodeResultEntry(r));
const texts = encoded.map((e) => e.windows);
if (apiBefore(texts) !== apiAfter(encoded)) throw new Error("the two relays differ in bytes");

const figures = { apiBefore: [], apiAfter: [], detBefore: [], detAfter: [] } as Record<
  "apiBefore" | "apiAfter" | "detBefore" | "detAfter",
  number[]
>;
for (let round = 0; round < ROUNDS + 2; round++) {
  const warm = round < 2;
  const a = microsPerWindow(() => apiBefore(texts), windows);
  const b = microsPerWindow(() => apiAfter(encoded), windows);
  const c = microsPerWindow(() => results.map((r) => JSON.stringify(r)), windows);
  const d = microsPerWindow(() => results.map((r) => encodeResultEntry(r)), windows);
  if (warm) continue;
  figures.apiBefore.push(a);
  figures.apiAfter.push(b);
  figures.detBefore.push(c);
  figures.detAfter.push(d);
}
const anomalies = results.flat().filter((w) => w.anomaly).length;
const us = (n: number) => n.toFixed(2);
process.stdout.write(
  `${windows} windows (${anomalies} anomalous, explained) in ${results.length} entries; ` +
    `CPU µs per window, median of ${ROUNDS} alternating rounds\n` +
    `  API relay      before ${us(median(figures.apiBefore))}  after ${us(median(figures.apiAfter))}\n` +
    `  detector encode before ${us(median(figures.detBefore))}  after ${us(median(figures.detAfter))}\n` +
    `  (detector scoring, scoreFlowEntry: ${us(scoring.reduce((a, b) => a + b, 0) / windows)})\n`,
);
