/** Small building blocks shared by the panels. */
import type { ReactNode } from "react";

/** A titled section of the page. */
export function Panel({
  id,
  title,
  actions,
  children,
  className = "",
  testId,
}: {
  id: string;
  title: string;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
  testId?: string;
}) {
  return (
    <section
      aria-labelledby={`${id}-title`}
      data-testid={testId}
      className={`flex min-w-0 flex-col rounded-lg border border-slate-800 bg-slate-900 p-3 ${className}`}
    >
      <div className="mb-2 flex flex-wrap items-center justify-between gap-2">
        <h2
          id={`${id}-title`}
          className="text-sm font-semibold tracking-wide text-slate-200 uppercase"
        >
          {title}
        </h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

/**
 * A progress bar; `value` null shows an indeterminate bar (the server is working, how far is not
 * known).
 */
export function ProgressBar({
  value,
  max,
  label,
  tone = "normal",
  testId,
}: {
  value: number | null;
  max: number;
  label: string;
  tone?: "normal" | "done" | "alert";
  testId?: string;
}) {
  const fraction = value === null || max <= 0 ? null : Math.max(0, Math.min(1, value / max));
  const colour =
    tone === "done" ? "bg-emerald-500" : tone === "alert" ? "bg-rose-500" : "bg-sky-500";
  return (
    <div
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={fraction === null ? undefined : max}
      aria-valuenow={fraction === null ? undefined : (value ?? undefined)}
      data-testid={testId}
      className="h-2 w-full overflow-hidden rounded bg-slate-800"
    >
      <div
        className={`h-full ${colour} ${fraction === null ? "w-1/3 animate-pulse" : ""}`}
        style={fraction === null ? undefined : { width: `${(fraction * 100).toFixed(1)}%` }}
      />
    </div>
  );
}

/** A short status word in a pill. */
export function Badge({
  children,
  tone = "plain",
  testId,
}: {
  children: ReactNode;
  tone?: "plain" | "ok" | "warn" | "alert";
  testId?: string;
}) {
  const colours = {
    plain: "border-slate-600 text-slate-200",
    ok: "border-emerald-500 text-emerald-300",
    warn: "border-amber-400 text-amber-200",
    alert: "border-rose-400 bg-rose-950 text-rose-200",
  }[tone];
  return (
    <span
      data-testid={testId}
      className={`inline-flex items-center rounded border px-1.5 py-0.5 text-xs font-semibold ${colours}`}
    >
      {children}
    </span>
  );
}

/** Button styles, one place. */
export const buttonClass =
  "rounded border border-slate-600 bg-slate-800 px-2.5 py-1 text-sm font-medium text-slate-100 " +
  "hover:bg-slate-700 disabled:cursor-not-allowed disabled:opacity-50";

/** The primary action's button. */
export const primaryButtonClass =
  "rounded border border-sky-500 bg-sky-700 px-2.5 py-1 text-sm font-semibold text-white " +
  "hover:bg-sky-600 disabled:cursor-not-allowed disabled:opacity-50";
