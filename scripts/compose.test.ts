/**
 * There is no Docker engine where the tests run, so docker-compose.yml, the Dockerfile and
 * .env.example are checked against what the services themselves read: their zod config schemas.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  COMPOSE_VARIABLES,
  SERVICES,
  composeDefaults,
  describeVariables,
  environmentOf,
  interpolate,
  interpolationsOf,
  readComposeFile,
  repoPath,
  type ComposeFile,
  type ComposeService,
} from "./config-reference.ts";

/** The services whose ports are published to the host; the others are reachable only inside. */
const PUBLISHED = ["ingest", "api", "dashboard"];

let compose: ComposeFile;
beforeAll(async () => {
  compose = await readComposeFile();
});

function service(name: string): ComposeService {
  const found = compose.services[name];
  if (found === undefined) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
}

/** A service's environment as compose hands it over when `env` (say, `.env`) sets `env`. */
function interpolatedEnvironment(
  name: string,
  env: Record<string, string | undefined> = {},
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(environmentOf(service(name))).map(([key, raw]) => [key, interpolate(raw, env)]),
  );
}

/** `KEY=value` lines of .env.example (commented-out `# KEY=` lines listed apart). */
function readEnvExample(): { values: Map<string, string>; commentedOut: string[] } {
  const values = new Map<string, string>();
  const commentedOut: string[] = [];
  for (const line of readFileSync(repoPath(".env.example"), "utf8").split("\n")) {
    const assignment = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (assignment) values.set(assignment[1]!, assignment[2]!);
    const disabled = /^# ([A-Z][A-Z0-9_]*)=$/.exec(line);
    if (disabled) commentedOut.push(disabled[1]!);
  }
  return { values, commentedOut };
}

/** Variables whose default is computed at start; compose must leave them to the service. */
const computedDefaults = new Set(
  describeVariables()
    .variables.filter((variable) => variable.computedDefault !== undefined)
    .map((variable) => variable.name),
);

describe("docker-compose.yml services", () => {
  it("has redis and every floodwatch service, each with a build or an image", () => {
    const alwaysOn = Object.keys(compose.services).filter(
      (name) => compose.services[name]!.profiles === undefined,
    );
    expect(alwaysOn.sort()).toEqual(["redis", ...SERVICES.map((s) => s.name)].sort());
    for (const [name, definition] of Object.entries(compose.services)) {
      expect(
        definition.build !== undefined || definition.image !== undefined,
        `${name} needs build or image`,
      ).toBe(true);
    }
  });

  it("lets detectors scale: no container_name, no ports, no fixed consumer name", () => {
    const detector = service("detector");
    expect(detector.container_name).toBeUndefined();
    expect(detector.ports).toBeUndefined();
    expect(Object.keys(environmentOf(detector))).not.toContain("DETECTOR_NAME");
  });

  it("publishes only the dashboard, the API and ingest, never redis", () => {
    const published = Object.entries(compose.services)
      .filter(([, definition]) => (definition.ports ?? []).length > 0)
      .map(([name]) => name)
      .sort();
    expect(published).toEqual([...PUBLISHED].sort());
    expect(service("redis").ports).toBeUndefined();
  });

  it("publishes each port on the port the service listens on, on loopback by default", () => {
    for (const name of PUBLISHED) {
      const environment = interpolatedEnvironment(name);
      const portVariable = `${name.toUpperCase()}_PORT`;
      expect(environment[portVariable], `${name} sets ${portVariable}`).toBeDefined();
      const ports = (service(name).ports ?? []).map((port) => interpolate(String(port), {}));
      expect(ports).toEqual([
        `127.0.0.1:${environment[portVariable]}:${environment[portVariable]}`,
      ]);
      const moved = (service(name).ports ?? []).map((port) =>
        interpolate(String(port), {
          [portVariable]: "9999",
          FLOODWATCH_PUBLISH_ADDRESS: "0.0.0.0",
        }),
      );
      expect(moved).toEqual(["0.0.0.0:9999:9999"]);
    }
  });

  it("runs redis with an append-only file on a named volume, and a PING healthcheck", () => {
    const redis = service("redis");
    expect(redis.image).toBe("redis:7-alpine");
    expect(redis.command).toEqual(["redis-server", "--appendonly", "yes"]);
    const [volume] = (redis.volumes ?? []) as string[];
    expect(volume).toBe("redis-data:/data");
    expect(Object.keys(compose.volumes ?? {})).toContain("redis-data");
    expect(JSON.stringify(redis.healthcheck?.test)).toContain("redis-cli ping");
  });

  it("gives every service a healthcheck, and starts each only once its dependencies are healthy", () => {
    for (const [name, definition] of Object.entries(compose.services)) {
      expect(definition.healthcheck?.test, `${name} healthcheck`).toBeDefined();
      expect(definition.healthcheck?.disable).not.toBe(true);
      if (name === "redis") continue;
      const dependsOn = definition.depends_on;
      expect(dependsOn, `${name} depends_on`).toBeDefined();
      expect(Array.isArray(dependsOn), `${name}: depends_on needs conditions`).toBe(false);
      for (const [dependency, condition] of Object.entries(dependsOn ?? {})) {
        expect(condition, `${name} -> ${dependency}`).toEqual({ condition: "service_healthy" });
        expect(compose.services[dependency]?.healthcheck, dependency).toBeDefined();
      }
    }
    for (const name of ["ingest", "detector", "api", "trainer"]) {
      expect(Object.keys(service(name).depends_on ?? {})).toContain("redis");
    }
  });

  it("builds from the Dockerfile's targets, with a SERVICE the Dockerfile accepts", () => {
    const dockerfile = readFileSync(repoPath("Dockerfile"), "utf8");
    const targets = [...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]);
    for (const { name } of SERVICES) {
      const build = service(name).build;
      expect(typeof build, `${name} build`).toBe("object");
      if (typeof build !== "object") continue;
      expect(build.context).toBe(".");
      expect(targets).toContain(build.target);
      if (build.target === "service") {
        expect(build.args).toEqual({ SERVICE: name });
        expect(dockerfile).toMatch(new RegExp(`^\\s+[a-z|]*\\b${name}\\b[a-z|]*\\) ;;`, "m"));
      }
    }
  });
});

