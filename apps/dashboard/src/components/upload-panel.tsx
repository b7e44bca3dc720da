/**
 * Upload: drop or pick flow CSVs. Each file shows the bytes sent, then the server's answer (rows
 * accepted, rows rejected with their lines and reasons, or the refusal with the missing columns),
 * then live scoring progress from the upload's messages. Several uploads can run at once.
 */
import type { UploadStatus } from "@floodwatch/core/stream-contracts";
import { useId, useReducer, useState, type DragEvent } from "react";
import { ApiError, type ApiClient } from "../lib/api-client.ts";
import { formatBytes, formatCount } from "../lib/format.ts";
import { messageOf } from "../lib/live-session.ts";
import { isAwaitingAnswer, uploadTasksReducer, type UploadTask } from "../lib/upload-tasks.ts";
import { TimestampZonePicker, type TimestampZoneChoice } from "./timestamp-zone-picker.tsx";
import { Badge, buttonClass, Panel, ProgressBar } from "./ui.tsx";

/** Props of {@link UploadPanel}. */
export interface UploadPanelProps {
  api: ApiClient;
  uploads: ReadonlyMap<string, UploadStatus>;
  selectedUploadId: string | null;
  onSelectUpload: (uploadId: string) => void;
}

let nextTaskNumber = 0;

/** The upload panel. */
export function UploadPanel({ api, uploads, selectedUploadId, onSelectUpload }: UploadPanelProps) {
  const [tasks, dispatch] = useReducer(uploadTasksReducer, []);
  const [dragging, setDragging] = useState(false);
  const [zone, setZone] = useState<TimestampZoneChoice>({ ok: true, zone: undefined });
  const inputId = useId();
  const hintId = useId();

  const send = (file: File) => {
    nextTaskNumber += 1;
    const id = `task-${nextTaskNumber}`;
    dispatch({ type: "started", id, fileName: file.name, totalBytes: file.size });
    const pending = api.uploadFlows(
      file,
      (sentBytes, totalBytes) => dispatch({ type: "progress", id, sentBytes, totalBytes }),
      zone.ok && zone.zone !== undefined ? { timestampZone: zone.zone } : {},
    );
    pending.result.then(
      (accepted) => dispatch({ type: "accepted", id, accepted }),
      (error: unknown) =>
        dispatch({
          type: "refused",
          id,
          message: messageOf(error),
          status: error instanceof ApiError ? error.status : 0,
          body: error instanceof ApiError ? error.body : null,
        }),
    );
  };

  const sendAll = (files: FileList | null) => {
    // A zone typed wrong is not sent: its message is beside the field.
    if (files === null || !zone.ok) return;
    for (const file of Array.from(files)) send(file);
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    sendAll(event.dataTransfer.files);
  };

  return (
    <Panel id="upload" title="Upload flows" testId="upload-panel">
      <TimestampZonePicker onChange={setZone} />
      <label
        htmlFor={inputId}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
        data-testid="upload-dropzone"
        className={`flex cursor-pointer flex-col items-center justify-center gap-1 rounded-lg border-2 border-dashed px-3 py-5 text-center has-[:focus-visible]:outline-3 has-[:focus-visible]:outline-yellow-400 ${
          dragging ? "border-sky-400 bg-sky-950/60" : "border-slate-600 hover:border-slate-400"
        }`}
      >
        <span className="font-semibold">Drop flow CSV or capture files here, or choose files</span>
        <span id={hintId} className="text-xs text-slate-300">
          CICFlowMeter CSV, or a pcap/pcapng capture (metered into flows on upload); several files
          upload in parallel
        </span>
        <input
          id={inputId}
          type="file"
          accept=".csv,text/csv,.pcap,.pcapng,.cap,application/vnd.tcpdump.pcap"
          multiple
          disabled={!zone.ok}
          aria-describedby={hintId}
          data-testid="upload-input"
          className="sr-only"
          onChange={(e) => {
            sendAll(e.target.files);
            // Let the same file be chosen again.
            e.target.value = "";
          }}
        />
      </label>
      {tasks.length > 0 ? (
        <ul className="mt-3 flex flex-col gap-2" aria-label="Uploads from this page">
          {tasks.map((task) => (
            <UploadTaskItem
              key={task.id}
              task={task}
              status={task.accepted === null ? undefined : uploads.get(task.accepted.uploadId)}
              selected={task.accepted !== null && task.accepted.uploadId === selectedUploadId}
              onSelect={onSelectUpload}
              onDismiss={() => dispatch({ type: "dismissed", id: task.id })}
            />
          ))}
        </ul>
      ) : null}
    </Panel>
  );
}

function UploadTaskItem({
  task,
  status,
  selected,
  onSelect,
  onDismiss,
}: {
  task: UploadTask;
  status: UploadStatus | undefined;
  selected: boolean;
  onSelect: (uploadId: string) => void;
  onDismiss: () => void;
}) {
  const finished = task.phase !== "sending";
  return (
    <li
      data-testid="upload-task"
      data-phase={task.phase}
      data-upload-id={task.accepted?.uploadId ?? ""}
      className="rounded border border-slate-700 bg-slate-950/60 p-2 text-sm"
    >
      <div className="flex items-start justify-between gap-2">
        <span className="min-w-0 font-semibold break-all">{task.fileName}</span>
        <span className="shrink-0 text-xs text-slate-300">{formatBytes(task.totalBytes)}</span>
      </div>
      {task.phase === "sending" ? <SendingProgress task={task} /> : null}
      {task.phase === "accepted" && task.accepted !== null ? (
        <AcceptedAnswer task={task} status={status} />
      ) : null}
      {task.phase === "refused" || task.phase === "failed" ? <Refusal task={task} /> : null}
      {finished ? (
        <div className="mt-2 flex gap-2">
          {task.accepted !== null ? (
            <button
              type="button"
              className={buttonClass}
              aria-pressed={selected}
              onClick={() => task.accepted !== null && onSelect(task.accepted.uploadId)}
            >
              {selected ? "Shown" : "Show only this upload"}
            </button>
          ) : null}
          <button type="button" className={buttonClass} onClick={onDismiss}>
            Dismiss
          </button>
        </div>
      ) : null}
    </li>
  );
}

