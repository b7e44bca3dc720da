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
  EcodScorer,
  FlowCsvReader,
  FlowScoringSession,
  TrainingFlows,
  WINDOW_CONTEXT_FEATURES,
  WindowContextAggregator,
  WindowEvaluation,
  allocateFlowContext,
  createPrng,
  detectorScale,
  fitEcod,
  fitMahalanobis,
  mahalanobisDistance,
  splitCsvLine,
  trainModel,
  type EcodModel,
  type FloodwatchModel,
  type FlowBatch,
  type FlowContext,
  type MahalanobisModel,
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

/**
 * Who columns carried per flow: destination IP, source IP (codes into the lab's one IP
 * dictionary), destination port, protocol; -1 where unknown.
 */
export const WHO_COLUMNS = 4;

/** Flows as rows of `DEFAULT_FEATURES`, row-major, with their who columns. */
export interface Flows {
  values: Float64Array;
  /** `count * WHO_COLUMNS`, row-major (see {@link WHO_COLUMNS}). */
  who: Int32Array;
  count: number;
  /** 1 where {@link mixAttack} put an attack flow; absent = all benign. */
  attack?: Uint8Array;
}

/** One dictionary of IP strings for every flow the lab holds, so codes mix across files. */
const ipStrings: string[] = [];
const ipCodes = new Map<string, number>();
function ipCode(context: FlowContext, code: number): number {
  if (code < 0) return -1;
  const text = context.strings[code]!;
  let global = ipCodes.get(text);
  if (global === undefined) {
    global = ipStrings.length;
    ipStrings.push(text);
    ipCodes.set(text, global);
  }
  return global;
}

/** The who columns of a batch's flows into `who` from row `row` on. */
function copyWho(batch: FlowBatch, who: Int32Array, row: number): void {
  const context = batch.context;
  for (let i = 0; i < batch.count; i++) {
    const at = (row + i) * WHO_COLUMNS;
    if (context === undefined) {
      who.fill(-1, at, at + WHO_COLUMNS);
      continue;
    }
    who[at] = ipCode(context, context.dstIp[i]!);
    who[at + 1] = ipCode(context, context.srcIp[i]!);
    who[at + 2] = context.dstPort[i]!;
    who[at + 3] = context.protocol[i]!;
  }
}

