"use client";
/**
 * The analyst's live window on the system: upload, counters, alert log, PCA scatter, score
 * timeline, model, models and quality, all fed by one live session.
 */
import type { TrainingJobStatus, WindowResult } from "@floodwatch/core/stream-contracts";
import { useCallback, useEffect, useMemo, useState, useSyncExternalStore } from "react";
import type { RuntimeConfig } from "../env.ts";
import type { ApiClient } from "../lib/api-client.ts";
import { CappedHistory } from "../lib/capped-history.ts";
import { LiveSession } from "../lib/live-session.ts";
import {
  HISTORY_CAPACITY,
  uploadsNewestFirst,
  windowKey,
  type WindowHistories,
} from "../lib/live-store.ts";
import { AlertLog } from "./alert-log.tsx";
import "./chart-setup.ts";
import { ConnectionBadge } from "./connection-badge.tsx";
import { Counters } from "./counters.tsx";
import { DeadLetters } from "./dead-letters.tsx";
import { IncidentsPanel } from "./incidents-panel.tsx";
import { MutesPanel } from "./mutes-panel.tsx";
import { useIncidentWindows } from "./use-incident-windows.ts";
import { useApiResource } from "./use-api-resource.ts";
import { useIncidents } from "./use-incidents.ts";
import { ModelPanel } from "./model-panel.tsx";
import { ModelsPanel } from "./models-panel.tsx";
import { PcaScatter } from "./pca-scatter.tsx";
import { QualityPanel } from "./quality-panel.tsx";
import { ScoreTimeline } from "./score-timeline.tsx";
import { TokenDialog } from "./token-dialog.tsx";
import { WindowDetails } from "./window-details.tsx";
import { UploadPanel } from "./upload-panel.tsx";
import { UploadSelector } from "./upload-selector.tsx";

/** Shown for a selected upload whose windows are still being fetched. */
const NO_WINDOWS: WindowHistories = {
  all: new CappedHistory(HISTORY_CAPACITY, windowKey),
  anomalies: new CappedHistory(HISTORY_CAPACITY, windowKey),
};

/** The published models, reloaded whenever they may have changed. */
function useModels(api: ApiClient, modelsVersion: number) {
  const { data, error, reload } = useApiResource(() => api.models(), [api, modelsVersion]);
  return { models: data, error, reload };
}

