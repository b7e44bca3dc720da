import { describe, expect, it } from "vitest";
import { DEFAULT_FEATURES, canonicalColumnKey } from "./flow-features.ts";
import {
  FlowCsvError,
  FlowCsvReader,
  MissingColumnsError,
  resolveFlowColumns,
  splitCsvLine,
} from "./flow-csv-reader.ts";
import type { FlowBatch } from "./window-aggregator.ts";

const FEATURES = ["Flow Duration", "Flow Bytes/s", "SYN Flag Count"];

/** Reads a whole text with the given chunking; returns all rows flattened plus the reader. */
function read(text: string | Uint8Array, options: { chunk?: number; features?: string[] } = {}) {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  const reader = new FlowCsvReader({ features: options.features ?? FEATURES, batchSize: 4 });
  const batches: FlowBatch[] = [];
  const step = options.chunk ?? bytes.length;
  for (let i = 0; i < bytes.length; i += step)
    batches.push(...reader.push(bytes.subarray(i, i + step)));
  batches.push(...reader.end());
  const values: number[] = [];
  const lines: number[] = [];
  const attack: number[] = [];
  for (const b of batches) {
    values.push(...b.values.subarray(0, b.count * b.featureCount));
    lines.push(...b.lines.subarray(0, b.count));
    attack.push(...b.attack.subarray(0, b.count));
  }
  return { reader, values, lines, attack, batches };
}

describe("canonicalColumnKey", () => {
  it("matches the spellings of real files to one key", () => {
    expect(canonicalColumnKey(" Flow Duration ")).toBe("flowduration");
    expect(canonicalColumnKey("FLOW BYTES/S")).toBe("flowbytess");
    expect(canonicalColumnKey("Fwd Header Length.1")).toBe(
      canonicalColumnKey(" Fwd Header Length"),
    );
    expect(canonicalColumnKey("Total Fwd Packet")).toBe(canonicalColumnKey(" Total Fwd Packets"));
    expect(canonicalColumnKey("Total Bwd packets")).toBe(
      canonicalColumnKey("Total Backward Packets"),
    );
    expect(canonicalColumnKey("Total Length of Fwd Packet")).toBe(
      canonicalColumnKey("Total Length of Fwd Packets"),
    );
    expect(canonicalColumnKey("Dst Port")).toBe(canonicalColumnKey(" Destination Port"));
    expect(canonicalColumnKey("Packet Length Min")).toBe(canonicalColumnKey("Min Packet Length"));
    expect(canonicalColumnKey("FWD Init Win Bytes")).toBe(
      canonicalColumnKey("Init_Win_bytes_forward"),
    );
    expect(canonicalColumnKey("CWR Flag Count")).toBe(canonicalColumnKey(" CWE Flag Count"));
  });
});

describe("resolveFlowColumns", () => {
  it("finds features in any spelling and keeps the first of duplicated headers", () => {
    const header = [
      "Unnamed: 0",
      " Flow Duration",
      "Flow Bytes/s",
      "x",
      "Flow Duration.1",
      " SYN Flag Count",
      " Label",
    ];
    const columns = resolveFlowColumns(header, FEATURES);
    expect(Array.from(columns.featureColumns)).toEqual([1, 2, 5]);
    expect(columns.labelColumn).toBe(6);
  });

  it("names every missing column and the columns seen", () => {
    const header = ["Flow Duration", "Protocol"];
    try {
      resolveFlowColumns(header, FEATURES);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(MissingColumnsError);
      const e = error as MissingColumnsError;
      expect(e.missing).toEqual(["Flow Bytes/s", "SYN Flag Count"]);
      expect(e.seen).toEqual(header);
      expect(e.message).toBe(
        "missing required columns: Flow Bytes/s, SYN Flag Count (columns seen: Flow Duration, Protocol)",
      );
    }
  });
});

