/** The detector service's building blocks, for tests and for a launcher that runs it in-process. */
export * from "./app.ts";
export * from "./env.ts";
export * from "./metrics.ts";
export * from "./model-follower.ts";
export * from "./model-store.ts";
export * from "./worker.ts";
