/**
 * The notifier: incident events in, webhook POSTs and syslog lines out, at least once.
 *
 * An event goes through two durable stages, each entered atomically:
 *
 * 1. Scheduling (one Lua step): XACK the event in the `notifier` group and, only when that
 *    acknowledged it, create one delivery per endpoint (its id `<event id>-<endpoint number>` is
 *    fixed here and sent on every attempt) and put it in the due set. A crash before the step
 *    leaves the event pending in the group; it is claimed and scheduled again. Muted incidents
 *    and `incident.updated` events within `ALERT_UPDATE_INTERVAL_S` of the last one are
 *    acknowledged without deliveries.
 * 2. Delivering: a due delivery is leased (its due time pushed past the attempt's longest
 *    duration, atomically), attempted, and its outcome recorded: delivered, retried later with
 *    exponential backoff, or failed for good once `ALERT_RETRY_FOR_S` have passed. A crash during
 *    an attempt lets the lease run out and the delivery is attempted again, with the same id.
 *
 * So no event is lost and a receiver may see one twice (same delivery id) after a crash. A dead
 * endpoint only fills the due set: the tracker and detectors never wait for it, and the other
 * endpoints' deliveries go out beside it.
 */
import { hostname } from "node:os";
import {
  NOTIFIER_GROUP,
  incidentEventSchema,
  storedDeliverySchema,
  syslogLine,
  webhookBody,
  type RedisKeys,
  type StoredDelivery,
} from "@floodwatch/core";
import { RedisScript, type Logger } from "@floodwatch/platform";
import type { Redis } from "ioredis";
import { GroupConsumer, type StreamEntry } from "./group-consumer.ts";
import {
  SEND_TIMEOUT_MS,
  sendSyslog,
  sendWebhook,
  type NotificationEndpoint,
  type SendOutcome,
} from "./senders.ts";

/** Longest wait between two retries of one delivery. */
const MAX_BACKOFF_MS = 5 * 60_000;
/** A leased delivery is attempted again after this, if its attempt never reported back. */
const LEASE_MS = SEND_TIMEOUT_MS * 3;
/** Finished deliveries stay readable this long. */
const FINISHED_TTL_MS = 7 * 24 * 3600_000;
/** Recent deliveries the index keeps. */
const RECENT_DELIVERIES = 1_000;
/** Due deliveries claimed per turn. */
const CLAIM_COUNT = 20;

/*
 * KEYS: events, due, deliveries, lastUpdate, then one delivery key per endpoint
 * ARGV: group, eventId, now, intervalMs, incidentId, eventType, muted (1/0), recentMax,
 *       then one delivery JSON per endpoint
 * Returns the deliveries scheduled, -1 when already acknowledged, -2 muted, -3 throttled.
 */
const SCHEDULE_EVENT = new RedisScript(`
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) ~= 1 then return -1 end
if ARGV[7] == '1' then return -2 end
if ARGV[6] == 'incident.updated' then
  local last = tonumber(redis.call('HGET', KEYS[4], ARGV[5]) or '')
  if last ~= nil and tonumber(ARGV[3]) - last < tonumber(ARGV[4]) then return -3 end
  redis.call('HSET', KEYS[4], ARGV[5], ARGV[3])
end
if ARGV[6] == 'incident.opened' then redis.call('HSET', KEYS[4], ARGV[5], ARGV[3]) end
if ARGV[6] == 'incident.closed' then redis.call('HDEL', KEYS[4], ARGV[5]) end
local n = 0
for i = 9, #ARGV do
  local key = KEYS[4 + i - 8]
  local id = cjson.decode(ARGV[i]).id
  if redis.call('SET', key, ARGV[i], 'NX') then
    redis.call('ZADD', KEYS[2], ARGV[3], id)
    redis.call('ZADD', KEYS[3], ARGV[3], id)
    n = n + 1
  end
end
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(tonumber(ARGV[8]) + 1))
return n
`);

/*
 * KEYS: due
 * ARGV: now, leaseMs, count
 * Returns the ids of due deliveries, each leased (rescheduled to now + leaseMs).
 */
const CLAIM_DUE = new RedisScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), id) end
return ids
`);

/*
 * KEYS: delivery, due, endpointLast
 * ARGV: deliveryJson, id, endpoint, state, nextAttemptAt, finishedTtlMs
 */
const RECORD_ATTEMPT = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('ZREM', KEYS[2], ARGV[2]) return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[2])
if ARGV[4] == 'pending' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[2])
else
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
end
return 1
`);

/** What the notifier needs. */
export interface NotifierDeps {
  redis: Redis;
  reader: Redis;
  keys: RedisKeys;
  logger: Logger;
  name: string;
  endpoints: readonly NotificationEndpoint[];
  webhookSecret: string;
  updateIntervalMs: number;
  retryForMs: number;
  retryBaseMs: number;
  claimIdleMs: number;
  /** How often due deliveries are looked for (default 250 ms). */
  tickMs?: number;
  now?: () => number;
}

/** The wait before attempt `n + 1` after `n` failed ones. */
export function backoffMs(failures: number, baseMs: number): number {
  return Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, failures - 1));
}

/** See the module comment. */
export class Notifier {
  readonly #d: NotifierDeps;
  readonly #now: () => number;
  readonly #consumer: GroupConsumer;
  readonly #byLabel: Map<string, NotificationEndpoint>;
  #timer: NodeJS.Timeout | undefined;
  #delivering: Promise<void> | undefined;
  #closing = false;

