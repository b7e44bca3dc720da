/**
 * Reading the results stream (`{p}:results`): one entry per scored flow entry, fields `uploadId`
 * and `windows` (JSON `WindowResult[]`, in window order).
 */
import { resultBatchSchema, type RedisKeys, type WindowResult } from "@floodwatch/core";
import type { Redis } from "ioredis";

/** A results stream entry that does not match the contract. */
export class InvalidResultEntryError extends Error {
  override readonly name = "InvalidResultEntryError";
  constructor(
    readonly entryId: string,
    reason: string,
  ) {
    super(`results entry ${entryId} is invalid: ${reason}`);
  }
}

/** A stream entry as ioredis returns it: id and a flat field/value list. */
export type StreamEntry = [id: string, fields: string[]];

/** The value of one field of a stream entry, or undefined. */
export function entryField(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** The windows of one results entry, validated. Throws {@link InvalidResultEntryError}. */
export function parseResultEntry([id, fields]: StreamEntry): WindowResult[] {
  const text = entryField(fields, "windows");
  if (text === undefined) throw new InvalidResultEntryError(id, "no windows field");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidResultEntryError(id, "windows is not JSON");
  }
  const parsed = resultBatchSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidResultEntryError(id, `${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}

/** Filter of {@link recentWindows}. */
export interface WindowQuery {
  uploadId?: string | undefined;
  anomaliesOnly: boolean;
  limit: number;
}

/** Results entries read per `XREVRANGE` call. */
const PAGE_ENTRIES = 200;

/**
 * Results entries one query scans at most. A filter that matches nothing must not walk the
 * whole history on every request; a client that needs more than recent windows has the counters.
 */
export const MAX_SCANNED_ENTRIES = 5_000;

/**
 * Recent window results, newest first, matching the query: walks the results stream backwards
 * and stops at `limit` windows or {@link MAX_SCANNED_ENTRIES} entries. Entries that break the
 * contract are skipped (and reported through `onInvalid`).
 */
export async function recentWindows(
  redis: Redis,
  keys: RedisKeys,
  query: WindowQuery,
  onInvalid: (error: InvalidResultEntryError) => void = () => undefined,
): Promise<WindowResult[]> {
  const out: WindowResult[] = [];
  let end = "+";
  let scanned = 0;
  while (out.length < query.limit && scanned < MAX_SCANNED_ENTRIES) {
    const count = Math.min(PAGE_ENTRIES, MAX_SCANNED_ENTRIES - scanned);
    const page = (await redis.xrevrange(keys.results, end, "-", "COUNT", count)) as StreamEntry[];
    if (page.length === 0) break;
    scanned += page.length;
    end = `(${page[page.length - 1]![0]}`;
    for (const entry of page) {
      // The entry names its upload, so other uploads' entries are skipped unparsed.
      if (query.uploadId !== undefined && entryField(entry[1], "uploadId") !== query.uploadId)
        continue;
      let windows: WindowResult[];
      try {
        windows = parseResultEntry(entry);
      } catch (error) {
        if (!(error instanceof InvalidResultEntryError)) throw error;
        onInvalid(error);
        continue;
      }
      for (let i = windows.length - 1; i >= 0 && out.length < query.limit; i--) {
        const window = windows[i]!;
        if (query.anomaliesOnly && !window.anomaly) continue;
        if (query.uploadId !== undefined && window.uploadId !== query.uploadId) continue;
        out.push(window);
      }
      if (out.length >= query.limit) break;
    }
    if (page.length < count) break;
  }
  return out;
}
