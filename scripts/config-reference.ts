/**
 * The configuration reference, generated from the services' own zod schemas so that it cannot
 * drift from what the code reads:
 *
 * - the table between `<!-- config:start -->` and `<!-- config:end -->` in README.md;
 * - `.env.example`, every variable with the value `docker compose` uses when `.env` does not set
 *   it (the `${VAR:-default}` in docker-compose.yml, else the schema's default).
 *
 *   pnpm config:reference            rewrite both
 *   pnpm config:reference --check    exit 1 when either is out of date
 *
 * A default computed at start (say, from the host name) cannot be printed; its schema states it
 * in the meaning, as `... (default host-pid)`, and the reference shows that. Such a variable is
 * left commented out in `.env.example`: one fixed value would defeat the computation.
 */
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { format, resolveConfig } from "prettier";
import { parse as parseYaml } from "yaml";
import { dashboardConfigSchema } from "../apps/dashboard/src/env.ts";
import { apiConfigSchema } from "../services/api/src/env.ts";
import { detectorConfigSchema } from "../services/detector/src/env.ts";
import { incidentsConfigSchema } from "../services/incidents/src/env.ts";
import { ingestConfigSchema } from "../services/ingest/src/env.ts";
import { trainerConfigSchema } from "../services/trainer/src/env.ts";
import { launcherConfigSchema } from "./launcher-env.ts";

/**
 * What this script needs of a zod 4 schema. Typed structurally so that the script does not depend
 * on one package's copy of zod.
 */
export interface SchemaNode {
  readonly description?: string | undefined;
  readonly def: { readonly type: string };
  safeParse(value: unknown): { success: boolean; data?: unknown };
}

/** A service's configuration schema: a zod object whose keys are variable names. */
export interface ConfigSchema {
  readonly shape: Record<string, SchemaNode>;
  safeParse(value: unknown): { success: boolean; data?: unknown; error?: unknown };
}

/** A process that reads its configuration from the environment. */
export interface ConfiguredService {
  /** The service's name in docker-compose.yml. */
  name: string;
  schema: ConfigSchema;
}

/** Every floodwatch process, in the order the reference lists them. */
export const SERVICES: readonly ConfiguredService[] = [
  { name: "ingest", schema: ingestConfigSchema },
  { name: "detector", schema: detectorConfigSchema },
  { name: "api", schema: apiConfigSchema },
  { name: "trainer", schema: trainerConfigSchema },
  { name: "incidents", schema: incidentsConfigSchema },
  { name: "dashboard", schema: dashboardConfigSchema },
];

/** The local launcher, `pnpm start`: its own variables get a table of their own. */
export const LAUNCHER: ConfiguredService = { name: "pnpm start", schema: launcherConfigSchema };

/** How the reference names the reader of compose-only variables. */
export const COMPOSE_ONLY = "docker compose";

/** Variables only docker-compose.yml reads (no service sees them), with their meaning. */
export const COMPOSE_VARIABLES: Readonly<Record<string, string>> = {
  FLOODWATCH_PUBLISH_ADDRESS:
    "Host address the dashboard, API and ingest ports are published on; 0.0.0.0 opens them to " +
    "the network (set FLOODWATCH_API_TOKEN first)",
};

/** One row of the reference. */
export interface ConfigVariable {
  name: string;
  /** Services that read it, in {@link SERVICES} order; `["docker compose"]` for compose-only. */
  services: string[];
  meaning: string;
  /** The default as an environment value (`"8080"`, `"false"`), or undefined when there is none. */
  defaultValue: string | undefined;
  /** The default is computed at start; this is how the meaning names it (`host-pid`). */
  computedDefault: string | undefined;
  /** Unset is an error. */
  required: boolean;
}

/** A variable whose meaning differs between services (its row shows each service's). */
export interface MeaningConflict {
  name: string;
  meanings: { service: string; meaning: string }[];
}

const COMPUTED_DEFAULT = /\(default ([^)]+)\)\s*$/;

