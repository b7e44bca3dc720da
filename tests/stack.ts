/**
 * The whole pipeline as it runs in production, for cross-service tests and the pipeline
 * benchmark: a private append-only `redis-server`, then ingest, the API and detectors as real
 * processes (`main.ts` under tsx), each on a free port, all on one key prefix.
 *
 * Every child's output is kept (the last {@link OUTPUT_KEPT_CHARS} characters) so that a failing
 * test can show what the services said; `stop()` ends every process it started, whatever state
 * the test left them in.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startRedisServer, type RedisServer } from "@floodwatch/platform";

/** The repository root: services are started from here, as `pnpm start` does. */
export const REPO_ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));

/** The shared real data beside the checkout (absent on a fresh clone elsewhere). */
export const SHARED_DATA = resolve(REPO_ROOT, "../shared/data");

/** Output kept per child: enough for the last few dozen log lines and any stack trace. */
const OUTPUT_KEPT_CHARS = 16_000;

/** `getconf CLK_TCK`: 100 on every Linux this runs on (the unit of /proc/<pid>/stat times). */
const CLOCK_TICKS_PER_SECOND = 100;

/** Services start under tsx on two shared cores; a cold start takes a few seconds. */
const HEALTHY_DEADLINE_MS = 60_000;

/**
 * SIGTERM gets this long before SIGKILL: a detector drains the entry in hand and ingest gives
 * uploads in flight a grace period, but a test must not hang on a stuck child.
 */
const STOP_DEADLINE_MS = 15_000;

/** A service of the stack, as the test launches it. */
export type ServiceKind = "ingest" | "api" | "detector" | "incidents";

/** How a child process ended. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One service process with its port, its output and its exit. */
export class ServiceProcess {
  readonly exited: Promise<ProcessExit>;
  #output = "";

  constructor(
    readonly name: string,
    readonly kind: ServiceKind,
    readonly port: number,
    readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.#output += chunk.toString("utf8");
      if (this.#output.length > 2 * OUTPUT_KEPT_CHARS) {
        this.#output = this.#output.slice(-OUTPUT_KEPT_CHARS);
      }
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.exited = new Promise((done) =>
      child.once("exit", (code, signal) => done({ code, signal })),
    );
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What the process printed (its last {@link OUTPUT_KEPT_CHARS} characters). */
  output(): string {
    return this.#output.slice(-OUTPUT_KEPT_CHARS);
  }

  /** Sends `signal` (SIGKILL for a crash, SIGSTOP to freeze it) if the process still runs. */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** Kills the process as a crash would, and waits until it is gone. */
  async crash(): Promise<ProcessExit> {
    this.signal("SIGKILL");
    return this.exited;
  }

  /** SIGTERM, then SIGKILL after the deadline; resolves with how it ended. */
  async stop(deadlineMs = STOP_DEADLINE_MS): Promise<ProcessExit> {
    if (!this.running) return this.exited;
    // A frozen process (SIGSTOP) only handles SIGTERM once it runs again.
    this.child.kill("SIGCONT");
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), deadlineMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** Peak resident set size in KiB (`VmHWM` of /proc/<pid>/status), or null once it is gone. */
  peakRssKib(): number | null {
    const status = `/proc/${this.pid}/status`;
    if (!this.running || !existsSync(status)) return null;
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync(status, "utf8"));
    return match ? Number(match[1]) : null;
  }

