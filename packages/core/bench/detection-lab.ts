/**
 * The detection lab behind `pnpm bench:detection` and the real-data test: how a model does on
 * traffic as it really mixes, not only on the dense attack runs the shared files were sampled as.
 *
 * - False alarms: BENIGN flows of days the model never saw (the BENIGN rows of
 *   `wednesday-dos.csv` and `friday-ddos.csv`, in time order) in blocks of 50 flows.
 * - Diluted attacks: the same blocks with k of their 50 flows (10, 20, 50, 100 %) replaced by real
 *   attack flows of one class, drawn at random (seeded) from the shared files.
 * - Surges: the same blocks with one rate or count feature multiplied by 10 or 100 in every flow.
 * - ROC AUC, precision and recall on the real Wednesday and Friday files, scored in file order.
 *
 * Everything goes through the serving path (`FlowScoringSession`), so what is measured is what
 * the detectors do. Without `../shared/data` the same table is built from generated traffic.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  DEFAULT_FEATURES,
  FlowCsvReader,
  FlowScoringSession,
  TrainingFlows,
  WindowEvaluation,
  createPrng,
  splitCsvLine,
  trainModel,
  type FloodwatchModel,
  type TrainingOptions,
} from "../src/index.ts";
import { generateFlowCsv, type AttackKind } from "../src/generator/index.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
/** The shared real data, beside the checkout. */
export const SHARED_DATA = resolve(repoRoot, "../shared/data");

/** Flows of one window, and of every block the lab builds. */
export const BLOCK = 50;
/** Attack densities measured, as shares of a block's flows. */
export const DENSITIES = [0.1, 0.2, 0.5, 1] as const;
/** Surge factors measured. */
export const SURGE_FACTORS = [10, 100] as const;
/**
 * Rate and count features surged. The other count features (RST, PSH, ACK) are 0 in most
 * benign flows, where a multiplied zero is no surge at all.
 */
export const SURGE_FEATURES = [
  "Flow Packets/s",
  "Flow Bytes/s",
  "Bwd Packets/s",
  "SYN Flag Count",
  "Total Fwd Packets",
  "Total Backward Packets",
  "Total Length of Fwd Packets",
  "Total Length of Bwd Packets",
] as const;
/** Draws of every benign block per (class, density) cell: 3 × 37 blocks ≈ 111 windows a cell. */
const DRAWS_PER_BLOCK = 3;

/** Flows as rows of `DEFAULT_FEATURES`, row-major. */
interface Flows {
  values: Float64Array;
  count: number;
}

/** What the lab runs on. */
export interface LabData {
  description: string;
  /** Benign training input (the bytes `floodwatch train` would read). */
  training: Uint8Array;
  /** Benign flows of other days, each run in time order (windows never span two runs). */
  benignRuns: Flows[];
  /** Attack flows by class. */
  attacks: Map<string, Flows>;
  /** Whole labelled files scored in order for ROC AUC, by name. */
  days: Map<string, Uint8Array>;
}

const featureCount = DEFAULT_FEATURES.length;

/** Reads a CSV into flows with their labels (the reader gives numbers; labels come from lines). */
function readLabelledFlows(bytes: Uint8Array): { flows: Flows; labels: string[] } {
  const text = Buffer.from(bytes).toString("utf8");
  const lines = text.split("\n");
  const header = splitCsvLine(lines[0]!.replace(/\r$/, ""));
  const labelColumn = header.findIndex((h) => h.trim().toLowerCase() === "label");
  const reader = new FlowCsvReader({ features: DEFAULT_FEATURES });
  const batches = [...reader.push(bytes), ...reader.end()];
  const count = batches.reduce((n, b) => n + b.count, 0);
  const values = new Float64Array(count * featureCount);
  const labels: string[] = [];
  let row = 0;
  for (const batch of batches) {
    values.set(batch.values.subarray(0, batch.count * featureCount), row * featureCount);
    for (let i = 0; i < batch.count; i++) {
      const line = lines[batch.lines[i]! - 1]!.replace(/\r$/, "");
      labels.push(labelColumn >= 0 ? splitCsvLine(line)[labelColumn]!.trim() : "BENIGN");
    }
    row += batch.count;
  }
  return { flows: { values, count }, labels };
}

