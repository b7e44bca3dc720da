import { ConfigError } from "@floodwatch/platform";
import { describe, expect, it } from "vitest";
import { apiConfigSchema, loadApiConfig } from "./env.ts";

describe("loadApiConfig", () => {
  it("has defaults for every variable", () => {
    expect(loadApiConfig({})).toEqual({
      REDIS_URL: "redis://127.0.0.1:6379",
      FLOODWATCH_KEY_PREFIX: "floodwatch",
      LOG_LEVEL: "info",
      LOG_FORMAT: "auto",
      API_PORT: 8080,
      API_HOST: "0.0.0.0",
      DASHBOARD_ORIGIN: ["http://localhost:3000"],
      API_WS_MAX_BUFFERED_BYTES: 8 * 1024 * 1024,
      API_WS_HISTORY_WINDOWS: 500,
      API_REQUEST_TIMEOUT_MS: 300_000,
      TRAINING_MAX_UPLOAD_BYTES: 256 * 1024 * 1024,
      FLOODWATCH_PROTECT_READS: false,
      UPLOAD_RATE_LIMIT_PER_MINUTE: 30,
    });
  });

  it("reads a comma-separated list of dashboard origins", () => {
    const config = loadApiConfig({
      DASHBOARD_ORIGIN: "http://localhost:3000, https://dash.example.org:8443",
    });
    expect(config.DASHBOARD_ORIGIN).toEqual([
      "http://localhost:3000",
      "https://dash.example.org:8443",
    ]);
  });

  it.each([
    ["DASHBOARD_ORIGIN", "https://dash.example.org/app"],
    ["DASHBOARD_ORIGIN", " , "],
    ["API_PORT", "80800"],
    ["API_WS_MAX_BUFFERED_BYTES", "0"],
    ["REDIS_URL", "localhost:6379"],
  ])("names %s when it is %j", (variable, value) => {
    let error: unknown;
    try {
      loadApiConfig({ [variable]: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.variable)).toEqual([variable]);
  });

  it("describes every variable", () => {
    for (const [name, schema] of Object.entries(apiConfigSchema.shape)) {
      expect(schema.description, name).toMatch(/\w/);
    }
  });
});
