/**
 * The headline figures: global counters, flow rate, backlog, live detectors and the active
 * model, read from Redis as docs/architecture.md lays them out.
 */
import { modelSummaryOf, type ModelSummary, type RedisKeys, type Summary } from "@floodwatch/core";
import {
  activeModelVersion,
  backlog,
  countField,
  loadModel,
  readGlobalCounters,
  UnknownModelError,
} from "@floodwatch/platform";
import type { Redis } from "ioredis";
import type { Logger } from "pino";

/** A detector whose last heartbeat is younger than this counts as active (architecture doc). */
export const DETECTOR_LIVENESS_MS = 15_000;

/** Complete seconds the flows/s figure averages over (architecture doc). */
export const FLOW_RATE_SECONDS = 5;

/** Average flows scored per second over the last complete seconds of the flow-rate hash. */
export async function readFlowsPerSecond(
  redis: Redis,
  keys: RedisKeys,
  nowMs: number,
): Promise<number> {
  // The current second is still being counted, so it is left out.
  const current = Math.floor(nowMs / 1000);
  const seconds: string[] = [];
  for (let s = current - FLOW_RATE_SECONDS; s < current; s++) seconds.push(String(s));
  const values = await redis.hmget(keys.flowRate, ...seconds);
  let flows = 0;
  for (const value of values) flows += countField(value);
  return flows / FLOW_RATE_SECONDS;
}

/** Detectors whose heartbeat is younger than {@link DETECTOR_LIVENESS_MS}. */
export async function readActiveDetectors(
  redis: Redis,
  keys: RedisKeys,
  nowMs: number,
): Promise<number> {
  return redis.zcount(keys.detectors, `(${nowMs - DETECTOR_LIVENESS_MS}`, "+inf");
}

/** What {@link SummaryReader} needs. */
export interface SummaryReaderOptions {
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  /** Clock in ms since epoch (tests pin it). */
  clock?: () => number;
}

/**
 * Computes {@link Summary}. The active model's summary is cached by version: parsing a model
 * file is the expensive part, and a version is a content id, so it never changes under a name.
 */
export class SummaryReader {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private readonly logger: Logger;
  private readonly clock: () => number;
  private cached: { version: string; summary: Promise<ModelSummary> } | undefined;

  constructor(options: SummaryReaderOptions) {
    this.redis = options.redis;
    this.keys = options.keys;
    this.logger = options.logger;
    this.clock = options.clock ?? Date.now;
  }

  /** The summary of one model version, from the cache when it is the last one asked for. */
  modelSummary(version: string): Promise<ModelSummary> {
    if (this.cached?.version !== version) {
      const summary = loadModel(this.redis, this.keys, version).then(modelSummaryOf);
      const entry = { version, summary };
      this.cached = entry;
      // A failed load must not stick: the next call tries again.
      summary.catch(() => {
        if (this.cached === entry) this.cached = undefined;
      });
    }
    return this.cached.summary;
  }

  /** The active model's summary, or null when none is active (or its file is missing). */
  async activeModel(): Promise<ModelSummary | null> {
    const version = await activeModelVersion(this.redis, this.keys);
    if (version === null) return null;
    try {
      return await this.modelSummary(version);
    } catch (error) {
      if (!(error instanceof UnknownModelError)) throw error;
      this.logger.warn({ version }, "the active model version has no model file");
      return null;
    }
  }

  /** Reads every figure of the summary. */
  async read(): Promise<Summary> {
    const now = this.clock();
    const [counters, flowsPerSecond, entries, active, model] = await Promise.all([
      readGlobalCounters(this.redis, this.keys),
      readFlowsPerSecond(this.redis, this.keys, now),
      backlog(this.redis, this.keys),
      readActiveDetectors(this.redis, this.keys, now),
      this.activeModel(),
    ]);
    const { flowsIngested: _ingested, ...scored } = counters;
    return {
      ...scored,
      threshold: model?.threshold ?? null,
      flowsPerSecond,
      backlog: entries,
      detectors: { active },
      model,
    };
  }
}