function SendingProgress({ task }: { task: UploadTask }) {
  const awaiting = isAwaitingAnswer(task);
  return (
    <div className="mt-1.5 flex flex-col gap-1">
      <ProgressBar
        value={awaiting ? null : task.sentBytes}
        max={task.totalBytes}
        label={`Sending ${task.fileName}`}
        testId="upload-bytes-progress"
      />
      <span className="text-xs text-slate-300" aria-live="polite">
        {awaiting
          ? "All bytes sent; the server is reading the file…"
          : `Sending ${formatBytes(task.sentBytes)} of ${formatBytes(task.totalBytes)}`}
      </span>
    </div>
  );
}

const stateTone = {
  streaming: "plain",
  scoring: "plain",
  done: "ok",
  failed: "alert",
} as const;

function AcceptedAnswer({ task, status }: { task: UploadTask; status: UploadStatus | undefined }) {
  const accepted = task.accepted;
  if (accepted === null) return null;
  const queued = status?.windowsQueued ?? accepted.windowsQueued;
  const scored = status?.windowsScored ?? 0;
  const state = status?.state ?? "scoring";
  // Their windows have no traffic time; the timeline and alert log place them by processing time.
  const unparsed = status?.timestampsUnparsed ?? accepted.timestampsUnparsed;
  const rejectedShown = accepted.rejected.length;
  return (
    <div className="mt-1.5 flex flex-col gap-1.5" data-testid="upload-answer">
      <p>
        <span data-testid="rows-accepted">{formatCount(accepted.rowsAccepted)}</span> rows accepted
        {accepted.rowsRejected > 0 ? (
          <>
            ,{" "}
            <span className="font-semibold text-amber-200">
              {formatCount(accepted.rowsRejected)}
            </span>{" "}
            rejected
          </>
        ) : (
          ", none rejected"
        )}
        {accepted.labelled ? " · labelled" : ""}
      </p>
      <div className="flex items-center gap-2">
        <Badge tone={stateTone[state]} testId="upload-state">
          {state}
        </Badge>
        <span className="text-xs text-slate-300" data-testid="upload-scoring">
          {formatCount(scored)} of {formatCount(queued)} windows scored
          {status !== undefined ? ` · ${formatCount(status.anomalies)} anomalies` : ""}
        </span>
      </div>
      <ProgressBar
        value={scored}
        max={queued}
        label={`Windows scored for ${task.fileName}`}
        tone={state === "done" ? "done" : state === "failed" ? "alert" : "normal"}
        testId="upload-scoring-progress"
      />
      {unparsed !== undefined ? (
        <p className="text-xs text-amber-200" data-testid="timestamps-unparsed">
          {formatCount(unparsed)} {unparsed === 1 ? "timestamp" : "timestamps"} unreadable: times
          from processing
        </p>
      ) : null}
      {status?.error !== undefined ? (
        <p className="text-rose-200">Upload failed part-way: {status.error}</p>
      ) : null}
      {rejectedShown > 0 ? (
        <details className="text-xs">
          <summary className="cursor-pointer text-amber-200">
            Rejected rows
            {accepted.rowsRejected > rejectedShown
              ? ` (first ${rejectedShown} of ${formatCount(accepted.rowsRejected)})`
              : ""}
          </summary>
          <ul className="mt-1 max-h-40 overflow-y-auto font-mono" data-testid="rejected-rows">
            {accepted.rejected.map((row, i) => (
              <li key={`${row.line}:${i}`}>
                line {row.line}
                {row.column === undefined ? "" : `, column ${row.column}`}: {row.reason}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </div>
  );
}

function Refusal({ task }: { task: UploadTask }) {
  const problem = task.problem;
  if (problem === null) return null;
  const body = problem.body;
  return (
    <div
      role="alert"
      className="mt-1.5 flex flex-col gap-1 text-rose-100"
      data-testid="upload-refusal"
    >
      <p>
        <span className="font-semibold">
          {task.phase === "failed" ? "Not sent: " : `Refused (HTTP ${problem.status}): `}
        </span>
        {problem.message}
        {body?.line !== undefined
          ? ` (line ${body.line}${body.column === undefined ? "" : `, column ${body.column}`})`
          : ""}
      </p>
      {body?.missing !== undefined && body.missing.length > 0 ? (
        <div>
          <p className="font-semibold">Missing columns:</p>
          <ul className="ml-4 list-disc font-mono text-xs" data-testid="missing-columns">
            {body.missing.map((column) => (
              <li key={column}>{column}</li>
            ))}
          </ul>
        </div>
      ) : null}
      {body?.seen !== undefined && body.seen.length > 0 ? (
        <details className="text-xs text-slate-300">
          <summary className="cursor-pointer">
            Columns found in the file ({body.seen.length})
          </summary>
          <p className="mt-1 font-mono break-words">{body.seen.join(", ")}</p>
        </details>
      ) : null}
    </div>
  );
}
