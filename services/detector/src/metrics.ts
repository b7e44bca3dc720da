/** The detector's Prometheus metrics, in a registry of its own (never the global one). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { TIMED_OUT, within } from "./timing.ts";

/** The metrics one detector process exposes on `/metrics`. */
export interface DetectorMetrics {
  readonly registry: Registry;
  /** Windows this detector committed (redeliveries that counted nothing are left out). */
  readonly windowsScored: Counter;
  readonly anomalies: Counter;
  readonly entriesDeadLettered: Counter;
  /** From the ingest time of an entry's last flow (`meta.receivedAt`) to its commit. */
  readonly processingLatency: Histogram;
  /** 1 for the version that scores now. */
  readonly modelInfo: Gauge<"version">;
}

/** Settings of {@link createDetectorMetrics}. */
export interface DetectorMetricsOptions {
  /** Reads the backlog (flow entries not yet acknowledged) when `/metrics` is scraped. */
  backlog: () => Promise<number>;
  /** Process metrics (CPU, memory, event loop); off in tests that build many registries. */
  defaultMetrics?: boolean;
}

/** A scrape must not hang on a Redis that is down: the backlog keeps its last value then. */
const BACKLOG_READ_TIMEOUT_MS = 1_000;

/** Builds the registry and its metrics. */
export function createDetectorMetrics(options: DetectorMetricsOptions): DetectorMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const backlog = options.backlog;
  new Gauge({
    name: "floodwatch_backlog_entries",
    help: "Flow entries the detectors group has not acknowledged yet (lag plus pending)",
    registers,
    async collect() {
      try {
        const value = await within(backlog(), BACKLOG_READ_TIMEOUT_MS);
        if (value !== TIMED_OUT) this.set(value);
      } catch {
        // Redis unreachable: keep the last value; /health reports the outage.
      }
    },
  });
  return {
    registry,
    windowsScored: new Counter({
      name: "floodwatch_windows_scored_total",
      help: "Windows scored and committed by this detector",
      registers,
    }),
    anomalies: new Counter({
      name: "floodwatch_anomalies_total",
      help: "Anomalous windows committed by this detector",
      registers,
    }),
    entriesDeadLettered: new Counter({
      name: "floodwatch_entries_dead_lettered_total",
      help: "Flow entries this detector moved to the dead-letter stream",
      registers,
    }),
    processingLatency: new Histogram({
      name: "floodwatch_processing_latency_seconds",
      help: "Time from ingest reading an entry's last flow to the detector committing its windows",
      // From a few ms (idle pipeline) to a minute (a backlog being worked off).
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    modelInfo: new Gauge({
      name: "floodwatch_model_info",
      help: "The model version this detector scores with (value 1)",
      labelNames: ["version"],
      registers,
    }),
  };
}
