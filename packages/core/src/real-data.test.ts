/**
 * Tests on genuine CIC-IDS2017 flows from ../shared/data (see its README). They are skipped, with
 * a message saying so, only on a checkout without ../shared beside it.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { FlowCsvReader } from "./flow-csv-reader.ts";
import { DEFAULT_FEATURES } from "./flow-features.ts";
import { FlowScoringSession } from "./flow-scoring.ts";
import type { FloodwatchModel } from "./model-file.ts";
import { TrainingFlows, trainModel } from "./model-training.ts";
import { WindowEvaluation } from "./window-evaluation.ts";
import {
  loadLabData,
  meanRecall,
  measureModel,
  trainLabModel,
  worstSurge,
  type LabRun,
} from "../bench/detection-lab.ts";
import { explainerFor, windowFindings, type WindowFindings } from "./window-findings.ts";
import type { FlowBatch } from "./window-aggregator.ts";

const DATA = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../shared/data");
const present = existsSync(resolve(DATA, "cicids2017/train-benign-mon-tue-thu.csv"));
if (!present)
  console.warn(`real-data tests skipped: ${DATA} is absent (no ../shared beside this checkout)`);

function readBatches(bytes: Uint8Array | string): { reader: FlowCsvReader; batches: FlowBatch[] } {
  const reader = new FlowCsvReader({ features: DEFAULT_FEATURES });
  const batches = [...reader.push(bytes), ...reader.end()];
  return { reader, batches };
}

function score(
  model: FloodwatchModel,
  bytes: Uint8Array | string,
  rule: "any" | "majority" = "any",
) {
  const { reader, batches } = readBatches(bytes);
  const session = new FlowScoringSession(model);
  const evaluation = new WindowEvaluation(model.window.size, rule);
  for (const batch of batches) {
    const { windows, scores } = session.push(batch);
    evaluation.add(scores.decision, scores.anomaly, windows.attackFlows, windows.count);
  }
  return { reader, session, metrics: evaluation.result() };
}

describe.skipIf(!present)("CIC-IDS2017 real flows", () => {
  let model: FloodwatchModel;

  beforeAll(() => {
    const flows = new TrainingFlows(DEFAULT_FEATURES.length);
    const { batches } = readBatches(
      readFileSync(resolve(DATA, "cicids2017/train-benign-mon-tue-thu.csv")),
    );
    for (const batch of batches) flows.add(batch);
    flows.endSequence();
    model = trainModel(flows, {
      features: DEFAULT_FEATURES,
      trainStride: 10,
      createdAt: "2026-01-01T00:00:00.000Z",
      toolVersion: "test",
      contentHash: "sha256:test",
      sources: ["train-benign-mon-tue-thu.csv"],
    });
  });

  it("trains on benign Monday/Tuesday/Thursday flows", () => {
    expect(model.training.flows).toBe(3109);
    expect(model.training.windows).toBe(306);
    expect(model.training.fitWindows).toBe(244);
    expect(model.training.validationWindows).toBe(58);
    expect(model.threshold.validationFpr).toBeLessThanOrEqual(0.02);
  });

  it("detects Wednesday's DoS windows", () => {
    const { metrics, session } = score(
      model,
      readFileSync(resolve(DATA, "cicids2017/wednesday-dos.csv")),
    );
    expect(metrics.scoredWindows).toBe(332); // floor(16604 / 50)
    expect(session.tailFlows).toBe(4);
    expect(metrics.droppedWindows).toBe(0);
    expect(metrics.recall).toBeGreaterThan(0.95);
    expect(metrics.precision).toBeGreaterThan(0.95);
    expect(metrics.rocAuc).toBeGreaterThan(0.95);
  });

  it("detects Friday's DDoS windows", () => {
    const { metrics, session } = score(
      model,
      readFileSync(resolve(DATA, "cicids2017/friday-ddos.csv")),
    );
    expect(metrics.scoredWindows).toBe(117); // floor(5886 / 50)
    expect(session.tailFlows).toBe(36);
    expect(metrics.recall).toBeGreaterThan(0.95);
    expect(metrics.precision).toBeGreaterThan(0.9);
    expect(metrics.rocAuc).toBeGreaterThan(0.95);
  });

  it("names 192.168.10.50 as the top victim of Friday's anomalous windows, at July 2017 times", () => {
    const { batches } = readBatches(readFileSync(resolve(DATA, "cicids2017/friday-ddos.csv")));
    const session = new FlowScoringSession(model);
    const anomalous: WindowFindings[] = [];
    for (const batch of batches) {
      const scored = session.push(batch);
      for (let w = 0; w < scored.windows.count; w++) {
        if (scored.scores.anomaly[w] !== 1) continue;
        anomalous.push(windowFindings(scored, w, "anomalies", explainerFor(model)));
      }
    }
    const named = anomalous.filter((f) => f.victims?.[0]?.ip === "192.168.10.50").length;
    expect(anomalous.length).toBeGreaterThan(90);
    expect(named / anomalous.length).toBeGreaterThanOrEqual(0.95);
    // The LOIC flood: one source, port 80/TCP; its windows fall in the DDoS period (7 July
    // 18:56-19:16 UTC, per the data's README).
    const flood = anomalous.filter((f) => f.sources?.top[0]?.ip === "172.16.0.1");
    expect(flood.length).toBeGreaterThan(80);
    for (const f of flood) {
      if (f.sources!.top[0]!.flows === 50) {
        expect(f.ports).toEqual([{ port: 80, protocol: 6, flows: 50 }]);
        expect(f.start! >= "2017-07-07T18:56" && f.end! < "2017-07-07T19:17").toBe(true);
      }
      expect(f.start!.slice(0, 10)).toBe("2017-07-07");
      expect(f.explanation).toHaveLength(5);
    }
  });

  it("reads the original MachineLearningCSV layout with zero dropped windows", () => {
    const file = readFileSync(
      resolve(DATA, "cicids2017-original-layout/friday-benign-head-machinelearningcsv.csv"),
    );
    const { reader, session, metrics } = score(model, file);
    expect(reader.stats.rowsAccepted).toBe(9998);
    expect(reader.stats.rowsRejected).toBe(0);
    expect(reader.stats.nonFiniteValues).toBe(14);
    expect(session.valuesReplaced).toBe(14);
    expect(metrics.scoredWindows).toBe(199);
    expect(metrics.droppedWindows).toBe(0);
  });

  it("reads the original GeneratedLabelledFlows layout with zero dropped windows", () => {
    const file = readFileSync(
      resolve(DATA, "cicids2017-original-layout/friday-benign-head-generatedlabelledflows.csv"),
    );
    const { reader, session, metrics } = score(model, file);
    expect(reader.stats.rowsAccepted).toBe(299);
    expect(reader.stats.nonFiniteValues).toBe(2);
    expect(metrics.scoredWindows).toBe(5);
    expect(session.tailFlows).toBe(49);
  });

  it("puts the original layout's day-first `7/7/2017 3:30` windows in July 2017", () => {
    const file = readFileSync(
      resolve(DATA, "cicids2017-original-layout/friday-benign-head-generatedlabelledflows.csv"),
    );
    const { reader, batches } = readBatches(file);
    const session = new FlowScoringSession(model);
    const times: (string | null)[] = [];
    for (const batch of batches) {
      const scored = session.push(batch);
      for (let w = 0; w < scored.windows.count; w++) {
        const f = windowFindings(scored, w, "none", null);
        times.push(f.start, f.end);
        expect(f.victims).not.toBeNull();
        expect(f.sources!.distinct).toBeGreaterThan(0);
      }
    }
    expect(reader.stats.timestampsUnparsed).toBe(0);
    expect(times).toHaveLength(10);
    for (const t of times) expect(t).toBe("2017-07-07T03:30:00.000Z");
  });

  it("reads a CIC-DDoS2019-style export: index column, .1 duplicate, empty cells, extra columns, cut-off end", () => {
    const original = readFileSync(
      resolve(DATA, "cicids2017-original-layout/friday-benign-head-generatedlabelledflows.csv"),
      "utf8",
    );
    const lines = original.trimEnd().split("\n");
    const header = lines[0]!.split(",");
    const secondFwdHeader = header.lastIndexOf(" Fwd Header Length");
    header[secondFwdHeader] = " Fwd Header Length.1";
    const flowBytes =
      header.indexOf(" Flow Bytes/s") >= 0
        ? header.indexOf(" Flow Bytes/s")
        : header.indexOf("Flow Bytes/s");
    const rows = lines.slice(1).map((line, i) => {
      const cells = line.split(",");
      if (i % 10 === 0) cells[flowBytes] = ""; // empty cells, 30 of them
      return [String(i), ...cells.slice(0, -1), "", "0", cells.at(-1)].join(",");
    });
    const exported =
      "\uFEFF" +
      ["Unnamed: 0", ...header.slice(0, -1), " SimillarHTTP", " Inbound", header.at(-1)].join(",") +
      "\r\n" +
      rows.join("\r\n") +
      "\r\n" +
      rows[5]!.slice(0, 40); // the last line, cut off mid-row
    const { reader, session, metrics } = score(model, exported);
    expect(reader.stats.rowsAccepted).toBe(299);
    expect(reader.stats.emptyValues).toBe(30);
    expect(reader.stats.rowsRejected).toBe(1);
    expect(reader.stats.rejected[0]!.line).toBe(301);
    expect(reader.stats.rejected[0]!.reason).toMatch(/^last line cut off/);
    expect(session.valuesReplaced).toBe(32);
    expect(metrics.scoredWindows).toBe(5);
    expect(metrics.droppedWindows).toBe(0);
  });
});

/**
 * The detection lab's table (pnpm bench:detection, docs/detection.md) on two fixed seeds, with
 * the product's default training settings: the targets of issue 10, with a margin where the
 * measured figure allows one. The seed profile is measured too, to show what the levers changed.
 */
