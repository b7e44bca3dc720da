import { describe, expect, it } from "vitest";
import {
  DEFAULT_RESTART_POLICY,
  NO_EXITS,
  decideRestart,
  describeExit,
  formatDelay,
  type ExitHistory,
  type RestartDecision,
} from "./restart-policy.ts";

/** Replays exits `[startedAt, exitedAt]` in order and returns every decision. */
function replay(runs: [number, number][]): RestartDecision[] {
  let history: ExitHistory = NO_EXITS;
  return runs.map(([startedAt, exitedAt]) => {
    const decision = decideRestart(history, startedAt, exitedAt);
    history = decision.history;
    return decision;
  });
}

describe("decideRestart", () => {
  it("doubles the delay from 0.5 s on consecutive crashes and caps it at 10 s", () => {
    // A child that dies 1 s after each start, with long gaps so the crash-loop window never fills.
    const runs: [number, number][] = [];
    for (let i = 0; i < 8; i++) runs.push([i * 100_000, i * 100_000 + 1_000]);
    expect(replay(runs).map((d) => (d.action === "restart" ? d.delayMs : d.action))).toEqual([
      500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000,
    ]);
  });

  it("starts the backoff over after a run longer than healthyAfterMs", () => {
    const healthy = DEFAULT_RESTART_POLICY.healthyAfterMs;
    const decisions = replay([
      [0, 1_000],
      [100_000, 101_000],
      [200_000, 201_000],
      [300_000, 300_000 + healthy],
      [500_000, 501_000],
    ]);
    expect(decisions.map((d) => (d.action === "restart" ? d.delayMs : d.action))).toEqual([
      500, 1_000, 2_000, 500, 1_000,
    ]);
  });

  it("gives up on the fifth exit within 60 s, and not on the fifth exit over 61 s", () => {
    const fast = replay(
      [0, 1, 2, 3, 4].map((i): [number, number] => [i * 10_000, i * 10_000 + 50]),
    );
    expect(fast.map((d) => d.action)).toEqual([
      "restart",
      "restart",
      "restart",
      "restart",
      "give-up",
    ]);
    expect(fast[4]).toMatchObject({ action: "give-up", exitsInWindow: 5 });

    // Exits at 0, 15.25, 30.5, 45.75 and 61 s: never five inside one minute.
    const spread = replay(
      [0, 1, 2, 3, 4].map((i): [number, number] => [i * 15_250 - 100, i * 15_250]),
    );
    expect(spread.map((d) => d.action)).toEqual([
      "restart",
      "restart",
      "restart",
      "restart",
      "restart",
    ]);
    expect(spread[4]?.history.exitTimes).toEqual([15_250, 30_500, 45_750, 61_000]);
  });
});

describe("describeExit and formatDelay", () => {
  it("say how a process ended and how long until the restart", () => {
    expect(describeExit(null, "SIGKILL")).toBe("killed by SIGKILL");
    expect(describeExit(1, null)).toBe("exited with code 1");
    expect(describeExit(0, null)).toBe("exited with code 0");
    expect(formatDelay(500)).toBe("0.5 s");
    expect(formatDelay(10_000)).toBe("10 s");
  });
});
