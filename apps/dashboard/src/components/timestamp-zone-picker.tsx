/**
 * The zone the file's naive timestamps are in (CIC-IDS2017 writes local times without a zone):
 * UTC by default, the browser's own zone offered, or any IANA name or ±hh:mm offset typed in,
 * checked with the same rule ingest applies (core's `zoneOffset`).
 */
import { zoneOffset } from "@floodwatch/core/flow-timestamp";
import { useId, useState } from "react";

/** The analyst's choice: a zone to send (undefined: UTC, ingest's default) or a typing error. */
export type TimestampZoneChoice =
  { ok: true; zone: string | undefined } | { ok: false; problem: string };

const UTC = "UTC";
const OTHER = "other";

/** The browser's IANA zone, or null when it is UTC or the browser does not say. */
function browserZone(): string | null {
  try {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    return zone && zone !== UTC && zone !== "Etc/UTC" ? zone : null;
  } catch {
    return null;
  }
}

/** Whether ingest would take `zone` as the timestamp zone. */
export function checkTimestampZone(typed: string): TimestampZoneChoice {
  const zone = typed.trim();
  if (zone === "") return { ok: false, problem: "Type an IANA time zone or an offset" };
  try {
    zoneOffset(zone);
    return { ok: true, zone };
  } catch {
    return { ok: false, problem: `Not a time zone: ${zone} (try America/Halifax or -03:00)` };
  }
}

/** Props of {@link TimestampZonePicker}. */
export interface TimestampZonePickerProps {
  onChange: (choice: TimestampZoneChoice) => void;
}

/** A select (UTC, the browser's zone, other) and, for "other", a checked text field. */
export function TimestampZonePicker({ onChange }: TimestampZonePickerProps) {
  const selectId = useId();
  const textId = useId();
  const problemId = useId();
  const [local] = useState(browserZone);
  const [mode, setMode] = useState<string>(UTC);
  const [typed, setTyped] = useState("");
  const typedChoice = checkTimestampZone(typed);

  const choose = (next: string) => {
    setMode(next);
    if (next === UTC) onChange({ ok: true, zone: undefined });
    else if (next === OTHER) onChange(typedChoice);
    else onChange({ ok: true, zone: next });
  };

  return (
    <div className="mb-2 flex flex-wrap items-center gap-2 text-sm">
      <label htmlFor={selectId} className="text-slate-300">
        Timestamps without a zone are in
      </label>
      <select
        id={selectId}
        data-testid="timestamp-zone"
        value={mode}
        onChange={(e) => choose(e.target.value)}
        className="rounded border border-slate-600 bg-slate-900 px-2 py-1 text-slate-100"
      >
        <option value={UTC}>UTC</option>
        {local !== null ? <option value={local}>{local} (this browser)</option> : null}
        <option value={OTHER}>Other zone…</option>
      </select>
      {mode === OTHER ? (
        <>
          <label htmlFor={textId} className="sr-only">
            Time zone (IANA name or ±hh:mm)
          </label>
          <input
            id={textId}
            type="text"
            data-testid="timestamp-zone-text"
            placeholder="America/Halifax"
            value={typed}
            aria-invalid={!typedChoice.ok}
            aria-describedby={typedChoice.ok ? undefined : problemId}
            onChange={(e) => {
              setTyped(e.target.value);
              onChange(checkTimestampZone(e.target.value));
            }}
            className="w-44 rounded border border-slate-600 bg-slate-900 px-2 py-1 text-slate-100"
          />
          {typedChoice.ok ? null : (
            <span id={problemId} className="text-amber-200" data-testid="timestamp-zone-problem">
              {typedChoice.problem}
            </span>
          )}
        </>
      ) : null}
    </div>
  );
}
