import { execFileSync } from "node:child_process";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import Fastify from "fastify";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { resolveLogFormat } from "./logger.ts";
import { DebugRequestLogs } from "./request-logs.ts";

const LOGGER_MODULE = fileURLToPath(new URL("./logger.ts", import.meta.url));

/** Runs createLogger in a child process whose stdout is a pipe, and returns what it printed. */
function logOnce(format: string, colour = false): string {
  // colorette (pino-pretty's colour switch) looks at whether these are set at all, empty or not.
  const { NO_COLOR: _noColor, FORCE_COLOR: _forceColor, ...env } = process.env;
  const script = `
    const { createLogger } = await import(${JSON.stringify(LOGGER_MODULE)});
    createLogger("api", "info", ${JSON.stringify(format)}).info({ port: 8080 }, "listening");`;
  return execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    env: colour ? { ...env, FORCE_COLOR: "1" } : { ...env, NO_COLOR: "1" },
    encoding: "utf8",
  });
}

describe("createLogger", () => {
  it("auto means pretty on a terminal and JSON otherwise; json and pretty are kept", () => {
    expect(resolveLogFormat("auto", true)).toBe("pretty");
    expect(resolveLogFormat("auto", false)).toBe("json");
    expect(resolveLogFormat("json", true)).toBe("json");
    expect(resolveLogFormat("pretty", false)).toBe("pretty");
  });

  it("writes one JSON object per line with auto when stdout is not a terminal", () => {
    const line = JSON.parse(logOnce("auto").trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, service: "api", port: 8080, msg: "listening" });
  });

  it("writes one short readable line with pretty: time, level, message, fields", () => {
    const output = logOnce("pretty");
    expect(output).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: listening \{"port":8080\}\n$/);
  });

  it("colours pretty lines when FORCE_COLOR is set, as the launcher does on a terminal", () => {
    const output = logOnce("pretty", true);
    expect(output).toContain("\u001b[32mINFO\u001b[39m");
  });
});

describe("DebugRequestLogs", () => {
  async function requestLines(level: "info" | "debug"): Promise<string[]> {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString("utf8").trim().split("\n"));
        done();
      },
    });
    const app = Fastify({
      loggerInstance: pino({ level }, sink),
      logController: new DebugRequestLogs(),
    });
    app.get("/health", (_request, reply) => reply.send({ ok: true }));
    app.get("/boom", () => {
      throw new Error("kaput");
    });
    await app.inject({ url: "/health" });
    await app.inject({ url: "/boom" });
    await app.close();
    return lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
  }

  it("logs a request's two lines at debug, not info; a server error still at error", async () => {
    expect(await requestLines("info")).toEqual(["kaput"]);
    expect(await requestLines("debug")).toEqual([
      "incoming request",
      "request completed",
      "incoming request",
      "kaput",
      "request completed",
    ]);
  });
});
