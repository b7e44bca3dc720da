export * from "./http-perimeter.ts";
export * from "./logger.ts";
export * from "./model-registry.ts";
export * from "./redis-connection.ts";
export * from "./redis-server.ts";
export * from "./service-config.ts";
export * from "./redis-script.ts";
export * from "./deadline.ts";
