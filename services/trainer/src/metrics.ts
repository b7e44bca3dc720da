/**
 * The trainer's Prometheus metrics, on a registry of its own (never prom-client's global one), so
 * several apps in one process or test do not collide.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** How a training job ended. */
export type TrainingOutcome = "completed" | "failed";

/** The trainer's metrics and the registry that exposes them. */
export interface TrainerMetrics {
  registry: Registry;
  jobsTotal: Counter<"outcome">;
  jobDuration: Histogram<"outcome">;
  jobsActive: Gauge;
}

/**
 * Training takes from under a second (a few thousand flows) to minutes (a quarter GiB upload
 * waiting behind others is not counted: only processing time is).
 */
const DURATION_BUCKETS_SECONDS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600];

/** Creates the metrics on a fresh registry, with the process's default metrics. */
export function createTrainerMetrics(): TrainerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    jobsTotal: new Counter({
      name: "floodwatch_training_jobs_total",
      help: "Training jobs processed, by outcome",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: "floodwatch_training_job_duration_seconds",
      help: "Time from a training job's start to its end, by outcome",
      labelNames: ["outcome"],
      buckets: DURATION_BUCKETS_SECONDS,
      registers: [registry],
    }),
    jobsActive: new Gauge({
      name: "floodwatch_training_jobs_active",
      help: "Training jobs running in this trainer",
      registers: [registry],
    }),
  };
}
