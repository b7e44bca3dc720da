/**
 * @floodwatch/core — the domain logic of floodwatch, free of I/O: flow CSV reading, windows,
 * Isolation Forest, scaling, threshold calibration, PCA, the model file and evaluation. Services
 * and the CLI only wire these to files, Redis and HTTP. The synthetic flow generator has its own
 * entry, `@floodwatch/core/generator`.
 */
export * from "./flow-context.ts";
export * from "./flow-csv-reader.ts";
export * from "./flow-features.ts";
export * from "./flow-scoring.ts";
export * from "./flow-transform.ts";
export * from "./flow-timestamp.ts";
export * from "./growable-matrix.ts";
export * from "./isolation-forest.ts";
export * from "./model-file.ts";
export * from "./model-training.ts";
export * from "./non-finite-rules.ts";
export * from "./pca.ts";
export * from "./prng.ts";
export * from "./robust-scaler.ts";
export * from "./stats.ts";
export * from "./threshold.ts";
export * from "./version.ts";
export * from "./window-aggregator.ts";
export * from "./window-evaluation.ts";
export * from "./window-scorer.ts";
export * from "./window-detectors.ts";
export * from "./window-context.ts";
export * from "./window-explanation.ts";
export * from "./window-findings.ts";
export * from "./flow-entry.ts";
export * from "./flow-entry-scoring.ts";
export * from "./redis-keys.ts";
export * from "./stream-contracts.ts";
export * from "./result-entry.ts";
export * from "./http-contracts.ts";
export * from "./model-summary.ts";
export * from "./false-alarm-expectation.ts";
export * from "./training-contract.ts";
export * from "./training-defaults.ts";
export * from "./training-read.ts";
export * from "./incident-contracts.ts";
export * from "./incident-tracker.ts";
export * from "./incident-mutes.ts";
export * from "./incident-notification.ts";
