/**
 * `floodwatch model list|publish|activate|download`: the model registry of a running floodwatch,
 * through its API.
 */
import { readFile, writeFile } from "node:fs/promises";
import {
  errorBodySchema,
  modelActivatedSchema,
  modelListSchema,
  modelPublishedSchema,
  parseModel,
} from "@floodwatch/core";
import { z } from "zod";
import { DataError, UsageError } from "../cli-error.ts";
import { loadModelFile } from "../model-loading.ts";
import { type CommandSpec, type OptionValues, stringOption } from "../options.ts";

/** Where the API is when neither `--api` nor `FLOODWATCH_API_URL` says. */
const DEFAULT_API_URL = "http://localhost:8080";

/** The API refused a request or could not be reached. */
export class ApiRequestError extends DataError {
  override readonly name = "ApiRequestError";
}

/** How to reach the API: base URL and optional bearer token. */
interface ApiTarget {
  base: URL;
  token: string | undefined;
}

function apiTarget(values: OptionValues): ApiTarget {
  const raw = stringOption(values, "api") ?? process.env.FLOODWATCH_API_URL ?? DEFAULT_API_URL;
  let base: URL;
  try {
    base = new URL(raw);
  } catch {
    throw new UsageError(`--api must be a URL, got ${raw}`);
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new UsageError(`--api must be an http:// or https:// URL, got ${raw}`);
  }
  const token = stringOption(values, "token") ?? (process.env.FLOODWATCH_API_TOKEN || undefined);
  return { base, token };
}

/** Sends a request; a refusal or an unreachable API becomes an {@link ApiRequestError}. */
async function request(
  target: ApiTarget,
  method: "GET" | "POST",
  path: string,
  body?: { type: string; text: string },
): Promise<Response> {
  const url = new URL(path.replace(/^\//, ""), target.base.href.replace(/\/?$/, "/"));
  const headers: Record<string, string> = {};
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  if (body) headers["content-type"] = body.type;
  let response: Response;
  try {
    response = await fetch(url, { method, headers, ...(body ? { body: body.text } : {}) });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new ApiRequestError(
      `cannot reach the API at ${target.base.origin}: ${cause ?? (error as Error).message}`,
    );
  }
  if (!response.ok) {
    const text = await response.text();
    let message = text.trim() || response.statusText;
    try {
      const parsed = errorBodySchema.safeParse(JSON.parse(text));
      if (parsed.success) message = parsed.data.message;
    } catch {
      // not JSON: the text itself
    }
    throw new ApiRequestError(`${method} ${url.pathname}: ${response.status} ${message}`);
  }
  return response;
}

async function json<T>(response: Response, schema: z.ZodType<T>, what: string): Promise<T> {
  const parsed = schema.safeParse(await response.json().catch(() => undefined));
  if (!parsed.success) throw new ApiRequestError(`unexpected answer to ${what}`);
  return parsed.data;
}

/** Aligned text columns, the first row being the header. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function onePositional(positionals: string[], what: string): string {
  const [value, ...extra] = positionals;
  if (value === undefined) throw new UsageError(`${what} is required`);
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(" ")}`);
  return value;
}

async function list(target: ApiTarget, values: OptionValues): Promise<void> {
  const response = await request(target, "GET", "/api/models");
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(await response.json())}\n`);
    return;
  }
  const { models } = await json(response, modelListSchema, "GET /api/models");
  const rows = [
    ["VERSION", "ACTIVE", "TRAINED", "THRESHOLD", "QUANTILE", "FPR", "LAB FPR", "FLOWS", "WINDOWS"],
  ];
  const warnings: string[] = [];
  for (const m of models) {
    const lab = m.falseAlarms.measured;
    rows.push([
      m.version + (m.warnings.length > 0 ? " !" : ""),
      m.active ? "*" : "",
      m.trainedAt.slice(0, 16).replace("T", " "),
      m.threshold.toFixed(4),
      String(m.quantile),
      m.validationFpr.toFixed(4),
      lab === null ? "-" : `${lab.mean.toFixed(2)} (${lab.low.toFixed(2)}-${lab.high.toFixed(2)})`,
      String(m.trainingFlows),
      String(m.trainingWindows),
    ]);
    for (const warning of m.warnings) warnings.push(`! ${m.version}: ${warning}`);
  }
  process.stdout.write(`${table(rows)}\n`);
  // FPR is the model's own validation rate; LAB FPR what the lab measured on other days.
  const source = models.find((m) => m.falseAlarms.measured !== null)?.falseAlarms.measured;
  if (source) process.stdout.write(`LAB FPR: false alarms on other days, ${source.source}\n`);
  if (warnings.length > 0) process.stdout.write(`${warnings.join("\n")}\n`);
}

async function publish(target: ApiTarget, path: string, activate: boolean): Promise<void> {
  // Checked here first: a broken file fails with the same message the API would give, offline.
  await loadModelFile(path);
  const text = await readFile(path, "utf8");
  const response = await request(
    target,
    "POST",
    `/api/models/publish?activate=${activate ? "true" : "false"}`,
    { type: "application/json", text },
  );
  const published = await json(response, modelPublishedSchema, "POST /api/models/publish");
  process.stdout.write(
    `${published.created ? "published" : "already registered:"} ${published.version}` +
      `${published.active ? " (active)" : " (not active)"}\n`,
  );
}

async function activate(target: ApiTarget, version: string): Promise<void> {
  const response = await request(
    target,
    "POST",
    `/api/models/${encodeURIComponent(version)}/activate`,
  );
  const activated = await json(response, modelActivatedSchema, "activate");
  process.stdout.write(`active model: ${activated.active} (was ${activated.previous ?? "none"})\n`);
}

async function download(target: ApiTarget, version: string, out: string): Promise<void> {
  const response = await request(
    target,
    "GET",
    `/api/models/${encodeURIComponent(version)}/download`,
  );
  const text = await response.text();
  const model = parseModel(text);
  if (model.version !== version) {
    throw new ApiRequestError(`asked for model ${version}, the API sent ${model.version}`);
  }
  await writeFile(out, text);
  process.stdout.write(`downloaded ${version} to ${out}\n`);
}

export const modelCommand: CommandSpec = {
  name: "model",
  usage:
    "model list [--json] | publish MODEL [--no-activate] | activate VERSION | " +
    "download VERSION --out FILE  [--api URL] [--token TOKEN]",
  options: {
    api: { type: "string" },
    token: { type: "string" },
    out: { type: "string" },
    json: { type: "boolean" },
    "no-activate": { type: "boolean" },
  },
  async run({ values, positionals }) {
    const [action, ...rest] = positionals;
    const target = apiTarget(values);
    switch (action) {
      case "list":
        if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(" ")}`);
        return list(target, values);
      case "publish":
        return publish(target, onePositional(rest, "MODEL"), values["no-activate"] !== true);
      case "activate":
        return activate(target, onePositional(rest, "VERSION"));
      case "download":
        return download(
          target,
          onePositional(rest, "VERSION"),
          stringOption(values, "out", { required: true }),
        );
      case undefined:
        throw new UsageError("model needs an action: list, publish, activate or download");
      default:
        throw new UsageError(`unknown model action ${action}`);
    }
  },
};
