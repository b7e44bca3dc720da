/**
 * Traffic shapes of the flow generator: what one benign or attack flow looks like (addresses,
 * ports, payload sizes, gaps, flags), drawn from the seeded sampler into a reused {@link FlowShape}.
 */
import type { AttackKind } from "./flow-generator.ts";
import { encodeAscii } from "./ascii-writer.ts";
import type { Sampler } from "./sampler.ts";

export const EXTERNAL_PREFIXES = [
  "104.16",
  "104.20",
  "172.217",
  "23.194",
  "52.84",
  "31.13",
  "151.101",
];
/** Enough distinct servers that windows vary, few enough to stay cheap. */
export const EXTERNAL_POOL_SIZE = 512;
/** Spoofed SYN sources, drawn from a private test range (they are only strings in a CSV). */
export const SPOOFED_PREFIXES = ["172.16", "172.17", "172.18", "172.19", "172.20", "172.21"];
/** Enough spoofed sources that hardly two flows in a window share one. */
export const SPOOFED_POOL_SIZE = 4096;

/** Hosts of the CIC-IDS2017 victim network that act as benign clients. */
export const CLIENTS = [5, 8, 9, 12, 14, 15, 16, 17, 19, 25].map((host) =>
  encodeAscii(`192.168.10.${host}`),
);
export const DNS_SERVER = encodeAscii("192.168.10.3");
export const ATTACKER = encodeAscii("172.16.0.1");
export const VICTIM = encodeAscii("192.168.10.50");

export function addressPool(
  random: Sampler,
  prefixes: readonly string[],
  size: number,
): Uint8Array[] {
  const pool: Uint8Array[] = [];
  for (let i = 0; i < size; i++) {
    pool.push(encodeAscii(`${random.pick(prefixes)}.${random.int(0, 255)}.${random.int(1, 254)}`));
  }
  return pool;
}

export function ephemeralPort(random: Sampler): number {
  return random.int(32768, 60999);
}

/**
 * Everything that defines one flow. Payload sizes per direction are the multiset
 * {first × 1, bulk × min(bulkCount, packets − 1), rest × the remainder}; the gaps between the
 * flow's consecutive packets are {firstGap × 1, idleGap × min(idleGapCount, gaps − 1),
 * gap × the remainder}. Times are in µs, sizes in bytes of payload.
 */
export interface FlowShape {
  sourceIp: Uint8Array;
  sourcePort: number;
  destinationIp: Uint8Array;
  destinationPort: number;
  protocol: number;
  fwdPackets: number;
  bwdPackets: number;
  fwdFirst: number;
  fwdBulk: number;
  fwdBulkCount: number;
  fwdRest: number;
  bwdFirst: number;
  bwdBulk: number;
  bwdBulkCount: number;
  bwdRest: number;
  firstGap: number;
  idleGap: number;
  idleGapCount: number;
  gap: number;
  fin: number;
  syn: number;
  rst: number;
  psh: number;
  ack: number;
  urg: number;
  fwdPsh: number;
  /** Header bytes counted per packet; also printed as `min_seg_size_forward`. */
  headerBytes: number;
  initWinForward: number;
  initWinBackward: number;
}

export function emptyShape(): FlowShape {
  return {
    sourceIp: ATTACKER,
    sourcePort: 0,
    destinationIp: VICTIM,
    destinationPort: 0,
    protocol: TCP,
    fwdPackets: 0,
    bwdPackets: 0,
    fwdFirst: 0,
    fwdBulk: 0,
    fwdBulkCount: 0,
    fwdRest: 0,
    bwdFirst: 0,
    bwdBulk: 0,
    bwdBulkCount: 0,
    bwdRest: 0,
    firstGap: 0,
    idleGap: 0,
    idleGapCount: 0,
    gap: 0,
    fin: 0,
    syn: 0,
    rst: 0,
    psh: 0,
    ack: 0,
    urg: 0,
    fwdPsh: 0,
    headerBytes: 20,
    initWinForward: -1,
    initWinBackward: -1,
  };
}

export const TCP = 6;
export const UDP = 17;

/**
 * CICFlowMeter counts 20 header bytes per packet in these files, UDP included; TCP with
 * timestamps options shows 32.
 */
export const HEADER_BYTES = 20;
export const HEADER_BYTES_WITH_OPTIONS = 32;

