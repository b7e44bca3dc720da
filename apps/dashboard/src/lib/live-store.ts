/**
 * The dashboard's live state. Messages from the WebSocket and catch-up answers from the REST API
 * are buffered as they arrive and applied together once per animation frame, so 2,000 windows a
 * second cost one React render per frame, not one per message.
 */
import type {
  ModelSummary,
  ServerMessage,
  Summary,
  TrainingJobStatus,
  UploadStatus,
  WindowResult,
} from "@floodwatch/core/stream-contracts";
import { CappedHistory } from "./capped-history.ts";
import { scheduleNextFrame, type ScheduleOnce } from "./frame-scheduler.ts";

/** Windows kept per history: what the log, the scatter and the timeline can show. */
export const HISTORY_CAPACITY = 2_000;

/**
 * Uploads whose windows are kept separately for the upload selector. Older uploads are fetched
 * from the API again when selected.
 */
export const TRACKED_UPLOADS = 32;

/** Windows of one scope (all uploads, or one): every window, and the anomalous ones alone. */
export interface WindowHistories {
  all: CappedHistory<WindowResult>;
  anomalies: CappedHistory<WindowResult>;
}

/** State of the WebSocket, as the connection badge shows it. */
export type ConnectionState =
  | { status: "connecting"; attempt: number }
  | { status: "open" }
  | { status: "reconnecting"; attempt: number; retryAt: number; reason: string }
  | { status: "closed" };

/** One immutable view of the live state; a new object after every applied batch. */
export interface LiveSnapshot {
  /** Increments with every applied batch. */
  version: number;
  /** Increments whenever a window history changed; charts redraw on it. */
  windowsVersion: number;
  /** Increments when the set of models may have changed (new active model, finished training). */
  modelsVersion: number;
  /** Increments with every `incident` event: the incidents list is worth reading again. */
  incidentsVersion: number;
  summary: Summary | null;
  /** The active model: from the latest `model` message or summary. */
  model: ModelSummary | null;
  uploads: ReadonlyMap<string, UploadStatus>;
  trainingJobs: ReadonlyMap<string, TrainingJobStatus>;
  connection: ConnectionState;
  /** Windows of every upload. Mutable histories: read them during render, do not keep copies. */
  windows: WindowHistories;
  /** Windows per tracked upload; a selected upload missing here must be fetched. */
  windowsByUpload: ReadonlyMap<string, WindowHistories>;
}

/** Orders windows as they were scored; ties (same millisecond) by upload and position. */
export function compareWindows(a: WindowResult, b: WindowResult): number {
  return (
    a.scoredAt - b.scoredAt ||
    (a.uploadId < b.uploadId ? -1 : a.uploadId > b.uploadId ? 1 : 0) ||
    a.window - b.window
  );
}

/** Identity of a window across live batches and history. */
export const windowKey = (w: WindowResult) => `${w.uploadId}\u0000${w.window}`;

function newHistories(): WindowHistories {
  return {
    all: new CappedHistory(HISTORY_CAPACITY, windowKey),
    anomalies: new CappedHistory(HISTORY_CAPACITY, windowKey),
  };
}

/** The live store: feed it messages, subscribe to snapshots. */
export class LiveStore {
  readonly #schedule: ScheduleOnce;
  readonly #listeners = new Set<() => void>();
  #pending: ServerMessage[] = [];
  #cancelFlush: (() => void) | null = null;
  #snapshot: LiveSnapshot;
  #uploads = new Map<string, UploadStatus>();
  /** Whether `#uploads` was already copied in the batch being applied (copy once per batch). */
  #uploadsCopied = false;
  #trainingJobs = new Map<string, TrainingJobStatus>();
  readonly #windows = newHistories();
  // Map iteration order is insertion order; re-inserting on activity makes it least-recent first.
  readonly #windowsByUpload = new Map<string, WindowHistories>();

