/**
 * The headline figures: global counters, flow rate, backlog, live detectors and the active
 * model, read from Redis as docs/architecture.md lays them out.
 */
import {
  DETECTOR_GROUP,
  modelSummaryOf,
  type ModelSummary,
  type RedisKeys,
  type Summary,
} from "@floodwatch/core";
import { activeModelVersion, loadModel, UnknownModelError } from "@floodwatch/platform";
import type { Redis } from "ioredis";
import type { Logger } from "pino";

/** A detector whose last heartbeat is younger than this counts as active (architecture doc). */
export const DETECTOR_LIVENESS_MS = 15_000;

/** Complete seconds the flows/s figure averages over (architecture doc). */
export const FLOW_RATE_SECONDS = 5;

const COUNTER_FIELDS = [
  "windowsScored",
  "flowsScored",
  "anomalies",
  "lastScore",
  "worstScore",
  "deadLetters",
  "flowsIngested",
] as const;

/** The global counters the API reports, parsed. */
export interface GlobalCounters {
  windowsScored: number;
  flowsScored: number;
  anomalies: number;
  lastScore: number | null;
  worstScore: number | null;
  deadLetters: number;
  flowsIngested: number;
}

/** An integer counter field: absent means nothing counted yet. */
export function countField(value: string | null | undefined): number {
  if (value === null || value === undefined || value === "") return 0;
  const n = Number(value);
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}

/** A score field: absent (nothing scored yet) or not a finite number reads as null. */
export function scoreField(value: string | null | undefined): number | null {
  if (value === null || value === undefined || value === "") return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

function parseCounters(values: (string | null)[]): GlobalCounters {
  const [windowsScored, flowsScored, anomalies, lastScore, worstScore, deadLetters, ingested] =
    values;
  return {
    windowsScored: countField(windowsScored),
    flowsScored: countField(flowsScored),
    anomalies: countField(anomalies),
    lastScore: scoreField(lastScore),
    worstScore: scoreField(worstScore),
    deadLetters: countField(deadLetters),
    flowsIngested: countField(ingested),
  };
}

/** Reads the global counters hash. */
export async function readCounters(redis: Redis, keys: RedisKeys): Promise<GlobalCounters> {
  return parseCounters(await redis.hmget(keys.counters, ...COUNTER_FIELDS));
}

/** Fields of one `XINFO GROUPS` entry, which Redis returns as a flat key/value list. */
function groupFields(raw: unknown): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  if (!Array.isArray(raw)) return fields;
  for (let i = 0; i + 1 < raw.length; i += 2) fields.set(String(raw[i]), raw[i + 1]);
  return fields;
}

/**
 * Flow entries the detectors have not acknowledged yet: the `detectors` group's lag (never
 * delivered) plus its pending count (delivered, not acknowledged). 0 before the stream or the
 * group exists.
 */
export async function readBacklog(redis: Redis, keys: RedisKeys): Promise<number> {
  let groups: unknown;
  try {
    groups = await redis.xinfo("GROUPS", keys.flows);
  } catch (error) {
    // No stream yet: nothing was ever queued.
    if (error instanceof Error && /no such key/i.test(error.message)) return 0;
    throw error;
  }
  if (!Array.isArray(groups)) return 0;
  for (const raw of groups) {
    const group = groupFields(raw);
    if (group.get("name") !== DETECTOR_GROUP) continue;
    const pending = Number(group.get("pending") ?? 0);
    const lag = group.get("lag");
    if (lag !== null && lag !== undefined) return Number(lag) + pending;
    // Redis cannot tell the lag when entries were deleted inside the group's unread range. The
    // stream is trimmed only below what every group acknowledged, so its length bounds the
    // undelivered plus pending entries from above: report that rather than nothing.
    return redis.xlen(keys.flows);
  }
  return 0;
}

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
    const [counters, flowsPerSecond, backlog, active, model] = await Promise.all([
      readCounters(this.redis, this.keys),
      readFlowsPerSecond(this.redis, this.keys, now),
      readBacklog(this.redis, this.keys),
      readActiveDetectors(this.redis, this.keys, now),
      this.activeModel(),
    ]);
    return {
      windowsScored: counters.windowsScored,
      flowsScored: counters.flowsScored,
      anomalies: counters.anomalies,
      threshold: model?.threshold ?? null,
      lastScore: counters.lastScore,
      worstScore: counters.worstScore,
      flowsPerSecond,
      backlog,
      deadLetters: counters.deadLetters,
      detectors: { active },
      model,
    };
  }
}
