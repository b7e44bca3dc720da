import { writeFile } from "node:fs/promises";
import {
  DEFAULT_FEATURES,
  DEFAULT_THRESHOLD_QUANTILE,
  TOOL_VERSION,
  TrainingFlows,
  readTrainingSequence,
  serializeModel,
  trainModel,
} from "@floodwatch/core";
import { checkInputs, newContentHash, openFlowInput, withInputName } from "../flow-input.ts";
import { type CommandSpec, intOption, numberOption, stringOption } from "../options.ts";

export const trainCommand: CommandSpec = {
  name: "train",
  usage:
    "train --out MODEL [--window 50] [--stride 50] [--train-stride N] [--trees 100] " +
    "[--max-samples 256] [--quantile Q] [--seed 42] [--features a,b,...] FILE...",
  options: {
    out: { type: "string" },
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
    const size = intOption(values, "window", 50, { min: 2 });
    const stride = intOption(values, "stride", size, { min: 1, max: size });
    const trainStride = intOption(values, "train-stride", stride, { min: 1, max: size });
    const trees = intOption(values, "trees", 100, { min: 1, max: 10_000 });
    const maxSamples = intOption(values, "max-samples", 256, { min: 2 });
    const quantile = numberOption(values, "quantile", DEFAULT_THRESHOLD_QUANTILE, { gt: 0, lt: 1 });
    const seed = intOption(values, "seed", 42, {});
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
      window: { size, stride },
      trainStride,
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
        trainStride,
        threshold: model.threshold.value,
        quantile: model.threshold.quantile,
        validationFpr: model.threshold.validationFpr,
        pcaExplainedVariance: model.pca.explainedVarianceRatio,
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