/** The wrappers a variable's schema may be built of, outermost first, and the default they set. */
function inspectVariable(node: SchemaNode): { description?: string; defaultValue?: unknown } {
  let description: string | undefined;
  let defaultValue: unknown;
  let current: SchemaNode | undefined = node;
  while (current !== undefined) {
    description ??= current.description;
    const def = current.def as unknown as Record<string, SchemaNode | undefined> & { type: string };
    switch (def.type) {
      case "default":
      case "prefault":
        // The getter evaluates a function default; computed ones are named in the description.
        defaultValue ??= (def as unknown as { defaultValue: unknown }).defaultValue;
        current = def.innerType;
        break;
      case "optional":
      case "nullable":
      case "nonoptional":
      case "readonly":
      case "catch":
        current = def.innerType;
        break;
      case "pipe":
        // `.transform()` after a schema is pipe(schema, transform): the input side is `in`.
        // `z.preprocess(fn, schema)` is pipe(transform, schema): the schema is `out`.
        current = def.in?.def.type === "transform" ? def.out : def.in;
        break;
      default:
        current = undefined;
    }
  }
  return {
    ...(description === undefined ? {} : { description }),
    ...(defaultValue === undefined ? {} : { defaultValue }),
  };
}

/** A default as the string one would write in the environment. */
function environmentValue(value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join(",");
  return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
}

/**
 * The reference rows: one per variable, shared variables listed once with every service that
 * reads them (those read by several services first), then compose-only variables.
 */
export function describeVariables(
  services: readonly ConfiguredService[] = SERVICES,
  composeVariables: Readonly<Record<string, string>> = COMPOSE_VARIABLES,
): {
  variables: ConfigVariable[];
  conflicts: MeaningConflict[];
  /** Disagreements the reference cannot represent: a missing meaning, two defaults. */
  problems: string[];
} {
  const byName = new Map<string, ConfigVariable>();
  const meanings = new Map<string, { service: string; meaning: string }[]>();
  const problems: string[] = [];
  for (const service of services) {
    for (const [name, node] of Object.entries(service.schema.shape)) {
      const { description, defaultValue } = inspectVariable(node);
      if (description === undefined) problems.push(`${service.name}: ${name} has no .describe()`);
      const meaning = sentence((description ?? "").trim());
      const computed = COMPUTED_DEFAULT.exec(meaning)?.[1];
      meanings.set(name, [...(meanings.get(name) ?? []), { service: service.name, meaning }]);
      const existing = byName.get(name);
      if (existing !== undefined) {
        existing.services.push(service.name);
        const shown = defaultValue === undefined ? undefined : environmentValue(defaultValue);
        if (computed === undefined && shown !== existing.defaultValue) {
          problems.push(
            `${name} defaults to ${String(existing.defaultValue)} in ${existing.services[0]} ` +
              `but to ${String(shown)} in ${service.name}`,
          );
        }
        continue;
      }
      byName.set(name, {
        name,
        services: [service.name],
        meaning,
        defaultValue:
          computed !== undefined || defaultValue === undefined
            ? undefined
            : environmentValue(defaultValue),
        computedDefault: computed,
        required: !node.safeParse(undefined).success,
      });
    }
  }
  const conflicts: MeaningConflict[] = [];
  for (const [name, list] of meanings) {
    const groups = new Map<string, { services: string[]; meaning: string }>();
    for (const { service, meaning } of list) {
      const key = normaliseMeaning(meaning);
      const group = groups.get(key);
      if (group === undefined) groups.set(key, { services: [service], meaning });
      else group.services.push(service);
    }
    if (groups.size < 2) continue;
    conflicts.push({ name, meanings: list });
    // Services that describe one variable differently each keep their own words.
    byName.get(name)!.meaning = [...groups.values()]
      .map((group) => `${group.services.join(", ")}: ${group.meaning}`)
      .join("; ");
  }
  const all = [...byName.values()];
  const shared = all.filter((variable) => variable.services.length > 1);
  const single = all.filter((variable) => variable.services.length === 1);
  const composeOnly = Object.entries(composeVariables).map(([name, meaning]): ConfigVariable => ({
    name,
    services: [COMPOSE_ONLY],
    meaning: sentence(meaning),
    defaultValue: undefined,
    computedDefault: undefined,
    required: false,
  }));
  return { variables: [...shared, ...single, ...composeOnly], conflicts, problems };
}

/** Meanings that differ only in capitals say the same. */
function normaliseMeaning(meaning: string): string {
  return meaning.toLowerCase();
}

/** Sentence case without a final full stop, as the table reads. */
function sentence(meaning: string): string {
  const text = meaning.replace(/\.$/, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

/** One `${NAME...}` of the compose file. */
export interface ComposeInterpolation {
  name: string;
  /** `${NAME:-x}` / `${NAME-x}`: the value when unset (`:-` also when empty). */
  defaultValue: string | undefined;
  /** `${NAME:?message}` / `${NAME?message}`. */
  required: boolean;
}

const INTERPOLATION = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*)|(:?\?)([^}]*))?\}/g;

