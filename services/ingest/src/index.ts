/** @floodwatch/ingest — the upload service, for launchers and tests that embed it. */
export { buildIngestApp, type IngestAppDeps } from "./app.ts";
export { ingestConfigSchema, loadIngestConfig, type IngestConfig } from "./env.ts";
export { InFlightUploads } from "./in-flight-uploads.ts";
