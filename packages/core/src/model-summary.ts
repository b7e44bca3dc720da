/** The public face of a model: what the API and the dashboard show about it. */
import { falseAlarmExpectationOf } from "./false-alarm-expectation.ts";
import type { FloodwatchModel } from "./model-file.ts";
import type { ModelSummary } from "./stream-contracts.ts";

/** Summarises a model for the API's `model` field. */
export function modelSummaryOf(model: FloodwatchModel): ModelSummary {
  return {
    version: model.version,
    features: [...model.features],
    window: model.window.size,
    stride: model.window.stride,
    threshold: model.threshold.value,
    quantile: model.threshold.quantile,
    validationFpr: model.threshold.validationFpr,
    trainedAt: model.createdAt,
    explainedVariance: [...model.pca.explainedVarianceRatio],
    trainingFlows: model.training.flows,
    trainingWindows: model.training.windows,
    warnings: [...(model.training.warnings ?? [])],
    falseAlarms: falseAlarmExpectationOf(model),
  };
}
