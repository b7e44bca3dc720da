/**
 * The HTTP perimeter of the services that take input from outside (ingest, api): a bearer token on
 * writes (and optionally reads), a per-client upload rate limit, and the same token and an Origin
 * allow-list for the API's WebSocket.
 *
 * What stays open, and why:
 * - `GET /health` always: Docker's healthcheck and any orchestrator probe it without credentials,
 *   and it reveals only "up or not".
 * - `GET /metrics` is a read like any other: open by default, behind the token when
 *   `FLOODWATCH_PROTECT_READS` is on (it exposes upload and anomaly counts; Prometheus can send a
 *   bearer token with `authorization: { credentials: ... }` in its scrape config).
 * - `OPTIONS` always: a CORS preflight never carries credentials, and answers no data.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyRequest,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import { z } from "zod";
import type { ErrorBody } from "@floodwatch/core";
import type { Logger } from "./logger.ts";
import { booleanVariable } from "./service-config.ts";

/**
 * Characters a token may use: the HTTP token characters that survive inside a WebSocket
 * subprotocol (`bearer.<token>`) and a `.env` file without quoting.
 */
const TOKEN_PATTERN = /^[A-Za-z0-9._~+-]+$/;

/** Sixteen characters is the least that makes guessing over the network hopeless. */
const MIN_TOKEN_LENGTH = 16;

/**
 * Variables of the perimeter, to spread into the schema of every service that uses it.
 * An empty `FLOODWATCH_API_TOKEN` counts as unset, because `docker compose` passes
 * `${FLOODWATCH_API_TOKEN:-}` through as an empty string.
 */
export const perimeterConfigShape = {
  FLOODWATCH_API_TOKEN: z
    .preprocess(
      (value) => (value === "" ? undefined : value),
      z
        .string()
        .min(MIN_TOKEN_LENGTH, `at least ${MIN_TOKEN_LENGTH} characters`)
        .regex(TOKEN_PATTERN, "letters, digits and . _ ~ + - only")
        .optional(),
    )
    .describe(
      "Bearer token every write (and, with FLOODWATCH_PROTECT_READS, every read) must present; " +
        "unset leaves the system open (e.g. `openssl rand -hex 32`)",
    ),
  FLOODWATCH_PROTECT_READS: booleanVariable(false).describe(
    "Also require the token on reads, /metrics and the WebSocket (/health stays open)",
  ),
  UPLOAD_RATE_LIMIT_PER_MINUTE: z.coerce
    .number()
    .int()
    .min(0)
    .default(30)
    .describe("Uploads accepted per client IP per minute before answering 429; 0 disables"),
};

/** The parsed perimeter variables. */
export interface PerimeterConfig {
  FLOODWATCH_API_TOKEN?: string | undefined;
  FLOODWATCH_PROTECT_READS: boolean;
  UPLOAD_RATE_LIMIT_PER_MINUTE: number;
}

/** What the perimeter reads of a request, whatever the app's logger type. */
export type PerimeterRequest = Pick<FastifyRequest, "method" | "url" | "ip" | "headers"> & {
  readonly routeOptions: { readonly url?: string | undefined };
};

/** Decides something about a request (which requests are writes, which are uploads). */
export type RequestMatcher = (request: PerimeterRequest) => boolean;

/** How {@link registerPerimeter} guards an app. */
export interface PerimeterOptions {
  /** When set, writes (and reads with `protectReads`) need `Authorization: Bearer <token>`. */
  apiToken?: string | undefined;
  /** Require the token on reads too (`/metrics` included). Needs `apiToken`. */
  protectReads: boolean;
  /**
   * Limit uploads per client IP with a fixed one-minute window. Omitted or `0`: no limit.
   * `uploadRoutes` says which requests count; by default every write does.
   */
  rateLimit?: { uploadsPerMinute: number; uploadRoutes?: RequestMatcher };
  /** Which requests are writes. Default: POST, PUT, PATCH and DELETE. */
  writeRoutes?: RequestMatcher;
  /** Route paths open to anyone. Default: `["/health"]`. */
  openPaths?: readonly string[];
  /** Clock of the rate limiter (ms), injectable so tests need not wait a minute. */
  now?: () => number;
}

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** The default write matcher: by HTTP method. */
export const isWriteMethod: RequestMatcher = (request) => WRITE_METHODS.has(request.method);

