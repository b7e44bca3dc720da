/**
 * Reading the results stream (`{p}:results`): one entry per scored flow entry, in core's
 * `ResultEntryFields` layout. The windows' JSON is relayed as the detector wrote it (it validated
 * and encoded it); the API cuts it into windows and never parses a window on its way through.
 */
import {
  decodeResultEntry,
  ResultEntryError,
  type RedisKeys,
  type ResultEntryWindows,
} from "@floodwatch/core";
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

/** The windows of one results entry, as JSON texts. Throws {@link InvalidResultEntryError}. */
export function parseResultEntry([id, fields]: StreamEntry): ResultEntryWindows {
  try {
    return decodeResultEntry((name) => entryField(fields, name));
  } catch (error) {
    if (!(error instanceof ResultEntryError)) throw error;
    throw new InvalidResultEntryError(id, error.message);
  }
}

/** A JSON array of windows from their JSON texts, byte for byte what `JSON.stringify` gives. */
export function windowsJson(texts: readonly string[]): string {
  return `[${texts.join(",")}]`;
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
 * Recent window results (their JSON texts), newest first, matching the query: walks the results
 * stream backwards and stops at `limit` windows or {@link MAX_SCANNED_ENTRIES} entries. Entries
 * that break the contract are skipped (and reported through `onInvalid`).
 */
export async function recentWindows(
  redis: Redis,
  keys: RedisKeys,
  query: WindowQuery,
  onInvalid: (error: InvalidResultEntryError) => void = () => undefined,
): Promise<string[]> {
  const out: string[] = [];
  let end = "+";
  let scanned = 0;
  while (out.length < query.limit && scanned < MAX_SCANNED_ENTRIES) {
    const count = Math.min(PAGE_ENTRIES, MAX_SCANNED_ENTRIES - scanned);
    const page = (await redis.xrevrange(keys.results, end, "-", "COUNT", count)) as StreamEntry[];
    if (page.length === 0) break;
    scanned += page.length;
    end = `(${page[page.length - 1]![0]}`;
    for (const entry of page) {
      // The entry names its upload (all its windows are that upload's), so other uploads'
      // entries are skipped undecoded.
      if (query.uploadId !== undefined && entryField(entry[1], "uploadId") !== query.uploadId)
        continue;
      let windows: ResultEntryWindows;
      try {
        windows = parseResultEntry(entry);
      } catch (error) {
        if (!(error instanceof InvalidResultEntryError)) throw error;
        onInvalid(error);
        continue;
      }
      for (let i = windows.texts.length - 1; i >= 0 && out.length < query.limit; i--) {
        if (query.anomaliesOnly && !windows.anomalous[i]) continue;
        out.push(windows.texts[i]!);
      }
      if (out.length >= query.limit) break;
    }
    if (page.length < count) break;
  }
  return out;
}
