/**
 * The serving path from flows to scored windows: non-finite imputation with the model's rules,
 * the model's transform, window aggregation with the model's geometry, scoring. One instance per
 * window sequence.
 */
import { readFlowCsv, type FlowReadStats } from "./flow-csv-reader.ts";
import { canonicalColumnKey } from "./flow-features.ts";
import { applyFlowTransform } from "./flow-transform.ts";
import type { FloodwatchModel } from "./model-file.ts";
import { applyNonFiniteRules } from "./non-finite-rules.ts";
import { WindowAggregator, type FlowBatch, type WindowBatch } from "./window-aggregator.ts";
import { WindowContextAggregator, type WindowContextBatch } from "./window-context.ts";
import { WindowScorer, type ScoredWindows } from "./window-scorer.ts";

/** Windows closed by one batch of flows, with their scores. */
export interface ScoredWindowBatch {
  /** The windows as the model sees them (after its transform). */
  windows: WindowBatch;
  scores: ScoredWindows;
  /**
   * Per window, the mean of the raw (untransformed) {@link SIGNAL_FEATURES}, `count * 2`
   * values; NaN where the model lacks the feature. What an analyst reads next to a score.
   */
  signalMeans: Float64Array;
  /** Who and when of the same windows, when the flows carry context columns. */
  context?: WindowContextBatch;
}

/** Features whose raw window mean travels with every result: packets/s, then SYN flags. */
export const SIGNAL_FEATURES = ["Flow Packets/s", "SYN Flag Count"] as const;

/** Scores one sequence of flows (a file, an upload, or a self-contained stream entry). */
export class FlowScoringSession {
  readonly #aggregator: WindowAggregator;
  readonly #scorer: WindowScorer;
  /** Model column of each signal feature, -1 when absent. */
  readonly #signalColumns: Int32Array;
  /**
   * Raw-value windows of the signal columns, only when the model transforms values (otherwise
   * the model's own windows hold the raw means).
   */
  readonly #signalAggregator: WindowAggregator | null;
  /** Made with the first batch that carries context. */
  #context: WindowContextAggregator | undefined;
  #valuesReplaced = 0;
  /**
   * Transformed values of the current batch. The transform is not idempotent, so it never
   * writes into the caller's batch: scoring the same entry twice must give the same scores.
   */
  #transformed = new Float64Array(0);