/** The `${...}` interpolations of one compose value (`$$` escapes a dollar). */
export function interpolationsOf(text: string): ComposeInterpolation[] {
  const found: ComposeInterpolation[] = [];
  for (const match of text.replaceAll("$$", "").matchAll(INTERPOLATION)) {
    found.push({
      name: match[1]!,
      defaultValue: match[2] === undefined ? undefined : (match[3] ?? ""),
      required: match[4] !== undefined,
    });
  }
  return found;
}

/** Substitutes a compose value the way `docker compose` does, from `env` (e.g. a `.env` file). */
export function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text
    .split("$$")
    .map((part) =>
      part.replace(INTERPOLATION, (_whole, name: string, op?: string, fallback?: string) => {
        const value = env[name];
        if (op === ":-") return value === undefined || value === "" ? (fallback ?? "") : value;
        if (op === "-") return value ?? fallback ?? "";
        if (value === undefined) throw new Error(`compose needs ${name}`);
        return value;
      }),
    )
    .join("$");
}

/** The parts of docker-compose.yml the checks read. */
export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** A compose service, as far as the checks read it. */
export interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; target?: string; args?: unknown };
  container_name?: string;
  ports?: unknown[];
  environment?: Record<string, string | number | boolean | null> | string[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  depends_on?: string[] | Record<string, { condition?: string }>;
  volumes?: unknown[];
  command?: string | string[];
}

/** Path of a file at the repository root. */
export function repoPath(file: string): string {
  return fileURLToPath(new URL(`../${file}`, import.meta.url));
}

/** Reads and parses docker-compose.yml (YAML merge keys `<<:` allowed). */
export async function readComposeFile(path = repoPath("docker-compose.yml")): Promise<ComposeFile> {
  return parseYaml(await readFile(path, "utf8"), { merge: true }) as ComposeFile;
}

