/**
 * A private `redis-server` child process on a free port: the test fixture, and what the local
 * launcher runs when no `REDIS_URL` is given.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { Redis } from "ioredis";

/** Settings of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Data folder (append-only file and dumps). Required when `appendOnly` is on. */
  dir?: string;
  /** Keep an append-only file so data survives a restart (default false). */
  appendOnly?: boolean;
  /** Port; default: a free one. */
  port?: number;
  /** `redis-server` executable (default from `PATH`). */
  executable?: string;
}

/** A running private Redis. */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s). Idempotent. */
  stop(): Promise<void>;
  /** Kills the process without letting it save, as a crash would. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and folder. */
  restart(): Promise<void>;
}

/** Asks the kernel for a free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPing(url: string, child: ChildProcess, deadlineMs: number): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(
        `redis-server exited with code ${child.exitCode} before accepting connections`,
      );
    }
    const client = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on("error", () => undefined);
    try {
      await client.connect();
      if ((await client.ping()) === "PONG") return;
    } catch {
      // not up yet
    } finally {
      client.disconnect();
    }
    if (Date.now() - started > deadlineMs)
      throw new Error(`redis-server did not answer within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The command line of a private `redis-server`: loopback only, no RDB snapshots, and with
 * `appendOnly` an append-only file synced every second (a kill loses at most that second).
 */
export function redisServerArgs(
  port: number,
  options: Pick<RedisServerOptions, "dir" | "appendOnly"> = {},
): string[] {
  return [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    options.appendOnly ? "yes" : "no",
    "--protected-mode",
    "yes",
    ...(options.appendOnly ? ["--appendfsync", "everysec"] : []),
    ...(options.dir ? ["--dir", options.dir] : []),
  ];
}

/** Starts a private `redis-server` and waits until it answers `PING`. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const url = `redis://127.0.0.1:${port}`;
  if (options.dir) await mkdir(options.dir, { recursive: true });
  const args = redisServerArgs(port, options);
  let child: ChildProcess | undefined;
  const launch = async () => {
    const started = spawn(options.executable ?? "redis-server", args, {
      stdio: ["ignore", "ignore", "pipe"],
    });
    started.stderr?.resume();
    await new Promise<void>((resolve, reject) => {
      started.once("spawn", resolve);
      started.once("error", (error) =>
        reject(new Error(`cannot start redis-server: ${error.message}`)),
      );
    });
    child = started;
    await waitForPing(url, started, 10_000);
  };
  const stopWith = async (signal: NodeJS.Signals) => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
    running.kill(signal);
    const timer = setTimeout(() => running.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  await launch();
  return {
    url,
    port,
    stop: () => stopWith("SIGTERM"),
    kill: () => stopWith("SIGKILL"),
    restart: async () => {
      await stopWith("SIGTERM");
      await launch();
    },
  };
}
