import { describe, expect, it } from "vitest";
import { CaptureMeter, type CaptureMeterOptions } from "./capture-meter.ts";
import {
  cloneFlowRecord,
  FEATURE_NAMES,
  flowCsvLine,
  flowId,
  formatAddress,
  type FlowRecord,
} from "./flow-record.ts";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from "./packet-decoder.ts";
import {
  type CapturedFrame,
  ethernet,
  ipPacket,
  type IpPacketSpec,
  sll,
  sll2,
  writePcap,
  writePcapng,
} from "./test-helpers/capture-writer.ts";

/** 2017-07-14 02:40:00 UTC. */
const T0 = 1_500_000_000_000_000;

function feature(flow: FlowRecord, name: string): number {
  const i = FEATURE_NAMES.indexOf(name);
  if (i < 0) throw new Error(`no feature ${name}`);
  return flow.features[i]!;
}

function meter(capture: Uint8Array, options: CaptureMeterOptions = {}) {
  const flows: FlowRecord[] = [];
  const m = new CaptureMeter(options, (f) => flows.push(cloneFlowRecord(f)));
  // Feed in small uneven chunks: records cut across chunk boundaries must still read whole.
  for (let at = 0; at < capture.length; at += 37) m.push(capture.subarray(at, at + 37));
  m.end();
  return { flows, stats: m.stats };
}

const client = { src: "10.0.0.1", dst: "10.0.0.2", srcPort: 40000, dstPort: 80 };
const server = { src: "10.0.0.2", dst: "10.0.0.1", srcPort: 80, dstPort: 40000 };

function tcp(at: number, side: typeof client, spec: Partial<IpPacketSpec>): CapturedFrame {
  return { micros: T0 + at, frame: ethernet(ipPacket({ ...side, protocol: 6, ...spec })) };
}

/** Handshake, one request, one response, FIN teardown from the client, and the last ACK. */
const conversation: CapturedFrame[] = [
  tcp(0, client, { flags: TCP_SYN, tcpOptions: 20, window: 64240 }),
  tcp(100, server, { flags: TCP_SYN | TCP_ACK, tcpOptions: 20, window: 65160 }),
  tcp(200, client, { flags: TCP_ACK, window: 502 }),
  tcp(1000, client, { flags: TCP_PSH | TCP_ACK, payload: 100, window: 502 }),
  tcp(1500, server, { flags: TCP_ACK, window: 501 }),
  tcp(2000, server, { flags: TCP_PSH | TCP_ACK, payload: 300, window: 502 }),
  tcp(2100, client, { flags: TCP_ACK, window: 502 }),
  tcp(3000, client, { flags: TCP_FIN | TCP_ACK, window: 502 }),
  tcp(3100, server, { flags: TCP_FIN | TCP_ACK, window: 503 }),
  tcp(3200, client, { flags: TCP_ACK, window: 502 }),
];