  constructor(deps: NotifierDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.#byLabel = new Map(deps.endpoints.map((e) => [e.label, e]));
    this.#consumer = new GroupConsumer({
      redis: deps.redis,
      reader: deps.reader,
      stream: deps.keys.incidents.events,
      group: NOTIFIER_GROUP,
      consumer: deps.name,
      logger: deps.logger,
      claimIdleMs: deps.claimIdleMs,
      handle: (entry) => this.#schedule(entry),
    });
  }

  async start(): Promise<void> {
    await this.#consumer.start();
    this.#timer = setInterval(() => {
      if (this.#delivering || this.#closing) return;
      this.#delivering = this.deliverDue()
        .catch((error: unknown) =>
          this.#d.logger.warn(
            { err: error instanceof Error ? error.message : String(error) },
            "delivering notifications failed; retrying",
          ),
        )
        .finally(() => {
          this.#delivering = undefined;
        });
    }, this.#d.tickMs ?? 250);
    this.#timer.unref();
  }

  /** Stops taking events and waits for the attempts in hand. Idempotent. */
  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#timer);
    await this.#consumer.close();
    await this.#delivering;
  }

  async #schedule(entry: StreamEntry): Promise<void> {
    const { redis, keys, logger, endpoints } = this.#d;
    const k = keys.incidents;
    let parsed;
    try {
      parsed = incidentEventSchema.safeParse(JSON.parse(entry.fields.event ?? ""));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) {
      logger.warn({ entryId: entry.id }, "incident event breaks the contract; skipped");
      await redis.xack(k.events, NOTIFIER_GROUP, entry.id);
      return;
    }
    const event = parsed.data;
    const now = this.#now();
    const deliveries: StoredDelivery[] = endpoints.map((endpoint, i) => {
      const id = `${entry.id}-${i + 1}`;
      return {
        id,
        event: event.event,
        incidentId: event.incident.id,
        endpoint: endpoint.label,
        kind: endpoint.kind,
        state: "pending",
        createdAt: now,
        nextAttemptAt: now,
        attempts: [],
        // Fixed now, so every retry sends the same bytes (and the same signature).
        payload:
          endpoint.kind === "webhook" ? JSON.stringify(webhookBody(event)) : JSON.stringify(event),
      };
    });
    const reply = await SCHEDULE_EVENT.run(
      redis,
      [k.events, k.due, k.deliveries, k.lastUpdate, ...deliveries.map((d) => k.delivery(d.id))],
      [
        NOTIFIER_GROUP,
        entry.id,
        now,
        this.#d.updateIntervalMs,
        event.incident.id,
        event.event,
        event.incident.muted ? 1 : 0,
        RECENT_DELIVERIES,
        ...deliveries.map((d) => JSON.stringify(d)),
      ],
    );
    if (reply === -2) {
      logger.info(
        { incident: event.incident.id, event: event.event },
        "muted incident: not notified",
      );
    }
  }

  /** Attempts every due delivery once. Exposed for tests. */
  async deliverDue(): Promise<void> {
    const { redis, keys } = this.#d;
    for (;;) {
      const ids = (await CLAIM_DUE.run(
        redis,
        [keys.incidents.due],
        [this.#now(), LEASE_MS, CLAIM_COUNT],
      )) as string[];
      if (ids.length === 0 || this.#closing) return;
      await Promise.all(ids.map((id) => this.#attempt(id)));
    }
  }

  async #attempt(id: string): Promise<void> {
    const { redis, keys, logger } = this.#d;
    const text = await redis.get(keys.incidents.delivery(id));
    if (text === null) {
      await redis.zrem(keys.incidents.due, id);
      return;
    }
    const delivery = storedDeliverySchema.parse(JSON.parse(text));
    const endpoint = this.#byLabel.get(delivery.endpoint);
    let outcome: SendOutcome;
    if (!endpoint) {
      outcome = { ok: false, status: null, error: "endpoint no longer configured" };
    } else if (endpoint.kind === "webhook") {
      outcome = await sendWebhook(endpoint.url, delivery.payload, {
        deliveryId: delivery.id,
        event: delivery.event,
        secret: this.#d.webhookSecret,
      });
    } else {
      const event = incidentEventSchema.parse(JSON.parse(delivery.payload));
      outcome = await sendSyslog(
        endpoint.url,
        syslogLine(event, {
          hostname: hostname(),
          at: this.#now(),
          deliveryId: delivery.id,
          procId: String(process.pid),
        }),
      );
    }
    const at = this.#now();
    delivery.attempts.push({ at, ...outcome });
    const failures = delivery.attempts.filter((a) => !a.ok).length;
    const next = at + backoffMs(failures, this.#d.retryBaseMs);
    if (outcome.ok) {
      delivery.state = "delivered";
      delivery.nextAttemptAt = null;
    } else if (!endpoint || next - delivery.createdAt > this.#d.retryForMs) {
      delivery.state = "failed";
      delivery.nextAttemptAt = null;
      logger.warn(
        { delivery: delivery.id, endpoint: delivery.endpoint, error: outcome.error },
        "notification given up",
      );
    } else {
      delivery.nextAttemptAt = next;
    }
    await RECORD_ATTEMPT.run(
      redis,
      [keys.incidents.delivery(id), keys.incidents.due, keys.incidents.endpointLast],
      [
        JSON.stringify(delivery),
        id,
        delivery.endpoint,
        delivery.state,
        delivery.nextAttemptAt ?? 0,
        FINISHED_TTL_MS,
      ],
    );
  }
}
