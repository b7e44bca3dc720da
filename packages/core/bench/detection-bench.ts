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
  PER_DESTINATION_DENSITIES,
  measurePerDestination,
  type PerDestinationRun,
} from "./per-destination-lab.ts";
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
    /** Print per-destination windows against consecutive ones instead of the table. */
    "per-destination": { type: "boolean", default: false },
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
if (values["per-destination"]) {
  const runs = seeds.map((seed) => measurePerDestination(data, seed));
  console.log(`floodwatch detection bench — ${data.description}`);
  console.log(
    `seeds ${seeds.join(",")}; per-destination windows (50 flows to one destination IP) against ` +
      `the default model's 50 consecutive flows; cells: mean over seeds (lowest–highest)\n`,
  );
  const rows: [string, (r: PerDestinationRun) => number, (r: PerDestinationRun) => number][] = [
    ["training windows", (r) => r.trainingWindows, (r) => r.consecutiveTrainingWindows],
    ["destinations in the other-day benign runs", (r) => r.destinations, (r) => r.destinations],
    ["share of their flows in a scored window", (r) => r.flowsInWindows, () => 1],
    ["benign windows scored", (r) => r.benignWindows, (r) => r.consecutiveBenignWindows],
    ["false alarms, other-day benign", (r) => r.falseAlarms, (r) => r.consecutiveFalseAlarms],
  ];
  const labels = [...runs[0]!.perDestination.keys()];
  PER_DESTINATION_DENSITIES.forEach((density, d) => {
    const mean = (
      r: PerDestinationRun,
      key: "perDestination" | "consecutive",
      f: "recall" | "firstAlarm" | "missed",
    ) => labels.reduce((s, l) => s + r[key].get(l)![d]![f], 0) / labels.length;
    rows.push([
      `recall @${density * 100}%, class mean`,
      (r) => mean(r, "perDestination", "recall"),
      (r) => mean(r, "consecutive", "recall"),
    ]);
    rows.push([
      `flows until first alarm @${density * 100}%`,
      (r) => mean(r, "perDestination", "firstAlarm"),
      (r) => mean(r, "consecutive", "firstAlarm"),
    ]);
    rows.push([
      `runs without an alarm @${density * 100}%`,
      (r) => mean(r, "perDestination", "missed"),
      (r) => mean(r, "consecutive", "missed"),
    ]);
    for (const label of labels) {
      rows.push([
        `  ${label} @${density * 100}%: recall`,
        (r) => r.perDestination.get(label)![d]!.recall,
        (r) => r.consecutive.get(label)![d]!.recall,
      ]);
    }
  });
  console.log(`| measured | per-destination | consecutive (default) |`);
  console.log(`|---|---|---|`);
  for (const [label, a, b] of rows) {
    console.log(`| ${label} | ${cell(runs.map(a))} | ${cell(runs.map(b))} |`);
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
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  // An integer mean of differing seeds (a flow count) still shows its spread.
  if (Number.isInteger(mean) && lo === hi) return String(mean);
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
