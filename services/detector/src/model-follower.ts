/**
 * Model switching of a detector: follows the registry's active version (announced on the model
 * channel, and checked periodically in case an announcement was missed while reconnecting) and
 * switches its {@link ModelStore} one version at a time, the last one asked for winning.
 */
import type { RedisKeys } from "@floodwatch/core";
import { activeModelVersion, ensureActiveModel, type Logger } from "@floodwatch/platform";
import type { Redis } from "ioredis";
import type { DetectorMetrics } from "./metrics.ts";
import type { ModelStore } from "./model-store.ts";

/** What a follower works with. */
export interface ModelFollowerDeps {
  /** Commands: registry reads, publishing the default model. */
  redis: Redis;
  /** Used only to subscribe to model activations. */
  subscriber: Redis;
  keys: RedisKeys;
  store: ModelStore;
  metrics: Pick<DetectorMetrics, "modelInfo">;
  logger: Logger;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Keeps a detector's active model in step with the registry. */
export class ModelFollower {
  readonly #deps: ModelFollowerDeps;
  /** Serialises model switches so that the last one asked for wins. */
  #switching: Promise<void> = Promise.resolve();
  readonly #onMessage = (channel: string, message: string) => {
    if (channel !== this.#deps.keys.modelChannel) return;
    this.#deps.logger.info({ version: message }, "model activation announced");
    this.#follow();
  };
  /** After a reconnect an activation may have been missed. */
  readonly #onSubscriberReady = () => this.#follow();

  constructor(deps: ModelFollowerDeps) {
    this.#deps = deps;
  }

  /** Version of the active model, or null before one is loaded. */
  get version(): string | null {
    return this.#deps.store.active?.model.version ?? null;
  }

  /**
   * Loads the active model (publishing the shipped default when none is active), then listens
   * for activations.
   */
  async start(): Promise<void> {
    const { redis, subscriber, keys } = this.#deps;
    const version =
      (await activeModelVersion(redis, keys)) ?? (await ensureActiveModel(redis, keys));
    await this.#enqueue(() => this.#activate(version));
    subscriber.on("message", this.#onMessage);
    subscriber.on("ready", this.#onSubscriberReady);
    await subscriber.subscribe(keys.modelChannel);
  }

  /** Stops listening; the returned promise is the unsubscribe (the caller bounds it). */
  stop(): Promise<unknown> {
    const { subscriber, keys } = this.#deps;
    subscriber.off("message", this.#onMessage);
    subscriber.off("ready", this.#onSubscriberReady);
    return subscriber.unsubscribe(keys.modelChannel);
  }

  /** Switches to the registry's active version (publishing the default when there is none). */
  sync(): Promise<void> {
    return this.#enqueue(async () => {
      const { redis, keys } = this.#deps;
      const version =
        (await activeModelVersion(redis, keys)) ?? (await ensureActiveModel(redis, keys));
      if (version !== this.version) await this.#activate(version);
    });
  }

  /** Follows the registry's active version in the background, logging a failure. */
  #follow(): void {
    this.sync().catch((error: unknown) =>
      this.#deps.logger.error(
        { err: errorMessage(error) },
        "cannot load the active model; keeping the current one",
      ),
    );
  }

  /** Runs switches one after another; the returned promise fails with its own switch only. */
  #enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.#switching.then(task);
    this.#switching = next.catch(() => undefined);
    return next;
  }

  async #activate(version: string): Promise<void> {
    const previous = this.version;
    const { model } = await this.#deps.store.activate(version);
    this.#deps.metrics.modelInfo.reset();
    this.#deps.metrics.modelInfo.set({ version: model.version }, 1);
    this.#deps.logger.info({ version: model.version, previous }, "model active");
  }
}
