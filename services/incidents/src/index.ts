export * from "./app.ts";
export * from "./env.ts";
export * from "./notifier.ts";
export * from "./senders.ts";
export * from "./tracker-store.ts";
export * from "./tracker-worker.ts";
