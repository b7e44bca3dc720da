/**
 * The trainer as it runs in production: `node --import tsx src/main.ts` as a child process with
 * its environment, a job through the queue, /health, and a clean exit on SIGTERM.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startRedisServer, type RedisServer } from "@floodwatch/platform";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatedCsv, openTrainerTestBed, type TrainerTestBed } from "./trainer-test-support.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const MAIN = resolve(HERE, "main.ts");
const ROOT = resolve(HERE, "../../..");

let server: RedisServer;
let bed: TrainerTestBed;

beforeAll(async () => {
  server = await startRedisServer();
  bed = await openTrainerTestBed(server.url, "trainer-main");
});
afterAll(async () => {
  await bed.close();
  await server.stop();
});

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolvePromise) => child.once("exit", (code) => resolvePromise(code)));
}

async function healthOf(url: string): Promise<number | null> {
  try {
    return (await fetch(url)).status;
  } catch {
    return null;
  }
}

describe("trainer process", () => {
  it("refuses a bad configuration, naming the variable", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
      cwd: ROOT,
      env: { ...process.env, TRAINER_CONCURRENCY: "0", REDIS_URL: server.url },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    expect(await exited(child)).toBe(2);
    expect(stderr).toMatch(/TRAINER_CONCURRENCY: Too small/);
  });

  it("trains a queued job, answers /health, and stops on SIGTERM", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
      cwd: ROOT,
      env: {
        ...process.env,
        REDIS_URL: server.url,
        FLOODWATCH_KEY_PREFIX: "trainer-main",
        TRAINER_HOST: "127.0.0.1",
        TRAINER_PORT: String(port),
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const exit = exited(child);
    try {
      const jobId = await bed.submit(generatedCsv(3000, 9), { trees: 20 });
      const job = await bed.finished(jobId);
      expect(job.failedReason).toBeFalsy();
      expect(job.returnvalue.flows).toBe(3000);

      const health = `http://127.0.0.1:${port}/health`;
      for (let i = 0; i < 200 && (await healthOf(health)) !== 200; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await healthOf(health)).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toContain('floodwatch_training_jobs_total{outcome="completed"} 1');
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exit).toBe(0);
  });
});
