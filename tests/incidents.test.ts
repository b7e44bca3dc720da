/**
 * Incidents across real processes: uploads through ingest, detectors scoring, the incidents
 * service tracking and notifying, the API serving them. Every stack's incidents are compared
 * with `floodwatch incidents` run as a command on the same file and model.
 */
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { generateFlowCsv } from "@floodwatch/core/generator";
import {
  incidentFacts,
  incidentSchema,
  parseModel,
  redisKeys,
  webhookBodySchema,
  type Incident,
  type WebhookBody,
} from "@floodwatch/core";
import { closeRedis, connectRedis, defaultModelPath, publishModel } from "@floodwatch/platform";
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { z } from "zod";
import {
  uploadCsv,
  waitForUploadEnd,
  waitForUploadInProgress,
  waitUntil,
  type CsvSource,
} from "./pipeline-client.ts";
import {
  PipelineStack,
  REPO_ROOT,
  SHARED_DATA,
  startPipelineRedis,
  type PipelineRedis,
} from "./stack.ts";

const FRIDAY_DDOS = resolve(SHARED_DATA, "cicids2017/friday-ddos.csv");
const BENIGN = resolve(SHARED_DATA, "cicids2017/train-benign-mon-tue-thu.csv");
const realDataPresent = existsSync(FRIDAY_DDOS) && existsSync(BENIGN);
const SECRET = "hook-secret";

let redis: PipelineRedis;
let admin: ReturnType<typeof connectRedis>;
let dir: string;
let stack: PipelineStack | undefined;

beforeAll(async () => {
  redis = await startPipelineRedis();
  admin = connectRedis(redis.url, "incidents-test-admin");
  dir = await mkdtemp(join(tmpdir(), "floodwatch-incidents-"));
});
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});
afterAll(async () => {
  if (admin) await closeRedis(admin);
  await redis?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs the `floodwatch` command; resolves with its stdout, fails on a non-zero exit. */
function floodwatch(args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "packages/cli/src/main.ts", ...args],
      {
        cwd: REPO_ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) =>
      code === 0
        ? done(stdout)
        : fail(new Error(`floodwatch ${args[0]} exited ${code}: ${stderr}`)),
    );
  });
}

async function offlineIncidents(model: string, file: string): Promise<Incident[]> {
  const out = await floodwatch(["incidents", "--model", model, file]);
  return out
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => incidentSchema.parse(JSON.parse(l)));
}

