/** Structured logs (pino), one logger per service process. */
import { pino, type Logger } from "pino";

export type { Logger };

/** A JSON logger naming the service. */
export function createLogger(service: string, level = "info"): Logger {
  return pino({ name: service, level, base: { service, pid: process.pid } });
}
