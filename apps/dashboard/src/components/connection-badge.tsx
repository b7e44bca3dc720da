/** The live connection's state, always visible. */
import { useEffect, useState } from "react";
import type { ConnectionState } from "../lib/live-store.ts";
import { buttonClass } from "./ui.tsx";

/** Text of a connection state; `now` for the countdown. */
export function connectionText(state: ConnectionState, now: number): string {
  switch (state.status) {
    case "open":
      return "Live";
    case "connecting":
      return state.attempt === 0 ? "Connecting…" : `Connecting (attempt ${state.attempt + 1})…`;
    case "reconnecting": {
      const seconds = Math.max(0, Math.ceil((state.retryAt - now) / 1000));
      return `Disconnected (${state.reason}); retrying in ${seconds} s`;
    }
    case "closed":
      return "Disconnected";
  }
}

const dotColour = {
  open: "bg-emerald-400",
  connecting: "bg-amber-300",
  reconnecting: "bg-rose-400",
  closed: "bg-slate-500",
};

/** Connection badge with a "retry now" button while disconnected. */
export function ConnectionBadge({
  state,
  onRetryNow,
}: {
  state: ConnectionState;
  onRetryNow: () => void;
}) {
  const [now, setNow] = useState(() => Date.now());
  const counting = state.status === "reconnecting";
  useEffect(() => {
    if (!counting) return;
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [counting]);
  return (
    <div
      className="flex items-center gap-2 text-sm"
      data-testid="connection"
      data-status={state.status}
    >
      <span aria-hidden="true" className={`h-2.5 w-2.5 rounded-full ${dotColour[state.status]}`} />
      <span role="status" data-testid="connection-state">
        {connectionText(state, now)}
      </span>
      {state.status === "reconnecting" ? (
        <button type="button" className={buttonClass} onClick={onRetryNow}>
          Retry now
        </button>
      ) : null}
    </div>
  );
}
