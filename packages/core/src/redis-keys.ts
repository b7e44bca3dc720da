/**
 * Every Redis key and channel floodwatch uses, from one place: `prefix:name[:id]`. A prefix per
 * deployment (and per test) keeps several stacks apart on one Redis.
 */

/** The consumer group every detector joins. */
export const DETECTOR_GROUP = "detectors";

/** The consumer group of the incident tracker on the results stream. */
export const INCIDENT_TRACKER_GROUP = "incidents";

/** The consumer group of the notifier on the incident events stream. */
export const NOTIFIER_GROUP = "notifier";

/** Default key prefix. */
export const DEFAULT_KEY_PREFIX = "floodwatch";

/** The keys of one deployment. */
export interface RedisKeys {
  prefix: string;
  /** Stream of flow entries (self-contained runs of whole windows), read by the detector group. */
  flows: string;
  /** Stream of scored-window results, one stream entry per scored flow entry. */
  results: string;
  /** Stream of flow entries that could not be scored, with the reason. */
  deadLetters: string;
  /** Hash of the global counters (see {@link GLOBAL_COUNTER_FIELDS}). */
  counters: string;
  /** Hash of one upload's state and counters. */
  upload(uploadId: string): string;
  /** Sorted set of upload ids by creation time (ms). */
  uploads: string;
  /** Hash of flows scored per second, field = epoch second; for the flows/s figure. */
  flowRate: string;
  /** Sorted set of live detectors by last heartbeat (ms). */
  detectors: string;
  /** String: the active model's version. */
  activeModel: string;
  /** String: a model file (JSON) by version. */
  model(version: string): string;
  /** Sorted set of model versions by publication time (ms). */
  models: string;
  /** Pub/sub channel announcing a newly activated model version. */
  modelChannel: string;
  /** Pub/sub channel of training job events ({@link TrainingJobStatus} JSON). */
  trainingChannel: string;
  /** Prefix for BullMQ queues, so they live beside the deployment's other keys. */
  queuePrefix: string;
  /** Incident keys, owned by the incidents service (see docs/architecture.md). */
  incidents: IncidentKeys;
}

/** Keys of incidents, their tracker, mutes and notification deliveries. */
export interface IncidentKeys {
  /** Stream of incident events (`event`, `incident` JSON), read by the notifier group and the API. */
  events: string;
  /** Hash of one source's tracker: `state` (JSON), `received` (windows buffered ever). */
  tracker(uploadId: string): string;
  /** Hash of one source's windows that arrived ahead of the tracker's position, by index. */
  buffer(uploadId: string): string;
  /** Set of sources whose tracking has not finished. */
  sources: string;
  /** String: one incident (JSON). */
  incident(id: string): string;
  /** List of one incident's windows (JSON), in index order. */
  windows(id: string): string;
  /** Sorted set of every incident id by opening time (ms). */
  all: string;
  /** Sorted set of one upload's incident ids by first window. */
  ofUpload(uploadId: string): string;
  /** Hash of mutes: id -> JSON. */
  mutes: string;
  /** String: one delivery with its attempts (JSON). */
  delivery(id: string): string;
  /** Sorted set of pending delivery ids by the time their next attempt is due (ms). */
  due: string;
  /** Sorted set of recent delivery ids by creation time (ms). */
  deliveries: string;
  /** Hash endpoint -> id of its most recently finished (or attempted) delivery. */
  endpointLast: string;
  /** Hash incident id -> when its last `incident.updated` notification was scheduled (ms). */
  lastUpdate: string;
}

/** Builds the keys for a prefix. See docs/architecture.md for what each holds. */
export function redisKeys(prefix: string = DEFAULT_KEY_PREFIX): RedisKeys {
  if (!/^[A-Za-z0-9_.-]+$/.test(prefix)) {
    throw new RangeError(
      `key prefix may hold only letters, digits, '_', '.', '-': got ${JSON.stringify(prefix)}`,
    );
  }
  const key = (name: string) => `${prefix}:${name}`;
  return {
    prefix,
    flows: key("flows"),
    results: key("results"),
    deadLetters: key("dead-letters"),
    counters: key("counters"),
    upload: (uploadId) => key(`upload:${uploadId}`),
    uploads: key("uploads"),
    flowRate: key("flow-rate"),
    detectors: key("detectors"),
    activeModel: key("model:active"),
    model: (version) => key(`model:${version}`),
    models: key("models"),
    modelChannel: key("model:activated"),
    trainingChannel: key("training:events"),
    queuePrefix: key("queue"),
    incidents: {
      events: key("incident-events"),
      tracker: (uploadId) => key(`incident-tracker:${uploadId}`),
      buffer: (uploadId) => key(`incident-buffer:${uploadId}`),
      sources: key("incident-sources"),
      incident: (id) => key(`incident:${id}`),
      windows: (id) => key(`incident-windows:${id}`),
      all: key("incidents"),
      ofUpload: (uploadId) => key(`incidents:${uploadId}`),
      mutes: key("mutes"),
      delivery: (id) => key(`delivery:${id}`),
      due: key("deliveries:due"),
      deliveries: key("deliveries"),
      endpointLast: key("deliveries:last"),
      lastUpdate: key("incident-last-update"),
    },
  };
}