function select(flows: Flows, keep: (i: number) => boolean): Flows {
  const rows: number[] = [];
  for (let i = 0; i < flows.count; i++) if (keep(i)) rows.push(i);
  const values = new Float64Array(rows.length * featureCount);
  rows.forEach((r, k) =>
    values.set(flows.values.subarray(r * featureCount, (r + 1) * featureCount), k * featureCount),
  );
  return { values, count: rows.length };
}

function addDay(data: LabData, name: string, bytes: Uint8Array): void {
  const { flows, labels } = readLabelledFlows(bytes);
  const benign = (i: number) => labels[i]!.toUpperCase() === "BENIGN";
  data.benignRuns.push(select(flows, benign));
  for (const label of new Set(labels)) {
    if (label.toUpperCase() === "BENIGN") continue;
    data.attacks.set(
      label,
      select(flows, (i) => labels[i] === label),
    );
  }
  data.days.set(name, bytes);
}

/** The real CIC-IDS2017 data when `../shared/data` is present, generated traffic otherwise. */
export function loadLabData(): LabData {
  const dir = resolve(SHARED_DATA, "cicids2017");
  const data: LabData = {
    description: "",
    training: new Uint8Array(),
    benignRuns: [],
    attacks: new Map(),
    days: new Map(),
  };
  if (existsSync(resolve(dir, "train-benign-mon-tue-thu.csv"))) {
    data.description =
      "CIC-IDS2017 (../shared/data): trained on train-benign-mon-tue-thu.csv; other-day benign and " +
      "attack flows from wednesday-dos.csv and friday-ddos.csv";
    data.training = readFileSync(resolve(dir, "train-benign-mon-tue-thu.csv"));
    addDay(data, "wednesday-dos.csv", readFileSync(resolve(dir, "wednesday-dos.csv")));
    addDay(data, "friday-ddos.csv", readFileSync(resolve(dir, "friday-ddos.csv")));
    return data;
  }
  process.stderr.write(`note: ${SHARED_DATA} is absent; the lab runs on generated traffic\n`);
  data.description =
    "generated traffic (../shared/data absent): trained on 20,000 generated benign flows";
  const generated = (flows: number, attack: AttackKind, seed: number) =>
    Buffer.from([...generateFlowCsv({ flows, attack, seed })].join(""));
  data.training = generated(20_000, "none", 101);
  const kinds: AttackKind[] = ["syn", "udp", "http", "slowloris"];
  kinds.forEach((kind, i) =>
    addDay(data, `generated-${kind}.csv`, generated(6_000, kind, 200 + i)),
  );
  return data;
}

/** A model configuration under test: training options on top of the lab's fixed ones. */
export type LabConfig = Partial<
  Omit<TrainingOptions, "createdAt" | "toolVersion" | "contentHash" | "sources">
>;

/** Trains a model on the lab's benign training input, as `floodwatch train` would. */
export function trainLabModel(data: LabData, config: LabConfig, seed: number): FloodwatchModel {
  const reader = new FlowCsvReader({ features: DEFAULT_FEATURES });
  const flows = new TrainingFlows(featureCount);
  for (const batch of [...reader.push(data.training), ...reader.end()]) flows.add(batch);
  flows.endSequence();
  return trainModel(flows, {
    features: DEFAULT_FEATURES,
    ...config,
    seed,
    createdAt: "2026-01-01T00:00:00.000Z",
    toolVersion: "lab",
    contentHash: "sha256:lab",
    sources: ["lab"],
  });
}

/** Flags and decision scores of consecutive 50-flow blocks, through the serving path. */
function scoreBlocks(model: FloodwatchModel, values: Float64Array, blocks: number) {
  const count = blocks * BLOCK;
  const session = new FlowScoringSession(model);
  const { scores } = session.push({
    count,
    featureCount,
    values: values.slice(0, count * featureCount),
    lines: new Uint32Array(count),
    attack: new Uint8Array(count),
  });
  return scores;
}

/** The benign blocks of every run, starting `offset` flows into each run. */
function benignBlocks(data: LabData, offset: number): Float64Array[] {
  const blocks: Float64Array[] = [];
  for (const run of data.benignRuns) {
    for (let start = offset; start + BLOCK <= run.count; start += BLOCK) {
      blocks.push(run.values.slice(start * featureCount, (start + BLOCK) * featureCount));
    }
  }
  return blocks;
}

