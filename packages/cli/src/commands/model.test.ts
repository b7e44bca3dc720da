/**
 * `floodwatch model` run as a user runs it (a child process, exit codes, real files) against a
 * real listening API with the model routes, on a private redis-server.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  LAB_FALSE_ALARMS,
  LAB_FALSE_ALARMS_SOURCE,
  modelVersionOf,
  parseModel,
  serializeModel,
} from "@floodwatch/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startModelApi,
  type ModelApiFixture,
} from "../../../../services/api/src/models/model-api-fixture.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const MAIN = resolve(HERE, "../main.ts");
const DEFAULT_MODEL = resolve(HERE, "../../../core/models/default-model.json");
const TOKEN = "s3cret-token";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let api: ModelApiFixture;
let dir: string;

function floodwatch(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, FLOODWATCH_API_URL: api.url!, FLOODWATCH_API_TOKEN: TOKEN, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  api = await startModelApi({ prefix: "cli-model", listen: true, requireToken: TOKEN });
  dir = await mkdtemp(join(tmpdir(), "floodwatch-model-"));
});
afterAll(async () => {
  await api?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("floodwatch model", () => {
  it("publishes, lists, activates and downloads through the API", async () => {
    const defaultModel = parseModel(await readFile(DEFAULT_MODEL, "utf8"));
    // A second, distinct model: the default with another threshold and a training warning,
    // under its own version.
    const warning = "trained on 62 windows, fewer than 300";
    const variant = {
      ...defaultModel,
      threshold: { ...defaultModel.threshold, value: -0.25 },
      training: { ...defaultModel.training, warnings: [warning] },
    };
    variant.version = modelVersionOf(variant);
    const variantPath = join(dir, "variant.json");
    await writeFile(variantPath, serializeModel(variant));

    const published = await floodwatch(["model", "publish", DEFAULT_MODEL]);
    expect(published).toMatchObject({ code: 0, stderr: "" });
    expect(published.stdout).toBe(`published ${defaultModel.version} (active)\n`);
    const inactive = await floodwatch(["model", "publish", variantPath, "--no-activate"]);
    expect(inactive.stdout).toBe(`published ${variant.version} (not active)\n`);

    const listed = await floodwatch(["model", "list"]);
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trimEnd().split("\n");
    // The table, the source of the lab's figure (the default model is default-profile), then
    // the warnings.
    expect(lines).toHaveLength(5);
    expect(lines[0]!.split(/\s+/)).toEqual([
      "VERSION",
      "ACTIVE",
      "TRAINED",
      "THRESHOLD",
      "QUANTILE",
      "FPR",
      "LAB",
      "FPR",
      "FLOWS",
      "WINDOWS",
    ]);
    const lab = LAB_FALSE_ALARMS.default;
    const labCell = `${lab.mean.toFixed(2)} (${lab.low.toFixed(2)}-${lab.high.toFixed(2)})`;
    const trained = defaultModel.createdAt.slice(0, 16).replace("T", " ");
    expect(lines[1]!.split(/\s{2,}/)).toEqual([
      `${variant.version} !`,
      trained,
      "-0.2500",
      String(defaultModel.threshold.quantile),
      defaultModel.threshold.validationFpr.toFixed(4),
      labCell,
      String(defaultModel.training.flows),
      String(defaultModel.training.windows),
    ]);
    expect(lines[2]!.split(/\s{2,}/)).toEqual([
      defaultModel.version,
      "*",
      trained,
      defaultModel.threshold.value.toFixed(4),
      String(defaultModel.threshold.quantile),
      defaultModel.threshold.validationFpr.toFixed(4),
      labCell,
      String(defaultModel.training.flows),
      String(defaultModel.training.windows),
    ]);
    expect(lines[3]).toBe(`LAB FPR: false alarms on other days, ${LAB_FALSE_ALARMS_SOURCE}`);
    expect(lines[4]).toBe(`! ${variant.version}: ${warning}`);

    const activated = await floodwatch(["model", "activate", variant.version]);
    expect(activated).toMatchObject({ code: 0, stderr: "" });
    expect(activated.stdout).toBe(
      `active model: ${variant.version} (was ${defaultModel.version})\n`,
    );
    const json = await floodwatch(["model", "list", "--json", "--token", TOKEN], {
      FLOODWATCH_API_TOKEN: "",
    });
    expect(JSON.parse(json.stdout)).toMatchObject({
      active: variant.version,
      models: [
        { version: variant.version, active: true },
        { version: defaultModel.version, active: false },
      ],
    });

    const out = join(dir, "downloaded.json");
    const downloaded = await floodwatch(["model", "download", defaultModel.version, "--out", out]);
    expect(downloaded.stdout).toBe(`downloaded ${defaultModel.version} to ${out}\n`);
    const text = await readFile(out, "utf8");
    expect(parseModel(text).version).toBe(defaultModel.version);
    expect(text).toBe(serializeModel(defaultModel));
  });

  it("exits 1 with the API's reason, and 2 on a wrong command line", async () => {
    const unknown = await floodwatch(["model", "activate", "0123456789ab"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(
      "floodwatch: POST /api/models/0123456789ab/activate: 404 " +
        "model version 0123456789ab is not in the registry\n",
    );
    const noToken = await floodwatch(["model", "list"], { FLOODWATCH_API_TOKEN: "" });
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toBe("floodwatch: GET /api/models: 401 missing or wrong token\n");
    const unreachable = await floodwatch(["model", "list", "--api", "http://127.0.0.1:9"]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(
      /^floodwatch: cannot reach the API at http:\/\/127\.0\.0\.1:9: /,
    );

    const notModel = join(dir, "not-a-model.json");
    await writeFile(notModel, '{"hello":"world"}');
    const bad = await floodwatch(["model", "publish", notModel]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      'floodwatch: not a floodwatch model file (format is not "floodwatch-model")\n',
    );

    const noOut = await floodwatch(["model", "download", "0123456789ab"]);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/^floodwatch: --out is required\nusage: floodwatch model /);
    const noAction = await floodwatch(["model", "frobnicate"]);
    expect(noAction.code).toBe(2);
    expect(noAction.stderr).toMatch(/^floodwatch: unknown model action frobnicate\n/);
    const badUrl = await floodwatch(["model", "list", "--api", "not a url"]);
    expect(badUrl.code).toBe(2);
  });
});
