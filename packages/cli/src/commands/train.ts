import { writeFile } from "node:fs/promises";
import {
  DEFAULT_FEATURES,
  FLOW_TRANSFORMS,
  TOOL_VERSION,
  TRAINING_DEFAULTS,
  TRAINING_PROFILES,
  VOTING_DETECTORS,
  TrainingFlows,
  falseAlarmExpectationOf,
  readTrainingSequence,
  serializeModel,
  trainModel,
  type VotingDetector,
} from "@floodwatch/core";
import { UsageError } from "../cli-error.ts";
import { checkInputs, newContentHash, openFlowInput, withInputName } from "../flow-input.ts";
import {
  type CommandSpec,
  choiceOption,
  intOption,
  numberOption,
  stringOption,
} from "../options.ts";

export const trainCommand: CommandSpec = {
  name: "train",
  usage:
    "train --out MODEL [--profile default|seed] [--window 50] [--stride 50] [--train-stride N] " +
    "[--trees 100] [--max-samples 256] [--quantile Q] [--threshold-margin M] " +
    "[--transform signed-log1p|none] [--detectors mahalanobis,ecod,guard|none] " +
    "[--guard-margin G] [--seed 42] [--features a,b,...] FILE...",
  options: {
    out: { type: "string" },
    profile: { type: "string" },
    transform: { type: "string" },
    detectors: { type: "string" },
    "guard-margin": { type: "string" },
    "threshold-margin": { type: "string" },
    window: { type: "string" },
    stride: { type: "string" },
    "train-stride": { type: "string" },
    trees: { type: "string" },
    "max-samples": { type: "string" },
    quantile: { type: "string" },
    seed: { type: "string" },
    features: { type: "string" },
    "created-at": { type: "string" },
  },
  async run({ values, positionals }) {
    const out = stringOption(values, "out", { required: true });
    const size = intOption(values, "window", TRAINING_DEFAULTS.window, { min: 2 });
    const stride = intOption(values, "stride", size, { min: 1, max: size });
    const profile = choiceOption(values, "profile", TRAINING_PROFILES, "default");
    // Unset options are left to the profile (model-training.ts), which picks them.
    const trainStride =
      values["train-stride"] === undefined
        ? undefined
        : intOption(values, "train-stride", stride, { min: 1, max: size });
    const transform =
      values.transform === undefined
        ? undefined
        : choiceOption(values, "transform", FLOW_TRANSFORMS, "none");
    const detectors = detectorsOption(values.detectors);
    const guardMargin =
      values["guard-margin"] === undefined
        ? undefined
        : numberOption(values, "guard-margin", 1, { gt: 0 });
    const thresholdMargin =
      values["threshold-margin"] === undefined
        ? undefined
        : numberOption(values, "threshold-margin", 1, { gt: 0.999 });
    const trees = intOption(values, "trees", TRAINING_DEFAULTS.trees, { min: 1, max: 10_000 });
    const maxSamples = intOption(values, "max-samples", TRAINING_DEFAULTS.maxSamples, { min: 2 });
    const quantile = numberOption(values, "quantile", TRAINING_DEFAULTS.quantile, {
      gt: 0,
      lt: 1,
    });
    const seed = intOption(values, "seed", TRAINING_DEFAULTS.seed, {});
    const featureList = stringOption(values, "features");
    const features = featureList
      ? featureList
          .split(",")
          .map((f) => f.trim())
          .filter(Boolean)
      : [...DEFAULT_FEATURES];
    await checkInputs(positionals);

    const hash = newContentHash();
    const flows = new TrainingFlows(features.length);
    let rowsRejected = 0;
    let nonFinite = 0;
    for (const path of positionals) {
      const input = openFlowInput(path, hash);
      const reader = await withInputName(input.name, () =>
        readTrainingSequence(input.chunks, flows, features),
      );
      rowsRejected += reader.stats.rowsRejected;
      nonFinite += reader.stats.nonFiniteValues + reader.stats.emptyValues;
      for (const r of reader.stats.rejected.slice(0, 5)) {
        process.stderr.write(`${input.name}: line ${r.line}: ${r.reason}\n`);
      }
    }
    const createdAt = createdAtOption(values["created-at"]);
    const model = trainModel(flows, {
      features,
      profile,
      window: { size, stride },
      ...(trainStride === undefined ? {} : { trainStride }),
      ...(transform === undefined ? {} : { transform }),
      ...(detectors === undefined ? {} : { detectors }),
      ...(guardMargin === undefined ? {} : { guardMargin }),
      ...(thresholdMargin === undefined ? {} : { thresholdMargin }),
      onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
      trees,
      maxSamples,
      quantile,
      seed,
      createdAt,
      toolVersion: TOOL_VERSION,
      contentHash: `sha256:${hash.digest("hex")}`,
      sources: positionals.map((p) => (p === "-" ? "stdin" : p.split("/").at(-1)!)),
    });
    await writeFile(out, serializeModel(model));
    process.stdout.write(
      JSON.stringify({
        model: out,
        version: model.version,
        flows: model.training.flows,
        flowsExcluded: model.training.flowsExcluded,
        rowsRejected,
        valuesReplaced: model.training.valuesReplaced,
        nonFiniteOrEmptyCells: nonFinite,
        windows: model.training.windows,
        fitWindows: model.training.fitWindows,
        validationWindows: model.training.validationWindows,
        window: model.window,
        trainStride: model.training.trainStride,
        profile,
        transform: model.detection?.transform ?? "none",
        detectors: votingDetectors(model),
        threshold: model.threshold.value,
        quantile: model.threshold.quantile,
        validationFpr: model.threshold.validationFpr,
        pcaExplainedVariance: model.pca.explainedVarianceRatio,
        falseAlarms: falseAlarmExpectationOf(model),
        warnings: model.training.warnings ?? [],
      }) + "\n",
    );
  },
};

/**
 * Creation time: `--created-at`, else SOURCE_DATE_EPOCH (the reproducible-builds convention),
 * else now. With either of the first two, the same data and seed give a byte-identical file.
 */
function createdAtOption(value: unknown): string {
  if (typeof value === "string") return new Date(value).toISOString();
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch && /^\d+$/.test(epoch)) return new Date(Number(epoch) * 1000).toISOString();
  return new Date().toISOString();
}

/** `--detectors a,b` (or `none`): the detectors voting beside the forest. */
function detectorsOption(value: unknown): VotingDetector[] | undefined {
  if (typeof value !== "string") return undefined;
  const names = value
    .split(",")
    .map((d) => d.trim())
    .filter(Boolean);
  if (names.length === 1 && names[0] === "none") return [];
  for (const name of names) {
    if (!(VOTING_DETECTORS as readonly string[]).includes(name)) {
      throw new UsageError(
        `--detectors takes a comma-separated list of ${VOTING_DETECTORS.join(", ")} (or none), got ${name}`,
      );
    }
  }
  return names as VotingDetector[];
}

/** The detectors that vote in a trained model, the forest first. */
function votingDetectors(model: {
  detection?: {
    ecod: unknown;
    mahalanobis: unknown;
    guard: unknown;
    fusion: { ecodVotes: boolean } | null;
  };
}): string[] {
  const d = model.detection;
  const names = ["forest"];
  if (d?.mahalanobis) names.push("mahalanobis");
  if (d?.fusion?.ecodVotes) names.push("ecod");
  if (d?.guard) names.push("guard");
  return names;
}
