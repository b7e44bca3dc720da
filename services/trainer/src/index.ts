/**
 * @floodwatch/trainer — the background training service: a BullMQ worker on the `training`
 * queue that turns uploaded CSVs into registry versions. See README.md for why it is a service of
 * its own.
 */
export * from "./app.ts";
export * from "./env.ts";
export * from "./metrics.ts";
export * from "./training-input.ts";
export * from "./training-run.ts";
export * from "./worker.ts";
