/**
 * One training run, from an upload in Redis to a new registry version: the CLI's `train` (read
 * with {@link FlowCsvReader}, collect benign flows in {@link TrainingFlows}, {@link trainModel}),
 * plus progress reports, a quick evaluation on labelled input and the registry write.
 */
import { createHash } from "node:crypto";
import {
  FlowCsvError,
  type FlowCsvReader,
  TOOL_VERSION,
  TrainingError,
  TrainingFlows,
  WindowEvaluation,
  profileTrainStride,
  readTrainingSequence,
  scoreFlowCsv,
  trainModel,
  trainingWindowCount,
  type FloodwatchModel,
  type FlowReadStats,
  type RedisKeys,
  type TrainingJobStatus,
} from "@floodwatch/core";
import { publishModel } from "@floodwatch/platform";
import type { Redis } from "ioredis";
import {
  encodeModelMeta,
  type TrainingEvaluation,
  type TrainingJobData,
  type TrainingJobResult,
} from "@floodwatch/core";
import { TrainingInputError, readTrainingInput } from "./training-input.ts";

/** Where a run is, as published to clients. */
export type TrainingRunProgress = TrainingJobStatus["progress"];

/** Receives progress; the run awaits it between steps. */
export type ProgressReporter = (progress: TrainingRunProgress) => Promise<void>;

/** What a run needs. */
export interface TrainingRunDeps {
  /** Command connection: reads the input, writes the registry. */
  redis: Redis;
  keys: RedisKeys;
  /** Clock for the model's creation time and progress pacing. */
  now?: () => Date;
}

/**
 * Rows-read reports are paced: one per piece would be a thousand messages for a large upload,
 * while a dashboard redraws a progress bar a few times a second at most.
 */
const READING_REPORT_INTERVAL_MS = 500;

/**
 * A run failed because of its input or settings: the reason is for the user, and running the
 * job again cannot help.
 */
export class TrainingRunError extends Error {
  override readonly name = "TrainingRunError";
}

/**
 * Trains a model from the job's input and stores it as a new, inactive version. Throws
 * {@link TrainingRunError} with a reason for the user when the input or settings cannot give a
 * model: a bad CSV (with its line), missing columns (named), too few windows (with how many the
 * settings need), or an input that expired.
 */
