/** Prometheus metrics of one ingest app, on a registry of its own (never the global one). */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** How an upload ended: stored completely, refused before anything was stored, or stopped. */
export type UploadOutcome = "accepted" | "rejected" | "failed";

/** The ingest metrics. */
export interface IngestMetrics {
  registry: Registry;
  flowsIngested: Counter;
  rowsRejected: Counter;
  uploads: Counter<"outcome">;
  uploadBytes: Counter;
  backlogEntries: Gauge;
  uploadDuration: Histogram<"outcome">;
}

/**
 * Creates the registry. `readBacklog` is asked at every scrape, so the backlog gauge is current
 * even when no upload is polling it; a failed read keeps the last value.
 */
export function createIngestMetrics(readBacklog?: () => Promise<number>): IngestMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    flowsIngested: new Counter({
      name: "floodwatch_flows_ingested_total",
      help: "Flows put on the flows stream (each flow once, however many windows it is in)",
      registers: [registry],
    }),
    rowsRejected: new Counter({
      name: "floodwatch_rows_rejected_total",
      help: "CSV data rows rejected (ragged, not a number, cut off)",
      registers: [registry],
    }),
    uploads: new Counter({
      name: "floodwatch_uploads_total",
      help: "Uploads by outcome: accepted, rejected (nothing stored), failed (stopped midway)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    uploadBytes: new Counter({
      name: "floodwatch_upload_bytes_total",
      help: "CSV bytes read from uploads",
      registers: [registry],
    }),
    backlogEntries: new Gauge({
      name: "floodwatch_backlog_entries",
      help: "Flow entries not yet acknowledged by the detectors (lag plus pending)",
      registers: [registry],
      async collect() {
        if (readBacklog === undefined) return;
        try {
          this.set(await readBacklog());
        } catch {
          // Keep the last known value: a scrape must not fail because Redis is slow.
        }
      },
    }),
    uploadDuration: new Histogram({
      name: "floodwatch_upload_duration_seconds",
      help: "Time from the start of an upload to its answer, by outcome",
      labelNames: ["outcome"],
      // Uploads range from a small file (sub-second) to gigabytes waiting on detectors (hours).
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14_400],
      registers: [registry],
    }),
  };
}
