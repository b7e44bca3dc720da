/**
 * The live incident tracker. Detectors commit windows in any order, in batches, some twice
 * delivered and some late; this worker turns that into one ordered pass per upload:
 *
 * 1. It reads the results stream in its own consumer group and, per results entry, buffers the
 *    windows in the upload's buffer hash, keyed by window index (one guarded Lua step with the
 *    XACK, so a redelivered entry buffers nothing twice).
 * 2. It then advances the upload: takes the windows that continue its committed position without
 *    a hole, runs core's pure tracker on them, and commits the new state, position, incidents and
 *    events in one compare-and-set Lua step. A hole waits for its window; when the upload is
 *    over and every scored window has arrived, the holes are windows that were dead-lettered and
 *    the pass moves over them and ends the upload's incidents.
 *
 * The incidents therefore depend only on the windows and their indexes, never on arrival order,
 * on how many detectors or trackers run, or on where a process was killed (docs/architecture.md).
 */
import {
  INCIDENT_TRACKER_GROUP,
  advanceIncidents,
  finishIncidents,
  incidentTrackerOptions,
  incidentWindowSchema,
  matchingMute,
  newIncidentTrackerState,
  resultBatchSchema,
  type Incident,
  type IncidentStep,
  type IncidentTrackerState,
  type IncidentWindow,
  type RedisKeys,
} from "@floodwatch/core";
import { readMutes, readUploadScoringProgress, type Logger } from "@floodwatch/platform";
import type { Redis } from "ioredis";
import { GroupConsumer, type StreamEntry } from "./group-consumer.ts";
import { bufferResults, commitTrackerStep, type IncidentWrite } from "./tracker-store.ts";

/** Buffered windows one step takes at most, so one huge upload does not make one huge script. */
const STEP_WINDOWS = 500;
/** How often every unfinished upload is looked at, for the end of an upload with no new results. */
const SWEEP_MS = 1_000;

/** What the tracker worker needs. */
export interface TrackerWorkerDeps {
  redis: Redis;
  reader: Redis;
  keys: RedisKeys;
  logger: Logger;
  name: string;
  closeAfterWindows: number;
  claimIdleMs: number;
  blockMs?: number;
  now?: () => number;
}

/** See the module comment. */
export class TrackerWorker {
  readonly #d: TrackerWorkerDeps;
  readonly #now: () => number;
  readonly #consumer: GroupConsumer;
  #lastSweep = 0;
  /** Uploads one advance is running for: the loop and the sweep never run one upload twice at once. */
  readonly #busy = new Set<string>();