/** CICFlowMeter cuts flows at 120 s, so no flow lasts longer. */
export const FLOW_TIMEOUT_US = 120_000_000;
/** CICFlowMeter's activity timeout: a longer gap ends an active period and counts as idle. */
export const ACTIVITY_TIMEOUT_US = 5_000_000;
/** Largest payload of one TCP segment on the CIC-IDS2017 Ethernet. */
export const MSS = 1460;

/** Clears every field a profile might leave unset, so no value leaks from the previous flow. */
export function resetShape(shape: FlowShape): void {
  shape.protocol = TCP;
  shape.fwdPackets = 0;
  shape.bwdPackets = 0;
  shape.fwdFirst = 0;
  shape.fwdBulk = 0;
  shape.fwdBulkCount = 0;
  shape.fwdRest = 0;
  shape.bwdFirst = 0;
  shape.bwdBulk = 0;
  shape.bwdBulkCount = 0;
  shape.bwdRest = 0;
  shape.firstGap = 0;
  shape.idleGap = 0;
  shape.idleGapCount = 0;
  shape.gap = 0;
  shape.fin = 0;
  shape.syn = 0;
  shape.rst = 0;
  shape.psh = 0;
  shape.ack = 0;
  shape.urg = 0;
  shape.fwdPsh = 0;
  shape.headerBytes = HEADER_BYTES;
  shape.initWinForward = -1;
  shape.initWinBackward = -1;
}

/**
 * Cumulative shares of the benign mix, shaped after CIC-IDS2017 working hours: mostly HTTPS,
 * a fifth DNS, some HTTP, NTP and other LAN services, a few long idle keep-alive flows, many
 * tiny TCP fragments (teardown and keep-alive leftovers), and 0.5 % flows lasting 0 µs.
 */
export const BENIGN_MIX = {
  https: 0.47,
  http: 0.55,
  dns: 0.75,
  ntp: 0.78,
  keepAlive: 0.84,
  lanService: 0.89,
  fragment: 0.995,
} as const;

/** Initial TCP windows seen in CIC-IDS2017 (Linux, Windows, macOS, middleboxes). */
export const CLIENT_WINDOWS = [29200, 8192, 65535, 64240, 14600, 256];
export const SERVER_WINDOWS = [28960, 65535, 235, 946, 61, 256];
export const LAN_SERVICES = [
  { port: 22, protocol: TCP },
  { port: 445, protocol: TCP },
  { port: 389, protocol: TCP },
  { port: 137, protocol: UDP },
  { port: 5353, protocol: UDP },
] as const;

export function shapeBenign(
  shape: FlowShape,
  random: Sampler,
  servers: readonly Uint8Array[],
): void {
  resetShape(shape);
  shape.sourceIp = random.pick(CLIENTS);
  shape.sourcePort = ephemeralPort(random);
  const kind = random.float();
  if (kind < BENIGN_MIX.https) shapeWebSession(shape, random, random.pick(servers), 443, false);
  else if (kind < BENIGN_MIX.http) shapeWebSession(shape, random, random.pick(servers), 80, true);
  else if (kind < BENIGN_MIX.dns) shapeDns(shape, random);
  else if (kind < BENIGN_MIX.ntp) shapeNtp(shape, random, random.pick(servers));
  else if (kind < BENIGN_MIX.keepAlive) shapeKeepAlive(shape, random, random.pick(servers));
  else if (kind < BENIGN_MIX.lanService) shapeLanService(shape, random);
  else if (kind < BENIGN_MIX.fragment) shapeFragment(shape, random, random.pick(servers));
  else shapeZeroDuration(shape, random, random.pick(servers));
  capDuration(shape);
}

export function setTcpTraits(shape: FlowShape, random: Sampler): void {
  shape.protocol = TCP;
  shape.headerBytes = random.chance(0.2) ? HEADER_BYTES_WITH_OPTIONS : HEADER_BYTES;
  shape.initWinForward = random.pick(CLIENT_WINDOWS);
  shape.initWinBackward = shape.bwdPackets > 0 ? random.pick(SERVER_WINDOWS) : -1;
  // One-or-zero flags, with CIC-IDS2017's benign rates: PSH common, SYN/FIN/URG occasional.
  shape.psh = shape.fwdFirst > 0 || shape.fwdBulkCount > 0 ? 1 : 0;
  shape.fwdPsh = shape.psh === 1 && random.chance(0.3) ? 1 : 0;
  shape.ack = random.chance(0.3) ? 1 : 0;
  shape.syn = random.chance(0.08) ? 1 : 0;
  shape.fin = random.chance(0.05) ? 1 : 0;
  shape.urg = random.chance(0.05) ? 1 : 0;
  shape.rst = random.chance(0.01) ? 1 : 0;
}

