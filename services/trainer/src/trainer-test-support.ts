/**
 * Test support for the trainer: put an input in Redis and enqueue its job the way the API does,
 * run a worker in-process, wait for a job, and listen to the training channel.
 */
import { randomUUID } from "node:crypto";
import {
  redisKeys,
  trainingJobStatusSchema,
  type RedisKeys,
  type TrainingJobStatus,
} from "@floodwatch/core";
import { generateFlowCsv, type AttackKind } from "@floodwatch/core/generator";
import { closeRedis, connectRedis, createLogger } from "@floodwatch/platform";
import { Queue, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { createTrainerMetrics, type TrainerMetrics } from "./metrics.ts";
import {
  TRAINING_INPUT_CHUNK_BYTES,
  TRAINING_QUEUE,
  trainingSettingsSchema,
  type TrainingJobData,
  type TrainingJobResult,
} from "@floodwatch/core";
import { createTrainingWorker, type TrainingWorker } from "./worker.ts";

/** A generated CICFlowMeter CSV. */
export function generatedCsv(flows: number, seed: number, attack: AttackKind = "none"): string {
  return [...generateFlowCsv({ flows, attack, seed })].join("");
}

/** One test's view of a Redis: its own prefix, queue and connections. */
export interface TrainerTestBed {
  keys: RedisKeys;
  redis: Redis;
  queue: Queue<TrainingJobData, TrainingJobResult>;
  /** Stores `csv` as a training input and enqueues its job; returns the job id. */
  submit(csv: string | Buffer, settings?: Record<string, unknown>, name?: string): Promise<string>;
  /** Starts an in-process worker (closed by {@link close}). */
  startWorker(concurrency?: number): { worker: TrainingWorker; metrics: TrainerMetrics };
  /** Waits until the job has completed or failed. */
  finished(jobId: string): Promise<Job<TrainingJobData, TrainingJobResult>>;
  /** Every status published on the training channel since the bed opened, in order. */
  statuses: TrainingJobStatus[];
  /** Waits until a status of `jobId` in `state` has been published; returns it. */
  published(jobId: string, state: TrainingJobStatus["state"]): Promise<TrainingJobStatus>;
  close(): Promise<void>;
}

/** Opens a test bed on `redisUrl` under `prefix`. */
export async function openTrainerTestBed(
  redisUrl: string,
  prefix: string,
): Promise<TrainerTestBed> {
  const keys = redisKeys(prefix);
  const redis = connectRedis(redisUrl, "trainer-test");
  const subscriber = connectRedis(redisUrl, "trainer-test-subscriber");
  const queueConnection = connectRedis(redisUrl, "trainer-test-queue");
  const workerConnection = connectRedis(redisUrl, "trainer-test-worker");
  const queue = new Queue<TrainingJobData, TrainingJobResult>(TRAINING_QUEUE, {
    connection: queueConnection,
    prefix: keys.queuePrefix,
  });
  const statuses: TrainingJobStatus[] = [];
  subscriber.on("message", (_channel: string, message: string) => {
    statuses.push(trainingJobStatusSchema.parse(JSON.parse(message)));
  });
  await subscriber.subscribe(keys.trainingChannel);
  const workers: TrainingWorker[] = [];

  return {
    keys,
    redis,
    queue,
    statuses,
    async submit(csv, settings = {}, name = "generated.csv") {
      const jobId = randomUUID();
      const inputKey = keys.trainingInput(jobId);
      const bytes = typeof csv === "string" ? Buffer.from(csv) : csv;
      let chunks = 0;
      for (let at = 0; at < bytes.length; at += TRAINING_INPUT_CHUNK_BYTES) {
        await redis.rpush(inputKey, bytes.subarray(at, at + TRAINING_INPUT_CHUNK_BYTES));
        chunks++;
      }
      await queue.add(
        "train",
        {
          name,
          inputKey,
          inputBytes: bytes.length,
          inputChunks: chunks,
          settings: trainingSettingsSchema.parse(settings),
          submittedAt: Date.now(),
        },
        { jobId },
      );
      return jobId;
    },
    startWorker(concurrency = 1) {
      const metrics = createTrainerMetrics();
      const worker = createTrainingWorker({
        connection: workerConnection,
        redis,
        keys,
        logger: createLogger("trainer-test", "silent"),
        concurrency,
        metrics,
      });
      workers.push(worker);
      return { worker, metrics };
    },
    async finished(jobId) {
      const deadline = Date.now() + 50_000;
      for (;;) {
        // The state first, then the job: a job read before it completes carries no return
        // value even when getState, asked a moment later, already answers "completed".
        const state = await queue.getJobState(jobId);
        const job = state === "completed" || state === "failed" ? await queue.getJob(jobId) : null;
        if (job) return job;
        if (Date.now() > deadline) throw new Error(`job ${jobId} still ${state} after 50 s`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async published(jobId, state) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const status = statuses.find((s) => s.jobId === jobId && s.state === state);
        if (status) return status;
        if (Date.now() > deadline) throw new Error(`no ${state} status of job ${jobId} published`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async close() {
      for (const worker of workers) await worker.close();
      await queue.close();
      for (const client of [redis, subscriber, queueConnection, workerConnection]) {
        await closeRedis(client);
      }
    },
  };
}
