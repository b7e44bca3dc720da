/**
 * Scores one flow entry: the detector's whole job apart from Redis.
 */
import { flowEntryBatch, FlowEntryError, type FlowEntry } from "./flow-entry.ts";
import { FlowScoringSession } from "./flow-scoring.ts";
import type { FloodwatchModel } from "./model-file.ts";
import type { WindowResult } from "./stream-contracts.ts";
import { isAttackWindow } from "./window-evaluation.ts";
import type { ExplainMode } from "./window-explanation.ts";
import { explainerFor, windowFindings } from "./window-findings.ts";
import type { WindowScorer } from "./window-scorer.ts";

/** What an entry's windows add to the counters. */
export interface EntryTally {
  windows: number;
  flows: number;
  anomalies: number;
  /** Score of the entry's last window. */
  lastScore: number;
  /** Lowest score among the entry's windows. */
  worstScore: number;
  /** Confusion counts (rule `any`) when labelled, else zeros. */
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/**
 * Flows an entry adds to its upload's coverage: all of them for the first entry, else only
 * those past the left context it repeats from the entry before (`windowCount * stride`).
 * Summed over an upload's entries, this counts each flow once; ingest's queued-flow counter and
 * the detector's scored-flow counter both use it.
 */
export function flowsAddedBy(
  meta: Pick<FlowEntry["meta"], "firstWindow" | "flowCount" | "windowCount" | "window">,
): number {
  return meta.firstWindow === 0 ? meta.flowCount : meta.windowCount * meta.window.stride;
}

/** An entry's results and tally. */
export interface ScoredEntry {
  results: WindowResult[];
  tally: EntryTally;
}

/** Whether a model can score an entry built for the given features and window. */
export function modelFitsEntry(model: FloodwatchModel, entry: FlowEntry): boolean {
  return (
    model.features.length === entry.meta.featureCount &&
    model.window.size === entry.meta.window.size &&
    model.window.stride === entry.meta.window.stride
  );
}

/**
 * Scores every window of an entry with `model`. Throws {@link FlowEntryError} when the model
 * cannot score it (other features or window geometry).
 */
export function scoreFlowEntry(
  entry: FlowEntry,
  model: FloodwatchModel,
  options: { scorer?: WindowScorer; now?: number; explain?: ExplainMode } = {},
): ScoredEntry {
  if (!modelFitsEntry(model, entry)) {
    throw new FlowEntryError(
      `model ${model.version} (${model.features.length} features, window ${model.window.size}/${model.window.stride}) ` +
        `cannot score an entry of ${entry.meta.featureCount} features, window ${entry.meta.window.size}/${entry.meta.window.stride}`,
    );
  }
  const session = new FlowScoringSession(model, {
    firstWindowIndex: entry.meta.firstWindow,
    ...(options.scorer ? { scorer: options.scorer } : {}),
  });
  const scored = session.push(flowEntryBatch(entry));
  const { windows, scores, signalMeans } = scored;
  const explain = options.explain ?? "anomalies";
  const explainer = explain === "none" ? null : explainerFor(model);
  if (windows.count !== entry.meta.windowCount) {
    throw new FlowEntryError(
      `entry yields ${windows.count} windows, its meta says ${entry.meta.windowCount}`,
    );
  }
  const now = options.now ?? Date.now();
  const { labelled, uploadId, receivedAt } = entry.meta;
  const tally: EntryTally = {
    windows: windows.count,
    flows: flowsAddedBy(entry.meta),
    anomalies: 0,
    lastScore: Number.NaN,
    worstScore: Number.POSITIVE_INFINITY,
    tp: 0,
    fp: 0,
    fn: 0,
    tn: 0,
  };
  const results: WindowResult[] = new Array<WindowResult>(windows.count);
  for (let w = 0; w < windows.count; w++) {
    const score = scores.decision[w]!;
    const anomaly = scores.anomaly[w] === 1;
    const result: WindowResult = {
      uploadId,
      window: windows.index[w]!,
      firstLine: windows.firstLine[w]!,
      lastLine: windows.lastLine[w]!,
      score,
      anomaly,
      pc1: scores.pc1[w]!,
      pc2: scores.pc2[w]!,
      modelVersion: model.version,
      signals: {
        packetsPerSecond: signalOrNull(signalMeans[2 * w]!),
        synCount: signalOrNull(signalMeans[2 * w + 1]!),
      },
      receivedAt,
      scoredAt: now,
      ...windowFindings(scored, w, explain, explainer),
    };
    if (labelled) {
      const attackFlows = windows.attackFlows[w]!;
      result.attackFlows = attackFlows;
      const attack = isAttackWindow(attackFlows, model.window.size, "any");
      if (attack && anomaly) tally.tp++;
      else if (attack) tally.fn++;
      else if (anomaly) tally.fp++;
      else tally.tn++;
    }
    if (anomaly) tally.anomalies++;
    if (score < tally.worstScore) tally.worstScore = score;
    tally.lastScore = score;
    results[w] = result;
  }
  return { results, tally };
}

/** A signal mean, null where the model lacks the feature (NaN in `ScoredWindowBatch.signalMeans`). */
function signalOrNull(mean: number): number | null {
  return Number.isNaN(mean) ? null : mean;
}
