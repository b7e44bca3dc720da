import { describe, expect, it } from "vitest";
import {
  dashboardConfigSchema,
  DashboardConfigError,
  loadDashboardConfig,
  runtimeConfigOf,
} from "./env.ts";

describe("dashboard config", () => {
  it("defaults to the local stack", () => {
    expect(loadDashboardConfig({})).toEqual({
      FLOODWATCH_API_URL: "http://localhost:8080",
      FLOODWATCH_INGEST_URL: "http://localhost:8081",
      DASHBOARD_PORT: 3000,
    });
  });

  it("reads public URLs without their trailing slash and the port as a number", () => {
    const config = loadDashboardConfig({
      FLOODWATCH_API_URL: "https://floodwatch.example/api/",
      FLOODWATCH_INGEST_URL: "https://ingest.example",
      DASHBOARD_PORT: "4100",
    });
    expect(runtimeConfigOf(config)).toEqual({
      apiUrl: "https://floodwatch.example/api",
      ingestUrl: "https://ingest.example",
    });
    expect(config.DASHBOARD_PORT).toBe(4100);
  });

  it("names each bad variable", () => {
    let error: unknown;
    try {
      loadDashboardConfig({ FLOODWATCH_API_URL: "ftp://x", DASHBOARD_PORT: "70000" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DashboardConfigError);
    const variables = (error as DashboardConfigError).problems.map((p) => p.variable).sort();
    expect(variables).toEqual(["DASHBOARD_PORT", "FLOODWATCH_API_URL"]);
  });

  it("describes every variable (the README's configuration table is built from it)", () => {
    for (const [name, schema] of Object.entries(dashboardConfigSchema.shape)) {
      expect(schema.description, name).toMatch(/\w{3,}/);
    }
  });
});
