/** @floodwatch/api — the REST and WebSocket relay of results, uploads, summary and models. */
export { buildApiApp, type ApiAppOptions, type ApiTiming } from "./app.ts";
export { apiConfigSchema, loadApiConfig, type ApiConfig } from "./env.ts";
