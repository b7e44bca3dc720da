/**
 * What false-alarm rate a model may be expected to deliver, beside what it promises.
 *
 * A model's calibration promises its validation rate, measured on the last 20% of its own
 * training days; on a day it never saw, the prototype promised 1% and delivered 13%. The lab
 * (`pnpm bench:detection`, docs/detection.md) measures the rate on other-day benign traffic, so
 * a model trained the way the lab trains is shown with the lab's figure next to its promise.
 */
import { DEFAULT_FEATURES } from "./flow-features.ts";
import type { FloodwatchModel } from "./model-file.ts";
import { DEFAULT_THRESHOLD_MARGIN, type TrainingProfile } from "./model-training.ts";
import type { FalseAlarmExpectation } from "./stream-contracts.ts";
import { TRAINING_DEFAULTS } from "./training-defaults.ts";

/** Other-day false alarms the lab measured for a profile: mean, lowest and highest seed. */
interface LabFalseAlarms {
  mean: number;
  low: number;
  high: number;
}

/**
 * Measured with `pnpm bench:detection --seeds 5 --configs seed,default` on CIC-IDS2017: trained
 * on `train-benign-mon-tue-thu.csv`, scored on the BENIGN rows of `wednesday-dos.csv` and
 * `friday-ddos.csv` in 50-flow blocks (docs/detection.md, "Results"). Re-measure and update
 * when a profile's choices change.
 */
export const LAB_FALSE_ALARMS: Readonly<Record<TrainingProfile, LabFalseAlarms>> = {
  default: { mean: 0.04, low: 0.03, high: 0.06 },
  seed: { mean: 0.15, low: 0.11, high: 0.23 },
};

/** Where {@link LAB_FALSE_ALARMS} come from, as shown beside them. */
export const LAB_FALSE_ALARMS_SOURCE =
  "pnpm bench:detection --seeds 5 (docs/detection.md): other-day benign CIC-IDS2017 windows, " +
  "model trained on train-benign-mon-tue-thu.csv";

/**
 * The profile whose choices the model repeats (features, window, forest size, quantile, and
 * for `default` the transform, the voting detectors and the threshold margin), or null when it
 * was trained otherwise. Training data and stride are not compared: the lab figure is for the
 * profile's settings, and a model trained on too few windows carries a warning of its own.
 */
export function trainingProfileOf(model: FloodwatchModel): TrainingProfile | null {
  const sameBase =
    model.features.length === DEFAULT_FEATURES.length &&
    model.features.every((feature, i) => feature === DEFAULT_FEATURES[i]) &&
    model.window.size === TRAINING_DEFAULTS.window &&
    model.window.stride === TRAINING_DEFAULTS.window &&
    model.training.trees === TRAINING_DEFAULTS.trees &&
    model.training.maxSamples === TRAINING_DEFAULTS.maxSamples &&
    model.threshold.quantile === TRAINING_DEFAULTS.quantile;
  if (!sameBase) return null;
  const detection = model.detection;
  if (detection === undefined) return "seed";
  const defaultChoices =
    detection.transform === "signed-log1p" &&
    detection.mahalanobis !== null &&
    detection.guard === null &&
    detection.fusion?.ecodVotes === false &&
    detection.thresholdMargin === DEFAULT_THRESHOLD_MARGIN;
  return defaultChoices ? "default" : null;
}

/** The model's promise and, when its profile was measured, the lab's other-day figure. */
export function falseAlarmExpectationOf(model: FloodwatchModel): FalseAlarmExpectation {
  const profile = trainingProfileOf(model);
  return {
    promised: model.threshold.validationFpr,
    measured:
      profile === null
        ? null
        : { profile, ...LAB_FALSE_ALARMS[profile], source: LAB_FALSE_ALARMS_SOURCE },
  };
}
