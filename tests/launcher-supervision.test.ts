/**
 * `pnpm start`'s supervision on real processes: the launcher's own children (the private
 * append-only redis-server, ingest, the API and three detectors, from the same specs and under
 * the same supervisor as `scripts/start.ts`; the trainer and dashboard are left out to keep the
 * machine's two cores for the pipeline) take a 1M-flow upload while one of them is killed with
 * SIGKILL. The upload must end `done` with every window scored exactly once, the killed process
 * must come back, nobody else may be restarted, and the dashboard's own WebSocket client must
 * be connected to the API at the end (reconnected, when the API was the one killed).
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { generateFlowCsv } from "@floodwatch/core/generator";
import { uploadAcceptedSchema, type ServerMessage, type UploadStatus } from "@floodwatch/core";
import { freePort } from "@floodwatch/platform";
import { WebSocket } from "ws";
import { afterEach, describe, expect, it, onTestFailed } from "vitest";
import { redisChild, serviceChild } from "../scripts/launcher-children.ts";
import { Supervisor, type SupervisedChild } from "../scripts/supervisor.ts";
import {
  postUpload,
  waitForUploadEnd,
  waitForUploadInProgress,
  waitUntil,
  type PipelineEndpoints,
} from "./pipeline-client.ts";

const FLOWS = 1_000_000;
/** Windows of the shipped default model (50 flows, stride 50). */
const WINDOWS = FLOWS / 50;
const DETECTORS = 3;
/**
 * A million flows take about 10 s on an idle two-core machine, but many minutes when the cores are
 * shared with other test runs (load 20 during development): the bounds are for the latter.
 */
const UPLOAD_DEADLINE_MS = 600_000;
const TEST_TIMEOUT_MS = 900_000;

/** The launcher under test, with what it printed. */
interface Launcher {
  supervisor: Supervisor;
  endpoints: PipelineEndpoints;
  lines: string[];
  dir: string;
}

let launcher: Launcher | undefined;
let socket: DashboardSocket | undefined;

afterEach(async () => {
  socket?.stop();
  socket = undefined;
  await launcher?.supervisor.stop();
  if (launcher) await rm(launcher.dir, { recursive: true, force: true });
  launcher = undefined;
});

/** Starts what `pnpm start` starts (minus trainer and dashboard) and waits until all serve. */
async function startLauncher(prefix: string): Promise<Launcher> {
  const lines: string[] = [];
  const supervisor = new Supervisor({ print: (line) => lines.push(line) });
  const dir = await mkdtemp(join(tmpdir(), "floodwatch-launcher-test-"));
  launcher = { supervisor, lines, dir, endpoints: { ingest: { url: "" }, api: { url: "" } } };
  onTestFailed(() => {
    console.error(`--- launcher output (last 200 lines) ---\n${lines.slice(-200).join("\n")}`);
  });

  const redisPort = await freePort();
  supervisor.add(redisChild(redisPort, dir));
  await supervisor.waitReady(Date.now() + 15_000);
  const [apiPort, ingestPort] = [await freePort(), await freePort()];
  const common = {
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    FLOODWATCH_KEY_PREFIX: prefix,
    LOG_LEVEL: "warn",
    LOG_FORMAT: "json",
    // The launcher's default is 30 s; the test does not wait that long for a dead consumer's
    // entries to become claimable (the same shortcut as tests/stack.ts).
    DETECTOR_CLAIM_IDLE_MS: "2000",
    FLOODWATCH_API_TOKEN: "",
    FLOODWATCH_PROTECT_READS: "false",
    UPLOAD_RATE_LIMIT_PER_MINUTE: "0",
  };
  supervisor.add(
    serviceChild(
      "api",
      "api",
      { ...common, API_PORT: String(apiPort), API_HOST: "127.0.0.1" },
      apiPort,
    ),
  );
  supervisor.add(
    serviceChild(
      "ingest",
      "ingest",
      { ...common, INGEST_PORT: String(ingestPort), INGEST_HOST: "127.0.0.1" },
      ingestPort,
    ),
  );
  for (let i = 1; i <= DETECTORS; i++) {
    const port = await freePort();
    const env = {
      ...common,
      DETECTOR_NAME: `detector-${i}`,
      DETECTOR_PORT: String(port),
      DETECTOR_HOST: "127.0.0.1",
    };
    supervisor.add(serviceChild(`detector-${i}`, "detector", env, port));
  }
  await supervisor.waitReady(Date.now() + 120_000);
  launcher.endpoints = {
    ingest: { url: `http://127.0.0.1:${ingestPort}` },
    api: { url: `http://127.0.0.1:${apiPort}` },
  };
  return launcher;
}