describe.skipIf(!present)("mixed traffic on CIC-IDS2017 (detection lab)", () => {
  const runs: LabRun[] = [];
  let seedRun: LabRun;

  beforeAll(() => {
    const data = loadLabData();
    for (const seed of [1, 2]) runs.push(measureModel(trainLabModel(data, {}, seed), data, seed));
    seedRun = measureModel(trainLabModel(data, { profile: "seed" }, 1), data, 1);
  }, 120_000);

  it("keeps false alarms on other days' benign windows at 5% or less", () => {
    // 35 to 37 blocks a seed: one block is about 2.8 points, so a seed may see 2 (5.7%).
    const mean = runs.reduce((sum, run) => sum + run.falseAlarms, 0) / runs.length;
    expect(mean).toBeLessThanOrEqual(0.05);
    for (const run of runs) expect(run.falseAlarms).toBeLessThanOrEqual(0.06);
    expect(seedRun.falseAlarms).toBeGreaterThan(0.1);
  });

  it("finds attacks that fill half and a fifth of a window", () => {
    for (const run of runs) {
      const [, at20, at50] = meanRecall(run);
      expect(at50).toBeGreaterThanOrEqual(0.98);
      expect(at20).toBeGreaterThanOrEqual(0.75);
    }
    expect(meanRecall(seedRun)[1]).toBeLessThan(0.6);
  });

  it("catches ×100 surges of every rate and count feature", () => {
    for (const run of runs) expect(worstSurge(run)[1]).toBeGreaterThanOrEqual(0.95);
    expect(worstSurge(seedRun)[1]).toBeLessThan(0.3);
  });

  it("ranks the real days at least as well as the seed profile", () => {
    for (const run of runs) {
      for (const [day, metrics] of run.days) {
        expect(metrics.rocAuc).toBeGreaterThanOrEqual(seedRun.days.get(day)!.rocAuc!);
        expect(metrics.rocAuc).toBeGreaterThan(0.99);
      }
    }
  });
});
