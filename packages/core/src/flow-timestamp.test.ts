import { describe, expect, it } from "vitest";
import {
  TimestampColumn,
  parseFlowTimestamp,
  parseTimestampBytes,
  zoneOffset,
} from "./flow-timestamp.ts";

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

describe("TimestampColumn", () => {
  const bytes = (text: string) => new TextEncoder().encode(text);

  it("gives every cell of a sequence the full parse's value, to the bit", () => {
    // Each group shares an hour with its neighbours, then changes what the shortcut must notice:
    // the hour, the date, the suffix, the layout (fraction length, seconds), a bad minute.
    const cells = [
      "2017-07-05 11:42:48.623825",
      "2017-07-05 11:43:22.809355",
      "2017-07-05 11:43:22.809355",
      "2017-07-05 11:59:59.999999",
      "2017-07-05 12:00:00.000001",
      "2017-07-06 12:00:00.000001",
      "2017-07-06 12:00:00.5",
      "2017-07-06 12:61:00.500000",
      "2017-07-06 12:07:00,250000",
      "2017-07-06 12:07:0x.250000",
      "2017-07-06T12:07:00Z",
      "2017-07-06T12:08:30Z",
      "2017-07-06T12:08:30+02:00",
      "2017-07-06T12:09:31+02:00",
      "2017-07-06T12:09:31-02:00",
      "7/7/2017 3:30",
      "7/7/2017 3:31",
      "7/7/2017 3:31:12",
      "7/7/2017 4:31:12",
      "07/07/2017 03:30:12 PM",
      "07/07/2017 03:31:13 PM",
      "07/07/2017 03:31:13 AM",
      "2017-07-07",
      "2017-07-08",
      "2017-07-07 12:00",
      "2017-07-07 12:60",
    ];
    for (const zone of [undefined, "-03:00", "America/Halifax", "Europe/Berlin"]) {
      const offset = zoneOffset(zone);
      const column = new TimestampColumn(offset);
      for (const cell of cells) {
        const data = bytes(cell);
        const expected = parseTimestampBytes(data, 0, data.length, offset);
        expect(Object.is(column.parse(data, 0, data.length), expected), `${cell} ${zone}`).toBe(
          true,
        );
      }
    }
  });

  it("agrees with the full parse on random same-hour runs, fraction digits included", () => {
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const pad = (n: number, width: number) => String(n).padStart(width, "0");
    const offset = zoneOffset("America/Halifax");
    const column = new TimestampColumn(offset);
    for (let i = 0; i < 5000; i++) {
      const hour = 10 + next(3);
      const cell =
        `2017-03-12 ${pad(hour, 2)}:${pad(next(60), 2)}:${pad(next(61), 2)}` +
        `.${pad(next(1_000_000), 6)}`;
      const data = bytes(cell);
      expect(column.parse(data, 0, data.length)).toBe(
        parseTimestampBytes(data, 0, data.length, offset),
      );
    }
  });
});