/**
 * The dashboard's own live-feed client (`LiveSocket`: reconnect with backoff included), loaded at
 * run time by path: the root type check has no DOM library, which the dashboard's files assume
 * (the dashboard's own type check covers them). The part used here, typed locally:
 */
interface LiveSocketLike {
  start(): void;
  stop(): void;
}
type LiveSocketClass = new (options: {
  url: string;
  token: () => string | null;
  createSocket: (url: string, protocols: string[]) => unknown;
  onState: () => void;
  onOpen: () => void;
  onMessage: (message: ServerMessage) => void;
}) => LiveSocketLike;
const LIVE_SOCKET_MODULE = fileURLToPath(
  new URL("../apps/dashboard/src/lib/live-socket.ts", import.meta.url),
);
const { LiveSocket } = (await import(LIVE_SOCKET_MODULE)) as { LiveSocket: LiveSocketClass };

/** The dashboard's live-feed client over `ws` in Node, counting opens and windows per open. */
interface DashboardSocket {
  /** Successful opens, and the windows received on each (all, and per upload). */
  opens: number;
  windowsAfterOpen: number[];
  uploadsAfterOpen: Map<string, number>[];
  stop(): void;
}

function connectDashboard(apiUrl: string): DashboardSocket {
  const state: DashboardSocket = {
    opens: 0,
    windowsAfterOpen: [],
    uploadsAfterOpen: [],
    stop: () => live.stop(),
  };
  const live = new LiveSocket({
    url: `${apiUrl.replace(/^http/, "ws")}/ws`,
    token: () => null,
    createSocket: (url, protocols) => new WebSocket(url, protocols),
    onState: () => undefined,
    onOpen: () => {
      state.opens += 1;
      state.windowsAfterOpen.push(0);
      state.uploadsAfterOpen.push(new Map());
    },
    onMessage: (message: ServerMessage) => {
      if (message.type === "window") {
        state.windowsAfterOpen[state.opens - 1] =
          (state.windowsAfterOpen[state.opens - 1] ?? 0) + message.windows.length;
        const perUpload = state.uploadsAfterOpen[state.opens - 1];
        for (const window of message.windows) {
          perUpload?.set(window.uploadId, (perUpload.get(window.uploadId) ?? 0) + 1);
        }
      }
    },
  });
  live.start();
  return state;
}

/**
 * Uploads a million generated flows, kills `victim` with SIGKILL once 1% of the windows are scored
 * (early, so that most of the upload runs with the victim dead or restarting), and returns the
 * upload's final status and the status seen at the kill.
 */
async function uploadAndKill(
  running: Launcher,
  victim: SupervisedChild,
): Promise<{ atKill: UploadStatus; final: UploadStatus; killedPid: number | undefined }> {
  const name = `supervised-${victim.name}`;
  // From a file, not straight from the generator: the generator runs on this test's event loop
  // and, on a busy machine, starves the status polls that must see the upload in progress.
  const csv = join(running.dir, "flows.csv");
  await pipeline(
    Readable.from(generateFlowCsv({ flows: FLOWS, attack: "syn", seed: 9 })),
    createWriteStream(csv),
  );
  const answer = postUpload(running.endpoints.ingest.url, createReadStream(csv), name);
  const atKill = await waitForUploadInProgress(
    running.endpoints,
    (s) => s.name === name && s.windowsScored >= WINDOWS / 100,
    `${name} to have 1% of its windows scored`,
    UPLOAD_DEADLINE_MS,
    500,
  );
  const killedPid = victim.pid;
  victim.process?.kill("SIGKILL");
  const answered = await answer;
  expect(answered.status).toBe(201);
  const final = await waitForUploadEnd(running.endpoints, atKill.uploadId, UPLOAD_DEADLINE_MS);
  return { atKill, final, killedPid };
}

