/**
 * The training worker in-process against a real redis-server: jobs as the API enqueues them,
 * progress on the channel, versions in the registry, and the reasons of failing jobs.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import {
  DEFAULT_FEATURES,
  FEW_TRAINING_WINDOWS,
  TOOL_VERSION,
  TRAINING_DEFAULTS,
  TrainingFlows,
  modelSummaryOf,
  parseModel,
  readTrainingSequence,
  trainModel,
} from "@floodwatch/core";
import {
  activeModelVersion,
  loadModel,
  startRedisServer,
  type RedisServer,
} from "@floodwatch/platform";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { generatedCsv, openTrainerTestBed, type TrainerTestBed } from "./trainer-test-support.ts";
import { decodeModelMeta } from "@floodwatch/core";

let server: RedisServer;
let bed: TrainerTestBed | undefined;
let prefixCount = 0;

beforeAll(async () => {
  server = await startRedisServer();
});
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});
afterAll(async () => {
  await server.stop();
});

async function open(): Promise<TrainerTestBed> {
  bed = await openTrainerTestBed(server.url, `trainer-worker-${++prefixCount}`);
  return bed;
}

/** Value of a labelled sample in Prometheus text exposition. */
function sample(text: string, name: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe("training worker", () => {
  it("trains generated benign flows into a new inactive version, reporting each stage", async () => {
    const t = await open();
    const csv = generatedCsv(5000, 11);
    const jobId = await t.submit(csv, { trees: "40", seed: "7" }, "benign.csv");
    const inputKey = t.keys.trainingInput(jobId);
    expect(await t.redis.llen(inputKey)).toBe(Math.ceil(Buffer.byteLength(csv) / (1 << 20)));
    const { metrics } = t.startWorker();

    const job = await t.finished(jobId);
    expect(job.failedReason).toBeFalsy();
    const result = job.returnvalue;
    // No training stride asked for: the default profile's, as `floodwatch train` picks it
    // (5,000 flows are fewer than the 5,000-window budget needs at stride 2, so stride 1).
    expect(result).toMatchObject({
      rowsRead: 5000,
      rowsRejected: 0,
      flows: 5000,
      flowsExcluded: 0,
      windows: 4951,
      trainStride: 1,
      warnings: [],
    });
    // The generator writes a Label column (all BENIGN here): evaluated, without attack windows.
    expect(result.evaluation).toMatchObject({ windows: 100, attackWindows: 0, precision: null });
    const completed = await t.published(jobId, "completed");
    expect(completed.version).toBe(result.version);
    expect(completed.progress.stage).toBe("stored");

    // Stages in order, each published once the job is active.
    const stages = t.statuses
      .filter((s) => s.jobId === jobId && s.state === "active")
      .map((s) => s.progress.stage);
    expect(stages.filter((s, i) => s !== stages[i - 1])).toEqual([
      "reading",
      "windows",
      "forest",
      "calibration",
      "evaluation",
      "stored",
    ]);
    const calibration = t.statuses.find(
      (s) => s.jobId === jobId && s.progress.stage === "calibration",
    )!;
    expect(calibration.progress).toEqual({
      stage: "calibration",
      rowsRead: 5000,
      windows: 4951,
      treesGrown: 40,
      trees: 40,
    });

    // Stored as a new version, not activated, with its metadata; the input is gone.
    const model = await loadModel(t.redis, t.keys, result.version);
    expect(model.training).toMatchObject({
      flows: 5000,
      windows: 4951,
      trainStride: 1,
      trees: 40,
      seed: 7,
    });
    expect(model.training.warnings).toBeUndefined();
    expect(model.training.sources).toEqual(["benign.csv"]);
    expect(await t.redis.zscore(t.keys.models, result.version)).not.toBeNull();
    expect(await activeModelVersion(t.redis, t.keys)).toBeNull();
    const meta = decodeModelMeta(await t.redis.hgetall(t.keys.modelMeta(result.version)));
    expect(meta).toMatchObject({
      origin: "trained",
      jobId,
      name: "benign.csv",
      rowsRead: 5000,
      labelled: true,
      flowsExcluded: 0,
      settings: { window: 50, stride: 50, trees: 40, seed: 7 },
    });
    expect(meta?.settings?.trainStride).toBeUndefined();
    expect(meta?.evaluation).toMatchObject({ windows: 100, attackWindows: 0, precision: null });
    expect(await t.redis.exists(inputKey)).toBe(0);

    const exposition = await metrics.registry.metrics();
    expect(sample(exposition, 'floodwatch_training_jobs_total{outcome="completed"}')).toBe(1);
    expect(
      sample(exposition, 'floodwatch_training_job_duration_seconds_count{outcome="completed"}'),
    ).toBe(1);
  });

  it("fails a file with too few rows, saying how many windows the settings need", async () => {
    const t = await open();
    const jobId = await t.submit(generatedCsv(400, 3), { trainStride: 50 });
    const { metrics } = t.startWorker();
    const job = await t.finished(jobId);
    expect(await job.getState()).toBe("failed");
    expect(job.failedReason).toMatch(
      /^too few training windows: 400 benign flows give 8 windows .* training needs at least 25 windows/,
    );
    const failed = await t.published(jobId, "failed");
    expect(failed.error).toBe(job.failedReason);
    expect(failed.progress.stage).toBe("windows");
    expect(await t.redis.exists(t.keys.trainingInput(jobId))).toBe(0);
    expect(await t.redis.zcard(t.keys.models)).toBe(0);
    expect(
      sample(await metrics.registry.metrics(), 'floodwatch_training_jobs_total{outcome="failed"}'),
    ).toBe(1);
  });

  it("trains, with no settings, the model `floodwatch train` builds from the same file", async () => {
    const t = await open();
    const csv = generatedCsv(3000, 31);
    const jobId = await t.submit(csv, {}, "benign.csv");
    t.startWorker();
    const job = await t.finished(jobId);
    expect(job.failedReason).toBeFalsy();

    // The CLI's call with every option left unset (train.ts passes TRAINING_DEFAULTS for the
    // forest and threshold settings, which are trainModel's own defaults).
    const flows = new TrainingFlows(DEFAULT_FEATURES.length);
    const input = Readable.from([Buffer.from(csv)]);
    await readTrainingSequence(input, flows, DEFAULT_FEATURES);
    const cli = trainModel(flows, {
      features: DEFAULT_FEATURES,
      trees: TRAINING_DEFAULTS.trees,
      maxSamples: TRAINING_DEFAULTS.maxSamples,
      quantile: TRAINING_DEFAULTS.quantile,
      seed: TRAINING_DEFAULTS.seed,
      createdAt: "2026-01-01T00:00:00.000Z",
      toolVersion: TOOL_VERSION,
      contentHash: `sha256:${createHash("sha256").update(csv).digest("hex")}`,
      sources: ["benign.csv"],
    });
    // The version digests everything but the creation time: same settings, same model.
    expect(job.returnvalue.version).toBe(cli.version);
    expect(job.returnvalue.trainStride).toBe(cli.training.trainStride);
    expect(cli.training.windows).toBe(2951);
  });

  it("records a warning in the model when it is trained on too few windows", async () => {
    const t = await open();
    // 3,000 flows at training stride 50: 60 windows, fewer than FEW_TRAINING_WINDOWS.
    const jobId = await t.submit(generatedCsv(3000, 32), { trainStride: 50, trees: 20 });
    t.startWorker();
    const job = await t.finished(jobId);
    expect(job.failedReason).toBeFalsy();
    const result = job.returnvalue;
    expect(result.windows).toBe(60);
    expect(FEW_TRAINING_WINDOWS).toBeGreaterThan(60);
    expect(result.warnings[0]).toBe(
      `trained on 60 windows, fewer than ${FEW_TRAINING_WINDOWS}: with this little benign ` +
        `traffic the false-alarm rate on a new day runs above what the lab measured ` +
        `(docs/detection.md) — train on more benign flows or with a smaller --train-stride`,
    );
    // 12 validation windows at the 1% quantile: the second warning, about the threshold.
    expect(result.warnings).toHaveLength(2);
    expect(result.warnings[1]).toMatch(/^the threshold rests on 12 validation windows/);
    const model = await loadModel(t.redis, t.keys, result.version);
    expect(model.training.warnings).toEqual(result.warnings);
    expect(modelSummaryOf(model).warnings).toEqual(result.warnings);
  });

  it("fails a file without the feature columns, naming the missing ones", async () => {
    const t = await open();
    const jobId = await t.submit(
      "Flow Duration,Total Fwd Packets,Colour\n1,2,red\n",
      { features: "Flow Duration,Total Fwd Packets,Flow Bytes/s,SYN Flag Count" },
      "odd.csv",
    );
    t.startWorker();
    const job = await t.finished(jobId);
    expect(job.failedReason).toBe(
      "odd.csv: line 1: missing required columns: Flow Bytes/s, SYN Flag Count " +
        "(columns seen: Flow Duration, Total Fwd Packets, Colour)",
    );
  });

  it("fails a file that is not text, with the line of the problem", async () => {
    const t = await open();
    const jobId = await t.submit(
      Buffer.from("Flow Duration\n12\n\u0000\u0001\u0002\n"),
      {},
      "x.bin",
    );
    t.startWorker();
    const job = await t.finished(jobId);
    expect(job.failedReason).toBe(
      "x.bin: line 3: not a CSV text file: a NUL byte at offset 17 (binary data?)",
    );
  });

  it("fails a job whose input expired", async () => {
    const t = await open();
    const jobId = await t.submit(generatedCsv(3000, 5));
    await t.redis.del(t.keys.trainingInput(jobId));
    t.startWorker();
    const job = await t.finished(jobId);
    expect(job.failedReason).toMatch(/training input .* is gone \(expired or already used\)/);
  });

  it("leaves labelled attack rows out of training, counts them and evaluates on them", async () => {
    const t = await open();
    const csv = generatedCsv(6000, 21, "syn");
    const attackRows = csv
      .trimEnd()
      .split("\n")
      .slice(1)
      .filter((line) => !line.endsWith(",BENIGN")).length;
    expect(attackRows).toBeGreaterThan(1000);
    const jobId = await t.submit(csv, { trees: 40 }, "syn.csv");
    t.startWorker();
    const job = await t.finished(jobId);
    const result = job.returnvalue;
    expect(result.flowsExcluded).toBe(attackRows);
    expect(result.flows).toBe(6000 - attackRows);
    expect(result.evaluation).not.toBeNull();
    const evaluation = result.evaluation!;
    expect(evaluation.windows).toBe(120);
    expect(evaluation.attackWindows).toBeGreaterThan(30);
    // The new model ranks the attack windows below the benign ones (whether its threshold,
    // calibrated on 19 benign windows, flags them is another matter: recall is reported as is).
    expect(evaluation.rocAuc).toBeGreaterThan(0.9);
    expect(evaluation.recall).toEqual(expect.any(Number));
    expect(evaluation.precision).toEqual(expect.any(Number));
    const meta = decodeModelMeta(await t.redis.hgetall(t.keys.modelMeta(result.version)));
    expect(meta?.flowsExcluded).toBe(attackRows);
    expect(meta?.evaluation).toEqual(evaluation);
    expect((await loadModel(t.redis, t.keys, result.version)).training.flowsExcluded).toBe(
      attackRows,
    );
  });

  it("runs two trainings at once and stores two distinct versions", async () => {
    const t = await open();
    const csv = generatedCsv(3000, 8);
    const first = await t.submit(csv, { trees: 30, seed: 1 });
    const second = await t.submit(csv, { trees: 30, seed: 2 });
    const { worker } = t.startWorker(2);
    expect(worker.concurrency).toBe(2);
    const [a, b] = await Promise.all([t.finished(first), t.finished(second)]);
    expect(a.returnvalue.version).not.toBe(b.returnvalue.version);
    expect(await t.redis.zcard(t.keys.models)).toBe(2);
    const seeds = await Promise.all(
      [a, b].map(
        async (job) => (await loadModel(t.redis, t.keys, job.returnvalue.version)).training.seed,
      ),
    );
    expect(seeds).toEqual([1, 2]);
    // The stored text is a valid model file under its own version.
    const text = (await t.redis.get(t.keys.model(a.returnvalue.version)))!;
    expect(parseModel(text).version).toBe(a.returnvalue.version);
  });
});
