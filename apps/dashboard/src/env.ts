/**
 * Configuration of the dashboard, read on the server at request time so that one build serves
 * any deployment. Only the public URLs of the API and ingest reach the browser.
 */
import { z } from "zod";

const httpUrl = (fallback: string) =>
  z
    .url({ protocol: /^https?$/, message: "expected an http:// or https:// URL" })
    .default(fallback)
    // A trailing slash would double up when paths are appended.
    .transform((url) => url.replace(/\/+$/, ""));

/** Environment variables of the dashboard; keys are the variable names. */
export const dashboardConfigSchema = z.object({
  FLOODWATCH_API_URL: httpUrl("http://localhost:8080").describe(
    "Public URL of the API as the analyst's browser reaches it (REST and the /ws WebSocket)",
  ),
  FLOODWATCH_INGEST_URL: httpUrl("http://localhost:8081").describe(
    "Public URL of ingest as the analyst's browser reaches it (CSV uploads)",
  ),
  DASHBOARD_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65_535)
    .default(3000)
    .describe("TCP port the dashboard listens on (passed to `next start -p` by the launcher)"),
});

/** Parsed dashboard configuration. */
export type DashboardConfig = z.infer<typeof dashboardConfigSchema>;

/** What the browser needs to know about the deployment. */
export interface RuntimeConfig {
  apiUrl: string;
  ingestUrl: string;
}

/** A configuration that does not parse, naming each bad variable. */
export class DashboardConfigError extends Error {
  override readonly name = "DashboardConfigError";
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      "dashboard: invalid configuration:\n" +
        problems.map((p) => `  ${p.variable}: ${p.message}`).join("\n"),
    );
  }
}

/** Parses the dashboard's variables from `env`. */
export function loadDashboardConfig(
  env: Record<string, string | undefined> = process.env,
): DashboardConfig {
  const result = dashboardConfigSchema.safeParse(env);
  if (result.success) return result.data;
  throw new DashboardConfigError(
    result.error.issues.map((issue) => ({
      variable: String(issue.path[0] ?? "(config)"),
      message: issue.message,
    })),
  );
}

/** The browser's share of the configuration. */
export function runtimeConfigOf(config: DashboardConfig): RuntimeConfig {
  return { apiUrl: config.FLOODWATCH_API_URL, ingestUrl: config.FLOODWATCH_INGEST_URL };
}
