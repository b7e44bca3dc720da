import { describe, expect, it } from "vitest";
import { parseFlowTimestamp, zoneOffset } from "./flow-timestamp.ts";

const iso = (ms: number) => new Date(ms).toISOString();

describe("parseFlowTimestamp", () => {
  it("reads the improved CIC-IDS2017 / CIC-DDoS2019 spelling to the microsecond's millisecond", () => {
    expect(iso(parseFlowTimestamp("2017-07-07 12:02:55.371187"))).toBe("2017-07-07T12:02:55.371Z");
    expect(iso(parseFlowTimestamp("2018-12-01 10:51:39.813448"))).toBe("2018-12-01T10:51:39.813Z");
  });

  it("reads the original CIC-IDS2017 day-first form, hour as written", () => {
    expect(iso(parseFlowTimestamp("7/7/2017 3:30"))).toBe("2017-07-07T03:30:00.000Z");
    expect(iso(parseFlowTimestamp("3/7/2017 8:55:12"))).toBe("2017-07-03T08:55:12.000Z");
    // Day first: 13/7 is the 13th of July; 7/13 is no date.
    expect(iso(parseFlowTimestamp("13/7/2017 1:05"))).toBe("2017-07-13T01:05:00.000Z");
    expect(parseFlowTimestamp("7/13/2017 1:05")).toBeNaN();
  });

  it("reads CICFlowMeter's dd/MM/yyyy hh:mm:ss a with its AM/PM", () => {
    expect(iso(parseFlowTimestamp("07/07/2017 03:30:12 PM"))).toBe("2017-07-07T15:30:12.000Z");
    expect(iso(parseFlowTimestamp("07/07/2017 12:05:00 am"))).toBe("2017-07-07T00:05:00.000Z");
    expect(iso(parseFlowTimestamp("07/07/2017 12:05:00 PM"))).toBe("2017-07-07T12:05:00.000Z");
  });

  it("honours an ISO zone and reads a naive time in the zone setting", () => {
    expect(iso(parseFlowTimestamp("2017-07-07T12:00:00Z"))).toBe("2017-07-07T12:00:00.000Z");
    expect(iso(parseFlowTimestamp("2017-07-07T12:00:00-03:00"))).toBe("2017-07-07T15:00:00.000Z");
    expect(iso(parseFlowTimestamp("2017-07-07T12:00:00+0530", "-03:00"))).toBe(
      "2017-07-07T06:30:00.000Z",
    );
    expect(iso(parseFlowTimestamp("2017-07-07 12:00:00", "-03:00"))).toBe(
      "2017-07-07T15:00:00.000Z",
    );
    // Halifax (the capture site's zone) is UTC-3 in July, UTC-4 in January.
    expect(iso(parseFlowTimestamp("7/7/2017 3:30", "America/Halifax"))).toBe(
      "2017-07-07T06:30:00.000Z",
    );
    expect(iso(parseFlowTimestamp("2017-01-07 03:30", "America/Halifax"))).toBe(
      "2017-01-07T07:30:00.000Z",
    );
  });

  it("gives NaN for what is no timestamp, never a made-up date", () => {
    for (const text of [
      "",
      "yesterday",
      "2017-02-30 10:00",
      "31/4/2017 1:00",
      "2017-07-07 25:00",
      "1/1/17 1:00",
      "2017-07-07 12:00 PM",
    ]) {
      expect(parseFlowTimestamp(text), text).toBeNaN();
    }
  });

  it("refuses a zone setting it cannot read, naming it", () => {
    expect(() => zoneOffset("Mars/Olympus")).toThrow(/Mars\/Olympus/);
    expect(zoneOffset("+02:00")(0)).toBe(7_200_000);
  });
});
