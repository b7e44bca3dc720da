/**
 * `floodwatch sensor --read -` feeding a running stack: its flows arrive as one upload that
 * stays `streaming` while the sensor reads, and the windows the detectors score are those
 * `floodwatch score` gives the same capture.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { captureToFlowCsv } from "@floodwatch/flowmeter";
import {
  type CapturedFrame,
  ethernet,
  ipPacket,
  writePcap,
} from "@floodwatch/flowmeter/test-helpers/capture-writer";
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { readWindows, waitForUploadEnd, waitForUploadInProgress } from "./pipeline-client.ts";
import { loadDefaultModel, scoreReference } from "./reference-scoring.ts";
import { PipelineStack, REPO_ROOT, startPipelineRedis, type PipelineRedis } from "./stack.ts";

const CLI = resolve(REPO_ROOT, "packages/cli/src/main.ts");

/** A capture: benign conversations, then a spoofed SYN flood, then conversations again. */
function capture(): Uint8Array {
  const frames: CapturedFrame[] = [];
  let t = 1_700_000_000_000_000;
  const conversation = (c: number) => {
    const client = {
      src: `192.168.1.${10 + (c % 50)}`,
      dst: "10.0.0.80",
      srcPort: 40000 + c,
      dstPort: 443,
    };
    const server = { src: "10.0.0.80", dst: client.src, srcPort: 443, dstPort: 40000 + c };
    for (const [side, flags, payload] of [
      [client, 0x02, 0],
      [server, 0x12, 0],
      [client, 0x10, 0],
      [client, 0x18, 517],
      [server, 0x18, 2900],
      [client, 0x18, 120],
      [server, 0x18, 8000],
      [client, 0x11, 0],
      [server, 0x11, 0],
      [client, 0x10, 0],
    ] as const) {
      frames.push({
        micros: (t += 400),
        frame: ethernet(ipPacket({ ...side, protocol: 6, flags, payload })),
      });
    }
  };
  for (let c = 0; c < 200; c++) conversation(c);
  for (let i = 0; i < 2000; i++) {
    const src = `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
    frames.push({
      micros: (t += 5),
      frame: ethernet(
        ipPacket({
          src,
          dst: "10.0.0.80",
          srcPort: 1024 + (i % 60000),
          dstPort: 80,
          protocol: 6,
          flags: 0x02,
        }),
      ),
    });
  }
  for (let c = 200; c < 300; c++) conversation(c);
  return writePcap(frames);
}

let redis: PipelineRedis;
let stack: PipelineStack | undefined;
beforeAll(async () => {
  redis = await startPipelineRedis();
});
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});
afterAll(async () => {
  await redis?.close();
});

describe("floodwatch sensor", { timeout: 120_000 }, () => {
  it("streams a capture read on stdin as one live upload, scored as floodwatch score scores it", async () => {
    const live = await PipelineStack.start({ redisUrl: redis.url, prefix: "sensor-stdin" });
    stack = live;
    onTestFailed(() => console.error(live.diagnostics()));
    const bytes = capture();
    const reference = await scoreReference(captureToFlowCsv([bytes]), loadDefaultModel());
    expect(reference.rowsAccepted).toBe(2300);

    const sensor = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        CLI,
        "sensor",
        "--ingest",
        live.ingest.url,
        "--read",
        "-",
        "--name",
        "lab tap",
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    sensor.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    sensor.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => sensor.on("close", r));

    // The first 80 % of the capture: the conversations end and the flood begins; the upload is
    // live (streaming) while the sensor's input stays open.
    const cut = Math.floor(bytes.length * 0.8);
    sensor.stdin.write(bytes.subarray(0, cut));
    const streaming = await waitForUploadInProgress(
      live,
      (s) => s.name === "lab tap",
      "the sensor's upload",
    );
    expect(streaming.state).toBe("streaming");
    sensor.stdin.end(bytes.subarray(cut));
    expect(await exited, stderr).toBe(0);

    const result = JSON.parse(stdout) as { uploads: string[]; linesDropped: number; flows: number };
    expect(result.uploads).toEqual([streaming.uploadId]);
    expect(result.flows).toBe(2300);
    expect(result.linesDropped).toBe(0);
    const status = await waitForUploadEnd(live, streaming.uploadId);
    expect(status.rowsAccepted).toBe(reference.rowsAccepted);
    expect(status.windowsScored).toBe(reference.windowsScored);
    expect(status.anomalies).toBe(reference.anomalies);
    expect(reference.anomalies).toBeGreaterThan(0);
    const windows = await readWindows(live, streaming.uploadId);
    expect(windows).toHaveLength(reference.windowsScored);
    for (const w of windows) {
      const expected = reference.windows.get(w.window)!;
      expect([w.window, w.anomaly]).toEqual([w.window, expected.anomaly]);
      expect(w.score).toBeCloseTo(expected.score, 12);
    }
  });
});