export async function runTraining(
  deps: TrainingRunDeps,
  jobId: string,
  data: TrainingJobData,
  report: ProgressReporter,
): Promise<TrainingJobResult> {
  const now = deps.now ?? (() => new Date());
  const { settings } = data;
  const progress: TrainingRunProgress = {
    stage: "reading",
    rowsRead: 0,
    windows: 0,
    treesGrown: 0,
    trees: settings.trees,
  };
  await report({ ...progress });

  const flows = new TrainingFlows(settings.features.length);
  const hash = createHash("sha256");
  let reader: FlowCsvReader;
  try {
    let lastReport = now().getTime();
    const input = readTrainingInput(deps.redis, data.inputKey, data.inputChunks);
    reader = await readTrainingSequence(input, flows, settings.features, async (piece, read) => {
      hash.update(piece);
      if (now().getTime() - lastReport >= READING_REPORT_INTERVAL_MS) {
        lastReport = now().getTime();
        progress.rowsRead = rowsRead(read.stats);
        await report({ ...progress });
      }
    });
  } catch (error) {
    if (error instanceof FlowCsvError) {
      throw new TrainingRunError(
        `${data.name}: ${error.line === undefined ? "" : `line ${error.line}: `}${error.message}`,
      );
    }
    if (error instanceof TrainingInputError) throw new TrainingRunError(error.message);
    throw error;
  }
  progress.rowsRead = rowsRead(reader.stats);
  progress.stage = "windows";
  const window = { size: settings.window, stride: settings.stride };
  // Unset, the stride is the one `floodwatch train` would pick for this input.
  const trainStride = settings.trainStride ?? profileTrainStride(flows, window);
  progress.windows = trainingWindowCount(flows.flows, window, trainStride);
  await report({ ...progress });

  // trainModel is synchronous (a few seconds on the largest accepted upload): the reports it
  // triggers are sent when it returns, and awaited then.
  const pending: Promise<void>[] = [];
  let model: FloodwatchModel;
  try {
    model = trainModel(flows, {
      features: settings.features,
      window,
      trainStride,
      trees: settings.trees,
      maxSamples: settings.maxSamples,
      quantile: settings.quantile,
      seed: settings.seed,
      createdAt: now().toISOString(),
      toolVersion: TOOL_VERSION,
      contentHash: `sha256:${hash.digest("hex")}`,
      sources: [data.name],
      onProgress: (step) => {
        if (step.stage === "windows") progress.windows = step.windows;
        else if (step.stage === "forest") progress.stage = "forest";
        else if (step.stage === "calibration") {
          progress.stage = "calibration";
          progress.treesGrown = settings.trees;
        } else return;
        pending.push(report({ ...progress }));
      },
    });
  } catch (error) {
    if (error instanceof TrainingError) {
      throw new TrainingRunError(error.message + rejectedRowsNote(reader.stats));
    }
    throw error;
  } finally {
    await Promise.all(pending);
  }

  let evaluation: TrainingEvaluation | null = null;
  if (reader.labelled) {
    progress.stage = "evaluation";
    await report({ ...progress });
    evaluation = await evaluateOnInput(deps.redis, data, model);
  }

  const result: TrainingJobResult = {
    version: model.version,
    rowsRead: rowsRead(reader.stats),
    rowsRejected: reader.stats.rowsRejected,
    flows: model.training.flows,
    flowsExcluded: model.training.flowsExcluded,
    windows: model.training.windows,
    threshold: model.threshold.value,
    validationFpr: model.threshold.validationFpr,
    trainStride: model.training.trainStride,
    warnings: [...(model.training.warnings ?? [])],
    evaluation,
  };
  // Metadata first, so a version never shows up in a listing without it.
  await deps.redis.hset(
    deps.keys.modelMeta(model.version),
    encodeModelMeta({
      origin: "trained",
      jobId,
      name: data.name,
      inputBytes: data.inputBytes,
      rowsRead: result.rowsRead,
      rowsRejected: result.rowsRejected,
      labelled: reader.labelled,
      flowsExcluded: result.flowsExcluded,
      settings,
      evaluation,
    }),
  );
  await publishModel(deps.redis, deps.keys, model, { activate: false });
  progress.stage = "stored";
  await report({ ...progress });
  return result;
}

function rowsRead(stats: Readonly<FlowReadStats>): number {
  return stats.rowsAccepted + stats.rowsRejected;
}

/** Why there were too few flows, when rows were refused: the first refusal, with its line. */
function rejectedRowsNote(stats: Readonly<FlowReadStats>): string {
  const first = stats.rejected[0];
  if (first === undefined) return "";
  return (
    `; ${stats.rowsRejected} row${stats.rowsRejected === 1 ? " was" : "s were"} rejected, ` +
    `the first at line ${first.line}: ${first.reason}`
  );
}

/**
 * Scores the training file with the new model, windows as served, against its labels: a
 * second read of the input, which is still in Redis until the job ends.
 */
async function evaluateOnInput(
  redis: Redis,
  data: TrainingJobData,
  model: FloodwatchModel,
): Promise<TrainingEvaluation> {
  const evaluation = new WindowEvaluation(model.window.size, "any");
  await scoreFlowCsv(readTrainingInput(redis, data.inputKey, data.inputChunks), model, (scored) => {
    const { windows, scores } = scored;
    evaluation.add(scores.decision, scores.anomaly, windows.attackFlows, windows.count);
  });
  const metrics = evaluation.result();
  const attackWindows = metrics.tp + metrics.fn;
  const withAttacks = attackWindows > 0;
  return {
    scope: "training-file",
    windows: metrics.scoredWindows,
    attackWindows,
    fpr: metrics.fpr,
    precision: withAttacks ? metrics.precision : null,
    recall: withAttacks ? metrics.recall : null,
    f1: withAttacks ? metrics.f1 : null,
    rocAuc: metrics.rocAuc,
  };
}
