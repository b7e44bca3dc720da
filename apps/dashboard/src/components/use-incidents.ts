/**
 * Incidents for the page: read again whenever the live socket announces an incident event
 * (`incidentsVersion`), and every 30 s in case an announcement was missed while reconnecting,
 * so the panel and the header's open count follow the tracker.
 */
import type { ApiClient } from "../lib/api-client.ts";
import { useApiResource } from "./use-api-resource.ts";

/** The fallback poll: the socket's `incident` events carry the news. */
const POLL_MS = 30_000;

/** The most recent incidents, open ones first. */
export function useIncidents(api: ApiClient, incidentsVersion: number) {
  const { data, error } = useApiResource(
    () => api.incidents({ limit: 200 }),
    [api, incidentsVersion],
    POLL_MS,
  );
  return { incidents: data, error };
}
