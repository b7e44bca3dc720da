import { describe, expect, it } from "vitest";
import {
  isAwaitingAnswer,
  MAX_UPLOAD_TASKS,
  uploadTasksReducer,
  type UploadTask,
} from "./upload-tasks.ts";

const accepted = {
  uploadId: "u1",
  name: "a.csv",
  rowsAccepted: 10,
  rowsRejected: 0,
  rejected: [],
  windowsQueued: 1,
  tailFlows: 0,
  labelled: false,
  modelVersion: "m",
};

describe("uploadTasksReducer", () => {
  it("follows a file from the first byte to the server's answer", () => {
    let tasks: UploadTask[] = [];
    tasks = uploadTasksReducer(tasks, {
      type: "started",
      id: "t1",
      fileName: "a.csv",
      totalBytes: 100,
    });
    tasks = uploadTasksReducer(tasks, {
      type: "progress",
      id: "t1",
      sentBytes: 40,
      totalBytes: 100,
    });
    expect(tasks[0]).toMatchObject({ phase: "sending", sentBytes: 40 });
    expect(isAwaitingAnswer(tasks[0] as UploadTask)).toBe(false);
    tasks = uploadTasksReducer(tasks, {
      type: "progress",
      id: "t1",
      sentBytes: 100,
      totalBytes: 100,
    });
    expect(isAwaitingAnswer(tasks[0] as UploadTask)).toBe(true);
    tasks = uploadTasksReducer(tasks, { type: "accepted", id: "t1", accepted });
    expect(tasks[0]).toMatchObject({ phase: "accepted", accepted: { uploadId: "u1" } });
    // A late progress event does not reopen a finished task.
    tasks = uploadTasksReducer(tasks, {
      type: "progress",
      id: "t1",
      sentBytes: 1,
      totalBytes: 100,
    });
    expect(tasks[0]?.sentBytes).toBe(100);
  });

  it("tells a refusal from a failure to reach the server", () => {
    let tasks = uploadTasksReducer([], { type: "started", id: "a", fileName: "a", totalBytes: 1 });
    tasks = uploadTasksReducer(tasks, { type: "started", id: "b", fileName: "b", totalBytes: 1 });
    tasks = uploadTasksReducer(tasks, {
      type: "refused",
      id: "a",
      message: "m",
      status: 400,
      body: null,
    });
    tasks = uploadTasksReducer(tasks, {
      type: "refused",
      id: "b",
      message: "m",
      status: 0,
      body: null,
    });
    expect(tasks.map((t) => [t.id, t.phase])).toEqual([
      ["b", "failed"],
      ["a", "refused"],
    ]);
  });

  it("keeps a bounded list, newest first, and drops dismissed tasks", () => {
    let tasks: UploadTask[] = [];
    for (let i = 0; i < MAX_UPLOAD_TASKS + 5; i += 1) {
      tasks = uploadTasksReducer(tasks, {
        type: "started",
        id: `t${i}`,
        fileName: "f",
        totalBytes: 1,
      });
    }
    expect(tasks).toHaveLength(MAX_UPLOAD_TASKS);
    expect(tasks[0]?.id).toBe(`t${MAX_UPLOAD_TASKS + 4}`);
    tasks = uploadTasksReducer(tasks, { type: "dismissed", id: tasks[0]?.id ?? "" });
    expect(tasks).toHaveLength(MAX_UPLOAD_TASKS - 1);
  });
});