describe("TCP handshake, data and FIN teardown", () => {
  it("makes one flow with every feature as computed by hand (corrected rules)", () => {
    const { flows } = meter(writePcap(conversation));
    expect(flows).toHaveLength(1);
    const f = flows[0]!;
    expect(f.endReason).toBe("fin");
    expect(formatAddress(4, f.src)).toBe("10.0.0.1");
    expect([f.srcPort, f.dstPort, f.protocol]).toEqual([40000, 80, 6]);
    const expected: Record<string, number> = {
      "Flow Duration": 3200,
      "Total Fwd Packets": 6,
      "Total Backward Packets": 4,
      "Total Length of Fwd Packets": 100,
      "Total Length of Bwd Packets": 300,
      "Fwd Packet Length Max": 100,
      "Fwd Packet Length Min": 0,
      "Fwd Packet Length Mean": 100 / 6,
      "Fwd Packet Length Std": Math.sqrt((5 * (100 / 6) ** 2 + (500 / 6) ** 2) / 5),
      "Bwd Packet Length Max": 300,
      "Bwd Packet Length Min": 0,
      "Bwd Packet Length Mean": 75,
      "Bwd Packet Length Std": 150,
      "Flow Bytes/s": 125_000,
      "Flow Packets/s": 3125,
      "Flow IAT Mean": 3200 / 9,
      "Flow IAT Max": 900,
      "Flow IAT Min": 100,
      "Fwd IAT Total": 3200,
      "Fwd IAT Mean": 640,
      "Fwd IAT Max": 1100,
      "Fwd IAT Min": 200,
      "Bwd IAT Total": 3000,
      "Bwd IAT Mean": 1000,
      "Bwd IAT Max": 1400,
      "Bwd IAT Min": 500,
      "Fwd PSH Flags": 1,
      "Bwd PSH Flags": 1,
      "Fwd Header Length": 40 + 5 * 20,
      "Bwd Header Length": 40 + 3 * 20,
      "Fwd Packets/s": 1875,
      "Bwd Packets/s": 1250,
      "Min Packet Length": 0,
      "Max Packet Length": 300,
      "Packet Length Mean": 40,
      "Packet Length Variance": 84_000 / 9,
      "FIN Flag Count": 2,
      "SYN Flag Count": 2,
      "RST Flag Count": 0,
      "PSH Flag Count": 2,
      "ACK Flag Count": 9,
      "Down/Up Ratio": 0,
      "Average Packet Size": 40,
      "Avg Fwd Segment Size": 100 / 6,
      "Avg Bwd Segment Size": 75,
      "Fwd Avg Bytes/Bulk": 0,
      "Subflow Fwd Packets": 6,
      "Subflow Fwd Bytes": 100,
      "Subflow Bwd Packets": 4,
      "Subflow Bwd Bytes": 300,
      Init_Win_bytes_forward: 64240,
      Init_Win_bytes_backward: 65160,
      act_data_pkt_fwd: 1,
      min_seg_size_forward: 20,
      "Active Mean": 3200,
      "Active Std": 0,
      "Active Max": 3200,
      "Active Min": 3200,
      "Idle Mean": 0,
    };
    for (const [name, value] of Object.entries(expected)) {
      expect([name, feature(f, name)]).toEqual([name, expect.closeTo(value, 6)]);
    }
    expect(feature(f, "Flow IAT Std")).toBeCloseTo(
      Math.sqrt(
        [100, 100, 800, 500, 500, 100, 900, 100, 100].reduce((s, x) => s + (x - 3200 / 9) ** 2, 0) /
          8,
      ),
      6,
    );
    expect(f.fwdWireBytes).toBe(6 * 54 + 20 + 100);
  });

  it("reproduces CICFlowMeter's bugs with cicCompat", () => {
    const { flows, stats } = meter(writePcap(conversation), { cicCompat: true });
    // The first backward FIN ends the flow; the client's last ACK is a one-packet flow, dropped.
    expect(flows).toHaveLength(1);
    expect(stats.meter.droppedSinglePacket).toBe(1);
    const f = flows[0]!;
    expect(feature(f, "Flow Duration")).toBe(3100);
    expect(feature(f, "Total Fwd Packets")).toBe(5);
    expect(feature(f, "Total Backward Packets")).toBe(4);
    // The first packet's length counted twice: 10 values for 9 packets.
    expect(feature(f, "Average Packet Size")).toBeCloseTo(400 / 9, 9);
    expect(feature(f, "Packet Length Mean")).toBeCloseTo(40, 9);
    expect(feature(f, "Packet Length Variance")).toBeCloseTo(84_000 / 9, 6);
    // PSH per direction from the first packet only; the last backward window, not the first.
    expect(feature(f, "Fwd PSH Flags")).toBe(0);
    expect(feature(f, "Bwd PSH Flags")).toBe(0);
    expect(feature(f, "Init_Win_bytes_backward")).toBe(503);
    // No gap over 1 s: zero subflows, so every Subflow column is 0; no active period closed.
    expect(feature(f, "Subflow Fwd Packets")).toBe(0);
    expect(feature(f, "Active Mean")).toBe(0);
  });

  it("writes a CSV line in the original layout with CICFlowMeter's Flow ID", () => {
    const { flows } = meter(writePcap(conversation));
    const line = flowCsvLine(flows[0]!).split(",");
    expect(line).toHaveLength(84);
    expect(line.slice(0, 7)).toEqual([
      "10.0.0.1-10.0.0.2-40000-80-6",
      "10.0.0.1",
      "40000",
      "10.0.0.2",
      "80",
      "6",
      "2017-07-14 02:40:00.000000",
    ]);
    expect(line[7]).toBe("3200");
    // Java's signed bytes: 192 (-64) sorts before 10.
    const fromPrivate = { ...flows[0]!, src: new Uint32Array([0xc0a80a05, 0, 0, 0]) };
    expect(flowId(fromPrivate)).toBe("192.168.10.5-10.0.0.2-40000-80-6");
    const toPrivate = { ...flows[0]!, dst: new Uint32Array([0xc0a80a05, 0, 0, 0]) };
    expect(flowId(toPrivate)).toBe("192.168.10.5-10.0.0.1-80-40000-6");
  });
});