/** A browser talking to a web server: requests out, MSS-sized response segments back. */
export function shapeWebSession(
  shape: FlowShape,
  random: Sampler,
  server: Uint8Array,
  port: number,
  plainHttp: boolean,
): void {
  shape.destinationIp = server;
  shape.destinationPort = port;
  shape.fwdPackets = 1 + random.logNormalInt(3, 1.1, 1, 2000);
  shape.bwdPackets = random.chance(0.1)
    ? 0
    : Math.max(1, Math.round(shape.fwdPackets * (0.5 + random.float())));
  // Plain HTTP requests carry headers in clear; a TLS flow opens with a ClientHello or record.
  shape.fwdFirst = plainHttp ? random.int(300, 700) : random.int(0, 1) * random.int(100, 600);
  shape.fwdBulk = random.logNormalInt(200, 1, 1, MSS);
  shape.fwdBulkCount = Math.floor(shape.fwdPackets * 0.4 * random.float());
  shape.fwdRest = random.chance(0.3) ? 6 : 0;
  shape.bwdFirst = random.int(0, MSS);
  shape.bwdBulk = MSS;
  shape.bwdBulkCount = Math.floor(shape.bwdPackets * (0.2 + 0.7 * random.float()));
  shape.bwdRest = random.chance(0.3) ? 6 : 0;
  shape.firstGap = random.logNormalInt(20_000, 1.2, 1, 5_000_000);
  shape.gap = random.logNormalInt(1000, 1.5, 1, 1_000_000);
  // A third of browser connections sit idle between page loads (HTTP keep-alive).
  if (random.chance(0.33)) {
    shape.idleGap = random.logNormalInt(6_000_000, 0.8, 1_000_000, 60_000_000);
    shape.idleGapCount = random.int(1, 3);
  }
  setTcpTraits(shape, random);
}

/** A lookup at the LAN resolver: one query and its answer, sometimes a retried query unanswered. */
export function shapeDns(shape: FlowShape, random: Sampler): void {
  shape.destinationIp = DNS_SERVER;
  shape.destinationPort = 53;
  shape.protocol = UDP;
  const unanswered = random.chance(0.05);
  shape.fwdPackets = unanswered ? 2 : random.chance(0.85) ? 1 : 2;
  shape.bwdPackets = unanswered ? 0 : shape.fwdPackets;
  shape.fwdFirst = random.int(30, 70);
  shape.fwdBulk = shape.fwdFirst;
  shape.fwdRest = shape.fwdFirst;
  shape.bwdFirst = random.logNormalInt(120, 0.6, 40, 1400);
  shape.bwdBulk = shape.bwdFirst;
  shape.bwdRest = shape.bwdFirst;
  shape.firstGap = unanswered
    ? random.logNormalInt(1_000_000, 0.3, 200_000, 5_000_000)
    : random.logNormalInt(25_000, 1, 100, 3_000_000);
  shape.gap = random.logNormalInt(1_000_000, 0.5, 1000, 5_000_000);
}

/** A clock sync: one 48-byte request and reply, sometimes a few polls a minute apart. */
export function shapeNtp(shape: FlowShape, random: Sampler, server: Uint8Array): void {
  shape.destinationIp = server;
  shape.destinationPort = 123;
  shape.protocol = UDP;
  const polls = random.chance(0.2) ? random.int(2, 3) : 1;
  shape.fwdPackets = polls;
  shape.bwdPackets = polls;
  shape.fwdFirst = 48;
  shape.fwdBulk = 48;
  shape.fwdRest = 48;
  shape.bwdFirst = 48;
  shape.bwdBulk = 48;
  shape.bwdRest = 48;
  shape.firstGap = random.logNormalInt(30_000, 0.7, 500, 1_000_000);
  shape.gap = random.logNormalInt(30_000, 0.7, 500, 1_000_000);
  shape.idleGap = random.int(30_000_000, 64_000_000);
  shape.idleGapCount = polls - 1;
}

