import { connection } from "next/server";
import { Dashboard } from "../components/dashboard.tsx";
import { loadDashboardConfig, runtimeConfigOf } from "../env.ts";

/**
 * The dashboard page. Rendered per request so the API and ingest URLs come from the environment
 * the server runs in, not the one it was built in.
 */
export default async function Page() {
  await connection();
  const config = runtimeConfigOf(loadDashboardConfig());
  return <Dashboard apiUrl={config.apiUrl} ingestUrl={config.ingestUrl} />;
}
