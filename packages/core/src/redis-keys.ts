/**
 * Every Redis key and channel floodwatch uses, from one place: `prefix:name[:id]`. A prefix per
 * deployment (and per test) keeps several stacks apart on one Redis.
 */

/** The consumer group every detector joins. */
export const DETECTOR_GROUP = "detectors";

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
  /** Hash of the global counters: windows and flows scored, anomalies (the detector's commit). */
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
  /** List of a training upload's pieces (Buffers of about `TRAINING_INPUT_CHUNK_BYTES`), in order. */
  trainingInput(jobId: string): string;
  /** Hash of a model version's metadata beyond the model file (see `ModelMeta`). */
  modelMeta(version: string): string;
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
    trainingInput: (jobId) => key(`training-input:${jobId}`),
    modelMeta: (version) => key(`model-meta:${version}`),
  };
}
