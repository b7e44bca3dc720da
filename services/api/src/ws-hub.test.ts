import { EventEmitter } from "node:events";
import { serverMessageSchema, type ServerMessage, type Summary } from "@floodwatch/core";
import { describe, expect, it } from "vitest";
import type { WebSocket } from "ws";
import { ApiMetrics } from "./metrics.ts";
import { quietLogger, relayedWindows, windowRun } from "./api-test-kit.ts";
import { MAX_BATCH_WINDOWS, WsHub } from "./ws-hub.ts";

/**
 * The part of a socket the hub touches, with a send buffer the test sets: a real socket only
 * backs up once the kernel's buffers (megabytes on loopback) are full.
 */
class StubSocket extends EventEmitter {
  readyState = 1;
  bufferedAmount = 0;
  terminated = false;
  readonly sent: ServerMessage[] = [];

  send(text: string, callback?: (error?: Error) => void): void {
    this.sent.push(serverMessageSchema.parse(JSON.parse(text)));
    callback?.();
  }

  close(): void {
    this.readyState = 3;
    this.emit("close");
  }

  terminate(): void {
    this.terminated = true;
    this.close();
  }

  ping(): void {}

  types(): string[] {
    return this.sent.map((m) => m.type);
  }
}

const SUMMARY: Summary = {
  windowsScored: 0,
  flowsScored: 0,
  anomalies: 0,
  threshold: null,
  lastScore: null,
  worstScore: null,
  flowsPerSecond: 0,
  backlog: 0,
  deadLetters: 0,
  detectors: { active: 0 },
  model: null,
};

const BOUND = 1_000;

function hub(metrics = new ApiMetrics()) {
  const instance = new WsHub({
    logger: quietLogger,
    metrics,
    maxBufferedBytes: BOUND,
    historyWindows: 5,
    timing: { flushMs: 10_000, tickMs: 10_000, heartbeatMs: 10_000 },
    readSummary: () => Promise.resolve(SUMMARY),
    readChangedUploads: () => Promise.resolve([]),
  });
  return { instance, metrics };
}

function connect(instance: WsHub): StubSocket {
  const socket = new StubSocket();
  instance.add(socket as unknown as WebSocket);
  return socket;
}

describe("WsHub", () => {
  it("drops window batches for a client over the bound, counts them, and still sends it models", async () => {
    const { instance, metrics } = hub();
    const fast = connect(instance);
    const slow = connect(instance);
    await new Promise((r) => setImmediate(r));
    slow.bufferedAmount = BOUND + 1;

    instance.pushWindows(relayedWindows(windowRun("u", 0, 7)));
    instance.flush();
    instance.broadcast({ type: "summary", summary: SUMMARY }, true);
    instance.broadcast({
      type: "training",
      job: {
        jobId: "1",
        state: "waiting",
        progress: { stage: "reading", rowsRead: 0, windows: 0, treesGrown: 0, trees: 100 },
      },
    });

    expect(fast.types()).toEqual(["history", "summary", "window", "summary", "training"]);
    expect(slow.types()).toEqual(["history", "summary", "training"]);
    expect((await metrics.droppedWindows.get()).values[0]!.value).toBe(7);

    // Caught up: it gets the next batch, not the dropped one.
    slow.bufferedAmount = 0;
    instance.pushWindows(relayedWindows(windowRun("u", 7, 2)));
    instance.flush();
    const received = slow.sent.filter((m) => m.type === "window");
    expect(received.flatMap((m) => m.windows.map((w) => w.window))).toEqual([7, 8]);
    instance.close();
  });

  it("disconnects a client that stopped reading altogether", () => {
    const { instance } = hub();
    const stalled = connect(instance);
    stalled.bufferedAmount = 4 * BOUND + 1;
    instance.pushWindows(relayedWindows(windowRun("u", 0, 1)));
    instance.flush();
    expect(stalled.terminated).toBe(true);
    expect(instance.size).toBe(0);
    instance.close();
  });

  it("splits a large push into batches of at most MAX_BATCH_WINDOWS and keeps the newest as history", () => {
    const { instance } = hub();
    const client = connect(instance);
    const count = MAX_BATCH_WINDOWS * 2 + 10;
    instance.pushWindows(relayedWindows(windowRun("u", 0, count)));
    const batches = client.sent.filter((m) => m.type === "window");
    expect(batches.map((m) => m.windows.length)).toEqual([
      MAX_BATCH_WINDOWS,
      MAX_BATCH_WINDOWS,
      10,
    ]);
    const late = connect(instance);
    const history = late.sent[0]!;
    expect(history.type === "history" && history.windows.map((w) => w.window)).toEqual([
      count - 5,
      count - 4,
      count - 3,
      count - 2,
      count - 1,
    ]);
    instance.close();
    expect(client.readyState).toBe(3);
  });
});
