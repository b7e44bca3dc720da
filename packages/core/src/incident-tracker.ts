/**
 * The incident tracker: one ordered pass over a source's scored windows, by window index, that
 * turns runs of anomalous windows into incidents.
 *
 * It is a pure function of (state, windows): no clock but the one passed in, no I/O, and a state
 * that is plain JSON. That is what makes the live tracker exactly once: it stores this state with
 * its position in Redis and replaces both atomically with the events a step emits, so replaying a
 * step after a crash computes the same thing from the same state (docs/architecture.md).
 *
 * Rules: an incident opens at the first anomalous window; it closes after `closeAfterWindows`
 * consecutive normal windows, or when the source ends; a shorter gap of normal windows stays
 * inside it. A window index the pass never receives (its flow entry was dead-lettered) is skipped:
 * it counts neither as anomalous nor as normal.
 */
import {
  DEFAULT_INCIDENT_CLOSE_AFTER_WINDOWS,
  type Incident,
  type IncidentEvent,
  type IncidentWindow,
} from "./incident-contracts.ts";

/** Entries kept in each top list of an incident. */
export const INCIDENT_TOP_ENTRIES = 5;

/** Settings of a tracker; the same for the live service and the offline command. */
export interface IncidentTrackerOptions {
  /** Consecutive normal windows that close an incident. */
  closeAfterWindows: number;
  /** The source's window geometry: an incident's flow count follows from it. */
  window: { size: number; stride: number };
}

/** Running sums of an open incident; plain JSON. */
interface IncidentAccumulator {
  id: string;
  firstWindow: number;
  lastWindow: number;
  anomalousWindows: number;
  scoreSum: number;
  worstScore: number;
  start: string | null;
  startMs: number | null;
  end: string | null;
  endMs: number | null;
  openedAt: number;
  modelVersion: string;
  muted: boolean;
  victims: Record<string, number>;
  sources: Record<string, number>;
  distinctSources: number;
  hasSources: boolean;
  /** Key `port/protocol` (protocol empty when unknown). */
  ports: Record<string, number>;
  /** feature -> [weight sum, windows]. */
  features: Record<string, [number, number]>;
}

/** The tracker's whole state for one source; plain JSON, stored as is by the live tracker. */
export interface IncidentTrackerState {
  v: 1;
  uploadId: string;
  /** The next window index the pass expects. */
  position: number;
  /** Incidents opened so far (the next id's number less one). */
  opened: number;
  /** Consecutive normal windows since the open incident's last anomalous window. */
  normalRun: number;
  /** Normal windows since the last anomalous one, kept so a reopening run can claim them. */
  gap: IncidentWindow[];
  open: IncidentAccumulator | null;
  /** The source ended: nothing more is accepted. */
  finished: boolean;
}

/** What one step of the tracker produced. */
export interface IncidentStep {
  state: IncidentTrackerState;
  /** Events in the order they happened. */
  events: IncidentEvent[];
  /** Windows that became part of an incident during the step, by incident id, in order. */
  windows: Map<string, IncidentWindow[]>;
}

/** Per-step context: the wall clock, and whether a newly opened incident is muted. */
export interface IncidentStepContext {
  now: number;
  /** Decides `muted` for an incident from its first anomalous window (default: never). */
  isMuted?: (incident: Incident) => boolean;
}

/** A tracker at the start of a source. */
export function newIncidentTrackerState(uploadId: string): IncidentTrackerState {
  return {
    v: 1,
    uploadId,
    position: 0,
    opened: 0,
    normalRun: 0,
    gap: [],
    open: null,
    finished: false,
  };
}

/** Default options. */
export function incidentTrackerOptions(
  window: { size: number; stride: number },
  closeAfterWindows = DEFAULT_INCIDENT_CLOSE_AFTER_WINDOWS,
): IncidentTrackerOptions {
  return { closeAfterWindows, window };
}

function timeMs(iso: string | null | undefined): number | null {
  if (iso === null || iso === undefined) return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

function addCount(into: Record<string, number>, key: string, flows: number): void {
  into[key] = (into[key] ?? 0) + flows;
}

/** Most first; ties by key, so the order never depends on arrival. */
function topEntries(counts: Record<string, number>, n: number): [string, number][] {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, n);
}