function flaggedShare(model: FloodwatchModel, blocks: Float64Array[]): number {
  if (blocks.length === 0) return Number.NaN;
  const values = new Float64Array(blocks.length * BLOCK * featureCount);
  blocks.forEach((b, i) => values.set(b, i * BLOCK * featureCount));
  const scores = scoreBlocks(model, values, blocks.length);
  let flagged = 0;
  for (let w = 0; w < scores.count; w++) flagged += scores.anomaly[w]!;
  return flagged / scores.count;
}

/** One seed's measurements. */
export interface LabRun {
  falseAlarms: number;
  /** recall[class][density index] */
  recall: Map<string, number[]>;
  /** surge[feature][factor index] */
  surge: Map<string, number[]>;
  /** Per real day: ROC AUC, precision, recall (rule "any"). */
  days: Map<string, { rocAuc: number | null; precision: number; recall: number }>;
  /** What the model promises: its validation false-positive rate. */
  promisedFalseAlarms: number;
  trainingWindows: number;
}

/** Measures one model; `seed` draws the block offset, the attack positions and flows. */
export function measureModel(model: FloodwatchModel, data: LabData, seed: number): LabRun {
  const prng = createPrng(seed * 7919 + 13);
  const offset = prng.nextInt(BLOCK);
  const blocks = benignBlocks(data, offset);

  const recall = new Map<string, number[]>();
  for (const [label, attack] of data.attacks) {
    const row: number[] = [];
    for (const density of DENSITIES) {
      const k = Math.round(density * BLOCK);
      const mixed: Float64Array[] = [];
      for (let draw = 0; draw < DRAWS_PER_BLOCK; draw++) {
        for (const block of blocks) {
          const copy = block.slice();
          // k distinct positions (partial Fisher–Yates), each given a random attack flow.
          const positions = Array.from({ length: BLOCK }, (_, i) => i);
          for (let i = 0; i < k; i++) {
            const j = i + prng.nextInt(BLOCK - i);
            [positions[i], positions[j]] = [positions[j]!, positions[i]!];
            const source = prng.nextInt(attack.count);
            copy.set(
              attack.values.subarray(source * featureCount, (source + 1) * featureCount),
              positions[i]! * featureCount,
            );
          }
          mixed.push(copy);
        }
      }
      row.push(flaggedShare(model, mixed));
    }
    recall.set(label, row);
  }

  const surge = new Map<string, number[]>();
  for (const feature of SURGE_FEATURES) {
    const column = DEFAULT_FEATURES.indexOf(feature);
    surge.set(
      feature,
      SURGE_FACTORS.map((factor) =>
        flaggedShare(
          model,
          blocks.map((block) => {
            const copy = block.slice();
            for (let i = 0; i < BLOCK; i++) copy[i * featureCount + column]! *= factor;
            return copy;
          }),
        ),
      ),
    );
  }

  const days = new Map<string, { rocAuc: number | null; precision: number; recall: number }>();
  for (const [name, bytes] of data.days) {
    const reader = new FlowCsvReader({ features: model.features });
    const session = new FlowScoringSession(model);
    const evaluation = new WindowEvaluation(model.window.size, "any");
    for (const batch of [...reader.push(bytes), ...reader.end()]) {
      const { windows, scores } = session.push(batch);
      evaluation.add(scores.decision, scores.anomaly, windows.attackFlows, windows.count);
    }
    const m = evaluation.result();
    days.set(name, { rocAuc: m.rocAuc, precision: m.precision, recall: m.recall });
  }

  return {
    falseAlarms: flaggedShare(model, blocks),
    recall,
    surge,
    days,
    promisedFalseAlarms: model.threshold.validationFpr,
    trainingWindows: model.training.windows,
  };
}

/** Mean over classes of the recall at each density. */
export function meanRecall(run: LabRun): number[] {
  const rows = [...run.recall.values()];
  return DENSITIES.map((_, d) => rows.reduce((s, r) => s + r[d]!, 0) / rows.length);
}

/** Lowest recall over the surged features at each factor. */
export function worstSurge(run: LabRun): number[] {
  const rows = [...run.surge.values()];
  return SURGE_FACTORS.map((_, f) => Math.min(...rows.map((r) => r[f]!)));
}
