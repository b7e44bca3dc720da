/**
 * The Incidents panel: runs of anomalous windows, open ones first, each with its victim, how long
 * it lasted, its windows, worst score and the features that drove it. Clicking one shows its
 * details and filters the alert log and the timeline to its windows.
 */
import type { Incident } from "@floodwatch/core/incident-contracts";
import { formatCount, formatScore, formatUtcDateTime } from "../lib/format.ts";
import { Panel, buttonClass } from "./ui.tsx";

/** Props of {@link IncidentsPanel}. */
export interface IncidentsPanelProps {
  incidents: Incident[] | null;
  error: string | null;
  selectedId: string | null;
  onSelect: (id: string | null) => void;
  uploadName: (uploadId: string) => string;
}

/** `ip:port` of the top victim, or a dash when the file had no addresses. */
function victimOf(incident: Incident): string {
  const victim = incident.victims[0];
  if (!victim) return "—";
  const port = incident.ports[0];
  return port ? `${victim.ip}:${port.port}` : victim.ip;
}

/** Traffic time when the file had it, else the window range. */
function durationOf(incident: Incident): string {
  if (incident.start !== null && incident.end !== null) {
    const seconds = Math.max(0, (Date.parse(incident.end) - Date.parse(incident.start)) / 1000);
    if (seconds < 120) return `${Math.round(seconds)} s`;
    if (seconds < 7_200) return `${Math.round(seconds / 60)} min`;
    return `${(seconds / 3_600).toFixed(1)} h`;
  }
  return `#${incident.firstWindow}–#${incident.lastWindow}`;
}

function featuresOf(incident: Incident, n = 2): string {
  return incident.features.length === 0
    ? "—"
    : incident.features
        .slice(0, n)
        .map((f) => f.feature)
        .join(", ");
}

function IncidentDetails({
  incident,
  uploadName,
}: {
  incident: Incident;
  uploadName: (id: string) => string;
}) {
  const rows: [string, string][] = [
    ["Upload", uploadName(incident.uploadId)],
    ["State", `${incident.state}${incident.muted ? " (muted)" : ""}`],
    [
      "Windows",
      `#${incident.firstWindow}–#${incident.lastWindow}: ${incident.anomalousWindows} anomalous of ${incident.windows}`,
    ],
    ["Flows", formatCount(incident.flows)],
    [
      "Scores",
      `worst ${formatScore(incident.worstScore)}, mean ${formatScore(incident.meanScore)}`,
    ],
    [
      "Traffic time",
      incident.start !== null && incident.end !== null
        ? `${formatUtcDateTime(incident.start)} – ${formatUtcDateTime(incident.end)}`
        : "not in the file",
    ],
    ["Victims", incident.victims.map((v) => `${v.ip} (${formatCount(v.flows)})`).join(", ") || "—"],
    [
      "Sources",
      incident.sources.top.length === 0
        ? "—"
        : `${incident.sources.top.map((s) => s.ip).join(", ")}; ${formatCount(incident.sources.distinct)} distinct at most per window`,
    ],
    [
      "Ports",
      incident.ports
        .map(
          (p) =>
            `${p.port}${p.protocol !== null && p.protocol !== undefined ? `/${p.protocol}` : ""}`,
        )
        .join(", ") || "—",
    ],
    [
      "Features",
      incident.features.map((f) => `${f.feature} (${f.windows} windows)`).join(", ") || "—",
    ],
  ];
  return (
    <dl
      data-testid="incident-details"
      data-incident-id={incident.id}
      className="mt-2 grid grid-cols-[8rem_1fr] gap-x-3 gap-y-1 rounded border border-slate-700 p-2 text-sm"
    >
      {rows.map(([name, value]) => (
        <div key={name} className="contents">
          <dt className="text-slate-400">{name}</dt>
          <dd className="min-w-0 break-words text-slate-100">{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** See the module comment. */
export function IncidentsPanel({
  incidents,
  error,
  selectedId,
  onSelect,
  uploadName,
}: IncidentsPanelProps) {
  const selected = incidents?.find((i) => i.id === selectedId) ?? null;
  return (
    <Panel
      id="incidents"
      title="Incidents"
      testId="incidents"
      actions={
        selectedId !== null ? (
          <button
            type="button"
            className={buttonClass}
            onClick={() => onSelect(null)}
            data-testid="incident-clear"
          >
            Show all windows
          </button>
        ) : null
      }
    >
      {error !== null ? <p className="text-sm text-amber-200">{error}</p> : null}
      {incidents === null ? (
        <p className="text-sm text-slate-400">Loading…</p>
      ) : incidents.length === 0 ? (
        <p className="text-sm text-slate-400" data-testid="no-incidents">
          No incidents yet: anomalous windows in a row become one.
        </p>
      ) : (
        <div className="max-h-56 overflow-y-auto">
          <table className="w-full text-left text-sm">
            <thead className="text-xs text-slate-400 uppercase">
              <tr>
                <th className="px-1">State</th>
                <th className="px-1">Victim</th>
                <th className="px-1">Duration</th>
                <th className="px-1 text-right">Windows</th>
                <th className="px-1 text-right">Worst</th>
                <th className="px-1">Top features</th>
              </tr>
            </thead>
            <tbody>
              {incidents.map((incident) => (
                <tr
                  key={incident.id}
                  data-testid="incident-row"
                  data-incident-id={incident.id}
                  data-state={incident.state}
                  data-windows={incident.windows}
                  aria-selected={incident.id === selectedId}
                  tabIndex={0}
                  onClick={() => onSelect(incident.id === selectedId ? null : incident.id)}
                  onKeyDown={(event) => {
                    if (event.key === "Enter" || event.key === " ") {
                      event.preventDefault();
                      onSelect(incident.id === selectedId ? null : incident.id);
                    }
                  }}
                  className={`cursor-pointer border-t border-slate-800 hover:bg-slate-800 ${incident.id === selectedId ? "bg-slate-800" : ""}`}
                >
                  <td className="px-1">
                    <span
                      className={
                        incident.state === "open" ? "font-semibold text-rose-300" : "text-slate-300"
                      }
                    >
                      {incident.state}
                    </span>
                    {incident.muted ? (
                      <span className="ml-1 text-xs text-slate-400">muted</span>
                    ) : null}
                  </td>
                  <td className="px-1 font-mono" data-testid="incident-victim">
                    {victimOf(incident)}
                  </td>
                  <td className="px-1">{durationOf(incident)}</td>
                  <td className="px-1 text-right tabular-nums">
                    {formatCount(incident.anomalousWindows)}/{formatCount(incident.windows)}
                  </td>
                  <td className="px-1 text-right tabular-nums">
                    {formatScore(incident.worstScore)}
                  </td>
                  <td className="px-1 truncate">{featuresOf(incident)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {selected !== null ? <IncidentDetails incident={selected} uploadName={uploadName} /> : null}
    </Panel>
  );
}