describe("FlowCsvReader", () => {
  const header = " Flow Duration, Flow Bytes/s,Protocol, SYN Flag Count, Label\n";

  it("reads rows with line numbers and labels", () => {
    const { values, lines, attack, reader } = read(
      header + "10,2.5,6,1,BENIGN\n20,-3e2,17,0,DDoS\n30,0.125,6,1,benign\n",
    );
    expect(values).toEqual([10, 2.5, 1, 20, -300, 0, 30, 0.125, 1]);
    expect(lines).toEqual([2, 3, 4]);
    expect(attack).toEqual([0, 1, 0]);
    expect(reader.stats.rowsAccepted).toBe(3);
    expect(reader.stats.attackRows).toBe(1);
    expect(reader.labelled).toBe(true);
  });

  it("gives the same result whatever the chunking", () => {
    const text =
      "\uFEFF" +
      header.replace(/\n/g, "\r\n") +
      '1,"2.5",6,1,BENIGN\r\n"3",4,"6,7",0,"DDoS"\r\n\r\n5,Infinity,6,,BENIGN\r\n7,NaN,6,1,"a ""quoted"" label"\r\n';
    const whole = read(text);
    expect(whole.values.slice(0, 6)).toEqual([1, 2.5, 1, 3, 4, 0]);
    expect(whole.values[7]).toBe(Number.POSITIVE_INFINITY);
    expect(Number.isNaN(whole.values[8])).toBe(true);
    expect(whole.lines).toEqual([2, 3, 5, 6]);
    expect(whole.attack).toEqual([0, 1, 0, 1]);
    expect(whole.reader.stats.nonFiniteValues).toBe(2);
    expect(whole.reader.stats.emptyValues).toBe(1);
    for (const chunk of [1, 2, 3, 7, 64]) {
      const r = read(text, { chunk });
      expect(r.lines).toEqual(whole.lines);
      expect(r.attack).toEqual(whole.attack);
      expect(r.values.map(String)).toEqual(whole.values.map(String));
    }
  });

  it("reads records cut at every byte the same, line breaks inside quoted fields too", () => {
    // A quoted label spanning lines, a CRLF, a rejected row and a blank line: whichever byte a
    // chunk ends at, the rows, their lines and the rejections match the whole read.
    const text =
      header +
      '1,2,6,1,"multi\nline\nlabel"\r\n' +
      "3,4,6,0,BENIGN\n" +
      "5,x,6,0,BENIGN\n" +
      "\n" +
      '7,8,6,1,"DDoS, ""LOIC"""\n' +
      "9,10,6,0,BENIGN";
    const whole = read(text);
    expect(whole.lines).toEqual([2, 5, 8, 9]);
    expect(whole.reader.stats.rejected).toHaveLength(1);
    const bytes = new TextEncoder().encode(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const reader = new FlowCsvReader({ features: FEATURES, batchSize: 4 });
      const batches = [
        ...reader.push(bytes.subarray(0, cut)),
        ...reader.push(bytes.subarray(cut)),
        ...reader.end(),
      ];
      const lines = batches.flatMap((b) => [...b.lines.subarray(0, b.count)]);
      const attack = batches.flatMap((b) => [...b.attack.subarray(0, b.count)]);
      expect(lines, `cut at ${cut}`).toEqual(whole.lines);
      expect(attack, `cut at ${cut}`).toEqual(whole.attack);
      expect(reader.stats.rejected, `cut at ${cut}`).toEqual(whole.reader.stats.rejected);
      expect(reader.stats.lines, `cut at ${cut}`).toBe(whole.reader.stats.lines);
    }
  });

  it("parses numbers of up to 15 significant digits exactly as Number() does", () => {
    const samples = [
      "0",
      "-0",
      "1",
      "123456789012345",
      "666666.6667",
      "0.1",
      "1e-7",
      "2.5E+10",
      "-1.7976931348623157e308",
      "5e-324",
      "1e400",
      "110091.7431",
      ".5",
      "5.",
      "+4",
      "  42  ",
      "000000000000000000000001.5",
    ];
    const text = "Flow Duration\n" + samples.join("\n") + "\n";
    const { values } = read(text, { features: ["Flow Duration"] });
    expect(values.map((v) => (Object.is(v, -0) ? "-0" : String(v)))).toEqual(
      samples.map((s) => (s.trim() === "-0" ? "-0" : String(Number(s)))),
    );
  });

  it("parses 16 to 19 significant digits within 1e-15 relative error", () => {
    const samples = [
      "1226519.3370165746",
      "22099.447513812152",
      "60.33333333333333",
      "0.30000000000000004",
      "1234567890123456789",
      "-9.999999999999999e-5",
      "12345678901234567890123",
    ];
    const text = "Flow Duration\n" + samples.join("\n") + "\n";
    const { values } = read(text, { features: ["Flow Duration"] });
    values.forEach((v, k) => {
      const exact = Number(samples[k]);
      expect(Math.abs(v - exact) / Math.abs(exact)).toBeLessThan(1e-15);
    });
  });

  it("rejects bad rows with line, column and reason, and reads on", () => {
    const { reader, lines } = read(
      header + "1,2,6,1,BENIGN\n1,abc,6,1,BENIGN\n1,2\n1,2,6,1,BENIGN,extra\n4,5,6,0,BENIGN\n",
    );
    expect(lines).toEqual([2, 6]);
    expect(reader.stats.rowsRejected).toBe(3);
    expect(reader.stats.rejected).toEqual([
      { line: 3, column: 2, reason: 'column 2 (Flow Bytes/s): not a number: "abc"' },
      { line: 4, reason: "ragged row: 2 fields, the header has 5" },
      { line: 5, reason: "ragged row: 6 fields, the header has 5" },
    ]);
  });

  it("reports a last line cut off mid-row", () => {
    const { reader, lines } = read(header + "1,2,6,1,BENIGN\n3,4,6");
    expect(lines).toEqual([2]);
    expect(reader.stats.rejected).toEqual([
      { line: 3, reason: "last line cut off: 3 of 5 fields" },
    ]);
  });

  it("reports a last line cut off inside a quoted field", () => {
    const { reader, lines } = read(header + '1,2,6,1,BENIGN\n3,4,6,1,"BEN');
    expect(lines).toEqual([2]);
    expect(reader.stats.rejected).toEqual([
      { line: 3, column: 5, reason: "input ends inside a quoted field (last line cut off)" },
    ]);
  });

  it("accepts a complete last line without a newline", () => {
    const { lines } = read(header + "1,2,6,1,BENIGN\n3,4,6,0,BENIGN");
    expect(lines).toEqual([2, 3]);
  });

  it("counts lines inside quoted fields", () => {
    const { lines } = read(header + '1,2,"multi\nline",1,BENIGN\n3,4,6,0,BENIGN\n');
    expect(lines).toEqual([2, 4]);
  });

  it("refuses a file missing required columns before reading rows", () => {
    expect(() => read("Flow Duration,Protocol\n1,6\n")).toThrow(MissingColumnsError);
  });

  it("refuses empty and binary input with a reason", () => {
    expect(() => read("")).toThrow(expect.objectContaining({ code: "empty" }));
    expect(() => read("\n\n")).toThrow(expect.objectContaining({ code: "empty" }));
    const binary = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x08]);
    expect(() => read(binary)).toThrow(expect.objectContaining({ code: "binary" }));
    try {
      read(binary);
    } catch (error) {
      expect(error).toBeInstanceOf(FlowCsvError);
      expect((error as Error).message).toContain("NUL byte at offset 4");
    }
  });

  it("treats a header-only file as zero rows", () => {
    const { reader, values } = read(header);
    expect(values).toEqual([]);
    expect(reader.stats.rowsAccepted).toBe(0);
    expect(reader.stats.rowsRejected).toBe(0);
    expect(reader.columns?.header.length).toBe(5);
  });

  it("refuses an endless record instead of buffering it", () => {
    const reader = new FlowCsvReader({ features: FEATURES, maxRecordBytes: 1000 });
    reader.push(header);
    expect(() => reader.push('1,"' + "x".repeat(2000))).toThrow(
      expect.objectContaining({ code: "record_too_long", line: 2 }),
    );
  });

  it("emits full batches as they fill", () => {
    const rows = Array.from({ length: 10 }, (_, i) => `${i},1,6,0,BENIGN`).join("\n");
    const { batches } = read(header + rows + "\n");
    expect(batches.map((b) => b.count)).toEqual([4, 4, 2]);
  });

  it("reads all 25 default features from an original-layout header", () => {
    const names = [
      " Destination Port",
      ...DEFAULT_FEATURES.map((f) => ` ${f}`),
      " Fwd Header Length",
      "Fwd Header Length",
      " Label",
    ];
    const row = ["80", ...DEFAULT_FEATURES.map((_, i) => String(i + 1)), "20", "20", "BENIGN"];
    const { values } = read(names.join(",") + "\n" + row.join(",") + "\n", {
      features: [...DEFAULT_FEATURES],
    });
    expect(values).toEqual(DEFAULT_FEATURES.map((_, i) => i + 1));
  });
});