  constructor(
    readonly model: FloodwatchModel,
    options: { firstWindowIndex?: number; scorer?: WindowScorer } = {},
  ) {
    this.#aggregator = new WindowAggregator(model.features.length, model.window, {
      firstWindowIndex: options.firstWindowIndex ?? 0,
    });
    this.#scorer = options.scorer ?? new WindowScorer(model);
    const keys = model.features.map(canonicalColumnKey);
    this.#signalColumns = Int32Array.from(SIGNAL_FEATURES, (f) =>
      keys.indexOf(canonicalColumnKey(f)),
    );
    const transformed = (model.detection?.transform ?? "none") !== "none";
    this.#signalAggregator = transformed
      ? new WindowAggregator(SIGNAL_FEATURES.length, model.window, {
          firstWindowIndex: options.firstWindowIndex ?? 0,
        })
      : null;
  }

  /**
   * Imputes non-finite values (in place, in the batch: idempotent), applies the model's transform
   * (into a buffer of the session's), aggregates, and scores the windows the batch closes.
   */
  push(batch: FlowBatch): ScoredWindowBatch {
    if (batch.featureCount !== this.model.features.length) {
      throw new RangeError(
        `flows have ${batch.featureCount} features, the model expects ${this.model.features.length}`,
      );
    }
    this.#valuesReplaced += applyNonFiniteRules(
      this.model.nonFinite,
      batch.values,
      batch.count,
      batch.featureCount,
    );
    const signalMeans = this.#signalAggregator
      ? this.#rawSignalMeans(batch, this.#signalAggregator)
      : null;
    const transform = this.model.detection?.transform ?? "none";
    let aggregated = batch;
    if (transform !== "none") {
      const size = batch.count * batch.featureCount;
      if (this.#transformed.length < size) this.#transformed = new Float64Array(size);
      const values = this.#transformed.subarray(0, size);
      applyFlowTransform(transform, batch.values, batch.count, batch.featureCount, values);
      aggregated = { ...batch, values };
    }
    const windows = this.#aggregator.push(aggregated);
    const scored: ScoredWindowBatch = {
      windows,
      scores: this.#scorer.score(windows),
      signalMeans: signalMeans ?? this.#signalMeansOf(windows),
    };
    if (batch.context !== undefined) {
      this.#context ??= new WindowContextAggregator(this.model.window);
      scored.context = this.#context.push(batch.context, batch.count);
    }
    return scored;
  }

  /** Signal means read from the model's own (untransformed) windows. */
  #signalMeansOf(windows: WindowBatch): Float64Array {
    const signals = SIGNAL_FEATURES.length;
    const out = new Float64Array(windows.count * signals);
    for (let w = 0; w < windows.count; w++) {
      for (let s = 0; s < signals; s++) {
        const column = this.#signalColumns[s]!;
        // The mean is the first statistic of a feature.
        out[w * signals + s] =
          column >= 0 ? windows.features[w * windows.width + column * 4]! : Number.NaN;
      }
    }
    return out;
  }

  /** Signal means from raw values, before the transform touches them. */
  #rawSignalMeans(batch: FlowBatch, aggregator: WindowAggregator): Float64Array {
    const signals = SIGNAL_FEATURES.length;
    const values = new Float64Array(batch.count * signals);
    for (let i = 0; i < batch.count; i++) {
      for (let s = 0; s < signals; s++) {
        const column = this.#signalColumns[s]!;
        values[i * signals + s] =
          column >= 0 ? batch.values[i * batch.featureCount + column]! : Number.NaN;
      }
    }
    const windows = aggregator.push({
      count: batch.count,
      featureCount: signals,
      values,
      lines: batch.lines,
      attack: batch.attack,
    });
    const out = new Float64Array(windows.count * signals);
    for (let w = 0; w < windows.count; w++) {
      for (let s = 0; s < signals; s++)
        out[w * signals + s] = windows.features[w * windows.width + s * 4]!;
    }
    return out;
  }

  /** Flows after the last closed window: reported, never silently lost. */
  get tailFlows(): number {
    return this.#aggregator.tailFlows;
  }

  get flowsSeen(): number {
    return this.#aggregator.flowsSeen;
  }

  get windowsScored(): number {
    return this.#aggregator.windowsClosed;
  }

  /** Non-finite or empty values replaced so far by the model's rules. */
  get valuesReplaced(): number {
    return this.#valuesReplaced;
  }
}

/** What scoring a whole CSV stream amounted to. */
export interface FlowCsvScoringSummary {
  stats: FlowReadStats;
  labelled: boolean;
  windowsScored: number;
  anomalies: number;
  tailFlows: number;
  valuesReplaced: number;
}

/**
 * Reads a CICFlowMeter CSV stream and scores it as one window sequence, handing each scored
 * batch to `onScored` as soon as it exists. Throws {@link FlowCsvError} for unusable input.
 */
export async function scoreFlowCsv(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  model: FloodwatchModel,
  onScored: (scored: ScoredWindowBatch, input: { labelled: boolean }) => void | Promise<void>,
  options: { scorer?: WindowScorer; timestampZone?: string } = {},
): Promise<FlowCsvScoringSummary> {
  const { reader, batches } = readFlowCsv(source, {
    features: model.features,
    ...(options.timestampZone === undefined ? {} : { timestampZone: options.timestampZone }),
  });
  const session = new FlowScoringSession(model, options);
  let anomalies = 0;
  for await (const batch of batches) {
    const scored = session.push(batch);
    for (let w = 0; w < scored.scores.count; w++) anomalies += scored.scores.anomaly[w]!;
    if (scored.windows.count > 0) await onScored(scored, { labelled: reader.labelled });
  }
  return {
    stats: reader.stats,
    labelled: reader.labelled,
    windowsScored: session.windowsScored,
    anomalies,
    tailFlows: session.tailFlows,
    valuesReplaced: session.valuesReplaced,
  };
}