/** The dashboard page's client root. */
export function Dashboard({ apiUrl, ingestUrl }: RuntimeConfig) {
  const [problem, setProblem] = useState<string | null>(null);
  const [session] = useState(() => new LiveSession({ apiUrl, ingestUrl, onProblem: setProblem }));
  useEffect(() => {
    session.start();
    return () => session.stop();
  }, [session]);

  const snapshot = useSyncExternalStore(
    session.store.subscribe,
    session.store.getSnapshot,
    session.store.getSnapshot,
  );
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [anomaliesOnly, setAnomaliesOnly] = useState(false);
  const [detailed, setDetailed] = useState<WindowResult | null>(null);
  const {
    models,
    error: modelsError,
    reload: reloadModels,
  } = useModels(session.api, snapshot.modelsVersion);

  const tracked = selectedId === null ? true : snapshot.windowsByUpload.has(selectedId);
  useEffect(() => {
    // A selected upload older than what the page kept: fetch its recent windows.
    if (selectedId !== null && !tracked) void session.loadUpload(selectedId);
  }, [session, selectedId, tracked]);

  const uploads = useMemo(() => uploadsNewestFirst(snapshot.uploads), [snapshot.uploads]);
  const selected = selectedId === null ? null : (snapshot.uploads.get(selectedId) ?? null);
  const histories =
    selectedId === null
      ? snapshot.windows
      : (snapshot.windowsByUpload.get(selectedId) ?? NO_WINDOWS);

  // An incident clicked in the Incidents panel narrows the alert log and timeline to its windows.
  const { incidents, error: incidentsError } = useIncidents(session.api, snapshot.incidentsVersion);
  const [incidentId, setIncidentId] = useState<string | null>(null);
  const incidentWindows = useIncidentWindows(session.api, incidentId);
  const openIncidents = incidents?.filter((i) => i.state === "open").length ?? 0;
  const shownWindows = incidentWindows ?? histories;

  const model = snapshot.model;
  const thresholds = useMemo(() => {
    const map = new Map<string, number>();
    for (const m of models ?? []) map.set(m.version, m.threshold);
    if (model !== null) map.set(model.version, model.threshold);
    return map;
  }, [models, model]);
  const thresholdOf = useCallback(
    (version: string) => thresholds.get(version) ?? null,
    [thresholds],
  );
  const uploadNames = snapshot.uploads;
  const uploadName = useCallback(
    (uploadId: string) => uploadNames.get(uploadId)?.name ?? uploadId,
    [uploadNames],
  );
  const onJobStatus = useCallback(
    (job: TrainingJobStatus) => session.store.enqueue({ type: "training", job }),
    [session],
  );
  const threshold = snapshot.summary?.threshold ?? model?.threshold ?? null;
  // While the token dialog is open the page behind it takes no focus or clicks.
  const askingForToken =
    useSyncExternalStore(session.auth.subscribe, session.auth.pendingRequest, () => null) !== null;

  return (
    <>
      <div inert={askingForToken} className="mx-auto flex max-w-[120rem] flex-col gap-3 p-3">
        <header className="flex flex-wrap items-center justify-between gap-3">
          <div className="flex items-baseline gap-3">
            <h1 className="text-xl font-bold tracking-tight">floodwatch</h1>
            <span className="text-sm text-slate-300">live DDoS anomaly detection</span>
          </div>
          <div className="flex flex-wrap items-center gap-4">
            <span
              data-testid="open-incidents"
              data-value={openIncidents}
              className={`text-sm ${openIncidents > 0 ? "font-semibold text-rose-300" : "text-slate-300"}`}
            >
              {openIncidents} open incident{openIncidents === 1 ? "" : "s"}
            </span>
            <UploadSelector uploads={uploads} selected={selectedId} onSelect={setSelectedId} />
            <ConnectionBadge
              state={snapshot.connection}
              onRetryNow={() => session.reconnectNow()}
            />
          </div>
        </header>
        {problem !== null ? (
          <p
            role="status"
            data-testid="problem"
            className="rounded border border-amber-600 bg-amber-950/60 px-3 py-1.5 text-sm text-amber-100"
          >
            {problem}
          </p>
        ) : null}
        <Counters summary={snapshot.summary} upload={selected} />
        <DeadLetters api={session.api} count={snapshot.summary?.deadLetters ?? 0} />
        <main className="grid gap-3 xl:grid-cols-[minmax(20rem,1fr)_3fr]">
          <div className="flex min-w-0 flex-col gap-3">
            <UploadPanel
              api={session.api}
              uploads={snapshot.uploads}
              selectedUploadId={selectedId}
              onSelectUpload={setSelectedId}
            />
            <ModelPanel model={model} />
            <QualityPanel uploads={uploads} selected={selected} />
            <MutesPanel api={session.api} />
          </div>
          <div className="flex min-w-0 flex-col gap-3">
            <div className="grid gap-3 lg:grid-cols-2">
              <PcaScatter
                histories={histories}
                windowsVersion={snapshot.windowsVersion}
                explainedVariance={model?.explainedVariance ?? null}
                uploadName={uploadName}
                thresholdOf={thresholdOf}
              />
              <ScoreTimeline
                histories={shownWindows}
                windowsVersion={snapshot.windowsVersion}
                axis={selectedId === null && incidentWindows === null ? "arrival" : "window"}
                threshold={threshold}
                uploadName={uploadName}
                thresholdOf={thresholdOf}
              />
            </div>
            <IncidentsPanel
              incidents={incidents}
              error={incidentsError}
              selectedId={incidentId}
              onSelect={setIncidentId}
              uploadName={uploadName}
            />
            <div className="h-[28rem] 2xl:h-[34rem]">
              <AlertLog
                histories={shownWindows}
                windowsVersion={snapshot.windowsVersion}
                anomaliesOnly={anomaliesOnly}
                onAnomaliesOnlyChange={setAnomaliesOnly}
                uploadName={uploadName}
                thresholdOf={thresholdOf}
                onSelect={setDetailed}
              />
            </div>
          </div>
        </main>
        <ModelsPanel
          api={session.api}
          models={models}
          modelsError={modelsError}
          onModelsChanged={reloadModels}
          trainingJobs={snapshot.trainingJobs}
          onJobStatus={onJobStatus}
        />
      </div>
      {detailed === null ? null : (
        <WindowDetails
          w={detailed}
          uploadName={uploadName(detailed.uploadId)}
          threshold={thresholdOf(detailed.modelVersion)}
          onClose={() => setDetailed(null)}
        />
      )}
      <TokenDialog auth={session.auth} />
    </>
  );
}