  constructor(schedule: ScheduleOnce = scheduleNextFrame) {
    this.#schedule = schedule;
    this.#snapshot = {
      version: 0,
      windowsVersion: 0,
      modelsVersion: 0,
      incidentsVersion: 0,
      summary: null,
      model: null,
      uploads: this.#uploads,
      trainingJobs: this.#trainingJobs,
      connection: { status: "connecting", attempt: 0 },
      windows: this.#windows,
      windowsByUpload: this.#windowsByUpload,
    };
  }

  /** Buffers a message; it is applied on the next frame. */
  enqueue(message: ServerMessage): void {
    this.#pending.push(message);
    this.#cancelFlush ??= this.#schedule(() => {
      this.#cancelFlush = null;
      this.flush();
    });
  }

  /** Sets the connection state; shown on the next frame with any buffered messages. */
  setConnection(connection: ConnectionState): void {
    this.#snapshot = { ...this.#snapshot, connection };
    this.#cancelFlush ??= this.#schedule(() => {
      this.#cancelFlush = null;
      this.flush();
    });
  }

  /** Applies every buffered message now and notifies subscribers once. */
  flush(): void {
    if (this.#cancelFlush !== null) {
      this.#cancelFlush();
      this.#cancelFlush = null;
    }
    const batch = this.#pending;
    this.#pending = [];
    let { summary, model, windowsVersion, modelsVersion, incidentsVersion } = this.#snapshot;
    this.#uploadsCopied = false;
    let jobsChanged = false;
    let windowsChanged = false;
    for (const message of batch) {
      switch (message.type) {
        case "summary":
          summary = message.summary;
          if (message.summary.model !== null) {
            if (model?.version !== message.summary.model.version) modelsVersion += 1;
            model = message.summary.model;
          }
          break;
        case "model":
          model = message.model;
          modelsVersion += 1;
          break;
        case "window":
          for (const w of message.windows) windowsChanged = this.#append(w) || windowsChanged;
          break;
        case "history":
          if (message.windows.length > 0) {
            this.#merge(message.windows);
            windowsChanged = true;
          }
          break;
        case "upload":
          this.#applyUpload(message.upload);
          break;
        case "incident":
          incidentsVersion += 1;
          break;
        case "training": {
          const before = this.#trainingJobs.get(message.job.jobId);
          if (!jobsChanged) this.#trainingJobs = new Map(this.#trainingJobs);
          jobsChanged = true;
          this.#trainingJobs.set(message.job.jobId, message.job);
          if (message.job.state === "completed" && before?.state !== "completed")
            modelsVersion += 1;
          break;
        }
      }
    }
    if (windowsChanged) windowsVersion += 1;
    this.#snapshot = {
      ...this.#snapshot,
      version: this.#snapshot.version + 1,
      windowsVersion,
      modelsVersion,
      incidentsVersion,
      summary,
      model,
      uploads: this.#uploads,
      trainingJobs: this.#trainingJobs,
    };
    for (const listener of this.#listeners) listener();
  }

  /** The current snapshot (stable between flushes, as `useSyncExternalStore` requires). */
  getSnapshot = (): LiveSnapshot => this.#snapshot;

  /** Calls `listener` after every flush; returns the unsubscribe function. */
  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /** Drops buffered messages and stops the pending flush (the page is going away). */
  dispose(): void {
    this.#cancelFlush?.();
    this.#cancelFlush = null;
    this.#pending = [];
    this.#listeners.clear();
  }

  #historiesOf(uploadId: string): WindowHistories {
    let histories = this.#windowsByUpload.get(uploadId);
    if (histories === undefined) {
      histories = newHistories();
      if (this.#windowsByUpload.size >= TRACKED_UPLOADS) {
        const leastRecent = this.#windowsByUpload.keys().next().value;
        if (leastRecent !== undefined) this.#windowsByUpload.delete(leastRecent);
      }
    } else {
      this.#windowsByUpload.delete(uploadId);
    }
    this.#windowsByUpload.set(uploadId, histories);
    return histories;
  }

  #append(w: WindowResult): boolean {
    const added = this.#windows.all.push(w);
    if (w.anomaly) this.#windows.anomalies.push(w);
    const own = this.#historiesOf(w.uploadId);
    own.all.push(w);
    if (w.anomaly) own.anomalies.push(w);
    return added;
  }

  #merge(windows: WindowResult[]): void {
    const anomalies = windows.filter((w) => w.anomaly);
    this.#windows.all.merge(windows, compareWindows);
    this.#windows.anomalies.merge(anomalies, compareWindows);
    const byUpload = new Map<string, WindowResult[]>();
    for (const w of windows) {
      const list = byUpload.get(w.uploadId);
      if (list === undefined) byUpload.set(w.uploadId, [w]);
      else list.push(w);
    }
    for (const [uploadId, list] of byUpload) {
      const own = this.#historiesOf(uploadId);
      own.all.merge(list, compareWindows);
      own.anomalies.merge(
        list.filter((w) => w.anomaly),
        compareWindows,
      );
    }
  }

  /** Keeps the newest status of an upload: a slow REST answer must not undo a live update. */
  #applyUpload(upload: UploadStatus): void {
    const known = this.#uploads.get(upload.uploadId);
    if (known !== undefined && known.updatedAt > upload.updatedAt) return;
    if (known !== undefined && isSameProgress(known, upload)) return;
    if (!this.#uploadsCopied) {
      // A new Map per batch lets components compare `uploads` by identity.
      this.#uploads = new Map(this.#uploads);
      this.#uploadsCopied = true;
    }
    this.#uploads.set(upload.uploadId, upload);
  }
}

function isSameProgress(a: UploadStatus, b: UploadStatus): boolean {
  return (
    a.updatedAt === b.updatedAt &&
    a.state === b.state &&
    a.windowsScored === b.windowsScored &&
    a.windowsQueued === b.windowsQueued &&
    a.anomalies === b.anomalies &&
    a.deadLetters === b.deadLetters
  );
}

/** Uploads newest first, for the selector. */
export function uploadsNewestFirst(uploads: ReadonlyMap<string, UploadStatus>): UploadStatus[] {
  return [...uploads.values()].sort((a, b) => b.createdAt - a.createdAt);
}