describe("pnpm start's supervision, on real processes", () => {
  it(
    "restarts a detector killed mid-upload; the upload finishes with every window scored once",
    async () => {
      const running = await startLauncher("sup-detector");
      socket = connectDashboard(running.endpoints.api.url);
      const victim = running.supervisor.child("detector-2");

      const { atKill, final, killedPid } = await uploadAndKill(running, victim);

      expect(atKill.windowsScored).toBeLessThan(WINDOWS);
      expect(final).toMatchObject({
        state: "done",
        windowsQueued: WINDOWS,
        windowsScored: WINDOWS,
      });
      expect(running.lines).toContain(
        `floodwatch: detector-2 (pid ${killedPid}) killed by SIGKILL; restarting it in 0.5 s`,
      );
      await waitUntil(
        "detector-2 to be back",
        () =>
          running.lines.some((l) => l.startsWith("floodwatch: detector-2 is back"))
            ? true
            : undefined,
        60_000,
      );
      expect(running.supervisor.children.map((c) => [c.name, c.starts, c.running])).toEqual([
        ["redis", 1, true],
        ["api", 1, true],
        ["ingest", 1, true],
        ["detector-1", 1, true],
        ["detector-2", 2, true],
        ["detector-3", 1, true],
      ]);
      // The dashboard never lost the API, and saw the upload's windows live.
      expect(socket.opens).toBe(1);
      expect(socket.windowsAfterOpen[0]).toBeGreaterThan(0);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "restarts the API killed mid-upload; the dashboard's socket reconnects and the upload completes",
    async () => {
      const running = await startLauncher("sup-api");
      socket = connectDashboard(running.endpoints.api.url);
      const dashboard = socket;
      await waitUntil(
        "the dashboard socket to open",
        () => (dashboard.opens === 1 ? true : undefined),
        30_000,
      );
      const victim = running.supervisor.child("api");

      const { final, killedPid } = await uploadAndKill(running, victim);

      expect(final).toMatchObject({
        state: "done",
        windowsQueued: WINDOWS,
        windowsScored: WINDOWS,
      });
      expect(running.lines).toContain(
        `floodwatch: api (pid ${killedPid}) killed by SIGKILL; restarting it in 0.5 s`,
      );
      await waitUntil(
        "the dashboard socket to reconnect",
        () => (dashboard.opens >= 2 ? true : undefined),
        60_000,
      );
      expect(running.supervisor.child("api").starts).toBe(2);
      expect(
        running.supervisor.children.filter((c) => c.name !== "api").map((c) => c.starts),
      ).toEqual([1, 1, 1, 1, 1]);
      // The reconnected socket is live: a second upload's windows arrive on it, each once.
      expect(dashboard.windowsAfterOpen[0]).toBeGreaterThan(0);
      const after = await postUpload(
        running.endpoints.ingest.url,
        generateFlowCsv({ flows: 10_000, attack: "none", seed: 10 }),
        "after-restart",
      );
      expect(after.status).toBe(201);
      const { uploadId } = uploadAcceptedSchema.parse(JSON.parse(after.body));
      const windowsOnSecondOpen = () =>
        dashboard.uploadsAfterOpen[dashboard.opens - 1]?.get(uploadId) ?? 0;
      await waitUntil(
        "the second upload's 200 windows on the reconnected socket",
        () => (windowsOnSecondOpen() >= 200 ? true : undefined),
        60_000,
      );
      await new Promise((r) => setTimeout(r, 500));
      expect(windowsOnSecondOpen()).toBe(200);
    },
    TEST_TIMEOUT_MS,
  );
});