/** An open connection kept alive: a few tiny packets separated by long idle periods. */
export function shapeKeepAlive(shape: FlowShape, random: Sampler, server: Uint8Array): void {
  shape.destinationIp = server;
  shape.destinationPort = random.chance(0.8) ? 443 : 5222;
  shape.fwdPackets = random.int(2, 12);
  shape.bwdPackets = random.int(1, shape.fwdPackets);
  shape.fwdFirst = random.int(0, 100);
  shape.fwdRest = random.int(0, 1);
  shape.bwdFirst = random.int(0, 60);
  shape.firstGap = random.logNormalInt(5000, 1, 10, 1_000_000);
  shape.gap = random.logNormalInt(200, 1, 1, 100_000);
  shape.idleGap = random.logNormalInt(12_000_000, 0.5, 5_500_000, 55_000_000);
  shape.idleGapCount = random.int(1, 4);
  setTcpTraits(shape, random);
}

/** SSH, SMB, LDAP, NetBIOS and mDNS between LAN hosts: medium flows of medium packets. */
export function shapeLanService(shape: FlowShape, random: Sampler): void {
  const service = random.pick(LAN_SERVICES);
  shape.destinationIp = random.pick(CLIENTS);
  shape.destinationPort = service.port;
  shape.fwdPackets = random.logNormalInt(5, 1, 1, 500);
  shape.bwdPackets = random.logNormalInt(4, 1, 1, 500);
  shape.fwdFirst = random.logNormalInt(100, 0.8, 20, MSS);
  shape.fwdBulk = random.logNormalInt(150, 0.8, 20, MSS);
  shape.fwdBulkCount = Math.floor(shape.fwdPackets * random.float());
  shape.bwdFirst = random.logNormalInt(150, 0.8, 20, MSS);
  shape.bwdBulk = random.logNormalInt(300, 1, 20, MSS);
  shape.bwdBulkCount = Math.floor(shape.bwdPackets * random.float());
  shape.firstGap = random.logNormalInt(2000, 1.5, 10, 3_000_000);
  shape.gap = random.logNormalInt(5000, 1.5, 5, 3_000_000);
  if (service.protocol === TCP) {
    setTcpTraits(shape, random);
  } else {
    shape.protocol = UDP;
    shape.fwdRest = shape.fwdFirst;
    shape.bwdRest = shape.bwdFirst;
  }
}

/**
 * The two- or three-packet leftovers that fill real captures (keep-alive probes, late FINs,
 * padded 6-byte segments) lasting a few µs to a few ms.
 */
export function shapeFragment(shape: FlowShape, random: Sampler, server: Uint8Array): void {
  shape.destinationIp = server;
  shape.destinationPort = random.chance(0.85) ? 443 : 80;
  const oneEach = random.chance(0.5);
  shape.fwdPackets = oneEach ? 1 : random.int(2, 3);
  shape.bwdPackets = oneEach ? 1 : 0;
  shape.fwdFirst = random.chance(0.8) ? 6 : random.int(0, 40);
  shape.fwdRest = 6;
  shape.bwdFirst = 6;
  shape.firstGap = oneEach
    ? random.logNormalInt(60, 0.8, 1, 100_000)
    : random.logNormalInt(4, 1.5, 1, 5_000);
  shape.gap = random.logNormalInt(50, 1, 1, 100_000);
  setTcpTraits(shape, random);
}

/**
 * One or two packets stamped with the same µs: CICFlowMeter divides by the zero duration and
 * writes `Infinity` (or `NaN` when no payload was carried) into the rate columns.
 */
export function shapeZeroDuration(shape: FlowShape, random: Sampler, server: Uint8Array): void {
  shape.destinationIp = server;
  shape.destinationPort = 443;
  shape.fwdPackets = random.int(1, 2);
  shape.bwdPackets = 0;
  // A third carry no payload, so their Flow Bytes/s is 0/0.
  shape.fwdFirst = random.chance(1 / 3) ? 0 : random.chance(0.7) ? 6 : random.int(1, 40);
  shape.fwdRest = shape.fwdFirst;
  shape.firstGap = 0;
  setTcpTraits(shape, random);
}

/**
 * Share of SYN flood flows seen as a single packet. Spoofed SYNs are single packets on the wire,
 * which CICFlowMeter records as 0 µs flows with non-finite rates; most rows are kept as a SYN and
 * its retransmission µs apart so that attack windows have finite, very high rates, while a few
 * still exercise the reader's non-finite path.
 */
export const SYN_SINGLE_PACKET_SHARE = 0.02;

export function shapeAttack(
  shape: FlowShape,
  attack: AttackKind,
  random: Sampler,
  spoofed: readonly Uint8Array[],
): void {
  resetShape(shape);
  shape.destinationIp = VICTIM;
  shape.sourceIp = ATTACKER;
  shape.sourcePort = random.int(1024, 65535);
  switch (attack) {
    case "syn":
      shapeSynFlood(shape, random, spoofed);
      break;
    case "udp":
      shapeUdpFlood(shape, random);
      break;
    case "http":
      shapeHttpFlood(shape, random);
      break;
    case "slowloris":
      shapeSlowloris(shape, random);
      break;
    case "none":
      throw new Error("shapeAttack called for attack kind none");
  }
  capDuration(shape);
}

