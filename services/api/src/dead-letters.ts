/**
 * The dead-letters stream (`{p}:dead-letters`, fields `entryId`, `uploadId`, `reason`,
 * `deliveries`, `at`), read into {@link DeadLetter}s.
 */
import { deadLetterSchema, type DeadLetter, type RedisKeys } from "@floodwatch/core";
import type { Redis } from "ioredis";
import { countField } from "@floodwatch/platform";
import { entryField, type StreamEntry } from "./windows.ts";

/** One dead-letters entry, or null when it does not match the contract. */
export function parseDeadLetter([, fields]: StreamEntry): DeadLetter | null {
  const uploadId = entryField(fields, "uploadId");
  const parsed = deadLetterSchema.safeParse({
    entryId: entryField(fields, "entryId"),
    // An entry that could not be decoded may not name its upload.
    uploadId: uploadId ? uploadId : null,
    reason: entryField(fields, "reason") ?? "",
    deliveries: countField(entryField(fields, "deliveries")),
    at: countField(entryField(fields, "at")),
  });
  return parsed.success ? parsed.data : null;
}

/** The most recent dead letters, newest first. Entries that break the contract are skipped. */
export async function recentDeadLetters(
  redis: Redis,
  keys: RedisKeys,
  limit: number,
): Promise<DeadLetter[]> {
  const entries = (await redis.xrevrange(
    keys.deadLetters,
    "+",
    "-",
    "COUNT",
    limit,
  )) as StreamEntry[];
  const out: DeadLetter[] = [];
  for (const entry of entries) {
    const letter = parseDeadLetter(entry);
    if (letter) out.push(letter);
  }
  return out;
}
