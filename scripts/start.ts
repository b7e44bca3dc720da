/**
 * `pnpm start`: the whole floodwatch stack on one machine. Starts a private redis-server when
 * `REDIS_URL` is unset, then ingest, `DETECTORS` detectors, the trainer, the API and the
 * dashboard; prints their URLs once every one answers its health check.
 *
 * A child that exits unexpectedly is restarted with a backoff, with one line saying what died and
 * how (see `supervisor.ts`); the stack stops on Ctrl-C (or SIGTERM), each child with SIGTERM
 * first so detectors finish the entry in hand, or when one child crash-loops.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, statSync, readdirSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { ConfigError, freePort } from "@floodwatch/platform";
import { loadLauncherConfig, type LauncherConfig } from "./launcher-env.ts";
import { logEnv, redisChild, serviceChild } from "./launcher-children.ts";
import { Supervisor, httpReady, type ChildSpec } from "./supervisor.ts";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const DASHBOARD_DIR = join(ROOT, "apps/dashboard");
const NEXT_BIN = join(DASHBOARD_DIR, "node_modules/.bin/next");
/** How long the stack may take to become healthy (a first dashboard build takes a while). */
const READY_DEADLINE_MS = 120_000;

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function newestSourceTime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name === ".next" || entry.name.startsWith("."))
      continue;
    const path = join(dir, entry.name);
    newest = Math.max(
      newest,
      entry.isDirectory() ? newestSourceTime(path) : statSync(path).mtimeMs,
    );
  }
  return newest;
}

/** Builds the dashboard unless an up-to-date production build is already there. */
async function buildDashboard(): Promise<void> {
  const buildId = join(DASHBOARD_DIR, ".next/BUILD_ID");
  if (existsSync(buildId) && statSync(buildId).mtimeMs >= newestSourceTime(DASHBOARD_DIR)) return;
  print("floodwatch: building the dashboard (first start or sources changed)...");
  const build = spawn(NEXT_BIN, ["build"], {
    cwd: DASHBOARD_DIR,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Ctrl-C during the build stops it too, instead of leaving it running alone.
  dashboardBuild = build;
  for (const stream of [build.stdout, build.stderr]) {
    createInterface({ input: stream }).on("line", (line) =>
      print(`${"[build]".padEnd(12)} ${line}`),
    );
  }
  const code = await new Promise<number | null>((resolve) => build.on("exit", resolve));
  dashboardBuild = undefined;
  if (supervisor.stopping) return;
  if (code !== 0) throw new Error(`dashboard build failed (exit code ${code})`);
}

const supervisor = new Supervisor({ print });
let dashboardBuild: ChildProcess | undefined;

async function stop(code: number): Promise<never> {
  if (!supervisor.stopping) print("floodwatch: stopping...");
  dashboardBuild?.kill("SIGTERM");
  await supervisor.stop();
  process.exit(code);
}

async function main(config: LauncherConfig): Promise<void> {
  const host = config.PUBLIC_HOST;
  const dashboardOrigin = `http://${host}:${config.DASHBOARD_PORT}`;
  let redisUrl = config.REDIS_URL;
  if (!redisUrl) {
    const dir = resolve(ROOT, config.FLOODWATCH_DATA_DIR, "redis");
    const port = await freePort();
    await mkdir(dir, { recursive: true });
    const redis = supervisor.add(redisChild(port, dir));
    redisUrl = `redis://127.0.0.1:${port}`;
    await supervisor.waitReady(Date.now() + 10_000).catch(() => {
      throw new Error(`redis-server did not answer on ${redisUrl} (pid ${redis.pid})`);
    });
    print(`floodwatch: private redis-server on ${redisUrl} (append-only file in ${dir})`);
  }
  const common = {
    REDIS_URL: redisUrl,
    DASHBOARD_ORIGIN: dashboardOrigin,
    ...logEnv(config.LOG_FORMAT),
  };

  const building = buildDashboard();
  // The stack, one entry per process: a new service is one more line here.
  const services: ChildSpec[] = [
    serviceChild("api", "api", { ...common, API_PORT: String(config.API_PORT) }, config.API_PORT),
    serviceChild(
      "ingest",
      "ingest",
      { ...common, INGEST_PORT: String(config.INGEST_PORT) },
      config.INGEST_PORT,
    ),
  ];
  for (let i = 1; i <= config.DETECTORS; i++) {
    // A fixed port per detector, so a restarted one answers where the first one did.
    const port = await freePort();
    services.push(
      serviceChild(
        `detector-${i}`,
        "detector",
        { ...common, DETECTOR_NAME: `detector-${i}`, DETECTOR_PORT: String(port) },
        port,
      ),
    );
  }
  const incidentsPort = await freePort();
  services.push(
    serviceChild(
      "incidents",
      "incidents",
      { ...common, INCIDENTS_PORT: String(incidentsPort) },
      incidentsPort,
    ),
  );
  services.push(
    serviceChild(
      "trainer",
      "trainer",
      { ...common, TRAINER_PORT: String(config.TRAINER_PORT) },
      config.TRAINER_PORT,
    ),
  );
  for (const service of services) supervisor.add(service);

  await building;
  if (supervisor.stopping) return;
  supervisor.add({
    name: "dashboard",
    command: NEXT_BIN,
    args: ["start", "-p", String(config.DASHBOARD_PORT)],
    cwd: DASHBOARD_DIR,
    env: {
      NEXT_TELEMETRY_DISABLED: "1",
      FLOODWATCH_API_URL: `http://${host}:${config.API_PORT}`,
      FLOODWATCH_INGEST_URL: `http://${host}:${config.INGEST_PORT}`,
    },
    ready: httpReady(`http://127.0.0.1:${config.DASHBOARD_PORT}/`),
  });

  await supervisor.waitReady(Date.now() + READY_DEADLINE_MS);
  print("");
  print(`  dashboard  ${dashboardOrigin}`);
  print(`  api        http://${host}:${config.API_PORT}   (REST, WebSocket /ws, /metrics)`);
  print(`  ingest     http://${host}:${config.INGEST_PORT}   (POST /api/uploads)`);
  print(`  detectors  ${config.DETECTORS}   redis ${redisUrl}`);
  print(`  incidents  http://127.0.0.1:${incidentsPort}/health   (tracker and notifier)`);
  print("");
  print("floodwatch is ready. A process that dies is restarted. Press Ctrl-C to stop.");
}

process.once("SIGINT", () => void stop(0));
process.once("SIGTERM", () => void stop(0));
void supervisor.crashLoop.then(() => stop(1));
try {
  await main(loadLauncherConfig());
} catch (error) {
  if (error instanceof ConfigError) {
    print(error.message);
    process.exit(2);
  }
  if (!supervisor.stopping) {
    print(`floodwatch: ${(error as Error).message}`);
    await stop(1);
  }
}
