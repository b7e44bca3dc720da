/** The supervisor's process wiring on real (tiny) Node processes, with a fast policy. */
import { afterEach, describe, expect, it } from "vitest";
import type { RestartPolicy } from "./restart-policy.ts";
import { Supervisor } from "./supervisor.ts";

/** The default policy's shape at a tenth of its delays, so a crash loop takes a second. */
const FAST: RestartPolicy = {
  initialDelayMs: 50,
  maxDelayMs: 1_000,
  healthyAfterMs: 3_000,
  crashLoopExits: 5,
  crashLoopWindowMs: 6_000,
};

const node = (code: string) => ({ command: process.execPath, args: ["-e", code] });

let supervisor: Supervisor | undefined;
afterEach(async () => {
  await supervisor?.stop();
  supervisor = undefined;
});

function start(): { supervisor: Supervisor; lines: string[] } {
  const lines: string[] = [];
  supervisor = new Supervisor({ print: (line) => lines.push(line), policy: FAST });
  return { supervisor, lines };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("Supervisor", () => {
  it("restarts a killed child with one line saying how it died, then says it is back", async () => {
    const { supervisor, lines } = start();
    const ups = () => lines.filter((l) => l === "[sleeper]    up").length;
    const child = supervisor.add({
      name: "sleeper",
      // Ready once this start has printed its line (as a /health check would answer).
      ready: () => Promise.resolve(ups() === child.starts),
      ...node("console.log('up'); setInterval(() => {}, 1000)"),
    });
    await supervisor.waitReady(Date.now() + 10_000);
    const firstPid = child.pid;
    child.process?.kill("SIGKILL");
    await waitFor("the restart", () => child.starts === 2 && child.running);
    await waitFor("the line saying it is back", () => lines.some((l) => l.includes("is back")));
    expect(child.pid).not.toBe(firstPid);
    expect(lines).toContain(
      `floodwatch: sleeper (pid ${firstPid}) killed by SIGKILL; restarting it in 0.1 s`,
    );
    expect(lines).toContain(`floodwatch: sleeper is back (pid ${child.pid})`);
    expect(ups()).toBe(2);
  });

  it("gives up on a child that exits five times within the window, naming it, and keeps the others", async () => {
    const { supervisor, lines } = start();
    const steady = supervisor.add({ name: "steady", ...node("setInterval(() => {}, 1000)") });
    supervisor.add({ name: "broken", ...node("process.exit(3)") });
    const loop = await supervisor.crashLoop;
    expect(loop).toEqual({ name: "broken", exitsInWindow: 5, lastExit: "exited with code 3" });
    const about = lines.filter((l) => l.startsWith("floodwatch: broken"));
    expect(about).toEqual([
      expect.stringMatching(
        /^floodwatch: broken \(pid \d+\) exited with code 3; restarting it in 0\.1 s$/,
      ),
      expect.stringMatching(/restarting it in 0\.1 s$/),
      expect.stringMatching(/restarting it in 0\.2 s$/),
      expect.stringMatching(/restarting it in 0\.4 s$/),
      "floodwatch: broken exited with code 3, 5 exits within 6 s: it is crash-looping; stopping the stack",
    ]);
    // Deciding to stop is the launcher's: the supervisor left the healthy child alone.
    expect(steady.running).toBe(true);
    expect(steady.starts).toBe(1);
  });

  it("stops every child with SIGTERM and restarts none of them", async () => {
    const { supervisor, lines } = start();
    const children = ["a", "b"].map((name) =>
      supervisor.add({
        name,
        ...node(
          "process.on('SIGTERM', () => { console.log('bye'); process.exit(0) }); console.log('armed'); setInterval(() => {}, 1000)",
        ),
      }),
    );
    await waitFor(
      "both SIGTERM handlers",
      () => lines.filter((l) => l.endsWith("armed")).length === 2,
    );
    await supervisor.stop();
    expect(children.map((c) => [c.running, c.starts])).toEqual([
      [false, 1],
      [false, 1],
    ]);
    expect(lines.filter((l) => l.endsWith("bye"))).toHaveLength(2);
    expect(lines.some((l) => l.includes("restarting"))).toBe(false);
  });
});
