/**
 * `pnpm start`: the whole floodwatch stack on one machine. Starts a private redis-server when
 * `REDIS_URL` is unset, then ingest, `DETECTORS` detectors, the trainer, the API and the
 * dashboard; prints their URLs once every one answers its health check. Ctrl-C (or SIGTERM)
 * stops everything, each child with SIGTERM first so detectors finish the entry in hand.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, statSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { ConfigError, freePort, startRedisServer, type RedisServer } from "@floodwatch/platform";
import { loadLauncherConfig, type LauncherConfig } from "./launcher-env.ts";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const DASHBOARD_DIR = join(ROOT, "apps/dashboard");
const NEXT_BIN = join(DASHBOARD_DIR, "node_modules/.bin/next");
/** How long a child may take to drain after SIGTERM before it is killed. */
const STOP_DEADLINE_MS = 10_000;
/** How long the stack may take to become healthy (a first dashboard build takes a while). */
const READY_DEADLINE_MS = 120_000;

interface Child {
  name: string;
  process: ChildProcess;
  /** URL that answers 200 when the child is up, if it has one. */
  healthUrl?: string;
}

const children: Child[] = [];
let redis: RedisServer | undefined;
let stopping = false;

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Streams a child's output with its name in front, so interleaved logs stay readable. */
function pipeOutput(name: string, child: ChildProcess): void {
  const tag = `[${name}]`.padEnd(12);
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (line) => print(`${tag} ${line}`));
  }
}

function startChild(
  name: string,
  command: string,
  args: string[],
  env: Record<string, string>,
  options: { cwd?: string; healthUrl?: string } = {},
): Child {
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  pipeOutput(name, child);
  child.on("exit", (code, signal) => {
    if (stopping) return;
    print(`floodwatch: ${name} exited (${signal ?? `code ${code}`}); stopping the stack`);
    void stop(1);
  });
  const entry: Child = {
    name,
    process: child,
    ...(options.healthUrl ? { healthUrl: options.healthUrl } : {}),
  };
  children.push(entry);
  return entry;
}

function startService(
  name: string,
  service: string,
  env: Record<string, string>,
  healthUrl?: string,
): Child {
  return startChild(
    name,
    process.execPath,
    ["--import", "tsx", join(ROOT, "services", service, "src/main.ts")],
    env,
    healthUrl ? { healthUrl } : {},
  );
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
  pipeOutput("build", build);
  const code = await new Promise<number | null>((resolve) => build.on("exit", resolve));
  if (code !== 0) throw new Error(`dashboard build failed (exit code ${code})`);
}

async function waitHealthy(child: Child, deadline: number): Promise<void> {
  const url = child.healthUrl;
  if (!url) return;
  for (;;) {
    if (stopping) throw new Error("stopping");
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${child.name} did not become healthy at ${url}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function stopChild(child: Child): Promise<void> {
  const running = child.process;
  if (running.exitCode !== null || running.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
  running.kill("SIGTERM");
  const timer = setTimeout(() => running.kill("SIGKILL"), STOP_DEADLINE_MS);
  await exited;
  clearTimeout(timer);
}

/** The one shutdown path: every step runs even if another fails; idempotent. */
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  print("floodwatch: stopping...");
  await Promise.allSettled(children.map(stopChild));
  if (redis) await redis.stop().catch(() => undefined);
  process.exit(code);
}

async function main(config: LauncherConfig): Promise<void> {
  const host = config.PUBLIC_HOST;
  const dashboardOrigin = `http://${host}:${config.DASHBOARD_PORT}`;
  let redisUrl = config.REDIS_URL;
  if (!redisUrl) {
    const dir = resolve(ROOT, config.FLOODWATCH_DATA_DIR, "redis");
    redis = await startRedisServer({ dir, appendOnly: true });
    redisUrl = redis.url;
    print(`floodwatch: private redis-server on ${redisUrl} (append-only file in ${dir})`);
  }
  const common = { REDIS_URL: redisUrl, DASHBOARD_ORIGIN: dashboardOrigin };
  const local = (port: number, path = "/health") => `http://127.0.0.1:${port}${path}`;

  const dashboardBuild = buildDashboard();
  startService(
    "api",
    "api",
    { ...common, API_PORT: String(config.API_PORT) },
    local(config.API_PORT),
  );
  startService(
    "ingest",
    "ingest",
    { ...common, INGEST_PORT: String(config.INGEST_PORT) },
    local(config.INGEST_PORT),
  );
  for (let i = 1; i <= config.DETECTORS; i++) {
    const port = await freePort();
    startService(
      `detector-${i}`,
      "detector",
      { ...common, DETECTOR_NAME: `detector-${i}`, DETECTOR_PORT: String(port) },
      local(port),
    );
  }
  const incidentsPort = await freePort();
  startService(
    "incidents",
    "incidents",
    { ...common, INCIDENTS_PORT: String(incidentsPort) },
    local(incidentsPort),
  );
  if (existsSync(join(ROOT, "services/trainer/src/main.ts"))) {
    startService(
      "trainer",
      "trainer",
      { ...common, TRAINER_PORT: String(config.TRAINER_PORT) },
      local(config.TRAINER_PORT),
    );
  }
  await dashboardBuild;
  startChild(
    "dashboard",
    NEXT_BIN,
    ["start", "-p", String(config.DASHBOARD_PORT)],
    {
      NEXT_TELEMETRY_DISABLED: "1",
      FLOODWATCH_API_URL: `http://${host}:${config.API_PORT}`,
      FLOODWATCH_INGEST_URL: `http://${host}:${config.INGEST_PORT}`,
    },
    { cwd: DASHBOARD_DIR, healthUrl: local(config.DASHBOARD_PORT, "/") },
  );

  const deadline = Date.now() + READY_DEADLINE_MS;
  await Promise.all(children.map((child) => waitHealthy(child, deadline)));
  print("");
  print(`  dashboard  ${dashboardOrigin}`);
  print(`  api        http://${host}:${config.API_PORT}   (REST, WebSocket /ws, /metrics)`);
  print(`  ingest     http://${host}:${config.INGEST_PORT}   (POST /api/uploads)`);
  print(`  detectors  ${config.DETECTORS}   redis ${redisUrl}`);
  print(`  incidents  http://127.0.0.1:${incidentsPort}/health   (tracker and notifier)`);
  print("");
  print("floodwatch is ready. Press Ctrl-C to stop.");
}

process.once("SIGINT", () => void stop(0));
process.once("SIGTERM", () => void stop(0));
try {
  await main(loadLauncherConfig());
} catch (error) {
  if (error instanceof ConfigError) {
    print(error.message);
    process.exit(2);
  }
  if (!stopping) {
    print(`floodwatch: ${(error as Error).message}`);
    await stop(1);
  }
}