/** A webhook receiver in this process that answers `statusFor(n)` to the n-th request. */
async function startReceiver(statusFor: (n: number) => number = () => 200) {
  const received: { delivery: string; signature: string; body: string; status: number }[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (c: Buffer) => chunks.push(c));
    request.on("end", () => {
      const status = statusFor(received.length);
      received.push({
        delivery: String(request.headers["x-floodwatch-delivery"]),
        signature: String(request.headers["x-floodwatch-signature"]),
        body: Buffer.concat(chunks).toString("utf8"),
        status,
      });
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    bodies: (): WebhookBody[] =>
      received
        .filter((r) => r.status === 200)
        .map((r) => webhookBodySchema.parse(JSON.parse(r.body))),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function startStack(name: string, detectors: number, model: string): Promise<PipelineStack> {
  const prefix = `inc-${name}`;
  // Published before the stack starts, so ingest and the detectors begin with it.
  await publishModel(admin, redisKeys(prefix), parseModel(await readFile(model, "utf8")));
  const started = await PipelineStack.start({ redisUrl: redis.url, prefix, detectors });
  stack = started;
  onTestFailed(() =>
    console.error(`services of the failed test "${name}":\n${started.diagnostics()}`),
  );
  return started;
}

const incidentListSchema = z.array(incidentSchema);

/** The API's incidents of an upload once the tracker has closed them all and the upload is over. */
async function stackIncidents(
  live: PipelineStack,
  uploadId: string,
  expected: number,
): Promise<Incident[]> {
  return waitUntil(
    `${expected} closed incidents of ${uploadId}`,
    async () => {
      const response = await fetch(`${live.api.url}/api/incidents?uploadId=${uploadId}`);
      const list = incidentListSchema.parse(await response.json());
      const closed = list.filter((i) => i.state === "closed");
      return closed.length === expected && list.length === expected
        ? closed.sort((a, b) => a.firstWindow - b.firstWindow)
        : undefined;
    },
    60_000,
  );
}

function expectSigned(received: { signature: string; body: string }[]) {
  for (const r of received) {
    expect(r.signature).toBe(`sha256=${createHmac("sha256", SECRET).update(r.body).digest("hex")}`);
  }
}

/** Each incident got exactly one opened and one closed notification. */
function expectOneOpenedAndClosed(bodies: WebhookBody[], incidents: Incident[]) {
  for (const incident of incidents) {
    const events = bodies.filter((b) => b.incident.id === incident.id).map((b) => b.event);
    expect(
      events.filter((e) => e === "incident.opened"),
      incident.id,
    ).toHaveLength(1);
    expect(
      events.filter((e) => e === "incident.closed"),
      incident.id,
    ).toHaveLength(1);
  }
}

/**
 * Uploads `text` to a stack of three detectors and the incidents service; with the first half
 * scored, kills one detector and the incidents service with SIGKILL, starts a new incidents
 * service, and checks the incidents against `offline` and the notifications (a receiver failing
 * every third request) for at-least-once with stable delivery ids.
 */
async function killedRun(name: string, model: string, text: string, offline: Incident[]) {
  const receiver = await startReceiver((n) => (n % 3 === 0 ? 500 : 200));
  try {
    const live = await startStack(name, 3, model);
    const env = {
      ALERT_WEBHOOK_URL: receiver.url,
      ALERT_WEBHOOK_SECRET: SECRET,
      ALERT_RETRY_BASE_MS: "100",
    };
    const tracker = await live.addIncidents(env);

    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const half = text.indexOf("\n", Math.floor(text.length / 2)) + 1;
    async function* gated(): AsyncGenerator<string> {
      yield text.slice(0, half);
      await gate;
      yield text.slice(half);
    }
    const uploading = uploadCsv(live, gated() as CsvSource, `${name}.csv`);
    const first = await waitForUploadInProgress(
      live,
      (s) => s.windowsScored > 0,
      "the first half to be scored",
    );
    expect(first.state).toBe("streaming");
    await live.detectors[0]!.crash();
    await tracker.crash();
    release();
    await live.addIncidents(env);
    const accepted = await uploading;
    expect(accepted.uploadId).toBe(first.uploadId);
    await waitForUploadEnd(live, accepted.uploadId);
    const incidents = await stackIncidents(live, accepted.uploadId, offline.length);
    expect(incidents.map(incidentFacts)).toEqual(offline.map(incidentFacts));

    // Every event eventually: a delivery the killed process had leased is retried only when its
    // lease runs out, so an incident's closed event can arrive before its opened one.
    const delivered = (id: string, event: string) =>
      receiver.bodies().some((b) => b.incident.id === id && b.event === event);
    await waitUntil(
      "every opened and closed notification",
      () =>
        incidents.every(
          (i) => delivered(i.id, "incident.opened") && delivered(i.id, "incident.closed"),
        )
          ? true
          : undefined,
      90_000,
    );
    expectSigned(receiver.received);
    // At least once: every event arrived, each under one delivery id however often it was sent.
    const deliveredIds = receiver.received.filter((r) => r.status === 200).map((r) => r.delivery);
    const bodies = receiver.bodies();
    for (const incident of incidents) {
      expect(
        bodies.some((b) => b.incident.id === incident.id && b.event === "incident.opened"),
      ).toBe(true);
      expect(
        bodies.some((b) => b.incident.id === incident.id && b.event === "incident.closed"),
      ).toBe(true);
    }
    const bodyById = new Map<string, string>();
    for (const r of receiver.received) {
      if (bodyById.has(r.delivery)) expect(r.body).toBe(bodyById.get(r.delivery));
      bodyById.set(r.delivery, r.body);
    }
    expect(new Set(deliveredIds).size).toBe(bodyById.size);
    // The receiver's 500s were retried: some delivery ids came more than once.
    expect(receiver.received.length).toBeGreaterThan(bodyById.size);
  } finally {
    await receiver.close();
  }
}

describe("incidents across processes", { timeout: 180_000 }, () => {
  it.skipIf(!realDataPresent)(
    "reports friday-ddos.csv's incidents as floodwatch incidents does, and notifies each once",
    async () => {
      const model = join(dir, "benign.json");
      await floodwatch(["train", "--out", model, BENIGN]);
      const offline = await offlineIncidents(model, FRIDAY_DDOS);
      expect(offline.length).toBeGreaterThan(0);

      const receiver = await startReceiver();
      try {
        const live = await startStack("friday", 1, model);
        await live.addIncidents({ ALERT_WEBHOOK_URL: receiver.url, ALERT_WEBHOOK_SECRET: SECRET });
        const accepted = await uploadCsv(live, createReadStream(FRIDAY_DDOS), "friday-ddos.csv");
        await waitForUploadEnd(live, accepted.uploadId);
        const incidents = await stackIncidents(live, accepted.uploadId, offline.length);
        expect(incidents.map(incidentFacts)).toEqual(offline.map(incidentFacts));

        // The DDoS (the longest incident) names its victim when the windows carry victims.
        const ddos = [...incidents].sort((a, b) => b.anomalousWindows - a.anomalousWindows)[0]!;
        if (ddos.victims.length > 0) expect(ddos.victims[0]!.ip).toBe("192.168.10.50");
        else console.warn("windows carry no victims yet: the DDoS victim is not checked");

        // One incident in detail, with its windows.
        const detail = (await (await fetch(`${live.api.url}/api/incidents/${ddos.id}`)).json()) as {
          incident: Incident;
          windows: { window: number; anomaly: boolean }[];
        };
        expect(detail.windows.map((w) => w.window)).toEqual(
          Array.from({ length: ddos.windows }, (_, i) => ddos.firstWindow + i),
        );

        await waitUntil(
          "every closed notification",
          () =>
            receiver.bodies().filter((b) => b.event === "incident.closed").length >=
            incidents.length
              ? true
              : undefined,
          30_000,
        );
        expectSigned(receiver.received);
        expectOneOpenedAndClosed(receiver.bodies(), incidents);
        const endpoints = (await (
          await fetch(`${live.api.url}/api/deliveries/endpoints`)
        ).json()) as {
          last: { state: string } | null;
        }[];
        expect(endpoints.map((e) => e.last?.state)).toEqual(["delivered"]);
      } finally {
        await receiver.close();
      }
    },
  );

  it("gives the same incidents with three detectors when a detector and the tracker are killed with SIGKILL mid-upload", async () => {
    const model = defaultModelPath();
    const csvPath = join(dir, "bursts.csv");
    // Several attack bursts among benign traffic: a generated file with a flood every so often.
    const parts: string[] = [];
    const kinds = ["none", "syn", "none", "udp", "none", "syn", "none"] as const;
    kinds.forEach((attack, i) => {
      const text = [...generateFlowCsv({ flows: 3_000, attack, seed: 100 + i })].join("");
      parts.push(i === 0 ? text : text.slice(text.indexOf("\n") + 1));
    });
    await writeFile(csvPath, parts.join(""));
    const offline = await offlineIncidents(model, csvPath);
    expect(offline.length).toBeGreaterThan(1);
    await killedRun("bursts", model, parts.join(""), offline);
  });

  it.skipIf(!realDataPresent)(
    "gives friday-ddos.csv's incidents with three detectors when a detector and the tracker are killed",
    async () => {
      const model = join(dir, "benign-killed.json");
      await floodwatch(["train", "--out", model, BENIGN]);
      const offline = await offlineIncidents(model, FRIDAY_DDOS);
      await killedRun("friday-killed", model, await readFile(FRIDAY_DDOS, "utf8"), offline);
    },
  );
});
