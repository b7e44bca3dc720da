/**
 * Models: every published version with its metrics, "activate" per version, and a form that
 * trains a new model from a benign CSV with live progress.
 */
import type { TrainingJobStatus } from "@floodwatch/core/stream-contracts";
import { useEffect, useId, useState, type FormEvent } from "react";
import type { ApiClient, ModelListEntry, TrainingOptions } from "../lib/api-client.ts";
import {
  formatBytes,
  formatCount,
  formatPercent,
  formatScore,
  formatUtcDateTime,
} from "../lib/format.ts";
import { messageOf } from "../lib/live-session.ts";
import { trainingFraction, trainingStageText } from "../lib/training-progress.ts";
import { FalseAlarms, ModelWarnings } from "./false-alarms.tsx";
import { Badge, buttonClass, Panel, primaryButtonClass, ProgressBar } from "./ui.tsx";

/** How often a running job is polled, as a fallback to its `training` messages. */
const JOB_POLL_MS = 1_000;

/** Props of {@link ModelsPanel}. */
export interface ModelsPanelProps {
  api: ApiClient;
  models: ModelListEntry[] | null;
  modelsError: string | null;
  onModelsChanged: () => void;
  trainingJobs: ReadonlyMap<string, TrainingJobStatus>;
  /** Feeds a polled job status into the live store. */
  onJobStatus: (job: TrainingJobStatus) => void;
}

/** A training request from this page. */
interface TrainingSubmission {
  fileName: string;
  totalBytes: number;
  sentBytes: number;
  jobId: string | null;
  error: string | null;
}

