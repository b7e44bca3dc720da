import { ConfigError } from "@floodwatch/platform";
import { describe, expect, it } from "vitest";
import { ingestConfigSchema, loadIngestConfig } from "./env.ts";

describe("ingest configuration", () => {
  it("has a default for every variable", () => {
    expect(loadIngestConfig({})).toEqual({
      REDIS_URL: "redis://127.0.0.1:6379",
      FLOODWATCH_KEY_PREFIX: "floodwatch",
      LOG_LEVEL: "info",
      LOG_FORMAT: "auto",
      INGEST_PORT: 8081,
      INGEST_HOST: "0.0.0.0",
      DASHBOARD_ORIGIN: ["http://localhost:3000"],
      INGEST_ENTRY_FLOWS: 2_000,
      INGEST_MAX_BACKLOG_ENTRIES: 256,
      INGEST_MAX_UPLOAD_BYTES: 8 * 1024 ** 3,
      INGEST_REDIS_TIMEOUT_MS: 30_000,
      INGEST_IDLE_TIMEOUT_MS: 300_000,
      INGEST_SHUTDOWN_TIMEOUT_MS: 10_000,
      FLOODWATCH_PROTECT_READS: false,
      UPLOAD_RATE_LIMIT_PER_MINUTE: 30,
    });
  });

  it("describes every variable in one line", () => {
    for (const [name, schema] of Object.entries(ingestConfigSchema.shape)) {
      expect(schema.description, name).toMatch(/^[^\n]{10,}$/);
    }
  });

  it("reads a comma-separated list of dashboard origins", () => {
    const config = loadIngestConfig({
      DASHBOARD_ORIGIN: "http://localhost:3000, https://soc.example.org",
    });
    expect(config.DASHBOARD_ORIGIN).toEqual(["http://localhost:3000", "https://soc.example.org"]);
  });

  it("names each bad variable", () => {
    let caught: unknown;
    try {
      loadIngestConfig({ INGEST_PORT: "http", DASHBOARD_ORIGIN: "localhost:3000/app" });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems.map((p) => p.variable).sort()).toEqual([
      "DASHBOARD_ORIGIN",
      "INGEST_PORT",
    ]);
  });
});
