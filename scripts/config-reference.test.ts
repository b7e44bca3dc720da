import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { perimeterConfigShape } from "../packages/platform/src/http-perimeter.ts";
import { commonConfigShape } from "../packages/platform/src/service-config.ts";
import {
  LAUNCHER,
  describeVariables,
  expectedFiles,
  renderEnvExample,
  renderTable,
  repoPath,
  withReference,
  type ConfigSchema,
  type ConfiguredService,
} from "./config-reference.ts";

/** A service built from the platform's shapes; `describeVariables` reads only `shape`. */
function fakeService(name: string, shape: ConfigSchema["shape"]): ConfiguredService {
  return { name, schema: { shape, safeParse: () => ({ success: true }) } };
}

describe("the generated configuration reference", () => {
  it("README.md and .env.example match the services' schemas (else run pnpm config:reference)", async () => {
    for (const [file, expected] of await expectedFiles()) {
      const current = await readFile(repoPath(file), "utf8");
      expect(current, `${file} is out of date: run pnpm config:reference`).toBe(expected);
    }
  });

  it("every variable of every service and of the launcher has a meaning and one default", () => {
    expect(describeVariables().problems).toEqual([]);
    expect(describeVariables([LAUNCHER], {}).problems).toEqual([]);
  });
});

describe("describeVariables", () => {
  const services = [
    fakeService("ingest", {
      ...perimeterConfigShape,
      REDIS_URL: commonConfigShape.REDIS_URL,
      // The bare number inside the default: a schema without a meaning.
      UNDESCRIBED: perimeterConfigShape.UPLOAD_RATE_LIMIT_PER_MINUTE.unwrap(),
    }),
    fakeService("api", { ...perimeterConfigShape }),
  ];

  it("reads defaults through preprocess, transforms and coercion, and lists shared ones once", () => {
    const { variables } = describeVariables(services);
    const byName = new Map(variables.map((variable) => [variable.name, variable]));
    expect(byName.get("FLOODWATCH_API_TOKEN")).toMatchObject({
      services: ["ingest", "api"],
      defaultValue: undefined,
      required: false,
    });
    expect(byName.get("FLOODWATCH_PROTECT_READS")).toMatchObject({
      defaultValue: "false",
      required: false,
      meaning: "Also require the token on reads, /metrics and the WebSocket (/health stays open)",
    });
    expect(byName.get("UPLOAD_RATE_LIMIT_PER_MINUTE")?.defaultValue).toBe("30");
    expect(byName.get("REDIS_URL")).toMatchObject({
      services: ["ingest"],
      defaultValue: "redis://127.0.0.1:6379",
    });
    // Shared variables first, then per service, then compose's own.
    expect(variables.map((variable) => variable.name)).toEqual([
      "FLOODWATCH_API_TOKEN",
      "FLOODWATCH_PROTECT_READS",
      "UPLOAD_RATE_LIMIT_PER_MINUTE",
      "REDIS_URL",
      "UNDESCRIBED",
      "FLOODWATCH_PUBLISH_ADDRESS",
      "SENSOR_INTERFACE",
      "SENSOR_BPF",
    ]);
  });

  it("reports a variable without .describe() as a problem", () => {
    expect(describeVariables(services).problems).toContain(
      "ingest: UNDESCRIBED has no .describe()",
    );
  });

  it("renders the table and .env.example with compose's defaults where they differ", async () => {
    const { variables } = describeVariables(services);
    const compose = new Map([
      ["REDIS_URL", "redis://redis:6379"],
      ["FLOODWATCH_API_TOKEN", ""],
      ["FLOODWATCH_PUBLISH_ADDRESS", "127.0.0.1"],
    ]);
    const table = renderTable(variables, compose);
    expect(table).toContain(
      "| `REDIS_URL` | ingest | `redis://127.0.0.1:6379` (compose: `redis://redis:6379`) |",
    );
    expect(table).toContain("| `FLOODWATCH_API_TOKEN` | ingest, api | unset |");
    expect(table).toContain("| `FLOODWATCH_PUBLISH_ADDRESS` | docker compose | `127.0.0.1` |");

    const env = renderEnvExample(variables, compose);
    expect(env).toContain("\nFLOODWATCH_API_TOKEN=\n");
    expect(env).toContain(
      "[ingest; outside compose: redis://127.0.0.1:6379]\nREDIS_URL=redis://redis:6379\n",
    );
    expect(env).toContain("\nUPLOAD_RATE_LIMIT_PER_MINUTE=30\n");

    const readme = await withReference(
      "# x\n\n<!-- config:start -->\nstale\n<!-- config:end -->\n\nafter\n",
      table,
    );
    expect(readme).not.toContain("stale");
    expect(readme).toMatch(
      /<!-- config:start -->\n[\s\S]*\| Variable +\| Read by[\s\S]*<!-- config:end -->\n\nafter\n$/,
    );
    await expect(withReference("no markers", table)).rejects.toThrow("README.md needs");
  });
});
