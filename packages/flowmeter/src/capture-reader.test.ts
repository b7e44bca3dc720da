import { describe, expect, it } from "vitest";
import { CaptureMeter, captureToFlowCsv } from "./capture-meter.ts";
import { CaptureFormatError, CaptureReader, detectCaptureKind } from "./capture-reader.ts";
import { type FlowRecord } from "./flow-record.ts";
import { TCP_SYN } from "./packet-decoder.ts";
import {
  type CapturedFrame,
  ethernet,
  ipPacket,
  writePcap,
  writePcapng,
} from "./test-helpers/capture-writer.ts";

const T0 = 1_700_000_000_123_456;

function frames(count: number): CapturedFrame[] {
  return Array.from({ length: count }, (_, i) => ({
    micros: T0 + i * 1000,
    frame: ethernet(
      ipPacket({
        src: "10.0.0.1",
        dst: "10.0.0.2",
        srcPort: 2000 + i,
        dstPort: 80,
        protocol: 6,
        flags: TCP_SYN,
        payload: i,
      }),
    ),
  }));
}

interface Seen {
  linkType: number;
  micros: number;
  capLen: number;
  origLen: number;
}

function read(
  capture: Uint8Array,
  chunk = capture.length,
): { seen: Seen[]; reader: CaptureReader } {
  const seen: Seen[] = [];
  const reader = new CaptureReader((linkType, micros, _data, _offset, capLen, origLen) =>
    seen.push({ linkType, micros, capLen, origLen }),
  );
  for (let at = 0; at < capture.length; at += chunk) reader.push(capture.subarray(at, at + chunk));
  reader.end();
  return { seen, reader };
}

describe("classic pcap", () => {
  for (const bigEndian of [false, true]) {
    for (const nanos of [false, true]) {
      it(`reads ${bigEndian ? "big" : "little"}-endian ${nanos ? "nanosecond" : "microsecond"} files`, () => {
        const input = frames(3);
        const { seen } = read(writePcap(input, { bigEndian, nanos }), 7);
        expect(seen.map((s) => s.micros)).toEqual(input.map((f) => f.micros));
        expect(seen.map((s) => s.capLen)).toEqual(input.map((f) => f.frame.length));
        expect(seen.every((s) => s.linkType === 1)).toBe(true);
      });
    }
  }

  it("recognises both formats by their magic number", () => {
    expect(detectCaptureKind(writePcap([], { bigEndian: true }))).toBe("pcap");
    expect(detectCaptureKind(writePcap([], { nanos: true }))).toBe("pcap");
    expect(detectCaptureKind(writePcapng([]))).toBe("pcapng");
    expect(detectCaptureKind(new TextEncoder().encode("Flow ID, Source IP"))).toBeNull();
  });
});

describe("pcapng", () => {
  it("reads both byte orders, several interfaces with their own link type and resolution", () => {
    for (const bigEndian of [false, true]) {
      const input = frames(4).map((f, i) => ({ ...f, iface: i % 3 }));
      const capture = writePcapng(input, {
        bigEndian,
        interfaces: [
          { linkType: 1 },
          { linkType: 1, tsresol: 9 },
          { linkType: 1, tsresol: 0x80 | 20 },
        ],
      });
      const { seen } = read(capture, 13);
      // 2^-20 s ticks cannot hold every microsecond: at most 1 µs off.
      seen.forEach((s, i) =>
        expect(Math.abs(s.micros - input[i]!.micros)).toBeLessThanOrEqual(i % 3 === 2 ? 1 : 0),
      );
      expect(seen).toHaveLength(4);
    }
  });

  it("skips blocks of unknown type and reads on", () => {
    const { seen, reader } = read(writePcapng(frames(3), { unknownBlockBefore: 1 }));
    expect(seen).toHaveLength(3);
    expect(reader.stats.skippedBlocks).toBe(1);
  });

  it("reads simple packet blocks", () => {
    const { seen } = read(writePcapng(frames(2), { simple: true }));
    expect(seen.map((s) => s.origLen)).toEqual(frames(2).map((f) => f.frame.length));
  });
});

async function csvOf(bytes: Uint8Array): Promise<{ lines: string[]; error: unknown }> {
  let text = "";
  try {
    for await (const chunk of captureToFlowCsv([bytes])) text += new TextDecoder().decode(chunk);
    return { lines: text.trim().split("\n"), error: null };
  } catch (error) {
    return { lines: text.trim().split("\n"), error };
  }
}

describe("bad input", () => {
  it("a truncated capture: error at the cut record, every packet before it metered", async () => {
    const whole = writePcap(frames(5));
    const recordLength = 16 + frames(1)[0]!.frame.length;
    const cut = whole.subarray(0, whole.length - 10);
    const { lines, error } = await csvOf(cut);
    expect(error).toBeInstanceOf(CaptureFormatError);
    // Packet 5 (index 4) starts at 24 + 4 · (its predecessors' records).
    const fifth = 24 + frames(4).reduce((n, f) => n + 16 + f.frame.length, 0);
    expect((error as CaptureFormatError).byteOffset).toBe(fifth);
    expect((error as Error).message).toMatch(/ends inside a record .*at byte \d+/);
    expect(lines).toHaveLength(1 + 4);
    expect(recordLength).toBeGreaterThan(10);
  });

  it("random bytes: refused at byte 0", async () => {
    const noise = new Uint8Array(4096).map((_, i) => (i * 7919 + 13) & 255);
    const { lines, error } = await csvOf(noise);
    expect(error).toBeInstanceOf(CaptureFormatError);
    expect((error as CaptureFormatError).byteOffset).toBe(0);
    expect((error as Error).message).toMatch(/unknown magic number/);
    expect(lines).toHaveLength(1);
  });

  it("an unknown link type: refused with the type named", () => {
    const m = new CaptureMeter({}, () => {});
    m.push(writePcap(frames(2), { linkType: 147 }));
    expect(() => m.end()).toThrow(/unsupported link type 147/);
  });

  it("a pcapng block with a corrupt length: error at that block, earlier flows kept", async () => {
    const capture = writePcapng(frames(3), { unknownBlockBefore: 2 });
    // The unknown block sits after the SHB (28), the IDB (20) and two EPBs.
    const two = frames(2).reduce((n, f) => n + 32 + ((f.frame.length + 3) & ~3), 0);
    const at = 28 + 20 + two;
    new DataView(capture.buffer).setUint32(at + 4, 21, true);
    const { lines, error } = await csvOf(capture);
    expect((error as CaptureFormatError).byteOffset).toBe(at);
    expect((error as Error).message).toMatch(/invalid length 21/);
    expect(lines).toHaveLength(1 + 2);
  });

  it("an empty input is refused", () => {
    const flows: FlowRecord[] = [];
    const m = new CaptureMeter({}, (f) => flows.push(f));
    expect(() => m.end()).toThrow(/empty capture/);
  });
});
