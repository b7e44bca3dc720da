import { describe, expect, it } from "vitest";
import { incident, modelSummary, summary, uploadStatus, windowResult } from "../test-fixtures.ts";
import { HISTORY_CAPACITY, LiveStore, TRACKED_UPLOADS, uploadsNewestFirst } from "./live-store.ts";

/** A store whose frames run only when the test calls `frame()`. */
function manualStore() {
  const callbacks: (() => void)[] = [];
  const store = new LiveStore((callback) => {
    callbacks.push(callback);
    return () => {
      const i = callbacks.indexOf(callback);
      if (i >= 0) callbacks.splice(i, 1);
    };
  });
  const frame = () => {
    const due = callbacks.splice(0);
    for (const callback of due) callback();
  };
  return { store, frame, scheduled: () => callbacks.length };
}

describe("LiveStore", () => {
  it("applies every message of a frame at once and notifies once", () => {
    const { store, frame, scheduled } = manualStore();
    let notifications = 0;
    store.subscribe(() => (notifications += 1));
    const before = store.getSnapshot();
    for (let i = 0; i < 500; i += 1) {
      store.enqueue({ type: "window", windows: [windowResult({ window: i })] });
    }
    store.enqueue({ type: "summary", summary: summary() });
    expect(scheduled()).toBe(1);
    // Nothing is visible before the frame.
    expect(store.getSnapshot()).toBe(before);
    frame();
    expect(notifications).toBe(1);
    const after = store.getSnapshot();
    expect(after).not.toBe(before);
    expect(after.windows.all.size).toBe(500);
    expect(after.windowsVersion).toBe(before.windowsVersion + 1);
    expect(after.summary?.anomalies).toBe(56);
    expect(store.getSnapshot()).toBe(after);
  });

  it("keeps at most the history capacity, anomalies in their own history", () => {
    const { store, frame } = manualStore();
    const windows = Array.from({ length: HISTORY_CAPACITY + 500 }, (_, i) =>
      windowResult({ window: i, anomaly: i % 10 === 0 }),
    );
    store.enqueue({ type: "window", windows });
    frame();
    const s = store.getSnapshot();
    expect(s.windows.all.size).toBe(HISTORY_CAPACITY);
    expect(s.windows.all.at(0)?.window).toBe(500);
    expect(s.windows.anomalies.size).toBe(250);
    expect(s.windows.anomalies.at(0)?.window).toBe(0);
    expect(s.windowsByUpload.get("u1")?.all.size).toBe(HISTORY_CAPACITY);
  });

  it("merges history on reconnect without duplicating live windows", () => {
    const { store, frame } = manualStore();
    store.enqueue({
      type: "window",
      windows: [windowResult({ window: 3 }), windowResult({ window: 4 })],
    });
    frame();
    store.enqueue({
      type: "history",
      windows: [0, 1, 2, 3, 4].map((w) => windowResult({ window: w })),
    });
    frame();
    expect(
      store
        .getSnapshot()
        .windows.all.toArray()
        .map((w) => w.window),
    ).toEqual([0, 1, 2, 3, 4]);
  });

  it("keeps windows per upload and forgets the least recently active beyond the limit", () => {
    const { store, frame } = manualStore();
    for (let u = 0; u <= TRACKED_UPLOADS; u += 1) {
      store.enqueue({ type: "window", windows: [windowResult({ uploadId: `up-${u}` })] });
    }
    frame();
    const byUpload = store.getSnapshot().windowsByUpload;
    expect(byUpload.size).toBe(TRACKED_UPLOADS);
    expect(byUpload.has("up-0")).toBe(false);
    expect(byUpload.has(`up-${TRACKED_UPLOADS}`)).toBe(true);
  });

  it("ignores an upload status older than the one it holds", () => {
    const { store, frame } = manualStore();
    store.enqueue({ type: "upload", upload: uploadStatus({ updatedAt: 200, windowsScored: 90 }) });
    frame();
    const uploads = store.getSnapshot().uploads;
    store.enqueue({ type: "upload", upload: uploadStatus({ updatedAt: 100, windowsScored: 10 }) });
    frame();
    expect(store.getSnapshot().uploads.get("u1")?.windowsScored).toBe(90);
    // Unchanged uploads keep their identity, so panels can skip work.
    expect(store.getSnapshot().uploads).toBe(uploads);
  });

  it("lists uploads newest first", () => {
    const { store, frame } = manualStore();
    store.enqueue({ type: "upload", upload: uploadStatus({ uploadId: "a", createdAt: 1 }) });
    store.enqueue({ type: "upload", upload: uploadStatus({ uploadId: "b", createdAt: 3 }) });
    store.enqueue({ type: "upload", upload: uploadStatus({ uploadId: "c", createdAt: 2 }) });
    frame();
    expect(uploadsNewestFirst(store.getSnapshot().uploads).map((u) => u.uploadId)).toEqual([
      "b",
      "c",
      "a",
    ]);
  });

  it("signals a possible change of models on a new active model and on finished training", () => {
    const { store, frame } = manualStore();
    store.enqueue({ type: "model", model: modelSummary({ version: "v2" }) });
    frame();
    expect(store.getSnapshot().model?.version).toBe("v2");
    expect(store.getSnapshot().modelsVersion).toBe(1);
    const job = {
      jobId: "7",
      state: "active" as const,
      progress: { stage: "forest", rowsRead: 10, windows: 5, treesGrown: 3, trees: 100 },
    };
    store.enqueue({ type: "training", job });
    frame();
    expect(store.getSnapshot().modelsVersion).toBe(1);
    store.enqueue({ type: "training", job: { ...job, state: "completed", version: "v3" } });
    frame();
    expect(store.getSnapshot().modelsVersion).toBe(2);
    expect(store.getSnapshot().trainingJobs.get("7")?.version).toBe("v3");
  });

  it("counts incident events, so the incidents list is read again", () => {
    const { store, frame } = manualStore();
    expect(store.getSnapshot().incidentsVersion).toBe(0);
    store.enqueue({ type: "incident", event: "incident.opened", incident: incident() });
    store.enqueue({ type: "incident", event: "incident.updated", incident: incident() });
    frame();
    expect(store.getSnapshot().incidentsVersion).toBe(2);
    store.enqueue({ type: "summary", summary: summary() });
    frame();
    expect(store.getSnapshot().incidentsVersion).toBe(2);
  });

  it("shows a connection change on the next frame", () => {
    const { store, frame } = manualStore();
    store.setConnection({ status: "open" });
    frame();
    expect(store.getSnapshot().connection).toEqual({ status: "open" });
  });

  it("drops buffered messages on dispose", () => {
    const { store, frame, scheduled } = manualStore();
    store.enqueue({ type: "summary", summary: summary() });
    store.dispose();
    expect(scheduled()).toBe(0);
    frame();
    expect(store.getSnapshot().summary).toBeNull();
  });
});
