// Docker HEALTHCHECK of every floodwatch image: GET the service's own /health on loopback with
// Node's fetch (slim images have no curl) and exit 0 only on a 2xx answer.
//
// The port is the one the service itself reads: its `<SERVICE>_PORT` variable, else the default
// of its config schema. scripts/compose.test.ts checks these defaults and paths against the
// schemas (`node docker/healthcheck.mjs --print-url` prints the URL instead of probing).

/* global process, console, fetch, AbortSignal -- Node's globals; this file runs outside TypeScript */

/** Port variable, default port and health path of each service. */
const probes = {
  ingest: { portVariable: "INGEST_PORT", defaultPort: 8081, path: "/health" },
  detector: { portVariable: "DETECTOR_PORT", defaultPort: 8082, path: "/health" },
  api: { portVariable: "API_PORT", defaultPort: 8080, path: "/health" },
  trainer: { portVariable: "TRAINER_PORT", defaultPort: 8083, path: "/health" },
  incidents: { portVariable: "INCIDENTS_PORT", defaultPort: 8084, path: "/health" },
  // The dashboard has no health route: its one page, rendered, is the proof of life.
  dashboard: { portVariable: "DASHBOARD_PORT", defaultPort: 3000, path: "/" },
};

const service = process.env.FLOODWATCH_SERVICE ?? "";
const probe = probes[service];
if (probe === undefined) {
  console.error(`FLOODWATCH_SERVICE must be one of ${Object.keys(probes).join(", ")}`);
  process.exit(2);
}
const port = process.env[probe.portVariable] || String(probe.defaultPort);
const url = `http://127.0.0.1:${port}${probe.path}`;

if (process.argv.includes("--print-url")) {
  console.log(url);
  process.exit(0);
}

try {
  // A hung service must fail the check, not hold it until Docker's own timeout.
  const response = await fetch(url, { signal: AbortSignal.timeout(2_500) });
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  console.error(`${url}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