describe("RST and single packets", () => {
  const frames = [
    tcp(0, client, { flags: TCP_SYN }),
    tcp(50, server, { flags: TCP_RST | TCP_ACK }),
    tcp(1000, { ...client, srcPort: 40001 }, { flags: TCP_SYN }),
  ];

  it("ends a flow on RST and keeps a lone SYN as a flow", () => {
    const { flows } = meter(writePcap(frames));
    expect(flows.map((f) => [f.srcPort, f.endReason])).toEqual([
      [40000, "rst"],
      [40001, "end"],
    ]);
    expect(feature(flows[0]!, "Flow Duration")).toBe(50);
    expect(feature(flows[0]!, "RST Flag Count")).toBe(1);
    const lone = flows[1]!;
    expect(feature(lone, "Total Fwd Packets")).toBe(1);
    // 0 bytes in 0 µs is NaN, 1 packet in 0 µs is Infinity, as CICFlowMeter prints them.
    expect(feature(lone, "Flow Bytes/s")).toBeNaN();
    expect(feature(lone, "Flow Packets/s")).toBe(Infinity);
    expect(feature(lone, "Flow IAT Mean")).toBe(0);
  });

  it("ends a flow whose first packet is a RST at once (corrected), keeps it open (compat)", () => {
    const backscatter = [
      tcp(0, server, { flags: TCP_RST | TCP_ACK }),
      tcp(10, client, { flags: TCP_SYN }),
    ];
    const corrected = meter(writePcap(backscatter)).flows;
    expect(corrected.map((f) => [f.srcPort, f.endReason, feature(f, "Total Fwd Packets")])).toEqual(
      [
        [80, "rst", 1],
        [40000, "end", 1],
      ],
    );
    const compat = meter(writePcap(backscatter), { cicCompat: true }).flows;
    // The SYN joins the RST's flow as its backward packet.
    expect(compat.map((f) => [f.srcPort, feature(f, "Total Backward Packets")])).toEqual([[80, 1]]);
  });

  it("drops the lone SYN with cicCompat", () => {
    const { flows, stats } = meter(writePcap(frames), { cicCompat: true });
    expect(flows).toHaveLength(1);
    expect(stats.meter.droppedSinglePacket).toBe(1);
  });
});

function udp(at: number, payload: number, spec: Partial<IpPacketSpec> = {}): CapturedFrame {
  return {
    micros: T0 + at,
    frame: ethernet(
      ipPacket({
        src: "10.1.0.1",
        dst: "10.1.0.2",
        srcPort: 5353,
        dstPort: 53,
        protocol: 17,
        payload,
        ...spec,
      }),
    ),
  };
}

describe("timeouts", () => {
  it("splits a flow at the 120 s flow timeout", () => {
    const { flows } = meter(writePcap([udp(0, 10), udp(60e6, 10), udp(121e6, 10)]));
    expect(flows).toHaveLength(2);
    const [first, second] = flows;
    expect(first!.endReason).toBe("timeout");
    expect(feature(first!, "Flow Duration")).toBe(60e6);
    expect(feature(first!, "Total Fwd Packets")).toBe(2);
    expect(feature(first!, "Idle Mean")).toBe(60e6);
    expect(feature(first!, "Active Mean")).toBe(0);
    // One gap over 1 s: two subflows.
    expect(feature(first!, "Subflow Fwd Packets")).toBe(1);
    expect(feature(first!, "Subflow Fwd Bytes")).toBe(10);
    expect(second!.startMicros).toBe(T0 + 121e6);
    expect(feature(second!, "Total Fwd Packets")).toBe(1);
  });

  it("records an idle period over the 5 s activity timeout and flushes the last active one", () => {
    const frames = [udp(0, 1), udp(1000, 1), udp(2000, 1), udp(7_002_000, 1), udp(7_003_000, 1)];
    const corrected = meter(writePcap(frames)).flows[0]!;
    expect(feature(corrected, "Active Mean")).toBe(1500);
    expect(feature(corrected, "Active Std")).toBeCloseTo(Math.SQRT2 * 500, 9);
    expect(feature(corrected, "Active Max")).toBe(2000);
    expect(feature(corrected, "Active Min")).toBe(1000);
    expect(feature(corrected, "Idle Mean")).toBe(7_000_000);
    expect(feature(corrected, "Subflow Fwd Packets")).toBe(2);
    const compat = meter(writePcap(frames), { cicCompat: true }).flows[0]!;
    expect(feature(compat, "Active Mean")).toBe(2000);
    expect(feature(compat, "Active Min")).toBe(2000);
    expect(feature(compat, "Subflow Fwd Packets")).toBe(5);
  });
});

