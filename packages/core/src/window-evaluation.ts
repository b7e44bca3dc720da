/**
 * Detection quality on labelled files, counted per window.
 */
import { GrowableMatrix } from "./growable-matrix.ts";
import type { Quality } from "./stream-contracts.ts";

/** When a window counts as an attack window. */
export const LABEL_RULES = ["any", "majority"] as const;
/** `any`: at least one non-BENIGN flow; `majority`: more than half of its flows. */
export type LabelRule = (typeof LABEL_RULES)[number];

/** Confusion counts and ranking metrics over scored windows. */
export interface EvaluationMetrics {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  precision: number;
  recall: number;
  f1: number;
  fpr: number;
  /** Area under the ROC curve of the decision score; null when only one class is present. */
  rocAuc: number | null;
  /** Average precision (area under the precision-recall curve); null without attack windows. */
  prAuc: number | null;
  scoredWindows: number;
  /** Windows lost to bad values: always 0 here, reported to show it. */
  droppedWindows: number;
}

/** Whether a window of `size` flows with `attackFlows` attack flows is an attack window. */
export function isAttackWindow(attackFlows: number, size: number, rule: LabelRule): boolean {
  return rule === "any" ? attackFlows > 0 : attackFlows * 2 > size;
}

/** Precision, recall, F1 and FPR from confusion counts; a ratio with a zero denominator is 0. */
export function confusionRates(tp: number, fp: number, fn: number, tn: number) {
  const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
  const precision = ratio(tp, tp + fp);
  const recall = ratio(tp, tp + fn);
  return {
    precision,
    recall,
    f1: ratio(2 * precision * recall, precision + recall),
    fpr: ratio(fp, fp + tn),
  };
}

/**
 * Detection quality as the API and the dashboard show it: the confusion counts with precision,
 * recall and F1 from {@link confusionRates}.
 */
export function qualityFromCounts(tp: number, fp: number, fn: number, tn: number): Quality {
  const { precision, recall, f1 } = confusionRates(tp, fp, fn, tn);
  return { tp, fp, fn, tn, precision, recall, f1 };
}

/** Accumulates scored windows and their truth, then computes {@link EvaluationMetrics}. */
export class WindowEvaluation {
  readonly #scores = new GrowableMatrix(2, 1024);
  readonly #row = new Float64Array(2);
  #tp = 0;
  #fp = 0;
  #fn = 0;
  #tn = 0;

  constructor(
    readonly windowSize: number,
    readonly rule: LabelRule = "any",
  ) {}

  /** Adds windows: decision scores, anomaly flags and attack-flow counts, aligned. */
  add(decision: Float64Array, anomaly: Uint8Array, attackFlows: Int32Array, count: number): void {
    for (let w = 0; w < count; w++) {
      const attack = isAttackWindow(attackFlows[w]!, this.windowSize, this.rule);
      const flagged = anomaly[w] === 1;
      if (attack && flagged) this.#tp++;
      else if (attack) this.#fn++;
      else if (flagged) this.#fp++;
      else this.#tn++;
      this.#row[0] = decision[w]!;
      this.#row[1] = attack ? 1 : 0;
      this.#scores.appendRow(this.#row, 0);
    }
  }

  /** Metrics over everything added. */
  result(): EvaluationMetrics {
    const n = this.#scores.rows;
    const data = this.#scores.view();
    const decision = new Float64Array(n);
    const truth = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      decision[i] = data[2 * i]!;
      truth[i] = data[2 * i + 1]!;
    }
    return {
      tp: this.#tp,
      fp: this.#fp,
      fn: this.#fn,
      tn: this.#tn,
      ...confusionRates(this.#tp, this.#fp, this.#fn, this.#tn),
      rocAuc: rocAuc(decision, truth),
      prAuc: averagePrecision(decision, truth),
      scoredWindows: n,
      droppedWindows: 0,
    };
  }
}

/** Indices ordered most anomalous first (lowest decision score first). */
function orderByAnomaly(decision: Float64Array): Uint32Array {
  const order = new Uint32Array(decision.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((a, b) => decision[a]! - decision[b]!);
}

/**
 * ROC AUC of "low decision score means attack" (Mann–Whitney U with average ranks for ties, as
 * scikit-learn's roc_auc_score computes it).
 */
export function rocAuc(decision: Float64Array, truth: Uint8Array): number | null {
  const n = decision.length;
  let positives = 0;
  for (let i = 0; i < n; i++) positives += truth[i]!;
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return null;
  // Rank by anomaly score (= -decision) ascending: highest decision first.
  const order = orderByAnomaly(decision).reverse();
  let rankSumPositives = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && decision[order[j + 1]!] === decision[order[i]!]) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (truth[order[k]!] === 1) rankSumPositives += averageRank;
    i = j + 1;
  }
  return (rankSumPositives - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * Average precision of "low decision score means attack", as scikit-learn's
 * average_precision_score: the sum over distinct thresholds of (R_n - R_{n-1}) * P_n.
 */
export function averagePrecision(decision: Float64Array, truth: Uint8Array): number | null {
  const n = decision.length;
  let positives = 0;
  for (let i = 0; i < n; i++) positives += truth[i]!;
  if (positives === 0) return null;
  const order = orderByAnomaly(decision);
  let tp = 0;
  let seen = 0;
  let previousRecall = 0;
  let ap = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && decision[order[j + 1]!] === decision[order[i]!]) j++;
    for (let k = i; k <= j; k++) tp += truth[order[k]!]!;
    seen += j - i + 1;
    const recall = tp / positives;
    ap += (recall - previousRecall) * (tp / seen);
    previousRecall = recall;
    i = j + 1;
  }
  return ap;
}
