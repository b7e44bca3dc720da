/**
 * The `floodwatch` command line, run as a user runs it: a child process, real files, exit codes.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  incidentFacts,
  incidentSchema,
  incidentTrackerOptions,
  trackIncidents,
} from "@floodwatch/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), "main.ts");
const DATA = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../shared/data");
const realData = existsSync(resolve(DATA, "cicids2017/friday-ddos.csv"));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function floodwatch(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, SOURCE_DATE_EPOCH: "1767225600" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(stdin ?? "");
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "floodwatch-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("floodwatch on generated data", () => {
  it("generates, trains, scores and evaluates", async () => {
    const benign = join(dir, "benign.csv");
    const attack = join(dir, "syn.csv");
    const model = join(dir, "model.json");
    expect(
      (await floodwatch(["generate", "--out", benign, "--flows", "20000", "--seed", "1"])).code,
    ).toBe(0);
    expect(
      (
        await floodwatch([
          "generate",
          "--out",
          attack,
          "--flows",
          "3000",
          "--attack",
          "syn",
          "--seed",
          "2",
        ])
      ).code,
    ).toBe(0);
    expect((await readFile(benign, "utf8")).trimEnd().split("\n")).toHaveLength(20001);

    const trained = await floodwatch(["train", "--out", model, "--train-stride", "10", benign]);
    expect(trained.stderr).toBe("");
    expect(trained.code).toBe(0);
    const summary = JSON.parse(trained.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({
      flows: 20000,
      windows: 1996,
      fitWindows: 1596,
      window: { size: 50, stride: 50 },
      warnings: [],
    });
    // The default profile's settings: the lab's other-day figure stands beside the promise.
    expect(summary.falseAlarms).toMatchObject({
      promised: summary.validationFpr,
      measured: { profile: "default", mean: 0.04 },
    });

    // Reproducible: the same data, seed and SOURCE_DATE_EPOCH give the same bytes.
    const again = join(dir, "model-again.json");
    await floodwatch(["train", "--out", again, "--train-stride", "10", benign]);
    expect(await readFile(again, "utf8")).toBe(await readFile(model, "utf8"));

    const scored = await floodwatch(["score", "--model", model, attack]);
    expect(scored.code).toBe(0);
    const records = scored.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, number | boolean>);
    expect(records).toHaveLength(60);
    expect(Object.keys(records[0]!)).toEqual([
      "window",
      "firstLine",
      "lastLine",
      "score",
      "anomaly",
      "pc1",
      "pc2",
      "attackFlows",
      "detectors",
      "start",
      "end",
      "victims",
      "sources",
      "ports",
      "explanation",
      "explanationFeatures",
    ]);
    // Each voting detector's own score beside the fused one (the default profile's: the forest
    // and Mahalanobis).
    expect(Object.keys(records[0]!.detectors as unknown as object)).toEqual([
      "forest",
      "mahalanobis",
    ]);
    expect(records[0]).toMatchObject({ window: 0, firstLine: 2, lastLine: 51 });
    expect(scored.stderr).toContain("3000 rows accepted, 0 rejected, 60 windows scored");

    const csv = await floodwatch(["score", "--model", model, "--format", "csv", attack]);
    const csvLines = csv.stdout.trimEnd().split("\n");
    expect(csvLines[0]).toBe(
      "window,firstLine,lastLine,score,anomaly,pc1,pc2,attackFlows,start,end,victim,victimFlows," +
        "distinctSources,port,protocol,topFeature,topStatistic,topWeight",
    );
    expect(csvLines).toHaveLength(61);

    const evaluated = await floodwatch(["eval", "--model", model, attack]);
    expect(evaluated.code).toBe(0);
    const metrics = JSON.parse(evaluated.stdout) as Record<string, number>;
    expect(metrics.scoredWindows).toBe(60);
    expect(metrics.droppedWindows).toBe(0);
    expect(metrics.flows).toBe(3000);
    expect(metrics.tp! + metrics.fp! + metrics.fn! + metrics.tn!).toBe(60);
    // The generated SYN flood separates almost perfectly by rank; at the default quantile
    // (few false alarms) the benign tail of the generator costs some recall.
    expect(metrics.rocAuc).toBeGreaterThan(0.99);
    expect(metrics.precision).toBeGreaterThan(0.9);
    expect(metrics.recall).toBeGreaterThan(0.3);

    // `-` reads standard input.
    const fromStdin = await floodwatch(
      ["score", "--model", model, "-"],
      await readFile(attack, "utf8"),
    );
    expect(fromStdin.stdout).toBe(scored.stdout);
  });
});

describe("floodwatch incidents", () => {
  it("prints the incidents of the windows floodwatch score prints, one per line", async () => {
    const flood = join(dir, "incident-flood.csv");
    const model = resolve(
      dirname(fileURLToPath(import.meta.url)),
      "../../core/models/default-model.json",
    );
    expect(
      (
        await floodwatch([
          "generate",
          "--out",
          flood,
          "--flows",
          "8000",
          "--attack",
          "syn",
          "--seed",
          "4",
        ])
      ).code,
    ).toBe(0);
    const scored = await floodwatch(["score", "--model", model, flood]);
    const windows = scored.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { window: number; score: number; anomaly: boolean });
    const run = await floodwatch(["incidents", "--model", model, "--close-after", "2", flood]);
    expect(run.code).toBe(0);
    const incidents = run.stdout
      .trim()
      .split("\n")
      .map((line) => incidentSchema.parse(JSON.parse(line)));
    const { version } = JSON.parse(await readFile(model, "utf8")) as { version: string };
    const expected = trackIncidents(
      "incident-flood.csv",
      windows.map((w) => ({ ...w, modelVersion: version })),
      incidentTrackerOptions({ size: 50, stride: 50 }, 2),
    );
    expect(incidents.length).toBeGreaterThan(0);
    expect(incidents.map(incidentFacts)).toEqual(expected.map(incidentFacts));
    expect(incidents.map((i) => i.id)).toEqual(
      expected.map((_, n) => `incident-flood.csv-${n + 1}`),
    );
    expect(run.stderr).toContain("windows scored");
  });

  it("exits 2 on a bad --close-after", async () => {
    const run = await floodwatch(["incidents", "--model", "m.json", "--close-after", "0", "x.csv"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--close-after must be at least 1, got 0");
  });
});

describe("floodwatch errors", () => {
  it.each([
    [["frobnicate"], "floodwatch: unknown command frobnicate"],
    [["train", "x.csv"], "floodwatch: --out is required"],
    [
      ["train", "--out", "m.json", "--window", "1", "x.csv"],
      "floodwatch: --window must be at least 2, got 1",
    ],
    [
      ["train", "--out", "m.json", "--stride", "abc", "x.csv"],
      "floodwatch: --stride must be an integer, got abc",
    ],
    [
      ["train", "--out", "m.json", "/no/such.csv"],
      "floodwatch: cannot read /no/such.csv: no such file",
    ],
    [
      ["score", "--model", "/no/model.json", "x.csv"],
      "floodwatch: cannot read model /no/model.json: no such file",
    ],
    [["score", "--bogus"], "floodwatch: Unknown option '--bogus'"],
    [
      ["generate", "--out", "-", "--flows", "10", "--attack", "teardrop"],
      "floodwatch: --attack must be one of none, syn, udp, http, slowloris, got teardrop",
    ],
  ])("exits 2 on usage error %j", async (args, message) => {
    const run = await floodwatch(args);
    expect(run.code).toBe(2);
    expect(run.stderr.split("\n")[0]).toContain(message);
    expect(run.stderr).toContain("usage: floodwatch");
  });

  it("prints a command's usage with --help and exits 0", async () => {
    const run = await floodwatch(["train", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^usage: floodwatch train --out MODEL /);
    expect(run.stderr).toBe("");
  });

  it("exits 1 naming the missing columns of a file", async () => {
    const bad = join(dir, "bad.csv");
    await writeFile(bad, "Flow Duration,Protocol\n1,6\n");
    const model = join(dir, "m.json");
    const run = await floodwatch(["train", "--out", model, bad]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(`^floodwatch: ${bad}: line 1: missing required columns: Total Fwd Packets, `),
    );
    expect(run.stderr).toContain("(columns seen: Flow Duration, Protocol)");
  });

  it("exits 1 on a corrupt model file", async () => {
    const model = join(dir, "corrupt.json");
    await writeFile(model, '{"format":"floodwatch-model","formatVersion":1}');
    const run = await floodwatch(["score", "--model", model, "-"], "x\n");
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^floodwatch: invalid model file at version/);
  });

  it("exits 1 with the reason when there are too few windows", async () => {
    const small = join(dir, "small.csv");
    expect((await floodwatch(["generate", "--out", small, "--flows", "300"])).code).toBe(0);
    // At the serving stride: the default profile would lower the stride to 1 and manage.
    const run = await floodwatch([
      "train",
      "--out",
      join(dir, "m2.json"),
      "--train-stride",
      "50",
      small,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      "floodwatch: too few training windows: 300 benign flows give 6 windows",
    );
  });
});

describe.skipIf(!realData)("floodwatch on CIC-IDS2017", () => {
  it("trains on benign flows and evaluates Friday's DDoS", async () => {
    const model = join(dir, "real.json");
    const trained = await floodwatch([
      "train",
      "--out",
      model,
      "--train-stride",
      "10",
      resolve(DATA, "cicids2017/train-benign-mon-tue-thu.csv"),
    ]);
    expect(trained.code).toBe(0);
    const evaluated = await floodwatch([
      "eval",
      "--model",
      model,
      resolve(DATA, "cicids2017/friday-ddos.csv"),
    ]);
    expect(evaluated.code).toBe(0);
    const metrics = JSON.parse(evaluated.stdout) as Record<string, number>;
    expect(metrics.scoredWindows).toBe(117);
    expect(metrics.flows).toBe(5886);
    expect(metrics.recall).toBeGreaterThan(0.95);
  });
});
