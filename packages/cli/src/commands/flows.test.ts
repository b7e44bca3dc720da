/**
 * `floodwatch flows`, and `score` reading a capture directly, run as a user runs them.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CapturedFrame,
  ethernet,
  ipPacket,
  writePcap,
  writePcapng,
} from "@floodwatch/flowmeter/test-helpers/capture-writer";

const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), "../main.ts");
const MODEL = fileURLToPath(import.meta.resolve("@floodwatch/core/models/default-model.json"));

function floodwatch(args: string[], stdin?: Uint8Array) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => done({ code, stdout, stderr }));
    child.stdin.end(stdin ?? "");
  });
}

/** 300 SYNs from spoofed sources, then 20 short HTTP-like conversations. */
function synFloodAndConversations(): CapturedFrame[] {
  const frames: CapturedFrame[] = [];
  let t = 1_700_000_000_000_000;
  for (let i = 0; i < 300; i++) {
    const src = `100.64.${i >> 8}.${i & 255}`;
    frames.push({
      micros: (t += 50),
      frame: ethernet(
        ipPacket({
          src,
          dst: "10.0.0.80",
          srcPort: 1024 + i,
          dstPort: 80,
          protocol: 6,
          flags: 0x02,
        }),
      ),
    });
  }
  for (let c = 0; c < 20; c++) {
    const client = { src: "192.168.1.10", dst: "10.0.0.80", srcPort: 50000 + c, dstPort: 80 };
    const server = { src: "10.0.0.80", dst: "192.168.1.10", srcPort: 80, dstPort: 50000 + c };
    for (const [side, flags, payload] of [
      [client, 0x02, 0],
      [server, 0x12, 0],
      [client, 0x10, 0],
      [client, 0x18, 200],
      [server, 0x18, 1200],
      [client, 0x11, 0],
      [server, 0x11, 0],
      [client, 0x10, 0],
    ] as const) {
      frames.push({
        micros: (t += 300),
        frame: ethernet(ipPacket({ ...side, protocol: 6, flags, payload })),
      });
    }
  }
  return frames;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "floodwatch-flows-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("floodwatch flows", () => {
  it("writes one CSV row per flow, from a file, from stdin and to --out alike", async () => {
    const pcap = join(dir, "mixed.pcap");
    await writeFile(pcap, writePcap(synFloodAndConversations()));
    const fromFile = await floodwatch(["flows", pcap]);
    expect(fromFile.code).toBe(0);
    const lines = fromFile.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(1 + 320);
    expect(lines[0]).toMatch(/^Flow ID, Source IP,.* Idle Min$/);
    expect(fromFile.stderr).toContain("460 packets, 320 flows");

    const fromStdin = await floodwatch(["flows", "-"], await readFile(pcap));
    expect(fromStdin.stdout).toBe(fromFile.stdout);
    const out = join(dir, "flows.csv");
    expect((await floodwatch(["flows", "--out", out, pcap])).code).toBe(0);
    expect(await readFile(out, "utf8")).toBe(fromFile.stdout);

    // cicCompat drops the 300 one-packet SYN flows.
    const compat = await floodwatch(["flows", "--cic-compat", pcap]);
    expect(compat.stdout.trimEnd().split("\n")).toHaveLength(1 + 20);
  });

  it("score reads a pcapng capture as it reads the CSV metered from it", async () => {
    const capture = join(dir, "mixed.pcapng");
    await writeFile(capture, writePcapng(synFloodAndConversations()));
    const csv = join(dir, "mixed.csv");
    expect((await floodwatch(["flows", "--out", csv, capture])).code).toBe(0);
    const direct = await floodwatch(["score", "--model", MODEL, capture]);
    const viaCsv = await floodwatch(["score", "--model", MODEL, csv]);
    expect(direct.code).toBe(0);
    expect(direct.stdout.trimEnd().split("\n")).toHaveLength(6);
    expect(direct.stdout).toBe(viaCsv.stdout);
  });

  it("exits 1 naming the byte offset of a broken capture", async () => {
    const pcap = writePcap(synFloodAndConversations());
    const cut = join(dir, "cut.pcap");
    await writeFile(cut, pcap.subarray(0, 24 + 16 + 20));
    const run = await floodwatch(["flows", cut]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("capture ends inside a record");
    expect(run.stderr).toContain("at byte 24");
  });
});
