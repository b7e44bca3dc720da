/**
 * Incidents for the page: read from the API every few seconds, so the panel and the header's open
 * count follow the tracker.
 */
import type { Incident } from "@floodwatch/core/incident-contracts";
import { useEffect, useState } from "react";
import type { ApiClient } from "../lib/api-client.ts";
import { messageOf } from "../lib/live-session.ts";

/** Often enough that an incident opened during an upload shows within its first seconds. */
const POLL_MS = 2_000;

/** The most recent incidents, open ones first. */
export function useIncidents(api: ApiClient) {
  const [incidents, setIncidents] = useState<Incident[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let current = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = () => {
      api
        .incidents({ limit: 200 })
        .then(
          (list) => {
            if (!current) return;
            setIncidents(list);
            setError(null);
          },
          (err: unknown) => {
            if (current) setError(messageOf(err));
          },
        )
        .finally(() => {
          if (current) timer = setTimeout(load, POLL_MS);
        });
    };
    load();
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [api]);
  return { incidents, error };
}
