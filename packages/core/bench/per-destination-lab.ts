/**
 * Per-destination windows in the detection lab (`pnpm bench:detection --per-destination`):
 * windows of 50 flows *to the same destination IP*, as FastNetMon keeps per-host counters,
 * against the product's windows of 50 consecutive flows.
 *
 * - Training: the benign training flows split by destination, each destination's flows in time
 *   order; its first 80% are fit sequences and its last 20% validation sequences (trainModel
 *   validates on the last 20% of windows, so the validation parts go last). Destinations with
 *   fewer than 50 flows give no window.
 * - False alarms: each other-day benign run split by destination, 50-flow windows (stride 50).
 * - Attacks: the whole run with a share `d` of its flows replaced by attack flows of one class
 *   (as the table's recall rows, but over the run instead of per block), split by destination.
 *   Recall is the flagged share of windows holding an attack flow; latency is how many flows of
 *   the mixed run had gone by when the first such window was flagged (for consecutive windows,
 *   one the model does not flag in the unmixed run). The same runs scored in
 *   consecutive 50-flow windows by the default model give the comparison.
 */
import {
  DEFAULT_FEATURES,
  FlowScoringSession,
  TrainingFlows,
  trainModel,
  type FloodwatchModel,
} from "../src/index.ts";
import {
  DENSITIES,
  WHO_COLUMNS,
  contextOf,
  mixAttack,
  readLabelledFlows,
  select,
  trainLabModel,
  type Flows,
  type LabData,
} from "./detection-lab.ts";
import { createPrng } from "../src/index.ts";

const featureCount = DEFAULT_FEATURES.length;
const WINDOW = 50;

/** Flows of `flows` by destination IP code, each in time order, with their index in `flows`. */
function byDestination(flows: Flows): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (let i = 0; i < flows.count; i++) {
    const dst = flows.who[i * WHO_COLUMNS]!;
    let rows = out.get(dst);
    if (rows === undefined) out.set(dst, (rows = []));
    rows.push(i);
  }
  return out;
}

/** The per-destination model: the default profile on per-destination training sequences. */
function trainPerDestination(data: LabData, seed: number): FloodwatchModel {
  const { flows } = readLabelledFlows(data.training);
  const training = new TrainingFlows(featureCount);
  const parts: { fit: number[]; validation: number[] }[] = [];
  for (const rows of byDestination(flows).values()) {
    if (rows.length < WINDOW) continue;
    const cut = Math.floor(rows.length * 0.8);
    parts.push({ fit: rows.slice(0, cut), validation: rows.slice(cut) });
  }
  const add = (rows: number[]) => {
    const chosen = new Set(rows);
    const part = select(flows, (i) => chosen.has(i));
    training.add({
      count: part.count,
      featureCount,
      values: part.values,
      lines: new Uint32Array(part.count),
      attack: new Uint8Array(part.count),
    });
    training.endSequence();
  };
  for (const { fit } of parts) add(fit);
  for (const { validation } of parts) add(validation);
  return trainModel(training, {
    features: DEFAULT_FEATURES,
    seed,
    createdAt: "2026-01-01T00:00:00.000Z",
    toolVersion: "lab",
    contentHash: "sha256:lab",
    sources: ["lab"],
  });
}

/** One scored window: its flag, whether it holds attack flows, and the run index it ends at. */
interface ScoredWindow {
  flagged: boolean;
  attack: boolean;
  endsAt: number;
}

function scoreWindows(model: FloodwatchModel, flows: Flows, runIndex: number[]): ScoredWindow[] {
  const session = new FlowScoringSession(model);
  const { windows, scores } = session.push({
    count: flows.count,
    featureCount,
    values: flows.values,
    lines: new Uint32Array(flows.count),
    attack: flows.attack ?? new Uint8Array(flows.count),
    context: contextOf(flows.who, flows.count),
  });
  const out: ScoredWindow[] = [];
  for (let w = 0; w < scores.count; w++) {
    out.push({
      flagged: scores.anomaly[w] === 1,
      attack: windows.attackFlows[w]! > 0,
      endsAt: runIndex[w * model.window.stride + model.window.size - 1]!,
    });
  }
  return out;
}

/** Per-destination windows of a run (destinations with fewer than 50 flows give none). */
function perDestinationWindows(model: FloodwatchModel, run: Flows): ScoredWindow[] {
  const out: ScoredWindow[] = [];
  for (const rows of byDestination(run).values()) {
    if (rows.length < WINDOW) continue;
    const chosen = new Set(rows);
    out.push(
      ...scoreWindows(
        model,
        select(run, (i) => chosen.has(i)),
        rows,
      ),
    );
  }
  return out;
}

function consecutiveWindows(model: FloodwatchModel, run: Flows): ScoredWindow[] {
  return scoreWindows(
    model,
    run,
    Array.from({ length: run.count }, (_, i) => i),
  );
}

