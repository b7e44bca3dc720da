/** The counters strip. */
import type { Summary, UploadStatus } from "@floodwatch/core/stream-contracts";
import { countersOf } from "../lib/counters.ts";

const toneClass = {
  plain: "border-slate-800 text-slate-50",
  alert: "border-rose-500 text-rose-200 bg-rose-950/60",
  warn: "border-amber-500/70 text-amber-100",
};

/**
 * Live counters for the system or the selected upload. Not an aria-live region: they change many
 * times a second, which a screen reader would read out endlessly.
 */
export function Counters({
  summary,
  upload,
}: {
  summary: Summary | null;
  upload: UploadStatus | null;
}) {
  const counters = countersOf(summary, upload);
  return (
    <section aria-label="Counters" data-testid="counters">
      <dl className="grid grid-cols-[repeat(auto-fit,minmax(9.5rem,1fr))] gap-2">
        {counters.map((c) => (
          <div
            key={c.key}
            data-testid={`counter-${c.key}`}
            data-value={c.value ?? ""}
            className={`rounded-lg border bg-slate-900 px-3 py-2 ${toneClass[c.tone]}`}
          >
            <dt className="truncate text-xs text-slate-300">
              {c.label}
              {c.scope === "upload" ? <span className="sr-only"> (selected upload)</span> : null}
            </dt>
            <dd className="font-mono text-2xl font-semibold tabular-nums">{c.text}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
