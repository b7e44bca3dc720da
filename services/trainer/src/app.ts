/**
 * The trainer's HTTP face: `/health` and `/metrics` only. Jobs arrive through the queue, never
 * over HTTP. Built from injected dependencies, no side effects.
 */
import { DebugRequestLogs, type Logger } from "@floodwatch/platform";
import Fastify from "fastify";
import type { Redis } from "ioredis";
import type { TrainerMetrics } from "./metrics.ts";
import type { TrainingWorker } from "./worker.ts";

/** What the app is built from. */
export interface TrainerAppDeps {
  redis: Redis;
  worker: TrainingWorker;
  metrics: TrainerMetrics;
  logger: Logger;
  concurrency: number;
}

/**
 * The connection queues commands while Redis is down (it rides out restarts), so a health check
 * must not wait for the answer: a probe gives up after a second or two.
 */
const HEALTH_PING_TIMEOUT_MS = 1_000;

async function pingWithin(redis: Redis, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([redis.ping().then((answer) => answer === "PONG"), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Builds the trainer's health and metrics server (not listening yet). */
export function buildTrainerApp(deps: TrainerAppDeps) {
  const app = Fastify({ loggerInstance: deps.logger, logController: new DebugRequestLogs() });
  // Probes and scrapes arrive every few seconds: logging each would drown the job logs.
  const quiet = { logLevel: "warn" } as const;

  app.get("/health", quiet, async (_request, reply) => {
    const redis = (await pingWithin(deps.redis, HEALTH_PING_TIMEOUT_MS)) ? "ok" : "unreachable";
    const worker = deps.worker.isRunning() ? "running" : "stopped";
    const healthy = redis === "ok" && worker === "running";
    return reply.code(healthy ? 200 : 503).send({
      status: healthy ? "ok" : "unavailable",
      redis,
      worker,
      concurrency: deps.concurrency,
      activeJobs: (await deps.metrics.jobsActive.get()).values[0]?.value ?? 0,
    });
  });

  app.get("/metrics", quiet, async (_request, reply) => {
    return reply
      .header("content-type", deps.metrics.registry.contentType)
      .send(await deps.metrics.registry.metrics());
  });

  return app;
}
