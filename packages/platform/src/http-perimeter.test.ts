import { fastify } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  checkWebSocketAuth,
  perimeterConfigShape,
  registerPerimeter,
  warnIfOpen,
  type PerimeterOptions,
} from "./http-perimeter.ts";
import { createLogger } from "./logger.ts";
import { ConfigError, parseConfig } from "./service-config.ts";

const TOKEN = "s3cret-token-0123456789abcdef";

let app: { close(): Promise<unknown> } | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** A bare app with the perimeter and a few routes, one of them declared in a child plugin. */
async function guardedApp(options: PerimeterOptions) {
  // A pino logger, as the services pass, so the perimeter's typing is checked against theirs.
  const server = fastify({ loggerInstance: createLogger("perimeter-test", "silent") });
  app = server;
  registerPerimeter(server, options);
  server.get("/health", () => ({ status: "ok" }));
  server.get("/metrics", () => "floodwatch_up 1\n");
  server.get("/summary", () => ({ windows: 0 }));
  server.post("/uploads", () => ({ accepted: true }));
  await server.register((child, _opts, done) => {
    child.delete("/models/:version", () => ({ deleted: true }));
    done();
  });
  await server.ready();
  return server;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("registerPerimeter: the token", () => {
  it("refuses a write without a token with 401, an error body and WWW-Authenticate", async () => {
    const server = await guardedApp({ apiToken: TOKEN, protectReads: false });
    const res = await server.inject({ method: "POST", url: "/uploads", payload: "x" });
    expect(res.statusCode).toBe(401);
    expect(res.headers["www-authenticate"]).toBe('Bearer realm="floodwatch"');
    expect(res.json()).toEqual({
      error: "unauthorized",
      message: "this request needs an 'Authorization: Bearer <token>' header",
    });
  });

  it("refuses a wrong token, including one that differs only in length or by a prefix", async () => {
    const server = await guardedApp({ apiToken: TOKEN, protectReads: false });
    for (const guess of ["wrong-token-0123456789abcdef", TOKEN.slice(0, -1), TOKEN + "x"]) {
      const res = await server.inject({ method: "POST", url: "/uploads", headers: bearer(guess) });
      expect(res.statusCode).toBe(401);
      expect(res.json().message).toBe("the bearer token is not valid");
    }
    const basic = await server.inject({
      method: "POST",
      url: "/uploads",
      headers: { authorization: `Basic ${TOKEN}` },
    });
    expect(basic.statusCode).toBe(401);
  });

  it("lets the right token through, whatever the case of the scheme, on every write route", async () => {
    const server = await guardedApp({ apiToken: TOKEN, protectReads: false });
    const upload = await server.inject({ method: "POST", url: "/uploads", headers: bearer(TOKEN) });
    expect(upload.statusCode).toBe(200);
    expect(upload.json()).toEqual({ accepted: true });
    const lower = await server.inject({
      method: "DELETE",
      url: "/models/abc",
      headers: { authorization: `bearer ${TOKEN}` },
    });
    expect(lower.statusCode).toBe(200);
    const childWithout = await server.inject({ method: "DELETE", url: "/models/abc" });
    expect(childWithout.statusCode).toBe(401);
  });

  it("leaves reads, /metrics and /health open unless protectReads", async () => {
    const server = await guardedApp({ apiToken: TOKEN, protectReads: false });
    for (const url of ["/summary", "/metrics", "/health"]) {
      expect((await server.inject({ method: "GET", url })).statusCode).toBe(200);
    }
  });

  it("with protectReads guards reads and /metrics, never /health or a CORS preflight", async () => {
    const server = await guardedApp({ apiToken: TOKEN, protectReads: true });
    expect((await server.inject({ method: "GET", url: "/summary" })).statusCode).toBe(401);
    expect((await server.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(401);
    const withToken = await server.inject({
      method: "GET",
      url: "/summary",
      headers: bearer(TOKEN),
    });
    expect(withToken.statusCode).toBe(200);
    expect((await server.inject({ method: "GET", url: "/health?verbose=1" })).statusCode).toBe(200);
    const preflight = await server.inject({ method: "OPTIONS", url: "/uploads" });
    expect(preflight.statusCode).not.toBe(401);
  });

  it("without a token everything is open", async () => {
    const server = await guardedApp({ protectReads: true });
    expect((await server.inject({ method: "POST", url: "/uploads" })).statusCode).toBe(200);
    expect((await server.inject({ method: "GET", url: "/summary" })).statusCode).toBe(200);
  });

  it("keeps headers of hooks added before it (CORS) on a 401, so a browser can read it", async () => {
    const server = fastify();
    app = server;
    server.addHook("onRequest", async (_request, reply) => {
      reply.header("access-control-allow-origin", "http://localhost:3000");
    });
    registerPerimeter(server, { apiToken: TOKEN, protectReads: false });
    server.post("/uploads", () => ({ accepted: true }));
    const res = await server.inject({ method: "POST", url: "/uploads" });
    expect(res.statusCode).toBe(401);
    expect(res.headers["access-control-allow-origin"]).toBe("http://localhost:3000");
  });

  it("honours a custom write matcher", async () => {
    const server = await guardedApp({
      apiToken: TOKEN,
      protectReads: false,
      writeRoutes: (request) => request.method === "POST",
    });
    expect((await server.inject({ method: "POST", url: "/uploads" })).statusCode).toBe(401);
    expect((await server.inject({ method: "DELETE", url: "/models/abc" })).statusCode).toBe(200);
  });
});

describe("registerPerimeter: the upload rate limit", () => {
  it("answers 429 with Retry-After past the limit, per IP, and resets with the next window", async () => {
    let now = 120_000 + 15_000; // 15 s into a window
    const server = await guardedApp({
      apiToken: TOKEN,
      protectReads: false,
      rateLimit: { uploadsPerMinute: 3 },
      now: () => now,
    });
    const upload = (remoteAddress = "10.0.0.1") =>
      server.inject({ method: "POST", url: "/uploads", headers: bearer(TOKEN), remoteAddress });

    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await upload()).statusCode);
    expect(statuses).toEqual([200, 200, 200, 429]);

    const refused = await upload();
    expect(refused.statusCode).toBe(429);
    expect(refused.headers["retry-after"]).toBe("45");
    expect(refused.headers["x-ratelimit-limit"]).toBe("3");
    expect(refused.headers["x-ratelimit-remaining"]).toBe("0");
    expect(refused.json()).toEqual({
      error: "rate_limited",
      message: "more than 3 uploads per minute from 10.0.0.1; retry in 45 s",
    });

    expect((await upload("10.0.0.2")).statusCode).toBe(200);
    expect((await server.inject({ method: "GET", url: "/summary" })).statusCode).toBe(200);

    now += 45_000; // the next window
    expect((await upload()).statusCode).toBe(200);
  });

  it("does not spend a client's budget on requests refused for a bad token", async () => {
    const server = await guardedApp({
      apiToken: TOKEN,
      protectReads: false,
      rateLimit: { uploadsPerMinute: 2 },
      now: () => 0,
    });
    for (let i = 0; i < 5; i++) {
      const res = await server.inject({ method: "POST", url: "/uploads", headers: bearer("nope") });
      expect(res.statusCode).toBe(401);
    }
    const ok = await server.inject({ method: "POST", url: "/uploads", headers: bearer(TOKEN) });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers["x-ratelimit-remaining"]).toBe("1");
  });

  it("limits only the routes the upload matcher names, and 0 disables the limit", async () => {
    const limited = await guardedApp({
      protectReads: false,
      rateLimit: { uploadsPerMinute: 1, uploadRoutes: (r) => r.routeOptions.url === "/uploads" },
      now: () => 0,
    });
    expect((await limited.inject({ method: "POST", url: "/uploads" })).statusCode).toBe(200);
    expect((await limited.inject({ method: "POST", url: "/uploads" })).statusCode).toBe(429);
    expect((await limited.inject({ method: "DELETE", url: "/models/a" })).statusCode).toBe(200);
    expect((await limited.inject({ method: "DELETE", url: "/models/a" })).statusCode).toBe(200);
    await limited.close();

    const unlimited = await guardedApp({
      protectReads: false,
      rateLimit: { uploadsPerMinute: 0 },
      now: () => 0,
    });
    for (let i = 0; i < 5; i++) {
      expect((await unlimited.inject({ method: "POST", url: "/uploads" })).statusCode).toBe(200);
    }
  });
});

