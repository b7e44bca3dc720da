/**
 * The windows of the incident the analyst clicked, as window histories the alert log and the
 * timeline can show in place of the live ones; null when no incident is selected.
 */
import type { WindowResult } from "@floodwatch/core/stream-contracts";
import { useEffect, useState } from "react";
import type { ApiClient } from "../lib/api-client.ts";
import { CappedHistory } from "../lib/capped-history.ts";
import { HISTORY_CAPACITY, windowKey, type WindowHistories } from "../lib/live-store.ts";

function historiesOf(windows: readonly WindowResult[]): WindowHistories {
  const all = new CappedHistory(HISTORY_CAPACITY, windowKey);
  const anomalies = new CappedHistory(HISTORY_CAPACITY, windowKey);
  all.pushAll(windows);
  anomalies.pushAll(windows.filter((w) => w.anomaly));
  return { all, anomalies };
}

/** See the module comment. */
export function useIncidentWindows(
  api: ApiClient,
  incidentId: string | null,
): WindowHistories | null {
  const [loaded, setLoaded] = useState<{ id: string; histories: WindowHistories } | null>(null);
  useEffect(() => {
    if (incidentId === null) return;
    let current = true;
    api.incident(incidentId).then(
      ({ windows }) => {
        if (current) setLoaded({ id: incidentId, histories: historiesOf(windows) });
      },
      () => {
        // The incident is gone or the API is away: the live windows stay shown.
      },
    );
    return () => {
      current = false;
    };
  }, [api, incidentId]);
  return incidentId !== null && loaded?.id === incidentId ? loaded.histories : null;
}
