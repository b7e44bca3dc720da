/**
 * The serving path from flows to scored windows: non-finite imputation with the model's rules,
 * window aggregation with the model's geometry, scoring. One instance per window sequence.
 */
import { readFlowCsv, type FlowReadStats } from "./flow-csv-reader.ts";
import type { FloodwatchModel } from "./model-file.ts";
import { applyNonFiniteRules } from "./non-finite-rules.ts";
import { WindowAggregator, type FlowBatch, type WindowBatch } from "./window-aggregator.ts";
import { WindowContextAggregator, type WindowContextBatch } from "./window-context.ts";
import { WindowScorer, type ScoredWindows } from "./window-scorer.ts";

/** Windows closed by one batch of flows, with their scores. */
export interface ScoredWindowBatch {
  windows: WindowBatch;
  scores: ScoredWindows;
  /** Who and when of the same windows, when the flows carry context columns. */
  context?: WindowContextBatch;
}

/** Scores one sequence of flows (a file, an upload, or a self-contained stream entry). */
export class FlowScoringSession {
  readonly #aggregator: WindowAggregator;
  readonly #scorer: WindowScorer;
  /** Made with the first batch that carries context. */
  #context: WindowContextAggregator | undefined;
  #valuesReplaced = 0;

  constructor(
    readonly model: FloodwatchModel,
    options: { firstWindowIndex?: number; scorer?: WindowScorer } = {},
  ) {
    this.#aggregator = new WindowAggregator(model.features.length, model.window, {
      firstWindowIndex: options.firstWindowIndex ?? 0,
    });
    this.#scorer = options.scorer ?? new WindowScorer(model);
  }

  /**
   * Imputes non-finite values (in place, in the batch), aggregates, and scores the windows the
   * batch closes.
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
    const windows = this.#aggregator.push(batch);
    const scored: ScoredWindowBatch = { windows, scores: this.#scorer.score(windows) };
    if (batch.context !== undefined) {
      this.#context ??= new WindowContextAggregator(this.model.window);
      scored.context = this.#context.push(batch.context, batch.count);
    }
    return scored;
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