describe("checkWebSocketAuth", () => {
  const options = {
    apiToken: TOKEN,
    protectReads: true,
    allowedOrigins: ["http://localhost:3000"],
  };
  const protocols = (token: string) => `floodwatch, bearer.${token}`;

  it("accepts an allowed origin with the token in Sec-WebSocket-Protocol", () => {
    expect(
      checkWebSocketAuth(
        { origin: "http://localhost:3000", "sec-websocket-protocol": protocols(TOKEN) },
        options,
      ),
    ).toEqual({ ok: true });
  });

  it("refuses a foreign origin with 403, even with the right token", () => {
    const verdict = checkWebSocketAuth(
      { origin: "https://evil.example", "sec-websocket-protocol": protocols(TOKEN) },
      options,
    );
    expect(verdict).toEqual({
      ok: false,
      status: 403,
      body: {
        error: "forbidden_origin",
        message: "origin https://evil.example may not open this socket",
      },
    });
  });

  it("refuses a missing or wrong token with 401 when reads are protected", () => {
    const missing = checkWebSocketAuth(
      { origin: "http://localhost:3000", "sec-websocket-protocol": "floodwatch" },
      options,
    );
    expect(missing).toEqual({
      ok: false,
      status: 401,
      body: {
        error: "unauthorized",
        message: "this socket needs a 'bearer.<token>' entry in Sec-WebSocket-Protocol",
      },
    });
    const wrong = checkWebSocketAuth(
      { origin: "http://localhost:3000", "sec-websocket-protocol": protocols("x".repeat(20)) },
      options,
    );
    expect(wrong).toEqual({
      ok: false,
      status: 401,
      body: { error: "unauthorized", message: "the bearer token is not valid" },
    });
  });

  it("needs no token when reads are open, and checks no origin without an allow-list", () => {
    expect(
      checkWebSocketAuth({ origin: "http://localhost:3000" }, { ...options, protectReads: false }),
    ).toEqual({ ok: true });
    expect(
      checkWebSocketAuth({ origin: "https://anywhere.example" }, { protectReads: false }),
    ).toEqual({ ok: true });
    // A client without Origin is not a browser: only the token decides.
    expect(checkWebSocketAuth({ "sec-websocket-protocol": protocols(TOKEN) }, options)).toEqual({
      ok: true,
    });
  });
});