/** A compose service's `environment` as name → raw (uninterpolated) value. */
export function environmentOf(service: ComposeService): Record<string, string> {
  const environment = service.environment ?? {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      environment.map((entry) => {
        const at = entry.indexOf("=");
        return at < 0 ? [entry, ""] : [entry.slice(0, at), entry.slice(at + 1)];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(environment).map(([name, value]) => [name, value === null ? "" : String(value)]),
  );
}

/** Every string value anywhere in a parsed YAML document. */
function stringsIn(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (typeof value === "object" && value !== null) return Object.values(value).flatMap(stringsIn);
  return [];
}

/**
 * The default compose uses for each variable it interpolates. Throws when one variable has two
 * different defaults: `.env.example` could then show only one of them.
 */
export function composeDefaults(compose: ComposeFile): Map<string, string | undefined> {
  const defaults = new Map<string, string | undefined>();
  for (const text of stringsIn(compose)) {
    for (const { name, defaultValue } of interpolationsOf(text)) {
      if (defaults.has(name) && defaults.get(name) !== defaultValue) {
        throw new Error(
          `docker-compose.yml gives ${name} two defaults: ${String(defaults.get(name))} and ${String(defaultValue)}`,
        );
      }
      defaults.set(name, defaultValue);
    }
  }
  return defaults;
}

// ---------------------------------------------------------------------------------------------
// Rendering

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

function code(text: string): string {
  return text === "" ? '`""`' : "`" + text + "`";
}

/** What the table shows as a variable's default, and compose's when that differs. */
function defaultCell(variable: ConfigVariable, composeValue: string | undefined): string {
  if (variable.services[0] === COMPOSE_ONLY) {
    return composeValue === undefined ? "unset" : code(composeValue);
  }
  if (variable.computedDefault !== undefined) return variable.computedDefault;
  const shown = variable.required
    ? "required"
    : variable.defaultValue === undefined
      ? "unset"
      : code(variable.defaultValue);
  return composeValue === undefined || composeValue === (variable.defaultValue ?? "")
    ? shown
    : `${shown} (compose: ${code(composeValue)})`;
}

/** The README table. */
export function renderTable(
  variables: readonly ConfigVariable[],
  compose: ReadonlyMap<string, string | undefined>,
): string {
  const rows = variables.map(
    (variable) =>
      `| \`${variable.name}\` | ${variable.services.join(", ")} | ` +
      `${cell(defaultCell(variable, compose.get(variable.name)))} | ${cell(variable.meaning)} |`,
  );
  return [
    "Every variable each process reads, generated from their config schemas by",
    "`pnpm config:reference` (do not edit between the markers). `docker compose` reads the same",
    'names from `.env` (start from `.env.example`); "compose:" shows where its default differs.',
    "Without `FLOODWATCH_API_TOKEN` the system is open: anyone who reaches ingest or the API can",
    "upload flows and publish models, which is why compose publishes ports on 127.0.0.1 only unless",
    "`FLOODWATCH_PUBLISH_ADDRESS` says otherwise. `/health` never needs the token.",
    "",
    "| Variable | Read by | Default | Meaning |",
    "| --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}

/** The table of the launcher's own variables. */
export function renderLauncherTable(variables: readonly ConfigVariable[]): string {
  const rows = variables.map(
    (variable) =>
      `| \`${variable.name}\` | ${cell(defaultCell(variable, undefined))} | ${cell(variable.meaning)} |`,
  );
  return [
    "`pnpm start` runs every process on this machine. It reads these variables itself and passes",
    "its environment on to the services, so the table above applies to it too:",
    "",
    "| Variable | Default | Meaning |",
    "| --- | --- | --- |",
    ...rows,
  ].join("\n");
}

/** `.env.example`: every variable, its meaning and the value compose uses by default. */
export function renderEnvExample(
  variables: readonly ConfigVariable[],
  compose: ReadonlyMap<string, string | undefined>,
): string {
  const lines = [
    "# Configuration of `docker compose up`: copy this file to .env and change what you need.",
    "# Generated by `pnpm config:reference` from the services' config schemas and",
    "# docker-compose.yml: edit those, not this file. Each value is the one compose uses when .env",
    "# does not set it. The README's Configuration section has the same table.",
  ];
  for (const variable of variables) {
    const composeValue = compose.get(variable.name);
    const value = composeValue ?? variable.defaultValue ?? "";
    const notes = [variable.services.join(", ")];
    if (variable.required) notes.push("required");
    if (
      composeValue !== undefined &&
      variable.defaultValue !== undefined &&
      composeValue !== variable.defaultValue
    ) {
      notes.push(`outside compose: ${variable.defaultValue}`);
    }
    lines.push("", `# ${variable.meaning} [${notes.join("; ")}]`);
    if (variable.computedDefault !== undefined) {
      lines.push(`# leave unset: the default (${variable.computedDefault}) is computed at start`);
      lines.push(`# ${variable.name}=`);
    } else {
      lines.push(`${variable.name}=${value}`);
    }
  }
  return lines.join("\n") + "\n";
}

const START = "<!-- config:start -->";
const END = "<!-- config:end -->";

/** `readme` with the block between the markers replaced by `table`, formatted by prettier. */
export async function withReference(readme: string, table: string): Promise<string> {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md needs ${START} ... ${END}`);
  const text = readme.slice(0, start + START.length) + "\n" + table + "\n" + readme.slice(end);
  const options = await resolveConfig(repoPath("README.md"));
  return format(text, { ...options, parser: "markdown" });
}

/** The generated files, by repository path, with their expected content. */
export async function expectedFiles(): Promise<Map<string, string>> {
  const { variables } = describeVariables();
  const compose = composeDefaults(await readComposeFile());
  const readme = await readFile(repoPath("README.md"), "utf8");
  return new Map([
    [
      "README.md",
      await withReference(
        readme,
        renderTable(variables, compose) +
          "\n\n" +
          renderLauncherTable(describeVariables([LAUNCHER], {}).variables),
      ),
    ],
    [".env.example", renderEnvExample(variables, compose)],
  ]);
}

async function main(argv: string[]): Promise<number> {
  const check = argv.includes("--check");
  const { conflicts, problems } = describeVariables();
  problems.push(...describeVariables([LAUNCHER], {}).problems);
  for (const problem of problems) console.error(problem);
  for (const conflict of conflicts) {
    console.warn(
      `${conflict.name} means different things: ` +
        conflict.meanings.map((m) => `${m.service}: "${m.meaning}"`).join("; "),
    );
  }
  let stale = 0;
  for (const [file, expected] of await expectedFiles()) {
    const current = await readFile(repoPath(file), "utf8").catch(() => "");
    if (current === expected) continue;
    if (check) {
      console.error(`${file} is out of date: run pnpm config:reference`);
      stale += 1;
    } else {
      await writeFile(repoPath(file), expected);
      console.log(`wrote ${file}`);
    }
  }
  return stale === 0 && problems.length === 0 ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