describe("the opt-in sensor service", () => {
  it("runs floodwatch sensor on the host network with NET_RAW, only under its profile", () => {
    const sensor = service("sensor");
    expect(sensor.profiles).toEqual(["sensor"]);
    expect(sensor.network_mode).toBe("host");
    expect(sensor.cap_add).toContain("NET_RAW");
    expect(sensor.ports).toBeUndefined();
    const build = sensor.build as { target?: string };
    const dockerfile = readFileSync(repoPath("Dockerfile"), "utf8");
    expect(dockerfile).toMatch(new RegExp(`^FROM\\s+\\S+\\s+AS\\s+${build.target}$`, "m"));
    expect(dockerfile).toContain('ENTRYPOINT ["node", "--import", "tsx", "src/main.ts", "sensor"]');
    const command = (sensor.command as string[]).map((part) => interpolate(part, {}));
    expect(command.slice(0, 4)).toEqual([
      "--ingest",
      "http://127.0.0.1:8081",
      "--interface",
      "eth0",
    ]);
  });
});

describe("docker-compose.yml environment against the config schemas", () => {
  it("sets only variables the service reads", () => {
    for (const { name, schema } of SERVICES) {
      const unknown = Object.keys(environmentOf(service(name))).filter(
        (key) => !(key in schema.shape),
      );
      expect(unknown, `${name} sets variables its schema does not read`).toEqual([]);
    }
  });

  it("sets every required variable and passes every other one through, so .env takes effect", () => {
    for (const { name, schema } of SERVICES) {
      const set = new Set(Object.keys(environmentOf(service(name))));
      const missing = Object.keys(schema.shape).filter(
        (key) => !set.has(key) && !computedDefaults.has(key),
      );
      expect(missing, `${name} variables compose never passes`).toEqual([]);
    }
  });

  it("hands each service a configuration its schema accepts, without .env and with .env.example", () => {
    const example = Object.fromEntries(readEnvExample().values);
    for (const { name, schema } of SERVICES) {
      for (const env of [{}, example]) {
        const result = schema.safeParse(interpolatedEnvironment(name, env));
        expect(result.success, `${name}: ${JSON.stringify(result.error)}`).toBe(true);
      }
    }
  });

  it("points every Node service at the redis service by default", () => {
    for (const name of ["ingest", "detector", "api", "trainer"]) {
      expect(interpolatedEnvironment(name).REDIS_URL).toBe("redis://redis:6379");
    }
  });

  it("probes each service's /health on the port its schema listens on", () => {
    for (const { name, schema } of SERVICES) {
      const portVariable = `${name.toUpperCase()}_PORT`;
      expect(Object.keys(schema.shape), name).toContain(portVariable);
      expect(JSON.stringify(service(name).healthcheck?.test)).toContain("healthcheck.mjs");
      const probeUrl = (env: Record<string, string>) =>
        execFileSync(process.execPath, [repoPath("docker/healthcheck.mjs"), "--print-url"], {
          env: { PATH: process.env.PATH, FLOODWATCH_SERVICE: name, ...env },
          encoding: "utf8",
        }).trim();
      // The probe's fallback port is the schema's default, and it follows the variable.
      const port = String(
        (schema.safeParse({}).data as Record<string, unknown> | undefined)?.[portVariable],
      );
      expect(probeUrl({})).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/`));
      expect(probeUrl({ [portVariable]: "9123" })).toMatch(/^http:\/\/127\.0\.0\.1:9123\//);
    }
  });
});

describe(".env.example", () => {
  it("lists exactly every variable of every service, plus compose's own", () => {
    const { values, commentedOut } = readEnvExample();
    const schemaKeys = new Set(SERVICES.flatMap(({ schema }) => Object.keys(schema.shape)));
    const expected = [...schemaKeys, ...Object.keys(COMPOSE_VARIABLES)].sort();
    expect([...values.keys(), ...commentedOut].sort()).toEqual(expected);
    expect(commentedOut.sort()).toEqual([...computedDefaults].sort());
  });

  it("names only variables compose reads or a service reads, with compose's defaults", () => {
    const defaults = composeDefaults(compose);
    const schemaKeys = new Set(SERVICES.flatMap(({ schema }) => Object.keys(schema.shape)));
    for (const name of defaults.keys()) {
      expect(schemaKeys.has(name) || name in COMPOSE_VARIABLES, name).toBe(true);
    }
    const { values } = readEnvExample();
    for (const [name, value] of values) {
      expect(defaults.has(name), `compose never reads ${name}`).toBe(true);
      expect(value, name).toBe(defaults.get(name) ?? "");
    }
  });
});

describe("compose interpolation as the checks read it", () => {
  it("parses defaults, required markers and escaped dollars", () => {
    expect(interpolationsOf("${A:-x}:${B}:${C?no}:$${D}")).toEqual([
      { name: "A", defaultValue: "x", required: false },
      { name: "B", defaultValue: undefined, required: false },
      { name: "C", defaultValue: undefined, required: true },
    ]);
    expect(interpolate("${A:-x}/${B-y}/$$HOME", { A: "", B: "" })).toBe("x//$HOME");
    expect(() => interpolate("${A}", {})).toThrow("compose needs A");
  });
});