/**
 * Recall over attack windows, and the first alarm on an attack window; `alarmedAnyway` (the same
 * windows of the run before mixing, consecutive windows only) keeps a window the model flags
 * without the attack from counting as finding it.
 */
function summarise(windows: ScoredWindow[], alarmedAnyway?: ScoredWindow[]) {
  const attack = windows.filter((w) => w.attack);
  const firstAlarm = windows
    .filter((w, i) => w.attack && w.flagged && !(alarmedAnyway?.[i]!.flagged ?? false))
    .map((w) => w.endsAt);
  return {
    recall:
      attack.length === 0 ? Number.NaN : attack.filter((w) => w.flagged).length / attack.length,
    attackWindows: attack.length,
    firstAlarm: firstAlarm.length === 0 ? Number.NaN : Math.min(...firstAlarm),
  };
}

/**
 * One class at one density: recall over attack windows, flows of the run gone by at the first
 * alarm on an attack window (mean over the runs that had one), share of runs with none.
 */
interface DestinationCell {
  recall: number;
  firstAlarm: number;
  missed: number;
}

/** One seed's per-destination measurements, beside the default model's on the same runs. */
export interface PerDestinationRun {
  trainingWindows: number;
  consecutiveTrainingWindows: number;
  /** Distinct destinations of the other-day benign runs (summed over runs). */
  destinations: number;
  /** Share of those runs' flows that fall in a scored per-destination window. */
  flowsInWindows: number;
  /** Benign per-destination windows scored, and the share flagged. */
  benignWindows: number;
  falseAlarms: number;
  /** Same for the default model's consecutive windows on the same runs. */
  consecutiveBenignWindows: number;
  consecutiveFalseAlarms: number;
  /** [class][density]: recall and the flows of the run gone by at the first alarm (mean over runs). */
  perDestination: Map<string, DestinationCell[]>;
  consecutive: Map<string, DestinationCell[]>;
}

/** Densities measured here: below 100%, where windows of consecutive flows dilute an attack. */
export const PER_DESTINATION_DENSITIES = DENSITIES.filter((d) => d < 1);

export function measurePerDestination(data: LabData, seed: number): PerDestinationRun {
  const model = trainPerDestination(data, seed);
  const ordinary = trainLabModel(data, {}, seed).model;
  const prng = createPrng(seed * 104_729 + 7);
  const benign = data.benignRuns.flatMap((run) => perDestinationWindows(model, run));
  const benignByRun = data.benignRuns.map((run) => consecutiveWindows(ordinary, run));
  const benignConsecutive = benignByRun.flat();
  const share = (ws: ScoredWindow[]) => ws.filter((w) => w.flagged).length / ws.length;
  const perDestination = new Map<string, DestinationCell[]>();
  const consecutive = new Map<string, DestinationCell[]>();
  for (const [label, attack] of data.attacks) {
    const mine: DestinationCell[] = [];
    const theirs: DestinationCell[] = [];
    for (const density of PER_DESTINATION_DENSITIES) {
      const runs = data.benignRuns.map((run) =>
        mixAttack(run, attack, Math.round(density * run.count), prng),
      );
      const a = runs.map((run) => summarise(perDestinationWindows(model, run)));
      const b = runs.map((run, r) => summarise(consecutiveWindows(ordinary, run), benignByRun[r]));
      // Runs without any alarm on an attack window count in `missed`, not in the latency.
      const mean = (xs: number[]) => {
        const seen = xs.filter((x) => !Number.isNaN(x));
        return seen.length === 0 ? Number.NaN : seen.reduce((s, x) => s + x, 0) / seen.length;
      };
      const missed = (xs: { firstAlarm: number }[]) =>
        xs.filter((x) => Number.isNaN(x.firstAlarm)).length / xs.length;
      mine.push({
        recall: mean(a.map((x) => x.recall)),
        firstAlarm: mean(a.map((x) => x.firstAlarm)),
        missed: missed(a),
      });
      theirs.push({
        recall: mean(b.map((x) => x.recall)),
        firstAlarm: mean(b.map((x) => x.firstAlarm)),
        missed: missed(b),
      });
    }
    perDestination.set(label, mine);
    consecutive.set(label, theirs);
  }
  return {
    trainingWindows: model.training.windows,
    consecutiveTrainingWindows: ordinary.training.windows,
    destinations: data.benignRuns.reduce((n, run) => n + byDestination(run).size, 0),
    flowsInWindows: (benign.length * WINDOW) / data.benignRuns.reduce((n, r) => n + r.count, 0),
    benignWindows: benign.length,
    falseAlarms: share(benign),
    consecutiveBenignWindows: benignConsecutive.length,
    consecutiveFalseAlarms: share(benignConsecutive),
    perDestination,
    consecutive,
  };
}
