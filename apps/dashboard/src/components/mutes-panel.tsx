/**
 * Mutes and notifications: the active mutes (an incident whose top victim falls in one is
 * recorded but not notified) with a form to add one and a button to remove each, and the last
 * notification outcome of every endpoint.
 */
import type { EndpointStatus } from "@floodwatch/core/incident-contracts";
import { useState, type FormEvent } from "react";
import type { ApiClient } from "../lib/api-client.ts";
import { formatClock } from "../lib/format.ts";
import { messageOf } from "../lib/live-session.ts";
import { Panel, buttonClass, primaryButtonClass } from "./ui.tsx";
import { useApiResource } from "./use-api-resource.ts";

/** Endpoints' outcomes change only as notifications go out; a slow poll is plenty. */
const POLL_MS = 5_000;

const inputClass = "rounded border border-slate-700 bg-slate-950 px-2 py-1 text-sm text-slate-100";

function outcomeOf(status: EndpointStatus): string {
  const last = status.last;
  if (last === null) return "no delivery yet";
  const attempt = last.attempts.at(-1);
  const detail =
    attempt?.error ??
    (attempt?.status !== null && attempt?.status !== undefined ? `HTTP ${attempt.status}` : "");
  return `${last.state} ${last.event} of ${last.incidentId}${detail !== "" ? ` (${detail})` : ""}${attempt ? ` at ${formatClock(attempt.at)}` : ""}, ${last.attempts.length} attempt${last.attempts.length === 1 ? "" : "s"}`;
}

/** See the module comment. */
export function MutesPanel({ api }: { api: ApiClient }) {
  const polled = useApiResource(
    () => Promise.all([api.mutes(), api.deliveryEndpoints()]),
    [api],
    POLL_MS,
  );
  const [mutes, endpoints] = polled.data ?? [null, [] as EndpointStatus[]];
  const reload = polled.reload;
  /** What the last add or remove answered when it failed; cleared by the next success. */
  const [actionError, setActionError] = useState<string | null>(null);
  const error = actionError ?? polled.error;
  const [form, setForm] = useState({ cidr: "", port: "", hours: "24", reason: "" });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const hours = Number(form.hours);
    api
      .addMute({
        cidr: form.cidr.trim(),
        ...(form.port.trim() !== "" ? { port: Number(form.port) } : {}),
        until: Date.now() + hours * 3_600_000,
        reason: form.reason.trim() === "" ? "muted from the dashboard" : form.reason.trim(),
      })
      .then(
        () => {
          setActionError(null);
          setForm((f) => ({ ...f, cidr: "", port: "", reason: "" }));
          reload();
        },
        (err: unknown) => setActionError(messageOf(err)),
      );
  };

  return (
    <Panel id="mutes" title="Mutes and notifications" testId="mutes">
      {error !== null ? (
        <p role="status" className="mb-2 text-sm text-amber-200">
          {error}
        </p>
      ) : null}
      <ul className="mb-2 flex flex-col gap-1 text-sm" data-testid="mute-list">
        {mutes === null ? <li className="text-slate-400">Loading…</li> : null}
        {mutes?.length === 0 ? <li className="text-slate-400">No active mutes.</li> : null}
        {mutes?.map((mute) => (
          <li
            key={mute.id}
            data-testid="mute"
            className="flex flex-wrap items-center justify-between gap-2"
          >
            <span>
              <span className="font-mono">
                {mute.cidr}
                {mute.port !== null ? ` port ${mute.port}` : ""}
              </span>{" "}
              <span className="text-slate-400">
                until {new Date(mute.until).toISOString().slice(0, 16).replace("T", " ")} UTC:{" "}
                {mute.reason}
              </span>
            </span>
            <button
              type="button"
              className={buttonClass}
              onClick={() => {
                api
                  .removeMute(mute.id)
                  .then(reload, (err: unknown) => setActionError(messageOf(err)));
              }}
            >
              Remove
            </button>
          </li>
        ))}
      </ul>
      <form
        onSubmit={submit}
        className="flex flex-wrap items-end gap-2 text-sm"
        data-testid="mute-form"
      >
        <label className="flex flex-col">
          <span className="text-slate-400">Address or CIDR</span>
          <input
            required
            className={inputClass}
            value={form.cidr}
            placeholder="192.168.10.0/24"
            onChange={(e) => setForm({ ...form, cidr: e.target.value })}
          />
        </label>
        <label className="flex flex-col">
          <span className="text-slate-400">Port</span>
          <input
            className={`${inputClass} w-20`}
            inputMode="numeric"
            value={form.port}
            onChange={(e) => setForm({ ...form, port: e.target.value })}
          />
        </label>
        <label className="flex flex-col">
          <span className="text-slate-400">Hours</span>
          <input
            className={`${inputClass} w-20`}
            inputMode="decimal"
            value={form.hours}
            onChange={(e) => setForm({ ...form, hours: e.target.value })}
          />
        </label>
        <label className="flex min-w-40 flex-1 flex-col">
          <span className="text-slate-400">Reason</span>
          <input
            className={inputClass}
            value={form.reason}
            onChange={(e) => setForm({ ...form, reason: e.target.value })}
          />
        </label>
        <button type="submit" className={primaryButtonClass}>
          Mute
        </button>
      </form>
      <h3 className="mt-3 text-xs font-semibold text-slate-300 uppercase">
        Notification endpoints
      </h3>
      <ul className="text-sm" data-testid="endpoints">
        {endpoints.length === 0 ? (
          <li className="text-slate-400">
            No notification sent yet (see ALERT_WEBHOOK_URL, ALERT_SYSLOG_URL).
          </li>
        ) : null}
        {endpoints.map((status) => (
          <li
            key={status.endpoint}
            data-testid="endpoint"
            data-state={status.last?.state ?? "none"}
          >
            <span className="font-mono">{status.endpoint}</span>:{" "}
            <span className="text-slate-300">{outcomeOf(status)}</span>
          </li>
        ))}
      </ul>
    </Panel>
  );
}
