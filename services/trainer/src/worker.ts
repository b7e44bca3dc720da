/**
 * The BullMQ worker of the `training` queue: validates each job, runs {@link runTraining},
 * reports progress (job progress and the training pub/sub channel), deletes the input when the
 * job ends, and counts outcomes.
 */
import { performance } from "node:perf_hooks";
import { trainingJobStatusSchema, type RedisKeys, type TrainingJobStatus } from "@floodwatch/core";
import type { Logger } from "@floodwatch/platform";
import { UnrecoverableError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import type { TrainerMetrics, TrainingOutcome } from "./metrics.ts";
import {
  TRAINING_QUEUE,
  queuedProgress,
  trainingJobDataSchema,
  type TrainingJobData,
  type TrainingJobResult,
} from "@floodwatch/core";
import { TrainingRunError, runTraining, type TrainingRunProgress } from "./training-run.ts";

/** A training job as the worker sees it. */
export type TrainingJob = Job<TrainingJobData, TrainingJobResult>;

/** The trainer's worker. */
export type TrainingWorker = Worker<TrainingJobData, TrainingJobResult>;

/** What the worker is built from. */
export interface TrainingWorkerDeps {
  /**
   * BullMQ's own connection (`maxRetriesPerRequest: null`); BullMQ duplicates it for its
   * blocking reads. Not closed by the worker: whoever opened it closes it.
   */
  connection: Redis;
  /** Command connection: inputs, registry, pub/sub publishing. */
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  /** Jobs run at once in this process. */
  concurrency: number;
  metrics: TrainerMetrics;
  now?: () => Date;
}

/**
 * How long a job's lock lasts without renewal. Training is synchronous for a few seconds on the
 * largest accepted upload, so the lock cannot be renewed meanwhile; with BullMQ's 30 s default a
 * busy trainer could look dead and its job would run twice. A crashed trainer's job is picked up
 * again after this long.
 */
const TRAINING_LOCK_MS = 5 * 60_000;

/** Builds the worker; it starts taking jobs at once. */
export function createTrainingWorker(deps: TrainingWorkerDeps): TrainingWorker {
  const { redis, keys, logger, metrics } = deps;
  const publishStatus = async (status: TrainingJobStatus) => {
    await redis.publish(
      keys.trainingChannel,
      JSON.stringify(trainingJobStatusSchema.parse(status)),
    );
  };

  const processJob = async (job: TrainingJob): Promise<TrainingJobResult> => {
    const jobId = job.id!;
    const parsed = trainingJobDataSchema.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(`invalid training job data: ${parsed.error.issues[0]!.message}`);
    }
    const data = parsed.data;
    const started = performance.now();
    let outcome: TrainingOutcome = "failed";
    metrics.jobsActive.inc();
    logger.info({ jobId, name: data.name, bytes: data.inputBytes }, "training started");
    try {
      const result = await runTraining(
        { redis, keys, ...(deps.now ? { now: deps.now } : {}) },
        jobId,
        data,
        async (progress) => {
          await job.updateProgress(progress);
          await publishStatus({ jobId, state: "active", progress });
        },
      );
      outcome = "completed";
      logger.info({ jobId, ...result, evaluation: undefined }, "training completed");
      return result;
    } catch (error) {
      if (error instanceof TrainingRunError) {
        logger.warn({ jobId, reason: error.message }, "training failed");
        throw new UnrecoverableError(error.message);
      }
      logger.error({ jobId, err: error }, "training failed on an internal error");
      throw new UnrecoverableError(
        `training failed on an internal error (job ${jobId}); the trainer's log has the details`,
      );
    } finally {
      metrics.jobsActive.dec();
      metrics.jobsTotal.inc({ outcome });
      metrics.jobDuration.observe({ outcome }, (performance.now() - started) / 1000);
      // The input is needed by no one once the job has ended; the TTL covers crashes.
      await redis.del(data.inputKey);
    }
  };

  const worker: TrainingWorker = new Worker<TrainingJobData, TrainingJobResult>(
    TRAINING_QUEUE,
    processJob,
    {
      connection: deps.connection,
      prefix: keys.queuePrefix,
      concurrency: deps.concurrency,
      lockDuration: TRAINING_LOCK_MS,
    },
  );

  // Final states are announced once BullMQ has recorded them, so a client that reacts to the
  // event by asking for the job sees the same state.
  const lastProgress = (job: TrainingJob): TrainingRunProgress => {
    const progress = trainingJobStatusSchema.shape.progress.safeParse(job.progress);
    if (progress.success) return progress.data;
    const settings = trainingJobDataSchema.shape.settings.safeParse(job.data.settings);
    return queuedProgress(settings.success ? settings.data.trees : 0);
  };
  worker.on("completed", (job, result) => {
    publishStatus({
      jobId: job.id!,
      state: "completed",
      progress: lastProgress(job),
      version: result.version,
    }).catch((error: unknown) => logger.error({ err: error }, "cannot publish training status"));
  });
  worker.on("failed", (job, error) => {
    if (job === undefined) return;
    publishStatus({
      jobId: job.id!,
      state: "failed",
      progress: lastProgress(job),
      error: job.failedReason || error.message,
    }).catch((err: unknown) => logger.error({ err }, "cannot publish training status"));
  });
  worker.on("error", (error) => logger.error({ err: error }, "training worker error"));
  return worker;
}