/**
 * Guards `app` — the instance passed, not an encapsulated child, so the hooks cover every route
 * the app has or will have. Call it before declaring routes, and after `await
 * app.register(cors, ...)`: hooks run in the order they were added, and a 401 or 429 sent before
 * CORS added `Access-Control-Allow-Origin` reaches the browser as a network error, so the
 * dashboard could never learn that it must ask for the token.
 *
 * Order of checks, both in `onRequest` (before the body is read, so a refused upload costs no
 * parsing): token first, then the rate limit, so requests without a valid token cannot use up a
 * client's upload budget.
 *
 * The rate limiter is a fixed-window counter per IP in this process's memory — what
 * `@fastify/rate-limit` does with its default store, in thirty lines, without making the platform
 * depend on a plugin only two services install. Ingest and api run as one replica each, so a
 * shared store would buy nothing; the counter map is cleared every window, so it holds at most
 * one minute of client addresses. Behind a reverse proxy set Fastify's `trustProxy`, or every
 * client shares the proxy's address.
 */
export function registerPerimeter<AppLogger extends FastifyBaseLogger>(
  app: FastifyInstance<
    RawServerDefault,
    RawRequestDefaultExpression,
    RawReplyDefaultExpression,
    AppLogger
  >,
  options: PerimeterOptions,
): void {
  const tokenDigest = options.apiToken === undefined ? null : digest(options.apiToken);
  const isWrite = options.writeRoutes ?? isWriteMethod;
  const openPaths = new Set(options.openPaths ?? ["/health"]);
  const limit = options.rateLimit?.uploadsPerMinute ?? 0;
  const limiter = limit > 0 ? new FixedWindowLimiter(limit, 60_000, options.now ?? Date.now) : null;
  const isUpload = options.rateLimit?.uploadRoutes ?? isWrite;

  app.addHook("onRequest", async (request, reply) => {
    if (request.method === "OPTIONS" || openPaths.has(routePath(request))) return;
    const write = isWrite(request);
    if (tokenDigest !== null && (write || options.protectReads)) {
      const presented = bearerToken(request.headers.authorization);
      if (presented === null || !sameDigest(digest(presented), tokenDigest)) {
        const body: ErrorBody = {
          error: "unauthorized",
          message:
            presented === null
              ? "this request needs an 'Authorization: Bearer <token>' header"
              : "the bearer token is not valid",
        };
        // Sent and returned from the hook: Fastify then skips the body and the handler.
        return reply.code(401).header("www-authenticate", 'Bearer realm="floodwatch"').send(body);
      }
    }
    if (limiter !== null && isUpload(request)) {
      const verdict = limiter.take(request.ip);
      reply
        .header("x-ratelimit-limit", limit)
        .header("x-ratelimit-remaining", verdict.remaining)
        .header("x-ratelimit-reset", verdict.resetSeconds);
      if (!verdict.allowed) {
        const body: ErrorBody = {
          error: "rate_limited",
          message: `more than ${limit} uploads per minute from ${request.ip}; retry in ${verdict.resetSeconds} s`,
        };
        return reply.code(429).header("retry-after", verdict.resetSeconds).send(body);
      }
    }
  });
}

