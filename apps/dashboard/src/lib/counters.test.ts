import { describe, expect, it } from "vitest";
import { summary, uploadStatus } from "../test-fixtures.ts";
import { countersOf } from "./counters.ts";

const byKey = (counters: ReturnType<typeof countersOf>) =>
  Object.fromEntries(counters.map((c) => [c.key, c]));

describe("countersOf", () => {
  it("shows the system's figures when no upload is selected", () => {
    const c = byKey(countersOf(summary(), null));
    expect(c.anomalies?.text).toBe("56");
    expect(c.anomalies?.tone).toBe("alert");
    expect(c.threshold?.text).toBe("-0.0568");
    expect(c["last-score"]?.tone).toBe("plain");
    expect(c["worst-score"]?.tone).toBe("alert");
    expect(c["windows-scored"]?.text).toBe("1,234");
    expect(c["flows-per-second"]?.text).toBe("48.3K");
    expect(c.backlog?.tone).toBe("warn");
    expect(c.detectors?.value).toBe(2);
    expect(c["dead-letters"]).toBeUndefined();
  });

  it("uses the selected upload's own figures where it has them", () => {
    const c = byKey(countersOf(summary(), uploadStatus({ anomalies: 7, windowsScored: 40 })));
    expect(c.anomalies?.value).toBe(7);
    expect(c.anomalies?.scope).toBe("upload");
    expect(c["windows-scored"]?.value).toBe(40);
    expect(c["worst-score"]?.value).toBe(-0.12);
    // Threshold and rates stay the system's.
    expect(c.threshold?.scope).toBe("system");
    expect(c["flows-per-second"]?.value).toBe(48_250);
  });

  it("adds dead letters only when there are some", () => {
    const c = byKey(countersOf(summary({ deadLetters: 3 }), null));
    expect(c["dead-letters"]?.value).toBe(3);
    expect(c["dead-letters"]?.tone).toBe("alert");
  });

  it("shows placeholders before the first summary", () => {
    const c = byKey(countersOf(null, null));
    expect(c.anomalies?.text).toBe("—");
    expect(c.anomalies?.value).toBeNull();
    expect(c.detectors?.tone).toBe("plain");
  });
});