/** The models panel. */
export function ModelsPanel({
  api,
  models,
  modelsError,
  onModelsChanged,
  trainingJobs,
  onJobStatus,
}: ModelsPanelProps) {
  const [busyVersion, setBusyVersion] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);

  const activate = async (version: string) => {
    setBusyVersion(version);
    setActionError(null);
    try {
      await api.activateModel(version);
      onModelsChanged();
    } catch (error) {
      setActionError(`could not activate ${version}: ${messageOf(error)}`);
    } finally {
      setBusyVersion(null);
    }
  };

  const download = async (version: string) => {
    setActionError(null);
    try {
      const blob = await api.downloadModel(version);
      const url = URL.createObjectURL(blob);
      const link = document.createElement("a");
      link.href = url;
      link.download = `floodwatch-model-${version}.json`;
      link.click();
      URL.revokeObjectURL(url);
    } catch (error) {
      setActionError(`could not download ${version}: ${messageOf(error)}`);
    }
  };

  return (
    <Panel id="models" title="Models" testId="models-panel">
      <div className="grid gap-4 xl:grid-cols-[2fr_1fr]">
        <div className="relative min-w-0 overflow-x-auto">
          {modelsError !== null ? (
            <p className="text-sm text-amber-200" role="status">
              Model list unavailable: {modelsError}
            </p>
          ) : models === null ? (
            <p className="text-sm text-slate-300">Loading models…</p>
          ) : (
            <table className="w-full text-left text-sm" data-testid="models-table">
              <caption className="sr-only">Published models</caption>
              <thead className="text-xs text-slate-300">
                <tr>
                  <th scope="col" className="py-1 pr-3">
                    Version
                  </th>
                  <th scope="col" className="pr-3">
                    Trained
                  </th>
                  <th scope="col" className="pr-3">
                    Window
                  </th>
                  <th scope="col" className="pr-3">
                    Features
                  </th>
                  <th scope="col" className="pr-3">
                    Threshold
                  </th>
                  <th scope="col" className="pr-3">
                    False alarms
                  </th>
                  <th scope="col" className="pr-3">
                    Training flows
                  </th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {models.map((m) => (
                  <tr
                    key={m.version}
                    data-testid="model-row"
                    data-version={m.version}
                    data-active={m.active ? "true" : "false"}
                    className="border-t border-slate-800"
                  >
                    <td className="py-1.5 pr-3 font-mono">
                      {m.version} {m.active ? <Badge tone="ok">active</Badge> : null}
                      {m.warnings.length > 0 ? <Badge tone="warn">warning</Badge> : null}
                      <ModelWarnings model={m} />
                    </td>
                    <td className="pr-3 whitespace-nowrap">{formatUtcDateTime(m.trainedAt)}</td>
                    <td className="pr-3 whitespace-nowrap">
                      {m.window} / {m.stride}
                    </td>
                    <td className="pr-3">{m.features.length}</td>
                    <td className="pr-3 font-mono whitespace-nowrap">
                      {formatScore(m.threshold)}{" "}
                      <span className="text-xs text-slate-300">q {formatPercent(m.quantile)}</span>
                    </td>
                    <td className="pr-3">
                      <FalseAlarms model={m} />
                    </td>
                    <td className="pr-3">{formatCount(m.trainingFlows)}</td>
                    <td className="flex gap-1.5 py-1 whitespace-nowrap">
                      {m.active ? null : (
                        <button
                          type="button"
                          className={buttonClass}
                          data-testid={`activate-${m.version}`}
                          disabled={busyVersion !== null}
                          onClick={() => void activate(m.version)}
                        >
                          {busyVersion === m.version ? "Activating…" : "Activate"}
                        </button>
                      )}
                      <button
                        type="button"
                        className={buttonClass}
                        aria-label={`Download model ${m.version}`}
                        onClick={() => void download(m.version)}
                      >
                        Download
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {actionError !== null ? (
            <p role="alert" className="mt-2 text-sm text-rose-200">
              {actionError}
            </p>
          ) : null}
        </div>
        <TrainingForm
          api={api}
          trainingJobs={trainingJobs}
          onJobStatus={onJobStatus}
          onTrained={onModelsChanged}
        />
      </div>
    </Panel>
  );
}

const numberFields = [
  ["window", "Window (flows)", "1"],
  ["stride", "Stride", "1"],
  ["trainStride", "Training stride", "1"],
  ["trees", "Trees", "1"],
  ["maxSamples", "Samples per tree", "1"],
  ["quantile", "Threshold quantile", "any"],
  ["seed", "Seed", "1"],
] as const;

/** Reads the training options from the form; empty fields keep the trainer's defaults. */
export function trainingOptionsOf(form: FormData): TrainingOptions {
  const options: TrainingOptions = {};
  for (const [name] of numberFields) {
    const raw = form.get(name);
    if (typeof raw === "string" && raw.trim() !== "") options[name] = Number(raw);
  }
  const features = form.get("features");
  if (typeof features === "string" && features.trim() !== "") {
    options.features = features
      .split(/[,\n]/)
      .map((f) => f.trim())
      .filter((f) => f !== "");
  }
  return options;
}

function TrainingForm({
  api,
  trainingJobs,
  onJobStatus,
  onTrained,
}: {
  api: ApiClient;
  trainingJobs: ReadonlyMap<string, TrainingJobStatus>;
  onJobStatus: (job: TrainingJobStatus) => void;
  onTrained: () => void;
}) {
  const fileId = useId();
  const [submission, setSubmission] = useState<TrainingSubmission | null>(null);
  const job = submission?.jobId == null ? undefined : trainingJobs.get(submission.jobId);
  const jobId = submission?.jobId ?? null;
  const finished = job?.state === "completed" || job?.state === "failed";
  const running = submission !== null && submission.error === null && !finished;

  // Poll the job until it ends, in case a `training` message is missed (reconnect).
  useEffect(() => {
    if (jobId === null || finished) return;
    let stopped = false;
    const timer = setInterval(() => {
      api.trainingJob(jobId).then(
        (status) => {
          if (!stopped) onJobStatus(status);
        },
        () => undefined,
      );
    }, JOB_POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [api, jobId, finished, onJobStatus]);

  useEffect(() => {
    if (job?.state === "completed") onTrained();
  }, [job?.state, onTrained]);

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const file = form.get("file");
    if (!(file instanceof File) || file.size === 0) {
      setSubmission({
        fileName: "",
        totalBytes: 0,
        sentBytes: 0,
        jobId: null,
        error: "choose a benign CSV first",
      });
      return;
    }
    const options = trainingOptionsOf(form);
    setSubmission({
      fileName: file.name,
      totalBytes: file.size,
      sentBytes: 0,
      jobId: null,
      error: null,
    });
    const pending = api.trainModel(file, options, (sentBytes, totalBytes) =>
      setSubmission((s) => (s === null ? s : { ...s, sentBytes, totalBytes })),
    );
    pending.result.then(
      ({ jobId: id }) => setSubmission((s) => (s === null ? s : { ...s, jobId: id })),
      (error: unknown) =>
        setSubmission((s) => (s === null ? s : { ...s, error: messageOf(error) })),
    );
  };

  return (
    <form onSubmit={submit} className="flex flex-col gap-2 text-sm" data-testid="train-form">
      <h3 className="font-semibold text-slate-200">Train a model from benign traffic</h3>
      <label htmlFor={fileId} className="text-slate-300">
        Benign flow CSV
      </label>
      <input
        id={fileId}
        name="file"
        type="file"
        accept=".csv,text/csv"
        required
        data-testid="train-input"
        className="text-sm file:mr-2 file:rounded file:border file:border-slate-600 file:bg-slate-800 file:px-2 file:py-1 file:text-slate-100"
      />
      <details>
        <summary className="cursor-pointer text-slate-300">Options (defaults when empty)</summary>
        <div className="mt-2 grid grid-cols-2 gap-2">
          {numberFields.map(([name, label, step]) => (
            <label key={name} className="flex flex-col gap-0.5 text-xs text-slate-300">
              {label}
              <input
                name={name}
                type="number"
                step={step}
                min={name === "seed" ? undefined : name === "quantile" ? 0 : 1}
                max={name === "quantile" ? 1 : undefined}
                className="rounded border border-slate-600 bg-slate-950 px-1.5 py-1 text-sm text-slate-100"
              />
            </label>
          ))}
          <label className="col-span-2 flex flex-col gap-0.5 text-xs text-slate-300">
            Features (comma separated; default: the standard set)
            <textarea
              name="features"
              rows={2}
              className="rounded border border-slate-600 bg-slate-950 px-1.5 py-1 text-sm text-slate-100"
            />
          </label>
        </div>
      </details>
      <button type="submit" className={primaryButtonClass} disabled={running}>
        {running ? "Training…" : "Train"}
      </button>
      {submission !== null ? <TrainingProgress submission={submission} job={job} /> : null}
    </form>
  );
}

function TrainingProgress({
  submission,
  job,
}: {
  submission: TrainingSubmission;
  job: TrainingJobStatus | undefined;
}) {
  if (submission.error !== null) {
    return (
      <p role="alert" className="text-rose-200" data-testid="train-error">
        Training not started: {submission.error}
      </p>
    );
  }
  if (submission.jobId === null) {
    return (
      <div className="flex flex-col gap-1">
        <ProgressBar
          value={submission.sentBytes < submission.totalBytes ? submission.sentBytes : null}
          max={submission.totalBytes}
          label="Sending the training file"
          testId="train-upload-progress"
        />
        <span className="text-xs text-slate-300">
          Sending {formatBytes(submission.sentBytes)} of {formatBytes(submission.totalBytes)}
        </span>
      </div>
    );
  }
  const fraction = job === undefined ? null : trainingFraction(job);
  return (
    <div
      className="flex flex-col gap-1"
      data-testid="train-progress"
      data-state={job?.state ?? "waiting"}
    >
      <ProgressBar
        value={fraction}
        max={1}
        label="Training progress"
        tone={job?.state === "failed" ? "alert" : job?.state === "completed" ? "done" : "normal"}
      />
      <span className="text-xs text-slate-300" aria-live="polite">
        Job {submission.jobId}: {job === undefined ? "queued" : trainingStageText(job)}
      </span>
    </div>
  );
}