/** Spoofed SYNs to the web server: no answer, no payload, µs apart. */
export function shapeSynFlood(
  shape: FlowShape,
  random: Sampler,
  spoofed: readonly Uint8Array[],
): void {
  shape.sourceIp = random.pick(spoofed);
  shape.destinationPort = 80;
  shape.protocol = TCP;
  shape.fwdPackets = random.chance(SYN_SINGLE_PACKET_SHARE) ? 1 : 2;
  shape.bwdPackets = 0;
  shape.firstGap = random.int(1, 60);
  shape.syn = 1;
  shape.initWinForward = 512;
}

/** Full-size datagrams to random ports at line rate, never answered. */
export function shapeUdpFlood(shape: FlowShape, random: Sampler): void {
  shape.destinationPort = random.int(1, 65535);
  shape.protocol = UDP;
  shape.fwdPackets = random.logNormalInt(200, 0.8, 10, 5000);
  shape.bwdPackets = 0;
  shape.fwdFirst = random.int(1400, 1472);
  shape.fwdBulk = shape.fwdFirst;
  shape.fwdRest = shape.fwdFirst;
  shape.firstGap = random.int(1, 20);
  shape.gap = random.int(1, 20);
}

/**
 * HTTP GET flood (Hulk): one randomised 300–500-byte request per connection, the page answered in
 * TSO-coalesced segments (about 11.6 kB, as in CIC-IDS2017), all within milliseconds.
 */
export function shapeHttpFlood(shape: FlowShape, random: Sampler): void {
  shape.destinationPort = 80;
  shape.protocol = TCP;
  shape.fwdPackets = random.int(6, 10);
  shape.bwdPackets = random.int(5, 8);
  shape.fwdFirst = random.int(300, 500);
  shape.bwdBulk = MSS * random.int(1, 3);
  shape.bwdBulkCount = Math.ceil(11_600 / shape.bwdBulk);
  shape.firstGap = random.logNormalInt(1500, 0.5, 100, 50_000);
  shape.gap = random.logNormalInt(800, 0.7, 5, 50_000);
  shape.psh = 1;
  shape.fwdPsh = 1;
  shape.ack = 1;
  shape.initWinForward = 29200;
  shape.initWinBackward = 235;
}

/**
 * Slowloris: a partial request, then a few bytes of header every 10–15 s to hold the connection
 * open until the flow timeout; the server only acknowledges.
 */
export function shapeSlowloris(shape: FlowShape, random: Sampler): void {
  shape.destinationPort = 80;
  shape.protocol = TCP;
  shape.fwdPackets = random.int(3, 16);
  shape.bwdPackets = random.int(1, 3);
  shape.fwdFirst = 231;
  shape.fwdRest = random.int(5, 10);
  shape.firstGap = random.logNormalInt(300, 0.5, 20, 10_000);
  shape.gap = random.logNormalInt(200, 0.5, 5, 10_000);
  shape.idleGapCount = shape.fwdPackets - 2;
  shape.idleGap = Math.min(
    random.int(10_000_000, 15_000_000),
    Math.floor(110_000_000 / Math.max(1, shape.idleGapCount)),
  );
  shape.psh = 1;
  shape.fwdPsh = 1;
  shape.ack = 1;
  shape.initWinForward = 29200;
  shape.initWinBackward = 235;
}

/** Shrinks every gap by one factor when the flow would outlive CICFlowMeter's flow timeout. */
export function capDuration(shape: FlowShape): void {
  const gaps = shape.fwdPackets + shape.bwdPackets - 1;
  if (gaps <= 0) return;
  const idle = Math.min(shape.idleGapCount, gaps - 1);
  const duration = shape.firstGap + idle * shape.idleGap + (gaps - 1 - idle) * shape.gap;
  if (duration <= FLOW_TIMEOUT_US) return;
  const factor = FLOW_TIMEOUT_US / duration;
  shape.firstGap = Math.floor(shape.firstGap * factor);
  shape.idleGap = Math.floor(shape.idleGap * factor);
  shape.gap = Math.floor(shape.gap * factor);
}

/** Count, sum, extremes, mean and sum of squared deviations of a multiset. */