  /** CPU time used so far, user plus system, in seconds (/proc/<pid>/stat), or null once gone. */
  cpuSeconds(): number | null {
    const stat = `/proc/${this.pid}/stat`;
    if (!this.running || !existsSync(stat)) return null;
    // Fields after the command name, which is in parentheses and may hold spaces.
    const text = readFileSync(stat, "utf8");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // The slice starts at field 3 (state); utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  }

  /** Waits until `GET /health` answers 200; fails early, with the output, if the process exits. */
  async waitHealthy(deadlineMs = HEALTHY_DEADLINE_MS): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      if (!this.running) {
        throw new Error(`${this.name} exited before it was healthy:\n${this.output()}`);
      }
      try {
        const response = await fetch(`${this.url}/health`, {
          signal: AbortSignal.timeout(2_000),
        });
        await response.body?.cancel();
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(`${this.name} was not healthy within ${deadlineMs} ms:\n${this.output()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A private Redis for one test file or benchmark run, in its own temporary folder. */
export interface PipelineRedis {
  server: RedisServer;
  url: string;
  /** Stops the server and deletes its folder. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts `redis-server` with an append-only file in a fresh temporary folder, so that
 * `server.restart()` keeps the data, as a production Redis with persistence would.
 */
export async function startPipelineRedis(): Promise<PipelineRedis> {
  const dir = await mkdtemp(join(tmpdir(), "floodwatch-pipeline-redis-"));
  let server: RedisServer;
  try {
    server = await startRedisServer({ dir, appendOnly: true });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    server,
    url: server.url,
    close: () =>
      (closing ??= server
        .stop()
        .finally(() => rm(dir, { recursive: true, force: true }).catch(() => undefined))),
  };
}

/** Settings of {@link PipelineStack.start}. */
export interface StackOptions {
  redisUrl: string;
  /** Key prefix of this stack (one per test). */
  prefix: string;
  /** Detectors started with the stack (default 1). */
  detectors?: number;
  /** Extra environment for every service (e.g. `INGEST_ENTRY_FLOWS`). */
  env?: Record<string, string>;
  /** Node.js options for every service, before `--import tsx` (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
}

/**
 * `DETECTOR_CLAIM_IDLE_MS` of the stack: a killed detector's entries are claimed by the others
 * two seconds after their last delivery, instead of the production 30 s.
 */
export const STACK_CLAIM_IDLE_MS = 2_000;

/** Ingest, the API and N detectors on one Redis and one key prefix. */
export class PipelineStack {
  readonly detectors: ServiceProcess[] = [];
  readonly #all: ServiceProcess[] = [];
  readonly #options: StackOptions;
  #detectorCount = 0;
  #stopping: Promise<void> | undefined;

  private constructor(
    options: StackOptions,
    readonly ingest: ServiceProcess,
    readonly api: ServiceProcess,
  ) {
    this.#options = options;
    this.#all.push(ingest, api);
  }

  /**
   * Starts ingest and the API (the first publishes the shipped default model), then the
   * detectors, and waits until every one answers `/health` with 200. On failure everything
   * started is stopped before the error is thrown.
   */
  static async start(options: StackOptions): Promise<PipelineStack> {
    const [ingestPort, apiPort] = [await freePort(), await freePort()];
    const ingest = spawnService("ingest", "ingest", ingestPort, options, {
      INGEST_PORT: String(ingestPort),
      INGEST_HOST: "127.0.0.1",
    });
    const api = spawnService("api", "api", apiPort, options, {
      API_PORT: String(apiPort),
      API_HOST: "127.0.0.1",
    });
    const stack = new PipelineStack(options, ingest, api);
    try {
      await Promise.all([ingest.waitHealthy(), api.waitHealthy()]);
      const starting: Promise<ServiceProcess>[] = [];
      for (let i = 0; i < (options.detectors ?? 1); i++) starting.push(stack.addDetector());
      await Promise.all(starting);
    } catch (error) {
      await stack.stop();
      throw error;
    }
    return stack;
  }

  get prefix(): string {
    return this.#options.prefix;
  }

  /** Every process started, detectors included, dead or alive. */
  get processes(): readonly ServiceProcess[] {
    return this.#all;
  }

  /**
   * Starts one more detector and waits until it is healthy (its model loaded). `env` overrides
   * the stack's detector settings for this one.
   */
  async addDetector(env: Record<string, string> = {}): Promise<ServiceProcess> {
    const port = await freePort();
    const name = `${this.#options.prefix}-detector-${++this.#detectorCount}`;
    const detector = spawnService(name, "detector", port, this.#options, {
      DETECTOR_NAME: name,
      DETECTOR_PORT: String(port),
      DETECTOR_HOST: "127.0.0.1",
      DETECTOR_CLAIM_IDLE_MS: String(STACK_CLAIM_IDLE_MS),
      ...env,
    });
    this.#all.push(detector);
    this.detectors.push(detector);
    await detector.waitHealthy();
    return detector;
  }

  /**
   * Starts an incidents service (tracker and notifier) and waits until it is healthy. Its
   * claim idle time is the stack's, so a killed one's entries move on quickly.
   */
  async addIncidents(env: Record<string, string> = {}): Promise<ServiceProcess> {
    const port = await freePort();
    const name = `${this.#options.prefix}-incidents-${this.#all.length}`;
    const incidents = spawnService(name, "incidents", port, this.#options, {
      INCIDENTS_NAME: name,
      INCIDENTS_PORT: String(port),
      INCIDENTS_HOST: "127.0.0.1",
      INCIDENTS_CLAIM_IDLE_MS: String(STACK_CLAIM_IDLE_MS),
      ...env,
    });
    this.#all.push(incidents);
    await incidents.waitHealthy();
    return incidents;
  }

  /**
   * Stops every process (SIGTERM, SIGKILL past the deadline), in parallel. Idempotent; never
   * throws, so it can run in `finally` and `afterEach` whatever happened.
   */
  stop(): Promise<void> {
    this.#stopping ??= Promise.allSettled(this.#all.map((p) => p.stop())).then(() => undefined);
    return this.#stopping;
  }

  /** Every process's output, headed by its name and how it ended: for a failure message. */
  diagnostics(): string {
    return this.#all
      .map((p) => {
        const state = p.running
          ? "running"
          : `exited (${p.child.signalCode ?? `code ${p.child.exitCode}`})`;
        const output = p.output().trimEnd();
        return `--- ${p.name} (pid ${p.pid}, ${state}) ---\n${output === "" ? "(no output)" : output}`;
      })
      .join("\n");
  }
}

/** Children still running, killed if this process exits without stopping them (a crash). */
const liveChildren = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of liveChildren) child.kill("SIGKILL");
});

function spawnService(
  name: string,
  kind: ServiceKind,
  port: number,
  options: StackOptions,
  own: Record<string, string>,
): ServiceProcess {
  const args = [...(options.nodeArgs ?? []), "--import", "tsx", `services/${kind}/src/main.ts`];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      REDIS_URL: options.redisUrl,
      FLOODWATCH_KEY_PREFIX: options.prefix,
      LOG_LEVEL: "warn",
      // The stack is open on 127.0.0.1 only: no token, and no per-client upload limit, which the
      // tests' many uploads from one address would otherwise hit.
      FLOODWATCH_API_TOKEN: "",
      FLOODWATCH_PROTECT_READS: "false",
      UPLOAD_RATE_LIMIT_PER_MINUTE: "0",
      ...options.env,
      ...own,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  liveChildren.add(child);
  child.once("exit", () => liveChildren.delete(child));
  return new ServiceProcess(name, kind, port, child);
}
