/**
 * `pnpm bench:detection`: detection quality in mixed traffic, one table (see detection-lab.ts for
 * what each row measures). Each column is a model configuration, trained with the product's
 * settings unless the configuration says otherwise; each cell is the mean over seeds with the
 * lowest and highest seed's figure.
 *
 *   pnpm bench:detection [--seeds 5] [--configs seed,default]
 *   pnpm bench:detection --who-features   # medians of the window-level who features
 */
import { parseArgs } from "node:util";
import { WINDOW_CONTEXT_FEATURES } from "../src/index.ts";
import {
  DENSITIES,
  SURGE_FACTORS,
  loadLabData,
  measureModel,
  meanRecall,
  trainLabModel,
  whoFeatureMedians,
  worstSurge,
  type LabConfig,
  type LabRun,
} from "./detection-lab.ts";

/** Configurations the bench knows, by name. */
const CONFIGS: Record<string, LabConfig> = {
  /** The prototype's configuration, as `floodwatch train --profile seed` builds it. */
  seed: { profile: "seed" },
  /** The seed profile with the default profile's training-window budget: calibration alone. */
  "seed+budget": { profile: "seed", trainStride: 1 },
  /** Signed log1p and the budget, the forest alone. */
  log1p: { detectors: [], explainEcod: false },
  /** Each second detector fused with the forest, threshold at the validation quantile. */
  "log1p+ecod": { detectors: ["ecod"], thresholdMargin: 1 },
  "log1p+guard": { detectors: ["guard"], thresholdMargin: 1 },
  "log1p+mahal": { detectors: ["mahalanobis"], thresholdMargin: 1 },
  /** All three voting, threshold at the validation quantile, then with the default margin. */
  "all@1": { detectors: ["mahalanobis", "ecod", "guard"], thresholdMargin: 1 },
  all: { detectors: ["mahalanobis", "ecod", "guard"] },
  /** Mahalanobis and ECOD voting, default margin. */
  "mahal+ecod": { detectors: ["mahalanobis", "ecod"] },
  /** The product's defaults, as `floodwatch train` builds them. */
  default: {},
  /**
   * The defaults with the lab's who detector voting (window-level who features: IP and port
   * entropies, top destination's share, distinct sources), ECOD or Mahalanobis on them.
   */
  "default+who-ecod": { who: "ecod" },
  "default+who-mahal": { who: "mahalanobis" },
  /**
   * The defaults with fewer training windows (a larger training stride): what a model trained on
   * little benign traffic delivers, behind `FEW_TRAINING_WINDOWS`.
   */
  ...Object.fromEntries(
    [2, 5, 10, 15, 20, 25, 50].map((trainStride) => [
      `default/train-stride-${trainStride}`,
      { trainStride },
    ]),
  ),
};

const { values } = parseArgs({
  options: {
    seeds: { type: "string", default: "5" },
    configs: { type: "string", default: "seed,default" },
    /** Print the medians of the window-level who features instead of the table. */
    "who-features": { type: "boolean", default: false },
  },
});
const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
const names = values.configs.split(",").map((n) => n.trim());
for (const name of names) {
  if (!CONFIGS[name])
    throw new Error(`unknown config ${name}; known: ${Object.keys(CONFIGS).join(", ")}`);
}

const data = loadLabData();
if (values["who-features"]) {
  console.log(`floodwatch detection bench — ${data.description}`);
  console.log("medians over 50-flow blocks (seed 1); mixes as in the table's recall rows\n");
  console.log(`| blocks | ${WINDOW_CONTEXT_FEATURES.join(" | ")} |`);
  console.log(`|---|${WINDOW_CONTEXT_FEATURES.map(() => "---").join("|")}|`);
  for (const [label, row] of whoFeatureMedians(data, 1)) {
    console.log(`| ${label} | ${row.map((v) => v.toFixed(2)).join(" | ")} |`);
  }
  process.exit(0);
}
const runs = new Map<string, LabRun[]>();
for (const name of names) {
  runs.set(
    name,
    seeds.map((seed) => measureModel(trainLabModel(data, CONFIGS[name]!, seed), data, seed)),
  );
}

const rows: { label: string; value: (run: LabRun) => number }[] = [];
rows.push({ label: "training windows", value: (r) => r.trainingWindows });
rows.push({ label: "promised false alarms (validation)", value: (r) => r.promisedFalseAlarms });
rows.push({ label: "false alarms, other-day benign", value: (r) => r.falseAlarms });
const first = runs.values().next().value![0]!;
DENSITIES.forEach((density, d) => {
  rows.push({
    label: `recall @${density * 100}% density, class mean`,
    value: (r) => meanRecall(r)[d]!,
  });
});
for (const label of first.recall.keys()) {
  DENSITIES.forEach((density, d) => {
    rows.push({ label: `  ${label} @${density * 100}%`, value: (r) => r.recall.get(label)![d]! });
  });
}
SURGE_FACTORS.forEach((factor, f) => {
  rows.push({ label: `surge x${factor}, worst feature`, value: (r) => worstSurge(r)[f]! });
});
for (const feature of first.surge.keys()) {
  SURGE_FACTORS.forEach((factor, f) => {
    rows.push({ label: `  ${feature} x${factor}`, value: (r) => r.surge.get(feature)![f]! });
  });
}
for (const day of first.days.keys()) {
  rows.push({ label: `ROC AUC ${day}`, value: (r) => r.days.get(day)!.rocAuc ?? Number.NaN });
  rows.push({ label: `  precision`, value: (r) => r.days.get(day)!.precision });
  rows.push({ label: `  recall`, value: (r) => r.days.get(day)!.recall });
}

function cell(values: number[]): string {
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  if (Number.isInteger(mean)) return String(mean);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return hi - lo < 0.005
    ? mean.toFixed(2)
    : `${mean.toFixed(2)} (${lo.toFixed(2)}–${hi.toFixed(2)})`;
}

console.log(`floodwatch detection bench — ${data.description}`);
console.log(
  `seeds ${seeds.join(",")}; cells: mean over seeds (lowest–highest); blocks of 50 flows`,
);
console.log("");
const labelWidth = Math.max(...rows.map((r) => r.label.length)) + 2;
const width = 24;
console.log("| " + "".padEnd(labelWidth) + names.map((n) => `| ${n.padEnd(width)}`).join("") + "|");
console.log(
  "|-" + "-".repeat(labelWidth) + names.map(() => `|-${"-".repeat(width)}`).join("") + "|",
);
for (const row of rows) {
  const cells = names.map((n) => cell(runs.get(n)!.map(row.value)));
  console.log(
    "| " + row.label.padEnd(labelWidth) + cells.map((c) => `| ${c.padEnd(width)}`).join("") + "|",
  );
}