function openIncident(
  state: IncidentTrackerState,
  window: IncidentWindow,
  now: number,
): IncidentAccumulator {
  return {
    id: `${state.uploadId}-${state.opened + 1}`,
    firstWindow: window.window,
    lastWindow: window.window,
    anomalousWindows: 0,
    scoreSum: 0,
    worstScore: window.score,
    start: null,
    startMs: null,
    end: null,
    endMs: null,
    openedAt: now,
    modelVersion: window.modelVersion,
    muted: false,
    victims: {},
    sources: {},
    distinctSources: 0,
    hasSources: false,
    ports: {},
    features: {},
  };
}

/** Folds one window of the incident (anomalous or inside a gap) into its sums. */
function addWindow(acc: IncidentAccumulator, window: IncidentWindow): void {
  const startMs = timeMs(window.start);
  if (startMs !== null && (acc.startMs === null || startMs < acc.startMs)) {
    acc.startMs = startMs;
    acc.start = window.start!;
  }
  const endMs = timeMs(window.end);
  if (endMs !== null && (acc.endMs === null || endMs > acc.endMs)) {
    acc.endMs = endMs;
    acc.end = window.end!;
  }
  if (!window.anomaly) return;
  acc.lastWindow = window.window;
  acc.anomalousWindows += 1;
  acc.scoreSum += window.score;
  if (window.score < acc.worstScore) acc.worstScore = window.score;
  for (const v of window.victims ?? []) addCount(acc.victims, v.ip, v.flows);
  if (window.sources) {
    acc.hasSources = true;
    for (const s of window.sources.top) addCount(acc.sources, s.ip, s.flows);
    acc.distinctSources = Math.max(acc.distinctSources, window.sources.distinct);
  }
  for (const p of window.ports ?? []) addCount(acc.ports, `${p.port}/${p.protocol ?? ""}`, p.flows);
  // The explanation's items may repeat a feature (one per statistic): the window counts once per
  // feature, with the weights of its statistics summed.
  const perFeature = new Map<string, number>();
  for (const item of window.explanation ?? []) {
    perFeature.set(item.feature, (perFeature.get(item.feature) ?? 0) + item.weight);
  }
  for (const [feature, weight] of perFeature) {
    const sums = (acc.features[feature] ??= [0, 0]);
    sums[0] += weight;
    sums[1] += 1;
  }
}

/** The incident as reported, from its sums. */
function snapshot(
  state: IncidentTrackerState,
  acc: IncidentAccumulator,
  options: IncidentTrackerOptions,
  closedAt: number | null,
): Incident {
  const { size, stride } = options.window;
  const features = Object.entries(acc.features)
    .map(([feature, [sum, windows]]) => ({ feature, weight: sum / windows, windows }))
    .sort(
      (a, b) =>
        b.windows * b.weight - a.windows * a.weight ||
        (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0),
    )
    .slice(0, INCIDENT_TOP_ENTRIES);
  return {
    id: acc.id,
    uploadId: state.uploadId,
    state: closedAt === null ? "open" : "closed",
    firstWindow: acc.firstWindow,
    lastWindow: acc.lastWindow,
    windows: acc.lastWindow - acc.firstWindow + 1,
    anomalousWindows: acc.anomalousWindows,
    flows: (acc.lastWindow - acc.firstWindow) * stride + size,
    worstScore: acc.worstScore,
    meanScore: acc.scoreSum / acc.anomalousWindows,
    start: acc.start,
    end: acc.end,
    openedAt: acc.openedAt,
    closedAt,
    victims: topEntries(acc.victims, INCIDENT_TOP_ENTRIES).map(([ip, flows]) => ({ ip, flows })),
    sources: {
      top: topEntries(acc.sources, INCIDENT_TOP_ENTRIES).map(([ip, flows]) => ({ ip, flows })),
      distinct: acc.hasSources ? acc.distinctSources : 0,
    },
    ports: topEntries(acc.ports, INCIDENT_TOP_ENTRIES).map(([key, flows]) => {
      const slash = key.indexOf("/");
      const protocol = key.slice(slash + 1);
      return {
        port: Number(key.slice(0, slash)),
        protocol: protocol === "" ? null : /^\d+$/.test(protocol) ? Number(protocol) : protocol,
        flows,
      };
    }),
    features,
    modelVersion: acc.modelVersion,
    muted: acc.muted,
  };
}

/** The open incident of a state as reported now, or null. */
export function openIncidentOf(
  state: IncidentTrackerState,
  options: IncidentTrackerOptions,
): Incident | null {
  return state.open ? snapshot(state, state.open, options, null) : null;
}

