/**
 * The pipeline's shared state in Redis, owned in one place: the upload hash and the global
 * counters (their fields, every step that writes them, how they read), and the detectors'
 * consumer group on the flows stream (creation, backlog, trimming). Ingest, the detectors, the
 * API and every test helper go through this module; see docs/architecture.md for the picture.
 */
export * from "./detector-group.ts";
export * from "./upload-record.ts";
export * from "./upload-steps.ts";
