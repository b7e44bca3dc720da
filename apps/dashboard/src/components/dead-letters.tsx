/** Flow entries the detectors gave up on, listed on demand when there are any. */
import type { DeadLetter } from "@floodwatch/core/stream-contracts";
import { useState } from "react";
import type { ApiClient } from "../lib/api-client.ts";
import { formatClock, formatCount } from "../lib/format.ts";
import { messageOf } from "../lib/live-session.ts";

/** A disclosure that loads `GET /api/dead-letters` when opened. */
export function DeadLetters({ api, count }: { api: ApiClient; count: number }) {
  const [letters, setLetters] = useState<DeadLetter[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (count === 0) return null;
  return (
    <details
      className="rounded-lg border border-rose-800 bg-rose-950/40 p-2 text-sm"
      data-testid="dead-letters"
      onToggle={(e) => {
        if (!e.currentTarget.open) return;
        api.deadLetters().then(
          (list) => {
            setLetters(list);
            setError(null);
          },
          (err: unknown) => setError(messageOf(err)),
        );
      }}
    >
      <summary className="cursor-pointer font-semibold text-rose-100">
        {formatCount(count)} dead-lettered flow entr{count === 1 ? "y" : "ies"}: not scored
      </summary>
      {error !== null ? <p className="mt-1 text-rose-200">Could not load them: {error}</p> : null}
      {letters !== null ? (
        <ul className="mt-1 max-h-40 overflow-y-auto font-mono text-xs">
          {letters.map((l) => (
            <li key={l.entryId}>
              {formatClock(l.at)} entry {l.entryId} of {l.uploadId ?? "unknown upload"} after{" "}
              {l.deliveries} deliveries: {l.reason}
            </li>
          ))}
        </ul>
      ) : null}
    </details>
  );
}
