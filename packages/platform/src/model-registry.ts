/**
 * The model registry in Redis: every published version kept by content id, one of them active.
 * Activation is announced on a pub/sub channel so detectors switch without a restart.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import {
  modelSummaryOf,
  parseModel,
  serializeModel,
  type FloodwatchModel,
  type ModelSummary,
  type RedisKeys,
} from "@floodwatch/core";
import type { Redis } from "ioredis";

/** A model version that is not in the registry. */
export class UnknownModelError extends Error {
  override readonly name = "UnknownModelError";
  constructor(readonly version: string) {
    super(`model version ${version} is not in the registry`);
  }
}

/** A registry entry as listed. */
export interface RegisteredModel extends ModelSummary {
  publishedAt: number;
  active: boolean;
}

/**
 * Stores a model (idempotent: the version is a content id) and, unless `activate` is false,
 * makes it the active one and notifies subscribers. Returns the version.
 */
export async function publishModel(
  redis: Redis,
  keys: RedisKeys,
  model: FloodwatchModel,
  options: { activate?: boolean; now?: number } = {},
): Promise<string> {
  const text = serializeModel(model);
  const multi = redis
    .multi()
    .set(keys.model(model.version), text)
    .zadd(keys.models, "NX", options.now ?? Date.now(), model.version);
  if (options.activate ?? true) {
    multi.set(keys.activeModel, model.version).publish(keys.modelChannel, model.version);
  }
  await multi.exec();
  return model.version;
}

/** Makes a stored version the active one (also serves as rollback) and notifies subscribers. */
export async function activateModel(redis: Redis, keys: RedisKeys, version: string): Promise<void> {
  if (!(await redis.exists(keys.model(version)))) throw new UnknownModelError(version);
  await redis.multi().set(keys.activeModel, version).publish(keys.modelChannel, version).exec();
}

/** The active version, or null when none is published. */
export async function activeModelVersion(redis: Redis, keys: RedisKeys): Promise<string | null> {
  return redis.get(keys.activeModel);
}

/** Loads one version; throws {@link UnknownModelError} when absent. */
export async function loadModel(
  redis: Redis,
  keys: RedisKeys,
  version: string,
): Promise<FloodwatchModel> {
  const text = await redis.get(keys.model(version));
  if (text === null) throw new UnknownModelError(version);
  return parseModel(text);
}

/** The model file text of one version, or null. */
export async function modelFileText(
  redis: Redis,
  keys: RedisKeys,
  version: string,
): Promise<string | null> {
  return redis.get(keys.model(version));
}

/** Loads the active model, or null when none is published. */
export async function loadActiveModel(
  redis: Redis,
  keys: RedisKeys,
): Promise<FloodwatchModel | null> {
  const version = await activeModelVersion(redis, keys);
  return version === null ? null : loadModel(redis, keys, version);
}

/** Every version, newest first. */
export async function listModels(redis: Redis, keys: RedisKeys): Promise<RegisteredModel[]> {
  const [entries, active] = await Promise.all([
    redis.zrevrange(keys.models, 0, -1, "WITHSCORES"),
    activeModelVersion(redis, keys),
  ]);
  const out: RegisteredModel[] = [];
  for (let i = 0; i < entries.length; i += 2) {
    const version = entries[i]!;
    const text = await redis.get(keys.model(version));
    if (text === null) continue;
    out.push({
      ...modelSummaryOf(parseModel(text)),
      publishedAt: Number(entries[i + 1]),
      active: version === active,
    });
  }
  return out;
}

/** Path of the default model shipped with `@floodwatch/core` (trained on generated benign traffic). */
export function defaultModelPath(): string {
  return createRequire(import.meta.url).resolve("@floodwatch/core/models/default-model.json");
}

/**
 * Publishes the shipped default model when the registry has no active model: the first start of
 * a stack. Safe when several services start at once (SET NX decides). Returns the active version.
 */
export async function ensureActiveModel(
  redis: Redis,
  keys: RedisKeys,
  path = defaultModelPath(),
): Promise<string> {
  const current = await activeModelVersion(redis, keys);
  if (current !== null) return current;
  const model = parseModel(await readFile(path, "utf8"));
  const text = serializeModel(model);
  await redis
    .multi()
    .set(keys.model(model.version), text)
    .zadd(keys.models, "NX", Date.now(), model.version)
    .exec();
  const won = await redis.set(keys.activeModel, model.version, "NX");
  if (won === "OK") await redis.publish(keys.modelChannel, model.version);
  return (await activeModelVersion(redis, keys)) ?? model.version;
}
