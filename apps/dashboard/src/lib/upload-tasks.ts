/** Uploads started from this page, from the first byte sent to the server's answer. */
import type { ErrorBody } from "@floodwatch/core/http-contracts";
import type { UploadAccepted } from "@floodwatch/core/stream-contracts";

/** One file being (or having been) sent to ingest. */
export interface UploadTask {
  /** Local id (the server's upload id is known only once it answers). */
  id: string;
  fileName: string;
  sentBytes: number;
  totalBytes: number;
  /**
   * `sending` while bytes go out (and while the server reads the last of them), `accepted` with a
   * 201, `refused` with a 4xx/5xx answer, `failed` when the server could not be reached.
   */
  phase: "sending" | "accepted" | "refused" | "failed";
  accepted: UploadAccepted | null;
  /** What the server said when refusing, or why sending failed. */
  problem: { message: string; status: number; body: ErrorBody | null } | null;
}

/** What happens to upload tasks. */
export type UploadTaskEvent =
  | { type: "started"; id: string; fileName: string; totalBytes: number }
  | { type: "progress"; id: string; sentBytes: number; totalBytes: number }
  | { type: "accepted"; id: string; accepted: UploadAccepted }
  | { type: "refused"; id: string; message: string; status: number; body: ErrorBody | null }
  | { type: "dismissed"; id: string };

/** Upload tasks kept on the page; older finished ones are dropped. */
export const MAX_UPLOAD_TASKS = 20;

/** Applies an event to the task list (newest first). */
export function uploadTasksReducer(tasks: UploadTask[], event: UploadTaskEvent): UploadTask[] {
  switch (event.type) {
    case "started": {
      const task: UploadTask = {
        id: event.id,
        fileName: event.fileName,
        sentBytes: 0,
        totalBytes: event.totalBytes,
        phase: "sending",
        accepted: null,
        problem: null,
      };
      return [task, ...tasks].slice(0, MAX_UPLOAD_TASKS);
    }
    case "progress":
      return tasks.map((t) =>
        t.id === event.id && t.phase === "sending"
          ? { ...t, sentBytes: event.sentBytes, totalBytes: event.totalBytes }
          : t,
      );
    case "accepted":
      return tasks.map((t) =>
        t.id === event.id
          ? { ...t, phase: "accepted", sentBytes: t.totalBytes, accepted: event.accepted }
          : t,
      );
    case "refused":
      return tasks.map((t) =>
        t.id === event.id
          ? {
              ...t,
              // Status 0: the request never got an answer.
              phase: event.status === 0 ? "failed" : "refused",
              problem: { message: event.message, status: event.status, body: event.body },
            }
          : t,
      );
    case "dismissed":
      return tasks.filter((t) => t.id !== event.id);
  }
}

/** Whether every byte is out and the answer is awaited (the server is reading the file). */
export function isAwaitingAnswer(task: UploadTask): boolean {
  return task.phase === "sending" && task.totalBytes > 0 && task.sentBytes >= task.totalBytes;
}