describe("splitCsvLine", () => {
  it("splits quoted fields", () => {
    expect(splitCsvLine('a, "b,c" ,"d""e",')).toEqual(["a", "b,c ", 'd"e', ""]);
  });
});

describe("FlowCsvReader.flush", () => {
  it("hands over a partly filled batch at once, without disturbing earlier or later rows", () => {
    const reader = new FlowCsvReader({ features: FEATURES, batchSize: 4 });
    const header = "Flow Duration,Flow Bytes/s,SYN Flag Count\n";
    expect(reader.push(header + "1,10,0\n2,20,1\n")).toEqual([]);
    const first = reader.flush();
    expect(first.map((b) => b.count)).toEqual([2]);
    expect(reader.flush()).toEqual([]);
    // The next rows reuse the reader's buffers; the batch already handed over keeps its values.
    const full = reader.push("3,30,0\n4,40,0\n5,50,1\n6,60,0\n7,70,");
    expect(full.map((b) => [...b.lines.subarray(0, b.count)])).toEqual([[4, 5, 6, 7]]);
    expect([...first[0]!.values]).toEqual([1, 10, 0, 2, 20, 1]);
    expect([...first[0]!.lines]).toEqual([2, 3]);
    expect(reader.flush()).toEqual([]); // the cut row is not complete yet
    const rest = [...reader.push("1\n"), ...reader.flush(), ...reader.end()];
    expect(rest.map((b) => [...b.values.subarray(0, b.count * 3)])).toEqual([[7, 70, 1]]);
    expect(reader.stats.rowsAccepted).toBe(7);
  });
});

