/**
 * Capture uploads: a pcap or pcapng body is metered into flows in the parse workers and queued
 * exactly as the CSV metered from the same capture would be.
 */
import { uploadAcceptedSchema } from "@floodwatch/core";
import { FlowCsvTranscoder } from "@floodwatch/flowmeter";
import {
  type CapturedFrame,
  ethernet,
  ipPacket,
  writePcap,
  writePcapng,
} from "@floodwatch/flowmeter/test-helpers/capture-writer";
import { startRedisServer, type RedisServer } from "@floodwatch/platform";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  flowSequenceOf,
  readFlowEntries,
  startIngest,
  type IngestHarness,
} from "./test-fixtures.ts";

/** 400 spoofed SYNs and 40 short conversations: 440 flows, 8 windows of 50. */
function frames(): CapturedFrame[] {
  const out: CapturedFrame[] = [];
  let t = 1_700_000_000_000_000;
  for (let i = 0; i < 400; i++) {
    const src = `100.64.${i >> 8}.${i & 255}`;
    out.push({
      micros: (t += 20),
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
    if (i % 10 === 0) {
      const c = i / 10;
      const client = { src: "192.168.1.10", dst: "10.0.0.80", srcPort: 50000 + c, dstPort: 80 };
      const server = { src: "10.0.0.80", dst: "192.168.1.10", srcPort: 80, dstPort: 50000 + c };
      out.push({
        micros: (t += 20),
        frame: ethernet(ipPacket({ ...client, protocol: 6, flags: 0x02 })),
      });
      out.push({
        micros: (t += 20),
        frame: ethernet(ipPacket({ ...server, protocol: 6, flags: 0x14 })),
      });
    }
  }
  return out;
}

function meteredCsv(capture: Uint8Array): string {
  const transcoder = new FlowCsvTranscoder();
  const text = transcoder.push(capture);
  const end = transcoder.end();
  if (end.error) throw end.error;
  return text + end.text;
}

describe("capture uploads", () => {
  let server: RedisServer;
  let h: IngestHarness | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("queues a pcap (its own content type) and a pcapng (octet-stream) like their CSV", async () => {
    h = await startIngest(server.url);
    const pcap = writePcap(frames());
    const post = async (name: string, contentType: string, payload: string | Buffer) => {
      const response = await h!.app.inject({
        method: "POST",
        url: `/api/uploads?name=${name}`,
        headers: { "content-type": contentType },
        payload,
      });
      expect(response.statusCode, response.body).toBe(201);
      return uploadAcceptedSchema.parse(response.json());
    };
    const fromPcap = await post("syn.pcap", "application/vnd.tcpdump.pcap", Buffer.from(pcap));
    const fromPcapng = await post(
      "syn.pcapng",
      "application/octet-stream",
      Buffer.from(writePcapng(frames())),
    );
    const fromCsv = await post("syn.csv", "text/csv", meteredCsv(pcap));

    expect(fromCsv.rowsAccepted).toBe(440);
    const entries = await readFlowEntries(h.redis, h.keys);
    const sequence = (uploadId: string) =>
      flowSequenceOf(entries.filter((e) => e.meta.uploadId === uploadId));
    const csv = sequence(fromCsv.uploadId);
    expect(csv.windows).toBe(8);
    for (const answer of [fromPcap, fromPcapng]) {
      expect(answer.rowsAccepted).toBe(440);
      expect(answer.windowsQueued).toBe(8);
      expect(answer.labelled).toBe(false);
      expect(sequence(answer.uploadId)).toEqual(csv);
    }
  });

  it("refuses a broken capture with the byte offset", async () => {
    h = await startIngest(server.url);
    const pcap = writePcap(frames());
    // A garbage length in the second record.
    const second = 24 + 16 + frames()[0]!.frame.length;
    new DataView(pcap.buffer).setUint32(second + 8, 0x7fffffff, true);
    const response = await h.app.inject({
      method: "POST",
      url: "/api/uploads?name=broken.pcap",
      headers: { "content-type": "application/vnd.tcpdump.pcap" },
      payload: Buffer.from(pcap),
    });
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain(
      `packet record claims 2147483647 captured bytes (at byte ${second})`,
    );
  });
});
