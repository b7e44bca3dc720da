import { describe, expect, it } from "vitest";
import { reconnectDelay, RECONNECT_CAP_MS } from "./backoff.ts";

describe("reconnectDelay", () => {
  it("doubles per attempt between half and all of the step", () => {
    expect(reconnectDelay(1, () => 0)).toBe(250);
    expect(reconnectDelay(1, () => 1)).toBe(500);
    expect(reconnectDelay(2, () => 1)).toBe(1000);
    expect(reconnectDelay(4, () => 0.5)).toBe(3000);
  });

  it("never waits longer than the cap, however many attempts failed", () => {
    expect(reconnectDelay(6, () => 1)).toBe(RECONNECT_CAP_MS);
    expect(reconnectDelay(1000, () => 1)).toBe(RECONNECT_CAP_MS);
    expect(reconnectDelay(1000, () => 0)).toBe(RECONNECT_CAP_MS / 2);
  });
});
