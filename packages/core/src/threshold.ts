/**
 * Calibration of the alarm threshold on decision scores of benign validation windows.
 *
 * Decision scores come from `decisionFunction` (lower = more anomalous). The threshold is a low
 * quantile of the scores benign traffic produced, so the false-alarm rate is chosen directly rather
 * than inherited from Isolation Forest's fixed "auto" offset.
 */
import { quantile } from "./stats.ts";

/**
 * Quantile of benign validation scores used as the threshold by default.
 *
 * An operator stops reading alerts that are mostly false, so we aim for few false alarms: at 0.01
 * about 1 benign window in 100 is flagged, by construction on the validation set, where the
 * prototype's 0.09 flagged about 9 in 100. Volumetric DDoS windows score far below that quantile,
 * so detection loses little.
 */
export const DEFAULT_THRESHOLD_QUANTILE = 0.01;

/** A calibrated threshold and how it behaved on the validation windows it came from. */
export interface ThresholdCalibration {
  /** Decision score below which a window is anomalous. */
  threshold: number;
  /** Quantile of the validation scores the threshold was taken at. */
  quantile: number;
  /** Fraction of validation windows strictly below the threshold (all benign, so all false alarms). */
  validationFpr: number;
  /** Number of validation windows the threshold was calibrated on. */
  validationWindows: number;
}

/**
 * Whether a window is anomalous: its decision score is strictly below the threshold. Strict, so
 * that the validation window the threshold was read from is not itself an alarm.
 *
 * @param score - decision score of the window (lower = more anomalous)
 * @param threshold - from {@link calibrateThreshold}
 */
export function isAnomalous(score: number, threshold: number): boolean {
  return score < threshold;
}

/**
 * Sets the threshold at the `q`-quantile (numpy linear interpolation) of decision scores of benign
 * validation windows, and reports the false-positive rate that threshold has on them.
 *
 * @param validationDecisionScores - decision scores of benign validation windows; not modified
 * @param q - the quantile, strictly between 0 and 1; see {@link DEFAULT_THRESHOLD_QUANTILE}
 * @throws RangeError if `q` is outside (0, 1) or there are no scores
 */
export function calibrateThreshold(
  validationDecisionScores: Float64Array,
  q: number,
): ThresholdCalibration {
  if (!(q > 0 && q < 1)) {
    throw new RangeError(`threshold quantile must be in (0, 1), got ${q}`);
  }
  const n = validationDecisionScores.length;
  if (n === 0) {
    throw new RangeError("cannot calibrate a threshold on zero validation windows");
  }
  const threshold = quantile(validationDecisionScores, q);
  let below = 0;
  for (let i = 0; i < n; i++) {
    if (isAnomalous(validationDecisionScores[i]!, threshold)) below++;
  }
  return { threshold, quantile: q, validationFpr: below / n, validationWindows: n };
}
