import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ORIGINAL_FLOW_COLUMNS, ORIGINAL_FLOW_CSV_HEADER } from "../flow-features.ts";
import {
  ATTACK_KINDS,
  GENERATED_LABELS,
  generateFlowCsv,
  type AttackKind,
  type FlowGeneratorOptions,
} from "./flow-generator.ts";

const REAL_GENERATED_LABELLED_FLOWS = fileURLToPath(
  new URL(
    "../../../../../shared/data/cicids2017-original-layout/friday-benign-head-generatedlabelledflows.csv",
    import.meta.url,
  ),
);
const hasRealData = existsSync(REAL_GENERATED_LABELLED_FLOWS);

const HEADER_NAMES = ORIGINAL_FLOW_CSV_HEADER.split(",");

/** Index of a column by its trimmed name; the first one for the duplicated ` Fwd Header Length`. */
function col(name: string): number {
  const index = HEADER_NAMES.findIndex((header) => header.trim() === name);
  if (index < 0) throw new Error(`no column ${name}`);
  return index;
}

function csvText(options: FlowGeneratorOptions): string {
  return [...generateFlowCsv(options)].join("");
}

/** Data rows split on commas: the generator never quotes a field. */
function parseRows(options: FlowGeneratorOptions): string[][] {
  const lines = csvText(options).split("\n");
  expect(lines.pop()).toBe("");
  expect(lines.shift()).toBe(ORIGINAL_FLOW_CSV_HEADER);
  return lines.map((line) => line.split(","));
}

function num(row: string[], name: string): number {
  return Number(row[col(name)]);
}

