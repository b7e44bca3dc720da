/** Builders of contract objects for the dashboard's tests. */
import type { Incident } from "@floodwatch/core/incident-contracts";
import type {
  ModelSummary,
  Summary,
  UploadStatus,
  WindowResult,
} from "@floodwatch/core/stream-contracts";
import type { ModelVersion } from "@floodwatch/core/http-contracts";

/** The default model's published figures. */
export function modelSummary(overrides: Partial<ModelSummary> = {}): ModelSummary {
  return {
    version: "9dcd39db7b76",
    features: ["Flow Duration", "Flow Packets/s", "SYN Flag Count"],
    window: 50,
    stride: 50,
    threshold: -0.0568,
    quantile: 0.01,
    validationFpr: 0.01002,
    trainedAt: "2026-11-23T00:00:00.000Z",
    explainedVariance: [0.6572, 0.077],
    trainingFlows: 100_000,
    trainingWindows: 2_000,
    warnings: [],
    falseAlarms: { promised: 0.01002, measured: null },
    ...overrides,
  };
}

/** A registry version as `GET /api/models` lists it. */
export function modelVersion(overrides: Partial<ModelVersion> = {}): ModelVersion {
  return {
    ...modelSummary(),
    createdAt: "2026-11-23T00:00:00.000Z",
    publishedAt: 1_700_000_000_000,
    active: false,
    training: {
      flows: 100_000,
      flowsExcluded: 0,
      valuesReplaced: 0,
      windows: 2_000,
      fitWindows: 1_600,
      validationWindows: 400,
      trainStride: 50,
      contentHash: "0".repeat(64),
      seed: 42,
      trees: 100,
      maxSamples: 256,
      sources: ["benign.csv"],
    },
    meta: null,
    ...overrides,
  };
}

/** Window `window` of upload `uploadId`, normal unless `anomaly` is set. */
export function windowResult(overrides: Partial<WindowResult> = {}): WindowResult {
  const window = overrides.window ?? 0;
  const anomaly = overrides.anomaly ?? false;
  return {
    uploadId: "u1",
    window,
    firstLine: 2 + window * 50,
    lastLine: 51 + window * 50,
    score: anomaly ? -0.09 : 0.05,
    anomaly,
    pc1: anomaly ? 4 : 0.5,
    pc2: anomaly ? -2 : 0.1,
    modelVersion: "9dcd39db7b76",
    signals: { packetsPerSecond: anomaly ? 25_000 : 120.5, synCount: anomaly ? 1 : 0.02 },
    receivedAt: 1_700_000_000_000 + window,
    scoredAt: 1_700_000_000_100 + window,
    start: null,
    end: null,
    victims: null,
    sources: null,
    ports: null,
    explanation: null,
    explanationFeatures: null,
    ...overrides,
  };
}

/** An upload part-way through scoring. */
export function uploadStatus(overrides: Partial<UploadStatus> = {}): UploadStatus {
  return {
    uploadId: "u1",
    name: "syn.csv",
    state: "scoring",
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_500,
    rowsAccepted: 5000,
    rowsRejected: 0,
    rejected: [],
    windowsQueued: 100,
    windowsScored: 40,
    anomalies: 7,
    tailFlows: 0,
    deadLetters: 0,
    labelled: true,
    modelVersion: "9dcd39db7b76",
    window: { size: 50, stride: 50 },
    lastScore: 0.01,
    worstScore: -0.12,
    quality: { tp: 6, fp: 1, fn: 2, tn: 31, precision: 6 / 7, recall: 0.75, f1: 0.8 },
    ...overrides,
  };
}

/** A system summary with the default model active. */
export function summary(overrides: Partial<Summary> = {}): Summary {
  return {
    windowsScored: 1234,
    flowsScored: 61_700,
    anomalies: 56,
    threshold: -0.0568,
    lastScore: 0.0321,
    worstScore: -0.1502,
    flowsPerSecond: 48_250,
    backlog: 3,
    deadLetters: 0,
    detectors: { active: 2 },
    model: modelSummary(),
    ...overrides,
  };
}

/** A closed incident on the CIC-IDS2017 Friday DDoS victim. */
export function incident(overrides: Partial<Incident> = {}): Incident {
  return {
    id: "u1-1",
    uploadId: "u1",
    state: "closed",
    firstWindow: 14,
    lastWindow: 115,
    windows: 102,
    anomalousWindows: 100,
    flows: 5_100,
    worstScore: -0.1939,
    meanScore: -0.1377,
    start: "2017-07-07T15:56:00.000Z",
    end: "2017-07-07T16:16:00.000Z",
    openedAt: 0,
    closedAt: 1,
    victims: [{ ip: "192.168.10.50", flows: 5_000 }],
    sources: { top: [{ ip: "172.16.0.1", flows: 5_000 }], distinct: 1 },
    ports: [{ port: 80, protocol: 6, flows: 5_000 }],
    features: [{ feature: "Flow Packets/s", weight: 0.4, windows: 100 }],
    modelVersion: "m1",
    muted: false,
    ...overrides,
  };
}