describe("perimeterConfigShape and warnIfOpen", () => {
  const schema = z.object(perimeterConfigShape);

  it("parses defaults, treats an empty token as unset and rejects a short token", () => {
    expect(parseConfig("test", schema, {})).toEqual({
      FLOODWATCH_API_TOKEN: undefined,
      FLOODWATCH_PROTECT_READS: false,
      UPLOAD_RATE_LIMIT_PER_MINUTE: 30,
    });
    expect(parseConfig("test", schema, { FLOODWATCH_API_TOKEN: "" }).FLOODWATCH_API_TOKEN).toBe(
      undefined,
    );
    expect(
      parseConfig("test", schema, { FLOODWATCH_API_TOKEN: TOKEN, FLOODWATCH_PROTECT_READS: "yes" }),
    ).toMatchObject({ FLOODWATCH_API_TOKEN: TOKEN, FLOODWATCH_PROTECT_READS: true });
    expect(() => parseConfig("test", schema, { FLOODWATCH_API_TOKEN: "short" })).toThrow(
      ConfigError,
    );
    expect(() =>
      parseConfig("test", schema, { FLOODWATCH_API_TOKEN: "has spaces in it, sixteen+" }),
    ).toThrow(/FLOODWATCH_API_TOKEN: letters, digits/);
  });

  it("warns once at start when no token is set, and not otherwise", () => {
    const warnings: string[] = [];
    const logger = { warn: (message: string) => void warnings.push(message) };
    expect(warnIfOpen(logger as never, { FLOODWATCH_API_TOKEN: TOKEN }, "ingest")).toBe(false);
    expect(warnings).toEqual([]);
    expect(warnIfOpen(logger as never, { FLOODWATCH_API_TOKEN: undefined }, "ingest")).toBe(true);
    expect(warnings).toEqual([
      "the system is open: anyone who can reach ingest can upload flows and publish models; " +
        "set FLOODWATCH_API_TOKEN to require a bearer token on writes",
    ]);
  });
});
