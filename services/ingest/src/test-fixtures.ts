/**
 * Shared pieces of the ingest tests: an app on its own key prefix over a real Redis, generated
 * CSV text, multipart bodies, and the flow entries read back from the stream. Not used by the
 * service itself.
 */
import { decodeFlowEntry, redisKeys, type FlowEntry, type RedisKeys } from "@floodwatch/core";
import { generateFlowCsv, type FlowGeneratorOptions } from "@floodwatch/core/generator";
import {
  closeRedis,
  connectRedis,
  createLogger,
  ensureActiveModel,
  ensureDetectorGroup,
} from "@floodwatch/platform";
import type { FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { buildIngestApp } from "./app.ts";
import { loadIngestConfig, type IngestConfig } from "./env.ts";
import { InFlightUploads } from "./in-flight-uploads.ts";

let prefixes = 0;

/** An ingest app with its own key prefix, the default model active and the group created. */
export interface IngestHarness {
  app: FastifyInstance;
  redis: Redis;
  keys: RedisKeys;
  config: IngestConfig;
  inFlight: InFlightUploads;
  close(): Promise<void>;
}

/** Builds an app on `redisUrl` with `env` on top of the test defaults. */
export async function startIngest(
  redisUrl: string,
  env: Record<string, string> = {},
  options: { activateDefaultModel?: boolean } = {},
): Promise<IngestHarness> {
  const prefix = `ingest-test-${process.pid}-${++prefixes}`;
  const config = loadIngestConfig({
    REDIS_URL: redisUrl,
    FLOODWATCH_KEY_PREFIX: prefix,
    LOG_LEVEL: "silent",
    ...env,
  });
  const keys = redisKeys(prefix);
  const redis = connectRedis(redisUrl, "ingest-test");
  redis.on("error", () => undefined);
  if (options.activateDefaultModel ?? true) await ensureActiveModel(redis, keys);
  await ensureDetectorGroup(redis, keys);
  const inFlight = new InFlightUploads();
  const app = buildIngestApp({
    config,
    redis,
    logger: createLogger("ingest-test", "silent"),
    inFlight,
  });
  await app.ready();
  return {
    app,
    redis,
    keys,
    config,
    inFlight,
    close: async () => {
      await app.close();
      await closeRedis(redis);
    },
  };
}

/** A generated CSV as one string. */
export function flowCsv(options: Partial<FlowGeneratorOptions> & { flows: number }): string {
  let text = "";
  for (const chunk of generateFlowCsv({ attack: "syn", seed: 7, ...options })) text += chunk;
  return text;
}

/** A `multipart/form-data` body with the given fields, in order. */
export function multipartBody(
  parts: { field: string; value: string; filename?: string; contentType?: string }[],
): { body: Buffer; contentType: string } {
  const boundary = `----floodwatch-test-${Math.random().toString(16).slice(2)}`;
  const pieces: string[] = [];
  for (const part of parts) {
    pieces.push(`--${boundary}\r\n`);
    const file = part.filename === undefined ? "" : `; filename="${part.filename}"`;
    pieces.push(`Content-Disposition: form-data; name="${part.field}"${file}\r\n`);
    if (part.contentType !== undefined) pieces.push(`Content-Type: ${part.contentType}\r\n`);
    pieces.push(`\r\n${part.value}\r\n`);
  }
  pieces.push(`--${boundary}--\r\n`);
  return {
    body: Buffer.from(pieces.join(""), "utf8"),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

/** Every entry of the flows stream, decoded, in stream order. */
export async function readFlowEntries(redis: Redis, keys: RedisKeys): Promise<FlowEntry[]> {
  const raw = await redis.xrangeBuffer(keys.flows, "-", "+");
  return raw.map(([, fields]) => decodeStreamFields(fields));
}

/**
 * Decodes the flat field list of one stream entry. The fields are copied first: ioredis may hand
 * out reply Buffers that are slices of a parser pool it reuses, and `decodeFlowEntry` keeps
 * zero-copy views of aligned bytes.
 */
export function decodeStreamFields(fields: Buffer[]): FlowEntry {
  const byName = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    byName.set(fields[i]!.toString(), Buffer.from(fields[i + 1]!));
  }
  return decodeFlowEntry({
    meta: byName.get("meta"),
    values: byName.get("values"),
    lines: byName.get("lines"),
    attack: byName.get("attack"),
    context: byName.get("context"),
  });
}

/**
 * The upload's flow sequence rebuilt from its entries, in order: each entry must start where
 * its windows say and repeat exactly the previous entry's last `size - stride` flows. Throws
 * saying which entry breaks the chain.
 */
export function flowSequenceOf(entries: FlowEntry[]): {
  lines: number[];
  attack: number[];
  values: number[][];
  windows: number;
} {
  const lines: number[] = [];
  const attack: number[] = [];
  const values: number[][] = [];
  let windows = 0;
  entries.forEach((entry, index) => {
    const { meta } = entry;
    if (meta.seq !== index) throw new Error(`entry ${index} has seq ${meta.seq}`);
    if (meta.firstWindow !== windows) {
      throw new Error(`entry ${index} starts at window ${meta.firstWindow}, expected ${windows}`);
    }
    const overlap = index === 0 ? 0 : meta.window.size - meta.window.stride;
    for (let k = 0; k < overlap; k++) {
      const expected = lines[lines.length - overlap + k];
      if (entry.lines[k] !== expected) {
        throw new Error(
          `entry ${index} context flow ${k} is line ${entry.lines[k]}, not ${expected}`,
        );
      }
    }
    for (let k = overlap; k < meta.flowCount; k++) {
      lines.push(entry.lines[k]!);
      attack.push(entry.attack[k]!);
      values.push(
        Array.from(entry.values.subarray(k * meta.featureCount, (k + 1) * meta.featureCount)),
      );
    }
    windows += meta.windowCount;
  });
  return { lines, attack, values, windows };
}
