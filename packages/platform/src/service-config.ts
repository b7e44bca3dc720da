/**
 * Configuration parsing shared by the services: one zod schema per service, parsed once at start;
 * a bad value stops the service with a message naming the variable.
 */
import { z } from "zod";

/** A configuration that does not parse, with one line per bad variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly service: string,
    readonly problems: { variable: string; message: string }[],
  ) {
    super(
      `${service}: invalid configuration:\n` +
        problems.map((p) => `  ${p.variable}: ${p.message}`).join("\n"),
    );
  }
}

/** Parses `env` with `schema`, whose keys are the variable names. */
export function parseConfig<S extends z.ZodObject>(
  service: string,
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(
    service,
    result.error.issues.map((issue) => ({
      variable: String(issue.path[0] ?? "(config)"),
      message: issue.message,
    })),
  );
}

/** A TCP port number from a string. */
export const portVariable = (defaultPort: number) =>
  z.coerce.number().int().min(0).max(65_535).default(defaultPort);

/** A positive integer from a string. */
export const positiveIntVariable = (defaultValue: number) =>
  z.coerce.number().int().min(1).default(defaultValue);

/** A boolean from `true/false/1/0/yes/no`. */
export const booleanVariable = (defaultValue: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no"], { message: "expected true or false" })
    .default(defaultValue ? "true" : "false")
    .transform((v) => v === "true" || v === "1" || v === "yes");

/**
 * A `redis://` or `rediss://` URL with a host and, when a `:` follows the host, a port: an
 * empty port (`redis://127.0.0.1:`, a shell variable that came out empty) would otherwise fall
 * back to 6379 and silently talk to some other Redis.
 */
export const redisUrlVariable = () =>
  z.string().refine(
    (value) => {
      if (!/^rediss?:\/\/[^/:]+(:\d+)?(\/\d*)?$/.test(value.replace(/\/\/[^@/]*@/, "//")))
        return false;
      try {
        return new URL(value).hostname !== "";
      } catch {
        return false;
      }
    },
    {
      message: "expected redis://host[:port][/db] or rediss://..., with a port when a ':' is given",
    },
  );

/** Variables every service reads. */
export const commonConfigShape = {
  /** Where Redis is. */
  REDIS_URL: redisUrlVariable().default("redis://127.0.0.1:6379"),
  /** Prefix of every Redis key, so several deployments can share one Redis. */
  FLOODWATCH_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, '_', '.', '-' only")
    .default("floodwatch"),
  /** pino log level. */
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** `auto`: readable lines on a terminal, JSON otherwise (see `createLogger`). */
  LOG_FORMAT: z.enum(["auto", "json", "pretty"]).default("auto"),
};
