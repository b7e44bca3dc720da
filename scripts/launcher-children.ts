/**
 * The children of `pnpm start`, as the launcher runs them: a service under tsx with its health
 * check, the private redis-server, and the log settings handed to every service. The tests that
 * kill children run the same specs under the same supervisor.
 */
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { redisServerArgs, type LogFormatSetting } from "@floodwatch/platform";
import { httpReady, type ChildSpec } from "./supervisor.ts";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));

/** A floodwatch service (`services/<folder>/src/main.ts`) as a supervised child. */
export function serviceChild(
  name: string,
  folder: string,
  env: Record<string, string>,
  healthPort: number,
): ChildSpec {
  return {
    name,
    command: process.execPath,
    args: ["--import", "tsx", join(ROOT, "services", folder, "src/main.ts")],
    cwd: ROOT,
    env,
    ready: httpReady(`http://127.0.0.1:${healthPort}/health`),
  };
}

/** The private redis-server, supervised like the services: its append-only file survives. */
export function redisChild(port: number, dir: string): ChildSpec {
  return {
    name: "redis",
    command: "redis-server",
    args: redisServerArgs(port, { dir, appendOnly: true }),
    ready: () => redisAnswers(port),
    stopLast: true,
  };
}

/** True when a Redis on `port` answers PING (before that, services would only retry). */
function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}

/**
 * How the services log under the launcher: their output is a pipe, so they cannot see the
 * terminal themselves; the launcher tells them to print readable lines (and colours) when it is
 * on one, unless LOG_FORMAT says otherwise.
 */
export function logEnv(setting: LogFormatSetting): Record<string, string> {
  const onTerminal = process.stdout.isTTY === true;
  const format = setting === "auto" ? (onTerminal ? "pretty" : "json") : setting;
  const colour = format === "pretty" && onTerminal && process.env.NO_COLOR === undefined;
  return { LOG_FORMAT: format, ...(colour ? { FORCE_COLOR: "1" } : {}) };
}
