/**
 * Prometheus metrics of one API instance, in its own registry. Pipeline figures are gauges read
 * from Redis on each scrape (Redis holds the truth; several API replicas must agree); latencies
 * are histograms fed by this instance's relay.
 */
import type { GlobalCounters } from "@floodwatch/platform";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** Buckets for latencies in seconds, from a fast hop to a detector stalled behind a backlog. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Figures the scrape refreshes from Redis: the global counters, the backlog, the clients. */
export type ScrapedFigures = Pick<
  GlobalCounters,
  "windowsScored" | "anomalies" | "flowsIngested" | "deadLetters"
> & { backlog: number; wsClients: number };

/** The API's metrics. */
export class ApiMetrics {
  readonly registry = new Registry();
  private readonly windowsScored: Gauge;
  private readonly anomalies: Gauge;
  private readonly flowsIngested: Gauge;
  private readonly backlog: Gauge;
  private readonly deadLetters: Gauge;
  private readonly wsClients: Gauge;
  /** Scored minus received: ingest read the window's last flow until a detector committed it. */
  readonly processingLatency: Histogram;
  /** Pushed minus received: ingest read the window's last flow until the API sent it. */
  readonly relayLatency: Histogram;
  /** Windows not sent to a client because its socket was too far behind. */
  readonly droppedWindows: Counter;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    const gauge = (name: string, help: string) => new Gauge({ name, help, registers });
    this.windowsScored = gauge("floodwatch_windows_scored_total", "Windows scored (all uploads)");
    this.anomalies = gauge("floodwatch_anomalies_total", "Windows flagged as anomalous");
    this.flowsIngested = gauge("floodwatch_flows_ingested_total", "Flows accepted by ingest");
    this.backlog = gauge(
      "floodwatch_backlog_entries",
      "Flow entries not yet acknowledged by the detectors (lag plus pending)",
    );
    this.deadLetters = gauge("floodwatch_dead_letters_total", "Flow entries dead-lettered");
    this.wsClients = gauge("floodwatch_ws_clients", "WebSocket clients of this API instance");
    this.processingLatency = new Histogram({
      name: "floodwatch_processing_latency_seconds",
      help: "From ingest reading a window's last flow to a detector committing its score",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.relayLatency = new Histogram({
      name: "floodwatch_relay_latency_seconds",
      help: "From ingest reading a window's last flow to this API pushing it to clients",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.droppedWindows = new Counter({
      name: "floodwatch_ws_dropped_windows_total",
      help: "Windows not sent to a WebSocket client whose send buffer was over the bound",
      registers,
    });
  }

  /** Sets the scraped gauges. */
  update(figures: ScrapedFigures): void {
    this.windowsScored.set(figures.windowsScored);
    this.anomalies.set(figures.anomalies);
    this.flowsIngested.set(figures.flowsIngested);
    this.backlog.set(figures.backlog);
    this.deadLetters.set(figures.deadLetters);
    this.wsClients.set(figures.wsClients);
  }
}