function cloneState(state: IncidentTrackerState): IncidentTrackerState {
  return structuredClone(state);
}

/**
 * Feeds windows in ascending index order, each at or after `state.position` (indexes in between
 * are skipped, see the module comment). Returns the new state (the input is not changed), the
 * events, and the windows each incident gained. At most one `incident.updated` per incident per
 * step: a step's windows arrive together anyway.
 */
export function advanceIncidents(
  previous: IncidentTrackerState,
  windows: readonly IncidentWindow[],
  options: IncidentTrackerOptions,
  context: IncidentStepContext,
): IncidentStep {
  if (previous.finished && windows.length > 0) {
    throw new RangeError(`source ${previous.uploadId} is finished; no more windows are accepted`);
  }
  const state = cloneState(previous);
  const events: IncidentEvent[] = [];
  const gained = new Map<string, IncidentWindow[]>();
  let updated = false;
  const gain = (id: string, list: IncidentWindow[]) => {
    const into = gained.get(id);
    if (into) into.push(...list);
    else gained.set(id, [...list]);
  };

  for (const window of windows) {
    if (window.window < state.position) {
      throw new RangeError(
        `window ${window.window} is behind the tracker's position ${state.position}`,
      );
    }
    state.position = window.window + 1;
    if (window.anomaly) {
      if (state.open === null) {
        state.open = openIncident(state, window, context.now);
        state.opened += 1;
        addWindow(state.open, window);
        const opened = snapshot(state, state.open, options, null);
        state.open.muted = context.isMuted?.(opened) ?? false;
        events.push({
          event: "incident.opened",
          incident: { ...opened, muted: state.open.muted },
        });
        gain(state.open.id, [window]);
        updated = false;
      } else {
        // A short gap stays inside: its normal windows become part of the incident.
        for (const g of state.gap) addWindow(state.open, g);
        addWindow(state.open, window);
        gain(state.open.id, [...state.gap, window]);
        updated = true;
      }
      state.gap = [];
      state.normalRun = 0;
      continue;
    }
    if (state.open === null) continue;
    state.normalRun += 1;
    if (state.normalRun >= options.closeAfterWindows) {
      closeOpen(state, options, context.now, events, updated);
      updated = false;
    } else {
      state.gap.push(window);
    }
  }
  if (updated && state.open) {
    events.push({
      event: "incident.updated",
      incident: snapshot(state, state.open, options, null),
    });
  }
  return { state, events, windows: gained };
}

function closeOpen(
  state: IncidentTrackerState,
  options: IncidentTrackerOptions,
  now: number,
  events: IncidentEvent[],
  updated: boolean,
): void {
  if (!state.open) return;
  if (updated) {
    events.push({
      event: "incident.updated",
      incident: snapshot(state, state.open, options, null),
    });
  }
  events.push({ event: "incident.closed", incident: snapshot(state, state.open, options, now) });
  state.open = null;
  state.gap = [];
  state.normalRun = 0;
}

/**
 * Ends the source: an open incident closes (after any update the step's windows brought). After
 * this the state accepts no more windows. Idempotent.
 */
export function finishIncidents(
  previous: IncidentTrackerState,
  options: IncidentTrackerOptions,
  context: IncidentStepContext,
): IncidentStep {
  const state = cloneState(previous);
  const events: IncidentEvent[] = [];
  closeOpen(state, options, context.now, events, false);
  state.finished = true;
  return { state, events, windows: new Map() };
}

/**
 * Every incident of a whole source at once, as the offline command reports them: the same
 * function the live tracker steps through, fed all windows in one step and then finished.
 */
export function trackIncidents(
  uploadId: string,
  windows: readonly IncidentWindow[],
  options: IncidentTrackerOptions,
  now: () => number = Date.now,
): Incident[] {
  const step = advanceIncidents(newIncidentTrackerState(uploadId), windows, options, {
    now: now(),
  });
  const end = finishIncidents(step.state, options, { now: now() });
  return [...step.events, ...end.events]
    .filter((e) => e.event === "incident.closed")
    .map((e) => e.incident);
}

/** An incident without the fields that depend on where and when it was tracked. */
export function incidentFacts(
  incident: Incident,
): Omit<Incident, "id" | "uploadId" | "openedAt" | "closedAt" | "muted"> {
  const { id: _id, uploadId: _u, openedAt: _o, closedAt: _c, muted: _m, ...facts } = incident;
  return facts;
}
