/**
 * What the pipeline should produce, computed in this process with the core library alone — the
 * same path as `floodwatch score` — so the services' results can be compared window by window.
 */
import { readFileSync } from "node:fs";
import {
  FlowCsvReader,
  TOOL_VERSION,
  TrainingFlows,
  parseModel,
  scoreFlowCsv,
  trainModel,
  type FloodwatchModel,
  type WindowSpec,
} from "@floodwatch/core";
import { generateFlowCsv } from "@floodwatch/core/generator";
import { defaultModelPath } from "@floodwatch/platform";
import type { CsvSource } from "./pipeline-client.ts";

/** The model a fresh stack publishes on first start (`ensureActiveModel`). */
export function loadDefaultModel(): FloodwatchModel {
  return parseModel(readFileSync(defaultModelPath(), "utf8"));
}

/** One window as scored in-process. */
export interface ReferenceWindow {
  score: number;
  anomaly: boolean;
  attackFlows: number;
}

/** An input scored in-process with one model. */
export interface ReferenceScores {
  rowsAccepted: number;
  rowsRejected: number;
  labelled: boolean;
  windowsScored: number;
  anomalies: number;
  tailFlows: number;
  /** Window index -> its score. */
  windows: Map<number, ReferenceWindow>;
}

/** Scores `source` as one window sequence with `model`, as `floodwatch score` does. */
export async function scoreReference(
  source: CsvSource,
  model: FloodwatchModel,
): Promise<ReferenceScores> {
  const windows = new Map<number, ReferenceWindow>();
  const summary = await scoreFlowCsv(source, model, ({ windows: batch, scores }) => {
    for (let w = 0; w < batch.count; w++) {
      windows.set(batch.index[w]!, {
        score: scores.decision[w]!,
        anomaly: scores.anomaly[w] === 1,
        attackFlows: batch.attackFlows[w]!,
      });
    }
  });
  return {
    rowsAccepted: summary.stats.rowsAccepted,
    rowsRejected: summary.stats.rowsRejected,
    labelled: summary.labelled,
    windowsScored: summary.windowsScored,
    anomalies: summary.anomalies,
    tailFlows: summary.tailFlows,
    windows,
  };
}

/** Settings of {@link trainGeneratedModel}. */
export interface GeneratedModelOptions {
  /** Features, in the order of the model they must match. */
  features: readonly string[];
  window: WindowSpec;
  /** Benign flows generated to train on. */
  flows: number;
  /** Seed of the generated flows and of the forest. */
  seed: number;
  /** Stride of the training windows (default: the window's size). */
  trainStride?: number;
}

/**
 * Trains a model on generated benign flows, as `floodwatch train` would on such a file. A fixed
 * creation time makes the version (a content id) depend on the settings alone.
 */
export function trainGeneratedModel(options: GeneratedModelOptions): FloodwatchModel {
  const reader = new FlowCsvReader({ features: options.features });
  const flows = new TrainingFlows(options.features.length);
  for (const chunk of generateFlowCsv({
    flows: options.flows,
    attack: "none",
    seed: options.seed,
  })) {
    for (const batch of reader.push(chunk)) flows.add(batch);
  }
  for (const batch of reader.end()) flows.add(batch);
  flows.endSequence();
  return trainModel(flows, {
    features: options.features,
    window: options.window,
    trainStride: options.trainStride ?? options.window.size,
    seed: options.seed,
    createdAt: "2026-01-01T00:00:00.000Z",
    toolVersion: TOOL_VERSION,
    contentHash: `generated-benign:${options.flows}:${options.seed}`,
    sources: [`generated benign flows (seed ${options.seed})`],
  });
}