  constructor(deps: TrackerWorkerDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.#consumer = new GroupConsumer({
      redis: deps.redis,
      reader: deps.reader,
      stream: deps.keys.results,
      group: INCIDENT_TRACKER_GROUP,
      consumer: deps.name,
      logger: deps.logger,
      claimIdleMs: deps.claimIdleMs,
      blockMs: deps.blockMs ?? SWEEP_MS,
      handle: (entry) => this.#handle(entry),
      idle: () => this.#sweep(),
    });
  }

  start(): Promise<void> {
    return this.#consumer.start();
  }

  close(): Promise<void> {
    return this.#consumer.close();
  }

  async #handle(entry: StreamEntry): Promise<void> {
    const { redis, keys, logger } = this.#d;
    const uploadId = entry.fields.uploadId;
    let raw: unknown;
    try {
      raw = JSON.parse(entry.fields.windows ?? "");
    } catch {
      raw = undefined;
    }
    const parsed = resultBatchSchema.safeParse(raw);
    if (!uploadId || !parsed.success) {
      logger.warn({ entryId: entry.id }, "results entry breaks the contract; skipped");
      await redis.xack(keys.results, INCIDENT_TRACKER_GROUP, entry.id);
      return;
    }
    // The raw JSON is kept, not zod's output: fields this version does not know (added by a
    // newer detector) still reach the incident's window list.
    const windows = (raw as unknown[]).map((w, i) => ({
      index: parsed.data[i]!.window,
      json: JSON.stringify(w),
    }));
    await bufferResults(redis, keys, INCIDENT_TRACKER_GROUP, entry.id, uploadId, windows);
    await this.advance(uploadId);
  }

  async #sweep(): Promise<void> {
    if (this.#now() - this.#lastSweep < SWEEP_MS) return;
    this.#lastSweep = this.#now();
    for (const uploadId of await this.#d.redis.smembers(this.#d.keys.incidents.sources)) {
      await this.advance(uploadId);
    }
  }

  /**
   * Moves one upload's pass as far as its buffered windows allow, committing step by step.
   * Safe to call at any time from anywhere: a stale step is recomputed from the committed state.
   */
  async advance(uploadId: string): Promise<void> {
    if (this.#busy.has(uploadId)) return;
    this.#busy.add(uploadId);
    try {
      for (let attempts = 0; attempts < 100; attempts++) {
        const outcome = await this.#step(uploadId);
        if (outcome === "idle") return;
      }
    } finally {
      this.#busy.delete(uploadId);
    }
  }

  /** One compare-and-set step: "moved" (or "stale") to go on, "idle" when nothing is to do. */
  async #step(uploadId: string): Promise<"moved" | "stale" | "idle"> {
    const { redis, keys, logger } = this.#d;
    const k = keys.incidents;
    const progress = await readUploadScoringProgress(redis, keys, uploadId);
    if (!progress) {
      // The upload hash is gone (deleted): nothing can be decided about its end.
      return "idle";
    }
    const [stepText, stateText, receivedText] = await redis.hmget(
      k.tracker(uploadId),
      "step",
      "state",
      "received",
    );
    const expectedStep = stepText ?? "0";
    const state: IncidentTrackerState = stateText
      ? (JSON.parse(stateText) as IncidentTrackerState)
      : newIncidentTrackerState(uploadId);
    if (state.finished) {
      await redis.srem(k.sources, uploadId);
      return "idle";
    }
    const options = incidentTrackerOptions(progress.window, this.#d.closeAfterWindows);
    const received = Number(receivedText ?? 0);
    const over = progress.ended && received >= progress.scored;

    // The contiguous run at the position, or, once the upload is over, everything buffered.
    let taken: { index: number; json: string }[];
    if (over) {
      const all = await redis.hgetall(k.buffer(uploadId));
      taken = Object.entries(all)
        .map(([index, json]) => ({ index: Number(index), json }))
        .filter((w) => w.index >= state.position)
        .sort((a, b) => a.index - b.index)
        .slice(0, STEP_WINDOWS);
    } else {
      const fields = Array.from({ length: STEP_WINDOWS }, (_, i) => String(state.position + i));
      const values = await redis.hmget(k.buffer(uploadId), ...fields);
      taken = [];
      for (let i = 0; i < values.length && values[i] !== null; i++) {
        taken.push({ index: state.position + i, json: values[i]! });
      }
    }
    const finishing = over && taken.length < STEP_WINDOWS;
    if (taken.length === 0 && !finishing) return "idle";

    const windows: IncidentWindow[] = [];
    const rawByIndex = new Map<number, string>();
    for (const w of taken) {
      const parsed = incidentWindowSchema.safeParse(JSON.parse(w.json));
      if (!parsed.success) {
        logger.warn({ uploadId, window: w.index }, "buffered window unreadable; skipped");
        continue;
      }
      windows.push(parsed.data);
      rawByIndex.set(w.index, w.json);
    }
    // Normal windows held in the state's gap stay in the buffer until the pass knows whether
    // they join an incident: their raw JSON is what the incident's window list gets.
    if (state.gap.length > 0) {
      const gapIndexes = state.gap.map((w) => w.window);
      const raw = await redis.hmget(k.buffer(uploadId), ...gapIndexes.map(String));
      gapIndexes.forEach((index, i) => {
        if (raw[i] !== null && raw[i] !== undefined) rawByIndex.set(index, raw[i]);
      });
    }
    const mutes = await readMutes(redis, keys);
    const now = this.#now();
    const context = {
      now,
      isMuted: (incident: Incident) => matchingMute(incident, mutes, now) !== null,
    };
    let step: IncidentStep = advanceIncidents(state, windows, options, context);
    if (finishing) {
      const end = finishIncidents(step.state, options, context);
      step = { state: end.state, events: [...step.events, ...end.events], windows: step.windows };
    }

    // The latest snapshot of every incident the step touched, with the windows it gained (a
    // step that adds windows to an incident always emits an event for it).
    const latest = new Map<string, Incident>();
    for (const event of step.events) latest.set(event.incident.id, event.incident);
    const incidents: IncidentWrite[] = [...latest.values()].map((incident) => ({
      id: incident.id,
      json: JSON.stringify(incident),
      firstWindow: incident.firstWindow,
      openedAt: incident.openedAt,
      windows: (step.windows.get(incident.id) ?? []).map((w) => rawByIndex.get(w.window)!),
    }));
    // A Lua script that fails half-way keeps its first writes, so everything is checked here.
    for (const incident of incidents) {
      if (incident.windows.some((w) => typeof w !== "string")) {
        throw new Error(`incident ${incident.id}: a window's JSON is missing from the buffer`);
      }
    }
    const kept = new Set(step.state.gap.map((w) => w.window));
    const consumed = [
      ...new Set([...taken.map((w) => w.index), ...state.gap.map((w) => w.window)]),
    ].filter((index) => !kept.has(index));
    const committed = await commitTrackerStep(redis, keys, {
      uploadId,
      expectedStep,
      stateJson: JSON.stringify(step.state),
      position: step.state.position,
      finished: step.state.finished,
      consumed,
      events: step.events.map((e) => JSON.stringify(e)),
      incidents,
    });
    if (!committed) return "stale";
    for (const event of step.events) {
      logger.info({ event: event.event, incident: event.incident.id }, "incident event");
    }
    return step.state.finished ? "idle" : "moved";
  }
}
