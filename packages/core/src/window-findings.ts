/**
 * What a scored window reports beyond its score: when (traffic time), who (victims, sources,
 * ports) and why (the explanation). One function for every producer — the CLI, the detector —
 * so a window says the same things wherever it is read.
 */
import type { ScoredWindowBatch } from "./flow-scoring.ts";
import type { FloodwatchModel } from "./model-file.ts";
import type { WindowResult } from "./stream-contracts.ts";
import {
  WindowExplainer,
  type DimensionContributions,
  type ExplainMode,
} from "./window-explanation.ts";
import { WindowScorer } from "./window-scorer.ts";

/** The who/when/why fields of a {@link WindowResult}. */
export type WindowFindings = Pick<
  WindowResult,
  "start" | "end" | "victims" | "sources" | "ports" | "explanation" | "explanationFeatures"
>;

/**
 * Building an explainer maps every split back to raw units and reads back node sizes, about as
 * much work as loading the model; one per model, kept as long as the model is.
 */
const explainers = new WeakMap<FloodwatchModel, WindowExplainer>();

/** The shared {@link WindowExplainer} of a model. */
export function explainerFor(model: FloodwatchModel): WindowExplainer {
  let explainer = explainers.get(model);
  if (explainer === undefined) {
    explainer = new WindowExplainer(model, { voters: votingContributions(model) });
    explainers.set(model, explainer);
  }
  return explainer;
}

/**
 * The per-dimension contributions of the detectors that vote beside the forest (Mahalanobis'
 * per-dimension shares, ECOD's tail terms when it votes), so an explanation follows every
 * detector that decided, not the forest alone. A model without them explains by the forest.
 */
function votingContributions(
  model: FloodwatchModel,
): ((row: Float64Array, offset: number) => DimensionContributions[]) | undefined {
  const detection = model.detection;
  if (!detection || (!detection.mahalanobis && !detection.fusion?.ecodVotes)) return undefined;
  const scorer = new WindowScorer(model);
  // One buffer per detector, rewritten for every window: the explainer reads the contributions
  // before it asks for the next window's.
  const width = model.forest.featureCount;
  const correlationOut = new Float64Array(width);
  const tailsOut = new Float64Array(width);
  return (row, offset) => {
    const others: DimensionContributions[] = [];
    const correlation = scorer.correlationContributions(row, offset, correlationOut);
    if (correlation) others.push({ weights: correlation });
    if (detection.fusion?.ecodVotes) {
      const tails = scorer.dimensionContributions(row, offset, tailsOut);
      if (tails) others.push({ weights: tails });
    }
    return others;
  };
}

function isoOrNull(ms: number): string | null {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** Whether window `w` of a batch gets an explanation under `mode`. */
export function wantsExplanation(mode: ExplainMode, anomaly: boolean): boolean {
  return mode === "all" || (mode === "anomalies" && anomaly);
}

/**
 * The findings of window `w` of a scored batch. `explainer` is needed when the window is to be
 * explained (see {@link wantsExplanation}).
 */
export function windowFindings(
  scored: ScoredWindowBatch,
  w: number,
  mode: ExplainMode,
  explainer: WindowExplainer | null,
): WindowFindings {
  const context = scored.context;
  const findings: WindowFindings = {
    start: context ? isoOrNull(context.start[w]!) : null,
    end: context ? isoOrNull(context.end[w]!) : null,
    victims: context?.victims?.[w] ?? null,
    sources: context?.sources?.[w] ?? null,
    ports: context?.ports?.[w] ?? null,
    explanation: null,
    explanationFeatures: null,
  };
  if (explainer !== null && wantsExplanation(mode, scored.scores.anomaly[w] === 1)) {
    const { dimensions, features } = explainer.explain(
      scored.windows.features,
      w * scored.windows.width,
    );
    findings.explanation = dimensions;
    findings.explanationFeatures = features;
  }
  return findings;
}
