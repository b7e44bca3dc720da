/**
 * One window, explained: what drove its score (feature bars, the window's value against the
 * benign training median), who was involved (victims, sources, ports), when, and its score
 * against the threshold. Opened from the alert log.
 */
import type { WindowResult } from "@floodwatch/core/stream-contracts";
import { useEffect, useId, useRef } from "react";
import {
  formatCount,
  formatLineRange,
  formatPercent,
  formatPort,
  formatScore,
  formatSignal,
  formatTopFeature,
  formatUtcSeconds,
  formatVersusTypical,
} from "../lib/format.ts";
import { buttonClass } from "./ui.tsx";

/** Props of {@link WindowDetails}. */
export interface WindowDetailsProps {
  w: WindowResult;
  uploadName: string;
  threshold: number | null;
  onClose: () => void;
}

/**
 * Bar length of a value on a log scale shared by a dimension's value and typical value, so a
 * 40× difference and a 40,000× one both read at a glance.
 */
function barWidths(value: number, typical: number): [number, number] {
  const a = Math.log10(1 + Math.abs(value));
  const b = Math.log10(1 + Math.abs(typical));
  const top = Math.max(a, b, 1e-9);
  return [(a / top) * 100, (b / top) * 100];
}

function Section({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <section className="min-w-0">
      <h3 className="mb-1 text-xs font-semibold tracking-wide text-slate-300 uppercase">{title}</h3>
      {children}
    </section>
  );
}

/** The window details dialog. */
export function WindowDetails({ w, uploadName, threshold, onClose }: WindowDetailsProps) {
  const titleId = useId();
  const closeRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    closeRef.current?.focus();
  }, []);
  const unknown = <p className="text-sm text-slate-400">Not in this upload&apos;s columns.</p>;

  return (
    <div
      className="fixed inset-0 z-40 flex items-center justify-center bg-slate-950/80 p-4"
      onClick={onClose}
    >
      <div
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        data-testid="window-details"
        onClick={(e) => e.stopPropagation()}
        onKeyDown={(e) => {
          if (e.key === "Escape") onClose();
        }}
        className="flex max-h-full w-full max-w-3xl flex-col gap-3 overflow-y-auto rounded-lg border border-slate-600 bg-slate-900 p-4 shadow-xl"
      >
        <div className="flex items-start justify-between gap-3">
          <div>
            <h2 id={titleId} className="text-lg font-semibold">
              Window #{w.window} of {uploadName}
            </h2>
            <p className="text-sm text-slate-300" data-testid="window-details-time">
              {w.start !== null && w.end !== null
                ? `Traffic ${formatUtcSeconds(w.start)} – ${formatUtcSeconds(w.end)}`
                : "No traffic time in this upload"}{" "}
              · {formatLineRange(w.firstLine, w.lastLine)}
            </p>
          </div>
          <button ref={closeRef} type="button" className={buttonClass} onClick={onClose}>
            Close
          </button>
        </div>

        <p
          data-testid="window-details-score"
          className={`rounded px-2 py-1 font-mono text-sm ${w.anomaly ? "bg-rose-950 text-rose-100" : "bg-slate-800 text-slate-200"}`}
        >
          {w.anomaly ? "ANOMALY · " : "normal · "}score {formatScore(w.score)}
          {threshold === null
            ? ""
            : ` ${w.anomaly ? "<" : "≥"} threshold ${formatScore(threshold)}`}
          {w.attackFlows === undefined ? "" : ` · ${w.attackFlows} labelled attack flows`}
        </p>

        <Section title="Why: what drove the score">
          {w.explanation === null || w.explanation.length === 0 ? (
            <p className="text-sm text-slate-400">
              No explanation: the detector explains anomalous windows (DETECTOR_EXPLAIN).
            </p>
          ) : (
            <>
              <p className="mb-2 text-sm text-slate-200" data-testid="window-details-top-feature">
                {formatTopFeature(w)}
              </p>
              <ul className="flex flex-col gap-2" data-testid="feature-bars">
                {w.explanation.map((d) => {
                  const [actual, typical] = barWidths(d.value, d.typical);
                  return (
                    <li key={`${d.feature}:${d.statistic}`} className="text-sm">
                      <div className="flex justify-between gap-2">
                        <span className="truncate">
                          {d.feature} <span className="text-slate-400">{d.statistic}</span>
                        </span>
                        <span className="shrink-0 font-mono text-slate-300">
                          {formatPercent(d.weight, 0)} of the decision
                        </span>
                      </div>
                      <div className="mt-0.5 grid grid-cols-[4.5rem_1fr_6rem] items-center gap-2 text-xs">
                        <span className="text-slate-400">actual</span>
                        <span className="h-2 rounded bg-slate-800">
                          <span
                            className="block h-2 rounded bg-rose-500"
                            style={{ width: `${actual}%` }}
                          />
                        </span>
                        <span className="text-right font-mono">{formatSignal(d.value)}</span>
                        <span className="text-slate-400">typical</span>
                        <span className="h-2 rounded bg-slate-800">
                          <span
                            className="block h-2 rounded bg-sky-500"
                            style={{ width: `${typical}%` }}
                          />
                        </span>
                        <span className="text-right font-mono">{formatSignal(d.typical)}</span>
                      </div>
                      <p className="text-xs text-slate-400">
                        {formatVersusTypical(d.value, d.typical)}
                      </p>
                    </li>
                  );
                })}
              </ul>
              {w.explanationFeatures !== null ? (
                <p className="mt-2 text-xs text-slate-300">
                  By feature:{" "}
                  {w.explanationFeatures
                    .map((f) => `${f.feature} ${formatPercent(f.weight, 0)}`)
                    .join(" · ")}
                </p>
              ) : null}
            </>
          )}
        </Section>

        <div className="grid gap-3 md:grid-cols-3">
          <Section title="Victims (destinations)">
            {w.victims === null ? (
              unknown
            ) : (
              <ul className="font-mono text-sm" data-testid="window-details-victims">
                {w.victims.map((v) => (
                  <li key={v.ip}>
                    {v.ip} <span className="text-slate-400">· {v.flows} flows</span>
                  </li>
                ))}
              </ul>
            )}
          </Section>
          <Section title="Sources">
            {w.sources === null ? (
              unknown
            ) : (
              <>
                <ul className="font-mono text-sm" data-testid="window-details-sources">
                  {w.sources.top.map((v) => (
                    <li key={v.ip}>
                      {v.ip} <span className="text-slate-400">· {v.flows} flows</span>
                    </li>
                  ))}
                </ul>
                <p className="text-xs text-slate-300">
                  {formatCount(w.sources.distinct)} distinct sources
                </p>
              </>
            )}
          </Section>
          <Section title="Ports">
            {w.ports === null ? (
              unknown
            ) : (
              <ul className="font-mono text-sm" data-testid="window-details-ports">
                {w.ports.map((p) => (
                  <li key={`${p.port}/${p.protocol}`}>
                    {formatPort(p.port, p.protocol)}{" "}
                    <span className="text-slate-400">· {p.flows} flows</span>
                  </li>
                ))}
              </ul>
            )}
          </Section>
        </div>
      </div>
    </div>
  );
}