describe("link types and network layers", () => {
  const ip = ipPacket({ ...client, protocol: 6, flags: TCP_SYN, payload: 12 });

  it("reads through 802.1ad + 802.1Q tags", () => {
    const frame = ethernet(ip, [
      { tpid: 0x88a8, vid: 100 },
      { tpid: 0x8100, vid: 200 },
    ]);
    const { flows } = meter(writePcap([{ micros: T0, frame }]));
    expect(flows).toHaveLength(1);
    expect([flows[0]!.srcPort, flows[0]!.dstPort]).toEqual([40000, 80]);
    expect(feature(flows[0]!, "Total Length of Fwd Packets")).toBe(12);
  });

  it("reads Linux cooked captures v1 and v2", () => {
    for (const [linkType, frame] of [
      [113, sll(ip)],
      [276, sll2(ip)],
    ] as const) {
      const { flows } = meter(writePcap([{ micros: T0, frame }], { linkType }));
      expect(flows.map((f) => [f.srcPort, feature(f, "Total Length of Fwd Packets")])).toEqual([
        [40000, 12],
      ]);
    }
  });

  it("walks IPv6 extension headers and prints compressed addresses", () => {
    const frames = [
      {
        micros: T0,
        frame: ethernet(
          ipPacket({
            src: "2001:db8::1",
            dst: "2001:db8::2",
            srcPort: 1000,
            dstPort: 443,
            protocol: 6,
            flags: TCP_SYN,
            extensions: [0, 60],
          }),
        ),
      },
      {
        micros: T0 + 10,
        frame: ethernet(
          ipPacket({
            src: "2001:db8::2",
            dst: "2001:db8::1",
            srcPort: 443,
            dstPort: 1000,
            protocol: 6,
            flags: TCP_SYN | TCP_ACK,
            payload: 7,
          }),
        ),
      },
    ];
    const { flows } = meter(writePcap(frames));
    expect(flows).toHaveLength(1);
    const line = flowCsvLine(flows[0]!).split(",");
    expect(line.slice(0, 6)).toEqual([
      "2001:db8::1-2001:db8::2-1000-443-6",
      "2001:db8::1",
      "1000",
      "2001:db8::2",
      "443",
      "6",
    ]);
    expect(feature(flows[0]!, "Total Backward Packets")).toBe(1);
    expect(feature(flows[0]!, "Total Length of Bwd Packets")).toBe(7);
  });

  it("counts non-first fragments without reading their bytes as ports", () => {
    const frames = [
      udp(0, 1472, { moreFragments: true }),
      udp(1, 500, { fragmentOffset: 185 }),
      {
        micros: T0 + 2,
        frame: ethernet(
          ipPacket({
            src: "2001:db8::1",
            dst: "2001:db8::2",
            protocol: 17,
            payload: 100,
            extensions: [44],
            fragmentOffset: 100,
          }),
        ),
      },
    ];
    const { flows, stats } = meter(writePcap(frames));
    expect(stats.decode.fragments).toBe(2);
    expect(flows).toHaveLength(1);
    expect([flows[0]!.srcPort, feature(flows[0]!, "Total Length of Fwd Packets")]).toEqual([
      5353, 1472,
    ]);
  });

  it("takes lengths from the IP header when the snap length cut the packet", () => {
    const frame = ethernet(ipPacket({ ...client, protocol: 6, flags: TCP_ACK, payload: 1000 }));
    const { flows, stats } = meter(
      writePcap([
        { micros: T0, frame, snap: 54 },
        // Cut inside the TCP header: nothing to meter.
        { micros: T0 + 1, frame, snap: 40 },
      ]),
    );
    expect(feature(flows[0]!, "Total Length of Fwd Packets")).toBe(1000);
    expect(flows[0]!.fwdWireBytes).toBe(1054);
    expect(stats.decode.truncated).toBe(1);
  });
});

describe("bounded memory", () => {
  it("evicts the oldest flow when the table is full and counts it", () => {
    const frames = [0, 1, 2, 3, 4].map((i) => udp(i, 1, { srcPort: 1000 + i }));
    const { flows, stats } = meter(writePcap(frames), { maxFlows: 3 });
    expect(stats.meter.evicted).toBe(2);
    expect(flows.map((f) => [f.srcPort, f.endReason])).toEqual([
      [1000, "evicted"],
      [1001, "evicted"],
      [1002, "end"],
      [1003, "end"],
      [1004, "end"],
    ]);
  });

  it("grows its table past the initial capacity without losing flows", () => {
    const frames: CapturedFrame[] = [];
    for (let i = 0; i < 5000; i++) {
      frames.push(udp(i, 1, { src: `10.2.${i >> 8}.${i & 255}` }));
      frames.push(
        udp(i, 2, {
          src: "10.1.0.2",
          dst: `10.2.${i >> 8}.${i & 255}`,
          srcPort: 53,
          dstPort: 5353,
        }),
      );
    }
    const { flows } = meter(writePcapng(frames));
    expect(flows).toHaveLength(5000);
    expect(flows.every((f) => feature(f, "Total Backward Packets") === 1)).toBe(true);
  });
});