/** A flow context over the lab's dictionary for `count` flows' who columns. */
export function contextOf(who: Int32Array, count: number): FlowContext {
  const context = allocateFlowContext(
    { dstIp: true, srcIp: true, dstPort: true, protocol: true, timestamp: false },
    count,
  );
  context.strings = ipStrings;
  for (let i = 0; i < count; i++) {
    context.dstIp[i] = who[i * WHO_COLUMNS]!;
    context.srcIp[i] = who[i * WHO_COLUMNS + 1]!;
    context.dstPort[i] = who[i * WHO_COLUMNS + 2]!;
    context.protocol[i] = who[i * WHO_COLUMNS + 3]!;
  }
  context.time.fill(Number.NaN);
  return context;
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
export function readLabelledFlows(bytes: Uint8Array): { flows: Flows; labels: string[] } {
  const text = Buffer.from(bytes).toString("utf8");
  const lines = text.split("\n");
  const header = splitCsvLine(lines[0]!.replace(/\r$/, ""));
  const labelColumn = header.findIndex((h) => h.trim().toLowerCase() === "label");
  const reader = new FlowCsvReader({ features: DEFAULT_FEATURES });
  const batches = [...reader.push(bytes), ...reader.end()];
  const count = batches.reduce((n, b) => n + b.count, 0);
  const values = new Float64Array(count * featureCount);
  const who = new Int32Array(count * WHO_COLUMNS);
  const labels: string[] = [];
  let row = 0;
  for (const batch of batches) {
    values.set(batch.values.subarray(0, batch.count * featureCount), row * featureCount);
    copyWho(batch, who, row);
    for (let i = 0; i < batch.count; i++) {
      const line = lines[batch.lines[i]! - 1]!.replace(/\r$/, "");
      labels.push(labelColumn >= 0 ? splitCsvLine(line)[labelColumn]!.trim() : "BENIGN");
    }
    row += batch.count;
  }
  return { flows: { values, who, count }, labels };
}

export function select(flows: Flows, keep: (i: number) => boolean): Flows {
  const rows: number[] = [];
  for (let i = 0; i < flows.count; i++) if (keep(i)) rows.push(i);
  const values = new Float64Array(rows.length * featureCount);
  const who = new Int32Array(rows.length * WHO_COLUMNS);
  rows.forEach((r, k) => {
    values.set(flows.values.subarray(r * featureCount, (r + 1) * featureCount), k * featureCount);
    who.set(flows.who.subarray(r * WHO_COLUMNS, (r + 1) * WHO_COLUMNS), k * WHO_COLUMNS);
  });
  const selected: Flows = { values, who, count: rows.length };
  const attack = flows.attack;
  if (attack) selected.attack = Uint8Array.from(rows, (r) => attack[r]!);
  return selected;
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

/**
 * A model configuration under test: training options on top of the lab's fixed ones, and
 * `who`, a lab-only lever: a detector of its own on the window-level "who" features
 * (`WINDOW_CONTEXT_FEATURES`: destination IP, source IP and destination port entropies, the top
 * destination's share, distinct sources; Lakhina et al., SIGCOMM 2005), fitted on the training
 * windows' features, put on the validation scale like the model's detectors and voting beside
 * the model with the same threshold margin.
 */
export type LabConfig = Partial<
  Omit<TrainingOptions, "createdAt" | "toolVersion" | "contentHash" | "sources">
> & { who?: "ecod" | "mahalanobis" };

/** The lab's who detector (see {@link LabConfig}). */
interface WhoDetector {
  ecod: EcodModel | null;
  mahalanobis: MahalanobisModel | null;
  median: number;
  spread: number;
  /** Flags a window whose z (0 at the validation median, -1 at the quantile) is below this. */
  zThreshold: number;
}

/** A model and the lab-only detectors voting beside it. */
export interface LabModel {
  model: FloodwatchModel;
  who: WhoDetector | null;
}

const WHO_WIDTH = WINDOW_CONTEXT_FEATURES.length;

/** Trains a model on the lab's benign training input, as `floodwatch train` would. */
export function trainLabModel(data: LabData, config: LabConfig, seed: number): LabModel {
  const { who: whoKind, ...options } = config;
  const reader = new FlowCsvReader({ features: DEFAULT_FEATURES });
  const batches = [...reader.push(data.training), ...reader.end()];
  const flows = new TrainingFlows(featureCount);
  for (const batch of batches) flows.add(batch);
  flows.endSequence();
  const model = trainModel(flows, {
    features: DEFAULT_FEATURES,
    ...options,
    seed,
    createdAt: "2026-01-01T00:00:00.000Z",
    toolVersion: "lab",
    contentHash: "sha256:lab",
    sources: ["lab"],
  });
  return { model, who: whoKind === undefined ? null : fitWho(model, batches, whoKind) };
}

/**
 * The who detector on the training windows' who features, split as trainModel splits: the
 * first 80% fit, validation after the last fit window's flows.
 */
function fitWho(
  model: FloodwatchModel,
  batches: FlowBatch[],
  kind: "ecod" | "mahalanobis",
): WhoDetector {
  const stride = model.training.trainStride;
  const aggregator = new WindowContextAggregator({ size: model.window.size, stride });
  const parts: Float64Array[] = [];
  for (const batch of batches) {
    if (batch.context === undefined) throw new Error("the training input has no IP columns");
    parts.push(aggregator.push(batch.context, batch.count).features);
  }
  const all = Float64Array.from(parts.flatMap((p) => Array.from(p)));
  const windows = all.length / WHO_WIDTH;
  const fitWindows = Math.floor(windows * 0.8);
  const validationStart = fitWindows + Math.ceil(model.window.size / stride) - 1;
  const fit = all.slice(0, fitWindows * WHO_WIDTH);
  const validation = all.slice(validationStart * WHO_WIDTH);
  const detector: WhoDetector = {
    ecod: kind === "ecod" ? fitEcod(fit, fitWindows, WHO_WIDTH) : null,
    mahalanobis: kind === "mahalanobis" ? fitMahalanobis(fit, fitWindows, WHO_WIDTH) : null,
    median: 0,
    spread: 1,
    zThreshold: -(model.detection?.thresholdMargin ?? 1),
  };
  const scores = whoScores(detector, validation, validation.length / WHO_WIDTH);
  const scale = detectorScale(scores, model.threshold.quantile, false);
  detector.median = scale.median;
  detector.spread = scale.spread;
  return detector;
}

/** The who detector's raw score of each window (higher = more anomalous). */
function whoScores(who: WhoDetector, features: Float64Array, rows: number): Float64Array {
  const scores = new Float64Array(rows);
  const ecod = who.ecod ? new EcodScorer(who.ecod, WHO_WIDTH) : null;
  const scratch = new Float64Array(2 * WHO_WIDTH); // mahalanobisDistance needs 2 × width
  for (let w = 0; w < rows; w++) {
    scores[w] = ecod
      ? ecod.score(features, w * WHO_WIDTH)
      : mahalanobisDistance(who.mahalanobis!, features, w * WHO_WIDTH, scratch);
  }
  return scores;
}

/** Flags of consecutive 50-flow blocks, through the serving path, with the lab's who vote. */
export function flagBlocks(lab: LabModel, flows: Flows): Uint8Array {
  const count = flows.count;
  const session = new FlowScoringSession(lab.model);
  const { scores, context } = session.push({
    count,
    featureCount,
    values: flows.values.slice(0, count * featureCount),
    lines: new Uint32Array(count),
    attack: new Uint8Array(count),
    context: contextOf(flows.who, count),
  });
  const flags = Uint8Array.from(scores.anomaly.subarray(0, scores.count));
  if (lab.who) {
    const who = whoScores(lab.who, context!.features, scores.count);
    for (let w = 0; w < scores.count; w++) {
      const z = (lab.who.median - who[w]!) / lab.who.spread;
      if (z < lab.who.zThreshold) flags[w] = 1;
    }
  }
  return flags;
}

/** The benign blocks of every run, starting `offset` flows into each run. */
function benignBlocks(data: LabData, offset: number): Flows[] {
  const blocks: Flows[] = [];
  for (const run of data.benignRuns) {
    for (let start = offset; start + BLOCK <= run.count; start += BLOCK) {
      blocks.push({
        values: run.values.slice(start * featureCount, (start + BLOCK) * featureCount),
        who: run.who.slice(start * WHO_COLUMNS, (start + BLOCK) * WHO_COLUMNS),
        count: BLOCK,
      });
    }
  }
  return blocks;
}

function flaggedShare(lab: LabModel, blocks: Flows[]): number {
  if (blocks.length === 0) return Number.NaN;
  const values = new Float64Array(blocks.length * BLOCK * featureCount);
  const who = new Int32Array(blocks.length * BLOCK * WHO_COLUMNS);
  blocks.forEach((b, i) => {
    values.set(b.values, i * BLOCK * featureCount);
    who.set(b.who, i * BLOCK * WHO_COLUMNS);
  });
  const flags = flagBlocks(lab, { values, who, count: blocks.length * BLOCK });
  let flagged = 0;
  for (const flag of flags) flagged += flag;
  return flagged / flags.length;
}

/**
 * A copy of `flows` with `k` of them, at distinct random positions (partial Fisher–Yates), each
 * replaced by a random flow of `attack`, who columns included.
 */
export function mixAttack(
  flows: Flows,
  attack: Flows,
  k: number,
  prng: ReturnType<typeof createPrng>,
): Flows {
  const n = flows.count;
  const copy = {
    values: flows.values.slice(),
    who: flows.who.slice(),
    count: n,
    attack: flows.attack?.slice() ?? new Uint8Array(n),
  };
  const positions = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + prng.nextInt(n - i);
    [positions[i], positions[j]] = [positions[j]!, positions[i]!];
    const source = prng.nextInt(attack.count);
    copy.values.set(
      attack.values.subarray(source * featureCount, (source + 1) * featureCount),
      positions[i]! * featureCount,
    );
    copy.who.set(
      attack.who.subarray(source * WHO_COLUMNS, (source + 1) * WHO_COLUMNS),
      positions[i]! * WHO_COLUMNS,
    );
    copy.attack[positions[i]!] = 1;
  }
  return copy;
}

/** Who features of consecutive 50-flow blocks (`WINDOW_CONTEXT_FEATURES` per block). */
function whoFeaturesOf(blocks: Flows[]): Float64Array {
  const aggregator = new WindowContextAggregator({ size: BLOCK, stride: BLOCK });
  const out = new Float64Array(blocks.length * WHO_WIDTH);
  blocks.forEach((block, i) => {
    const closed = aggregator.push(contextOf(block.who, BLOCK), BLOCK);
    out.set(closed.features, i * WHO_WIDTH);
  });
  return out;
}

/**
 * Medians of the who features over other-day benign blocks, and over the same blocks with each
 * attack class mixed in at each density below 100%: how far the lever can move a window.
 */
export function whoFeatureMedians(data: LabData, seed: number): Map<string, number[]> {
  const prng = createPrng(seed * 7919 + 13);
  const blocks = benignBlocks(data, prng.nextInt(BLOCK));
  const medians = (set: Flows[]): number[] => {
    const features = whoFeaturesOf(set);
    return WINDOW_CONTEXT_FEATURES.map((_, j) => {
      const column = Array.from({ length: set.length }, (_, w) => features[w * WHO_WIDTH + j]!);
      column.sort((a, b) => a - b);
      return column[Math.floor((column.length - 1) / 2)]!;
    });
  };
  const out = new Map<string, number[]>([["other-day benign", medians(blocks)]]);
  for (const [label, attack] of data.attacks) {
    for (const density of DENSITIES.filter((d) => d < 1)) {
      const k = Math.round(density * BLOCK);
      out.set(
        `${label} @${density * 100}%`,
        medians(blocks.map((block) => mixAttack(block, attack, k, prng))),
      );
    }
  }
  return out;
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
export function measureModel(lab: LabModel, data: LabData, seed: number): LabRun {
  const { model } = lab;
  const prng = createPrng(seed * 7919 + 13);
  const offset = prng.nextInt(BLOCK);
  const blocks = benignBlocks(data, offset);

  const recall = new Map<string, number[]>();
  for (const [label, attack] of data.attacks) {
    const row: number[] = [];
    for (const density of DENSITIES) {
      const k = Math.round(density * BLOCK);
      const mixed: Flows[] = [];
      for (let draw = 0; draw < DRAWS_PER_BLOCK; draw++) {
        for (const block of blocks) mixed.push(mixAttack(block, attack, k, prng));
      }
      row.push(flaggedShare(lab, mixed));
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
          lab,
          blocks.map((block) => {
            const values = block.values.slice();
            for (let i = 0; i < BLOCK; i++) values[i * featureCount + column]! *= factor;
            return { ...block, values };
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
    falseAlarms: flaggedShare(lab, blocks),
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