/** Equal up to the 10 significant digits the files print (or a looser relative tolerance). */
function close(a: number, b: number, relative = 1e-9): boolean {
  return Math.abs(a - b) <= relative * Math.max(Math.abs(a), Math.abs(b), 1e-12);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function phaseOf(options: FlowGeneratorOptions): { start: number; end: number } {
  return {
    start: Math.floor((options.attackStart ?? 0.4) * options.flows),
    end: Math.floor((options.attackEnd ?? 0.7) * options.flows),
  };
}

const ATTACKS = ATTACK_KINDS.filter((kind) => kind !== "none");

describe("generateFlowCsv header", () => {
  it("starts with the original 85-column header as its own chunk", () => {
    const first = generateFlowCsv({ flows: 3, attack: "none", seed: 1 }).next();
    expect(first.value).toBe(ORIGINAL_FLOW_CSV_HEADER + "\n");
    expect(HEADER_NAMES).toHaveLength(ORIGINAL_FLOW_COLUMNS);
    expect(HEADER_NAMES[0]).toBe("Flow ID");
    expect(HEADER_NAMES[7]).toBe(" Flow Duration");
    expect(HEADER_NAMES[84]).toBe(" Label");
    expect(HEADER_NAMES[40]).toBe(" Fwd Header Length");
    expect(HEADER_NAMES[61]).toBe(" Fwd Header Length");
  });

  it.skipIf(!hasRealData)(
    `equals the first line of the real GeneratedLabelledFlows file${hasRealData ? "" : " (skipped: ../shared/data is absent)"}`,
    () => {
      const realHeader = readFileSync(REAL_GENERATED_LABELLED_FLOWS, "utf8").split("\n")[0];
      expect(ORIGINAL_FLOW_CSV_HEADER).toBe(realHeader);
    },
  );

  it("yields only the header for 0 flows", () => {
    expect([...generateFlowCsv({ flows: 0, attack: "syn", seed: 1 })]).toEqual([
      ORIGINAL_FLOW_CSV_HEADER + "\n",
    ]);
  });
});

describe("generateFlowCsv determinism", () => {
  const options: FlowGeneratorOptions = { flows: 3000, attack: "http", seed: 42 };

  it("gives identical output for the same seed", () => {
    expect(csvText(options)).toBe(csvText({ ...options }));
  });

  it("gives different output for a different seed", () => {
    const a = csvText(options).split("\n");
    const b = csvText({ ...options, seed: 43 }).split("\n");
    expect(b[0]).toBe(a[0]);
    expect(b[1]).not.toBe(a[1]);
    expect(b.filter((line, i) => line !== a[i]).length).toBeGreaterThan(2900);
  });
});

describe.each(ATTACK_KINDS)("generateFlowCsv with attack %s", (attack) => {
  const options: FlowGeneratorOptions = { flows: 4000, attack, seed: 7 };
  const rows = parseRows(options);
  const label = col("Label");

  it("writes exactly the requested rows of 85 fields", () => {
    expect(rows).toHaveLength(4000);
    for (const row of rows) expect(row).toHaveLength(ORIGINAL_FLOW_COLUMNS);
  });

  it("labels attack flows only inside the attack phase", () => {
    const { start, end } = phaseOf(options);
    rows.forEach((row, i) => {
      if (row[label] !== "BENIGN") {
        expect(row[label]).toBe(GENERATED_LABELS[attack]);
        expect(i).toBeGreaterThanOrEqual(start);
        expect(i).toBeLessThan(end);
      }
    });
    const attacks = rows.filter((row) => row[label] !== "BENIGN").length;
    if (attack === "none") {
      expect(attacks).toBe(0);
    } else {
      // 1200 phase rows, share 0.8: 960 expected, binomial sd about 14.
      expect(Math.abs(attacks - 960)).toBeLessThan(60);
    }
  });

  it("keeps every row internally consistent", () => {
    const problems: string[] = [];
    rows.forEach((row, i) => {
      const check = (ok: boolean, what: string): void => {
        if (!ok && problems.length < 10) problems.push(`row ${i}: ${what} in ${row.join(",")}`);
      };
      const fwd = num(row, "Total Fwd Packets");
      const bwd = num(row, "Total Backward Packets");
      const packets = fwd + bwd;
      const fwdBytes = num(row, "Total Length of Fwd Packets");
      const bytes = fwdBytes + num(row, "Total Length of Bwd Packets");
      const duration = num(row, "Flow Duration");
      const std = num(row, "Packet Length Std");
      check(close(num(row, "Packet Length Variance"), std * std, 1e-6), "Variance = Std^2");
      check(num(row, "Subflow Fwd Packets") === fwd, "Subflow Fwd Packets");
      check(num(row, "Subflow Bwd Packets") === bwd, "Subflow Bwd Packets");
      check(num(row, "Subflow Fwd Bytes") === fwdBytes, "Subflow Fwd Bytes");
      check(row[69] === row[col("Total Length of Fwd Packets")], "Subflow Fwd Bytes text");
      check(row[61] === row[40], "Fwd Header Length twice");
      check(fwd >= 1, "a forward packet");
      check(close(num(row, "Average Packet Size"), bytes / packets), "Average Packet Size");
      check(close(num(row, "Packet Length Mean"), bytes / packets), "Packet Length Mean");
      check(close(num(row, "Fwd Packet Length Mean") * fwd, fwdBytes), "Fwd Packet Length Mean");
      check(num(row, "Min Packet Length") <= num(row, "Max Packet Length"), "length min <= max");
      if (duration > 0) {
        check(close(num(row, "Flow Packets/s"), (packets / duration) * 1e6), "Flow Packets/s");
        check(close(num(row, "Flow Bytes/s"), (bytes / duration) * 1e6), "Flow Bytes/s");
        check(close(num(row, "Flow IAT Mean"), duration / (packets - 1)), "Flow IAT Mean");
        check(close(num(row, "Fwd Packets/s"), (fwd / duration) * 1e6), "Fwd Packets/s");
      } else {
        check(row[col("Flow Packets/s")] === "Infinity", "Flow Packets/s Infinity");
        check(row[col("Flow Bytes/s")] === (bytes > 0 ? "Infinity" : "NaN"), "Flow Bytes/s");
      }
      check(num(row, "Flow IAT Max") <= duration, "Flow IAT Max <= duration");
      check(num(row, "Flow IAT Min") <= num(row, "Flow IAT Mean"), "Flow IAT Min <= Mean");
      check(num(row, "Flow IAT Mean") <= num(row, "Flow IAT Max"), "Flow IAT Mean <= Max");
      check(num(row, "Fwd IAT Total") <= duration, "Fwd IAT Total <= duration");
      check(num(row, "Bwd IAT Total") <= duration, "Bwd IAT Total <= duration");
      if (fwd > 1) {
        check(
          close(num(row, "Fwd IAT Mean") * (fwd - 1), num(row, "Fwd IAT Total")),
          "Fwd IAT Mean",
        );
      }
      check(duration <= 120_000_000, "flow timeout");
      for (const flag of ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "CWE", "ECE"]) {
        const value = num(row, `${flag} Flag Count`);
        check(value === 0 || value === 1, `${flag} Flag Count is 0 or 1`);
      }
      check(num(row, "Down/Up Ratio") === Math.floor(bwd / fwd), "Down/Up Ratio");
    });
    expect(problems).toEqual([]);
  });

  it("prints numbers like the original files", () => {
    const problems: string[] = [];
    for (const row of rows) {
      for (let i = 7; i < 84; i++) {
        const field = row[i]!;
        const nonFinite = field === "Infinity" || field === "NaN";
        const digits = field.replace(/^-|\./g, "").replace(/^0+/, "");
        const ok = nonFinite
          ? i === 20 || i === 21
          : /^-?\d+(\.\d*[1-9])?$/.test(field) && (!field.includes(".") || digits.length <= 10);
        if (!ok && problems.length < 10) problems.push(`${HEADER_NAMES[i]}: ${field}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe("generateFlowCsv exact counts for seed 7", () => {
  it.each([
    ["syn", 951],
    ["udp", 985],
    ["http", 962],
    ["slowloris", 969],
  ] as const)("%s: %i attack flows", (attack, expected) => {
    const rows = parseRows({ flows: 4000, attack, seed: 7 });
    expect(rows.filter((row) => row[col("Label")] === GENERATED_LABELS[attack])).toHaveLength(
      expected,
    );
  });

  it("honours attackStart, attackEnd and attackShare", () => {
    const options: FlowGeneratorOptions = {
      flows: 1000,
      attack: "udp",
      seed: 3,
      attackStart: 0.1,
      attackEnd: 0.25,
      attackShare: 1,
    };
    const labels = parseRows(options).map((row) => row[col("Label")]);
    expect(labels.slice(100, 250).every((value) => value === "DrDoS_UDP")).toBe(true);
    expect(labels.filter((value) => value === "DrDoS_UDP")).toHaveLength(150);
    const none = parseRows({ ...options, attackShare: 0 }).map((row) => row[col("Label")]);
    expect(none.every((value) => value === "BENIGN")).toBe(true);
  });
});

describe("generateFlowCsv benign background", () => {
  const rows = parseRows({ flows: 20_000, attack: "none", seed: 11 });

  it("has about 0.5 % flows lasting 0 µs, with non-finite rates", () => {
    const zero = rows.filter((row) => num(row, "Flow Duration") === 0);
    expect(zero.length).toBeGreaterThan(50);
    expect(zero.length).toBeLessThan(170);
    expect(zero.some((row) => row[col("Flow Bytes/s")] === "NaN")).toBe(true);
    expect(zero.some((row) => row[col("Flow Bytes/s")] === "Infinity")).toBe(true);
  });

  it("mixes DNS, HTTPS, HTTP and NTP with heavy-tailed durations", () => {
    const ports = new Map<string, number>();
    for (const row of rows) {
      const port = row[col("Destination Port")]!;
      ports.set(port, (ports.get(port) ?? 0) + 1);
    }
    expect(ports.get("443")! / rows.length).toBeGreaterThan(0.5);
    expect(ports.get("53")! / rows.length).toBeGreaterThan(0.15);
    expect(ports.get("80")! / rows.length).toBeGreaterThan(0.05);
    expect(ports.get("123")! / rows.length).toBeGreaterThan(0.02);
    const durations = rows.map((row) => num(row, "Flow Duration")).sort((a, b) => a - b);
    const p50 = durations[Math.floor(durations.length * 0.5)]!;
    const p99 = durations[Math.floor(durations.length * 0.99)]!;
    expect(p50).toBeGreaterThan(1000);
    expect(p50).toBeLessThan(1_000_000);
    expect(p99).toBeGreaterThan(100 * p50);
    expect(rows.filter((row) => num(row, "Idle Mean") > 5_000_000).length).toBeGreaterThan(500);
  });

  it("stamps times like the real files, in order, from startTime", () => {
    const stamps = rows.map((row) => row[col("Timestamp")]!);
    expect(stamps[0]).toBe("7/7/2017 3:30");
    for (const stamp of stamps) expect(stamp).toMatch(/^\d{1,2}\/\d{1,2}\/2017 \d{1,2}:\d{2}$/);
    // 20,000 flows at ~40 a second span about 8 minutes.
    expect(new Set(stamps).size).toBeGreaterThan(5);
    const minutes = stamps.map((stamp) => {
      const [, clock] = stamp.split(" ");
      const [hour, minute] = clock!.split(":").map(Number);
      return hour! * 60 + minute!;
    });
    for (let i = 1; i < minutes.length; i++) {
      expect(minutes[i]).toBeGreaterThanOrEqual(minutes[i - 1]!);
    }
    const midnight = parseRows({
      flows: 1,
      attack: "none",
      seed: 1,
      startTime: new Date("2017-07-05T00:05:00Z"),
    });
    expect(midnight[0]![col("Timestamp")]).toBe("7/5/2017 12:05");
  });
});

describe("generateFlowCsv attack flows", () => {
  function split(attack: AttackKind): { attacks: string[][]; benign: string[][] } {
    const rows = parseRows({ flows: 6000, attack, seed: 5 });
    return {
      attacks: rows.filter((row) => row[col("Label")] === GENERATED_LABELS[attack]),
      benign: rows.filter((row) => row[col("Label")] === "BENIGN"),
    };
  }
  const medianOf = (rows: string[][], name: string) =>
    median(rows.map((row) => num(row, name)).filter(Number.isFinite));

  it("syn: tiny unanswered SYNs to victim:80 at very high packet rates", () => {
    const { attacks, benign } = split("syn");
    for (const row of attacks) {
      expect(num(row, "SYN Flag Count")).toBe(1);
      expect(num(row, "ACK Flag Count")).toBe(0);
      expect([1, 2]).toContain(num(row, "Total Fwd Packets"));
      expect(num(row, "Total Backward Packets")).toBe(0);
      expect(num(row, "Total Length of Fwd Packets")).toBe(0);
      expect(num(row, "Flow Duration")).toBeLessThanOrEqual(60);
      expect(row[col("Destination IP")]).toBe("192.168.10.50");
      expect(num(row, "Destination Port")).toBe(80);
    }
    expect(new Set(attacks.map((row) => row[col("Source IP")])).size).toBeGreaterThan(1000);
    expect(medianOf(attacks, "Flow Packets/s")).toBeGreaterThan(
      100 * medianOf(benign, "Flow Packets/s"),
    );
  });

  it("udp: one-way floods of ~1400-byte datagrams at huge byte rates", () => {
    const { attacks, benign } = split("udp");
    for (const row of attacks) {
      expect(num(row, "Protocol")).toBe(17);
      expect(num(row, "Total Backward Packets")).toBe(0);
      expect(num(row, "Fwd Packet Length Mean")).toBeGreaterThanOrEqual(1400);
      expect(num(row, "Total Fwd Packets")).toBeGreaterThanOrEqual(10);
    }
    expect(medianOf(attacks, "Flow Bytes/s")).toBeGreaterThan(
      1000 * medianOf(benign, "Flow Bytes/s"),
    );
  });

  it("http: short PSH+ACK request/response flows to :80 with low IATs", () => {
    const { attacks, benign } = split("http");
    for (const row of attacks) {
      expect(num(row, "Destination Port")).toBe(80);
      expect(num(row, "PSH Flag Count")).toBe(1);
      expect(num(row, "ACK Flag Count")).toBe(1);
      expect(num(row, "Total Length of Fwd Packets")).toBeGreaterThanOrEqual(300);
      expect(num(row, "Total Length of Fwd Packets")).toBeLessThanOrEqual(500);
      expect(num(row, "Total Backward Packets")).toBeGreaterThan(0);
    }
    expect(medianOf(attacks, "Flow IAT Mean")).toBeLessThan(medianOf(benign, "Flow IAT Mean") / 5);
  });

  it("slowloris: long flows to :80 of few tiny packets and long idle gaps", () => {
    const { attacks, benign } = split("slowloris");
    for (const row of attacks) {
      expect(num(row, "Destination Port")).toBe(80);
      expect(num(row, "Total Fwd Packets")).toBeLessThanOrEqual(16);
      expect(num(row, "Total Length of Bwd Packets")).toBe(0);
    }
    expect(medianOf(attacks, "Flow Duration")).toBeGreaterThan(30_000_000);
    expect(medianOf(benign, "Flow Duration")).toBeLessThan(1_000_000);
    expect(medianOf(attacks, "Idle Mean")).toBeGreaterThan(5_000_000);
    expect(medianOf(attacks, "Flow Packets/s")).toBeLessThan(1);
  });

  // Each attack shifts a window statistic far outside anything a benign 50-flow window shows.
  it.each([
    ["syn", "SYN Flag Count", "mean", 0.5],
    ["udp", "Fwd Packet Length Mean", "mean", 700],
    ["http", "ACK Flag Count", "mean", 0.5],
    ["slowloris", "Flow Duration", "median", 10_000_000],
  ] as const)(
    "%s: every 50-flow window in the phase has %s %s above %d, no other",
    (attack, name, stat, limit) => {
      const options: FlowGeneratorOptions = { flows: 10_000, attack, seed: 9 };
      const rows = parseRows(options);
      const { start, end } = phaseOf(options);
      for (let w = 0; w + 50 <= rows.length; w += 50) {
        const values = rows.slice(w, w + 50).map((row) => num(row, name));
        const value =
          stat === "mean" ? values.reduce((sum, v) => sum + v, 0) / values.length : median(values);
        if (w >= start && w + 50 <= end) expect(value).toBeGreaterThan(limit);
        else if (w + 50 <= start || w >= end) expect(value).toBeLessThan(limit);
      }
    },
  );
});

describe("generateFlowCsv chunks", () => {
  it("streams 200k flows in bounded chunks of whole rows", () => {
    let chunks = 0;
    let chars = 0;
    let largest = 0;
    let rowsSeen = 0;
    for (const chunk of generateFlowCsv({ flows: 200_000, attack: "udp", seed: 2 })) {
      chunks++;
      chars += chunk.length;
      largest = Math.max(largest, chunk.length);
      expect(chunk.endsWith("\n")).toBe(true);
      for (let i = chunk.indexOf("\n"); i >= 0; i = chunk.indexOf("\n", i + 1)) rowsSeen++;
    }
    expect(rowsSeen).toBe(200_001);
    expect(largest).toBeLessThanOrEqual(64 * 1024);
    expect(chars).toBeGreaterThan(50_000_000);
    // Chunks stay well filled: no more than one in 16 KiB short of full.
    expect(chunks).toBeLessThan(chars / (48 * 1024));
  });
});

describe("generateFlowCsv options", () => {
  it.each([
    [{ flows: -1 }, /flows/],
    [{ flows: 1.5 }, /flows/],
    [{ attack: "smurf" as AttackKind }, /attack must be one of/],
    [{ seed: Number.NaN }, /seed/],
    [{ attackStart: 0.8, attackEnd: 0.5 }, /attackStart/],
    [{ attackEnd: 1.2 }, /attackEnd/],
    [{ attackShare: 1.5 }, /attackShare/],
    [{ startTime: new Date("not a date") }, /startTime/],
  ])("rejects %o when called, before any output", (override, message) => {
    const options = { flows: 10, attack: "syn" as AttackKind, seed: 1, ...override };
    expect(() => generateFlowCsv(options)).toThrow(RangeError);
    expect(() => generateFlowCsv(options)).toThrow(message);
  });

  it("uses CIC-style labels", () => {
    expect(GENERATED_LABELS).toEqual({
      none: "BENIGN",
      syn: "DDoS",
      udp: "DrDoS_UDP",
      http: "DoS Hulk",
      slowloris: "DoS slowloris",
    });
    expect(ATTACKS).toEqual(["syn", "udp", "http", "slowloris"]);
  });
});
