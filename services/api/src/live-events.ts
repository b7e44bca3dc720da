/**
 * The pub/sub side of the live feed: model activations (`{p}:model:activated`, payload = the
 * version) and training job events (`{p}:training:events`, payload = `TrainingJobStatus` JSON).
 */
import { trainingJobStatusSchema, type RedisKeys, type TrainingJobStatus } from "@floodwatch/core";
import type { Redis } from "ioredis";
import type { Logger } from "pino";

/** What {@link LiveEvents} needs. */
export interface LiveEventsOptions {
  /** A connection for the subscription alone (a subscribed connection runs no other command); closed by `close()`. */
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  onModelActivated: (version: string) => void;
  onTrainingEvent: (job: TrainingJobStatus) => void;
}

/** Subscribes to the model and training channels and hands on validated events. */
export class LiveEvents {
  private closed = false;

  constructor(private readonly options: LiveEventsOptions) {
    // The connection reconnects and resubscribes by itself; an outage is logged, not thrown.
    options.redis.on("error", (error) =>
      options.logger.warn({ err: error }, "live events connection"),
    );
  }

  /** Subscribes; events flow from when this resolves. */
  async start(): Promise<void> {
    const { redis, keys } = this.options;
    redis.on("message", (channel: string, message: string) => this.receive(channel, message));
    await redis.subscribe(keys.modelChannel, keys.trainingChannel);
  }

  /** Closes the subscription connection. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.options.redis.disconnect();
  }

  private receive(channel: string, message: string): void {
    const { keys, logger } = this.options;
    if (channel === keys.modelChannel) {
      if (message.length > 0) this.options.onModelActivated(message);
      return;
    }
    if (channel !== keys.trainingChannel) return;
    let json: unknown;
    try {
      json = JSON.parse(message);
    } catch {
      logger.warn({ channel }, "ignoring a training event that is not JSON");
      return;
    }
    const parsed = trainingJobStatusSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      logger.warn(
        { channel, problem: `${issue.path.join(".")}: ${issue.message}` },
        "ignoring an invalid training event",
      );
      return;
    }
    this.options.onTrainingEvent(parsed.data);
  }
}
