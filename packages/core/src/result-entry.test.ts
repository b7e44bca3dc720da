import { describe, expect, it } from "vitest";
import {
  decodeResultEntry,
  encodeResultEntry,
  ResultEntryError,
  type ResultEntryFields,
} from "./result-entry.ts";
import { resultBatchSchema, type WindowResult } from "./stream-contracts.ts";

function result(window: number, overrides: Partial<WindowResult> = {}): WindowResult {
  return {
    uploadId: "u",
    window,
    firstLine: 2 + window * 10,
    lastLine: 11 + window * 10,
    score: window % 2 === 0 ? -0.01 : 0.02,
    anomaly: window % 2 === 0,
    pc1: 0.5,
    pc2: -0.25,
    modelVersion: "m",
    signals: { packetsPerSecond: 12.5, synCount: null },
    receivedAt: 1_000,
    scoredAt: 1_020,
    start: "2017-07-07T12:02:55.371Z",
    end: null,
    // A string with every character that JSON escapes or that counts twice in UTF-16.
    victims: [{ ip: 'a"b\\c,]}\u{1F600}', flows: 3 }],
    sources: { top: [], distinct: 0 },
    ports: null,
    explanation: null,
    explanationFeatures: null,
    ...overrides,
  };
}

const decode = (fields: Partial<ResultEntryFields>) => () =>
  decodeResultEntry((name) => fields[name]);

describe("results entry", () => {
  it("encodes what JSON.stringify gives and cuts it back into each window's JSON", () => {
    const windows = [result(0), result(1), result(2, { receivedAt: 900, scoredAt: 1_100 })];
    const fields = encodeResultEntry(windows);
    expect(fields.windows).toBe(JSON.stringify(windows));
    expect(fields).toMatchObject({ uploadId: "u", anomalies: "0,2", receivedAt: "900" });
    expect(fields.scoredAt).toBe("1100");
    const decoded = decodeResultEntry((name) => fields[name]);
    expect(decoded.texts).toEqual(windows.map((w) => JSON.stringify(w)));
    expect(decoded.anomalous).toEqual([true, false, true]);
    expect([decoded.receivedAt, decoded.scoredAt]).toEqual([900, 1_100]);
  });

  it("fills the schema's defaults, so a reader needs none", () => {
    const { start: _s, end: _e, victims: _v, ...old } = result(1);
    const fields = encodeResultEntry([old as WindowResult]);
    expect(JSON.parse(fields.windows)[0]).toMatchObject({ start: null, end: null, victims: null });
  });

  it("refuses results that break the schema, naming the field", () => {
    expect(() => encodeResultEntry([result(0, { score: "low" as unknown as number })])).toThrow(
      /^window result 0\.score: /,
    );
    expect(() => encodeResultEntry([result(0), result(1, { uploadId: "v" })])).toThrow(
      "window 1 belongs to upload v, the entry to u",
    );
    expect(() => encodeResultEntry([])).toThrow(ResultEntryError);
  });

  it("re-encodes an entry written as uploadId and windows only", () => {
    const windows = [result(3), result(4)];
    const decoded = decodeResultEntry(
      (name) => ({ uploadId: "u", windows: JSON.stringify(windows) })[name as string],
    );
    expect(decoded.texts.map((t) => resultBatchSchema.element.parse(JSON.parse(t)))).toEqual(
      windows,
    );
    expect(decoded.anomalous).toEqual([false, true]);
  });

  it("refuses layout fields that do not fit the text", () => {
    const fields = encodeResultEntry([result(0), result(1)]);
    const [a, b] = fields.windowLengths.split(",").map(Number) as [number, number];
    expect(decode({ ...fields, windowLengths: `${a},${b - 1}` })).toThrow(
      "window 1 is not a JSON object",
    );
    expect(decode({ ...fields, windowLengths: `${a}` })).toThrow(/does not fit/);
    expect(decode({ ...fields, windowLengths: `${a},${b},5` })).toThrow(/does not fit/);
    expect(decode({ ...fields, anomalies: "2" })).toThrow("anomalies names window 2 of 2");
    expect(decode({ ...fields, scoredAt: "soon" })).toThrow("scoredAt is not a number");
    expect(decode({ ...fields, windows: "[1" })).toThrow(/does not fit/);
    expect(decode({ uploadId: "u", windows: "[{" })).toThrow("windows is not JSON");
    expect(decode({ uploadId: "u", windows: '[{"window":1}]' })).toThrow(/^0\.uploadId: /);
  });
});