describe("FlowCsvReader context columns", () => {
  const header =
    " Source IP, Destination IP, Destination Port, Protocol, Timestamp, Flow Duration, Flow Bytes/s, SYN Flag Count\n";

  function contextOf(batches: FlowBatch[]) {
    const rows: {
      dst: string | null;
      src: string | null;
      port: number;
      proto: number;
      time: number;
    }[] = [];
    for (const b of batches) {
      const c = b.context!;
      for (let i = 0; i < b.count; i++) {
        rows.push({
          dst: c.dstIp[i]! < 0 ? null : c.strings[c.dstIp[i]!]!,
          src: c.srcIp[i]! < 0 ? null : c.strings[c.srcIp[i]!]!,
          port: c.dstPort[i]!,
          proto: c.protocol[i]!,
          time: c.time[i]!,
        });
      }
    }
    return rows;
  }

  it("carries IPs as per-batch codes, ports, protocols and timestamps beside the features", () => {
    const body = [
      "172.16.0.1,192.168.10.50,80,6,7/7/2017 3:30,10,1,0",
      "172.16.0.1,192.168.10.50,80,6,7/7/2017 3:30,11,2,1",
      '"10.0.0.9", 192.168.10.3 ,53,17,7/7/2017 3:31:05,12,3,0',
      ",,,,,13,4,0",
      "172.16.0.1,192.168.10.50,80,6,not a time,14,5,0",
      "10.0.0.9,192.168.10.50,443,6,7/7/2017 3:32,15,6,0",
    ].join("\n");
    for (const chunk of [1, 7, 1000]) {
      const { reader, batches, values } = read(header + body + "\n", { chunk });
      expect(values.filter((_, i) => i % 3 === 0)).toEqual([10, 11, 12, 13, 14, 15]);
      expect(reader.columns!.context).toEqual({
        dstIp: 1,
        srcIp: 0,
        dstPort: 2,
        protocol: 3,
        timestamp: 4,
      });
      const rows = contextOf(batches);
      expect(rows.map((r) => r.dst)).toEqual([
        "192.168.10.50",
        "192.168.10.50",
        "192.168.10.3",
        null,
        "192.168.10.50",
        "192.168.10.50",
      ]);
      expect(rows.map((r) => r.src)).toEqual([
        "172.16.0.1",
        "172.16.0.1",
        "10.0.0.9",
        null,
        "172.16.0.1",
        "10.0.0.9",
      ]);
      expect(rows.map((r) => r.port)).toEqual([80, 80, 53, -1, 80, 443]);
      expect(rows.map((r) => r.proto)).toEqual([6, 6, 17, -1, 6, 6]);
      expect(
        rows.map((r) => (Number.isNaN(r.time) ? null : new Date(r.time).toISOString())),
      ).toEqual([
        "2017-07-07T03:30:00.000Z",
        "2017-07-07T03:30:00.000Z",
        "2017-07-07T03:31:05.000Z",
        null,
        null,
        "2017-07-07T03:32:00.000Z",
      ]);
      // The empty cell and "not a time" are counted, and their rows kept.
      expect(reader.stats.timestampsUnparsed).toBe(2);
      expect(reader.stats.rowsAccepted).toBe(6);
      // A batch's dictionary holds each address once.
      for (const b of batches)
        expect(new Set(b.context!.strings).size).toBe(b.context!.strings.length);
    }
  });

  it("reads naive timestamps in the zone it is given", () => {
    const reader = new FlowCsvReader({ features: FEATURES, timestampZone: "-03:00" });
    const batches = [
      ...reader.push(header + "a,b,1,6,2017-07-07 12:00:00,1,1,1\n"),
      ...reader.end(),
    ];
    expect(new Date(batches[0]!.context!.time[0]!).toISOString()).toBe("2017-07-07T15:00:00.000Z");
  });

  it("carries no context for a file without those columns", () => {
    const { batches } = read("Flow Duration,Flow Bytes/s,SYN Flag Count\n1,2,3\n");
    expect(batches[0]!.context).toBeUndefined();
  });
});