/** The route pattern when the request matched one (so `/health?x=1` is `/health`), else its path. */
function routePath(request: PerimeterRequest): string {
  return request.routeOptions.url ?? request.url.split("?", 1)[0] ?? request.url;
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or null. */
function bearerToken(header: string | undefined): string | null {
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

/**
 * Tokens are compared as SHA-256 digests: `timingSafeEqual` needs equal lengths, and comparing
 * digests keeps the time independent of both the content and the length of the guess.
 */
function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

function sameDigest(a: Buffer, b: Buffer): boolean {
  return timingSafeEqual(a, b);
}

/** A fixed-window counter per client key. */
class FixedWindowLimiter {
  private window = -1;
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  take(key: string): { allowed: boolean; remaining: number; resetSeconds: number } {
    const now = this.now();
    const window = Math.floor(now / this.windowMs);
    if (window !== this.window) {
      // A new window forgets every client: this is what bounds the map's size.
      this.window = window;
      this.counts.clear();
    }
    const used = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, used);
    const resetSeconds = Math.max(1, Math.ceil(((window + 1) * this.windowMs - now) / 1000));
    return {
      allowed: used <= this.limit,
      remaining: Math.max(0, this.limit - used),
      resetSeconds,
    };
  }
}

/** The subprotocol the API selects for the dashboard's WebSocket (never the bearer entry). */
export const WEBSOCKET_PROTOCOL = "floodwatch";

/** Prefix of the subprotocol entry that carries the token: `bearer.<token>`. */
const BEARER_PROTOCOL_PREFIX = "bearer.";

/** What the WebSocket upgrade check needs. */
export interface WebSocketAuthOptions {
  /** As for HTTP: when set, and reads are protected, the upgrade needs the token. */
  apiToken?: string | undefined;
  protectReads: boolean;
  /**
   * Origins (`scheme://host[:port]`) allowed to open the socket. Undefined: any. A request without
   * `Origin` is not from a browser, so cross-site WebSocket hijacking does not apply; it passes
   * the origin check and still needs the token when reads are protected.
   */
  allowedOrigins?: readonly string[];
}

/** The verdict on a WebSocket upgrade request. */
export type WebSocketAuthResult = { ok: true } | { ok: false; status: 401 | 403; body: ErrorBody };

/**
 * Checks the headers of a WebSocket upgrade. Browsers cannot set `Authorization` on a WebSocket,
 * so the dashboard sends the token as a subprotocol: `new WebSocket(url, ["floodwatch",
 * "bearer." + token])`. The server must then select {@link WEBSOCKET_PROTOCOL} in its answer
 * (with `ws`: `handleProtocols: (protocols) => protocols.has("floodwatch") && "floodwatch"`), or
 * the browser drops the connection; it never echoes the bearer entry.
 */
export function checkWebSocketAuth(
  headers: IncomingHttpHeaders,
  options: WebSocketAuthOptions,
): WebSocketAuthResult {
  const origin = headers.origin;
  if (
    origin !== undefined &&
    options.allowedOrigins !== undefined &&
    !options.allowedOrigins.includes(origin)
  ) {
    return {
      ok: false,
      status: 403,
      body: { error: "forbidden_origin", message: `origin ${origin} may not open this socket` },
    };
  }
  if (options.apiToken === undefined || !options.protectReads) return { ok: true };
  const presented = webSocketBearerToken(headers["sec-websocket-protocol"]);
  if (presented === null || !sameDigest(digest(presented), digest(options.apiToken))) {
    return {
      ok: false,
      status: 401,
      body: {
        error: "unauthorized",
        message:
          presented === null
            ? "this socket needs a 'bearer.<token>' entry in Sec-WebSocket-Protocol"
            : "the bearer token is not valid",
      },
    };
  }
  return { ok: true };
}

function webSocketBearerToken(header: string | string[] | undefined): string | null {
  const entries = (Array.isArray(header) ? header.join(",") : (header ?? "")).split(",");
  for (const entry of entries) {
    const protocol = entry.trim();
    if (
      protocol.startsWith(BEARER_PROTOCOL_PREFIX) &&
      protocol.length > BEARER_PROTOCOL_PREFIX.length
    ) {
      return protocol.slice(BEARER_PROTOCOL_PREFIX.length);
    }
  }
  return null;
}

/**
 * Logs a warning at start when no token is set: then anyone who can reach the service can upload
 * flows and publish or activate models. Returns whether the system is open.
 */
export function warnIfOpen(
  logger: Pick<Logger, "warn">,
  config: Pick<PerimeterConfig, "FLOODWATCH_API_TOKEN">,
  service = "this service",
): boolean {
  if (config.FLOODWATCH_API_TOKEN !== undefined) return false;
  logger.warn(
    `the system is open: anyone who can reach ${service} can upload flows and publish models; ` +
      "set FLOODWATCH_API_TOKEN to require a bearer token on writes",
  );
  return true;
}
