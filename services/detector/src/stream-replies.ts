/**
 * Parsing of the binary stream replies the detector asks for (`callBuffer`), so the packed
 * `values`, `lines` and `attack` fields reach the decoder as the bytes ingest wrote.
 */

/** One stream entry as read: fields by name, or null when the entry no longer exists. */
export interface RawStreamEntry {
  id: string;
  fields: Map<string, Buffer> | null;
}

/** A reply that does not have the shape Redis documents. */
export class UnexpectedReplyError extends Error {
  override readonly name = "UnexpectedReplyError";
}

function text(value: unknown, what: string): string {
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  if (typeof value === "string") return value;
  throw new UnexpectedReplyError(`${what}: expected a bulk string`);
}

function entriesOf(list: unknown, what: string): RawStreamEntry[] {
  if (!Array.isArray(list)) throw new UnexpectedReplyError(`${what}: expected an entry list`);
  return list.map((item: unknown) => {
    if (!Array.isArray(item) || item.length < 1) {
      throw new UnexpectedReplyError(`${what}: expected [id, fields]`);
    }
    const id = text(item[0], `${what} id`);
    const flat: unknown = item[1];
    if (!Array.isArray(flat)) return { id, fields: null };
    const fields = new Map<string, Buffer>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const value: unknown = flat[i + 1];
      fields.set(
        text(flat[i], `${what} field`),
        Buffer.isBuffer(value) ? value : Buffer.from(text(value, what)),
      );
    }
    return { id, fields };
  });
}

/** The entries of an `XREADGROUP` reply on one stream (an empty list on timeout). */
export function parseReadGroupReply(reply: unknown): RawStreamEntry[] {
  if (reply === null) return [];
  if (!Array.isArray(reply) || reply.length === 0) {
    throw new UnexpectedReplyError("XREADGROUP: expected a list of streams");
  }
  const stream: unknown = reply[0];
  if (!Array.isArray(stream) || stream.length < 2) {
    throw new UnexpectedReplyError("XREADGROUP: expected [stream, entries]");
  }
  return entriesOf(stream[1], "XREADGROUP");
}

/** An `XAUTOCLAIM` reply. */
export interface AutoClaimReply {
  /** Cursor of the next call; `0-0` once the whole pending list has been scanned. */
  next: string;
  /** Entries now owned by the caller (fields null for a deleted entry, before Redis 7). */
  claimed: RawStreamEntry[];
  /** Pending ids whose entries were deleted from the stream (Redis 7 and later). */
  deleted: string[];
}

/** Parses an `XAUTOCLAIM` reply. */
export function parseAutoClaimReply(reply: unknown): AutoClaimReply {
  if (!Array.isArray(reply) || reply.length < 2) {
    throw new UnexpectedReplyError("XAUTOCLAIM: expected [cursor, entries, deleted?]");
  }
  const deleted: unknown = reply[2];
  return {
    next: text(reply[0], "XAUTOCLAIM cursor"),
    claimed: entriesOf(reply[1], "XAUTOCLAIM"),
    deleted: Array.isArray(deleted) ? deleted.map((id) => text(id, "XAUTOCLAIM deleted id")) : [],
  };
}

/**
 * Delivery counts from an extended `XPENDING key group start end count [consumer]` reply:
 * `[[id, consumer, idle ms, deliveries], ...]`.
 */
export function parsePendingDeliveries(reply: unknown): Map<string, number> {
  const out = new Map<string, number>();
  if (!Array.isArray(reply)) throw new UnexpectedReplyError("XPENDING: expected a list");
  for (const row of reply as unknown[]) {
    if (!Array.isArray(row) || row.length < 4) {
      throw new UnexpectedReplyError("XPENDING: expected [id, consumer, idle, deliveries]");
    }
    out.set(text(row[0], "XPENDING id"), Number(row[3]));
  }
  return out;
}
