/**
 * The API's handle on the `training` queue: a BullMQ producer on a dedicated connection.
 */
import type { RedisKeys } from "@floodwatch/core";
import { closeRedis, connectRedis } from "@floodwatch/platform";
import { Queue } from "bullmq";
import {
  TRAINING_JOBS_KEPT,
  TRAINING_QUEUE,
  type TrainingJobData,
  type TrainingJobResult,
} from "@floodwatch/core";

/** The training queue as the API uses it. */
export type TrainingQueue = Queue<TrainingJobData, TrainingJobResult>;

/** An open queue and the one way to close it with its connection. */
export interface TrainingQueueHandle {
  queue: TrainingQueue;
  /** Closes the queue, then its connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * Opens the training queue on a connection of its own (`maxRetriesPerRequest: null`, as BullMQ
 * requires), under `keys.queuePrefix`. Jobs are tried once: a training that failed on its data
 * fails again; the last {@link TRAINING_JOBS_KEPT} finished jobs keep their version or reason.
 */
export function openTrainingQueue(redisUrl: string, keys: RedisKeys): TrainingQueueHandle {
  const connection = connectRedis(redisUrl, "api-training-queue");
  connection.on("error", () => undefined); // reconnects on its own; the queue reports failures
  const queue: TrainingQueue = new Queue<TrainingJobData, TrainingJobResult>(TRAINING_QUEUE, {
    connection,
    prefix: keys.queuePrefix,
    defaultJobOptions: {
      attempts: 1,
      removeOnComplete: { count: TRAINING_JOBS_KEPT },
      removeOnFail: { count: TRAINING_JOBS_KEPT },
    },
  });
  let closing: Promise<void> | undefined;
  return {
    queue,
    close: () =>
      (closing ??= (async () => {
        try {
          await queue.close();
        } finally {
          await closeRedis(connection);
        }
      })()),
  };
}
