/**
 * Seeded generator of synthetic, labelled CICFlowMeter flows in the original CIC-IDS2017
 * "GeneratedLabelledFlows" CSV layout, for tests, demos and benchmark inputs.
 *
 * A flow is not simulated packet by packet: its payload sizes and the gaps between its packets
 * are each described by a small multiset (one "first" value, a run of "bulk" values, the rest
 * equal), which is enough to derive every one of the 85 columns exactly and consistently at a
 * few hundred thousand flows a second.
 */
import { createPrng, type Prng } from "./prng.ts";

/** Attack traffic the generator can mix into the benign background; `"none"` means benign only. */
export const ATTACK_KINDS = ["none", "syn", "udp", "http", "slowloris"] as const;

/** One of {@link ATTACK_KINDS}. */
export type AttackKind = (typeof ATTACK_KINDS)[number];

/**
 * The `Label` written on attack flows of each kind, spelled as in the CIC datasets
 * (CIC-IDS2017 for `DDoS`, `DoS Hulk`, `DoS slowloris`; CIC-DDoS2019 for `DrDoS_UDP`).
 * Every other flow is labelled `BENIGN`, which is also the entry for `"none"`.
 */
export const GENERATED_LABELS: Readonly<Record<AttackKind, string>> = Object.freeze({
  none: "BENIGN",
  syn: "DDoS",
  udp: "DrDoS_UDP",
  http: "DoS Hulk",
  slowloris: "DoS slowloris",
});

/**
 * The header line of the original CIC-IDS2017 GeneratedLabelledFlows files, byte for byte:
 * 85 names, most with a leading space, and ` Fwd Header Length` twice.
 */
export const GENERATED_FLOW_CSV_HEADER =
  "Flow ID, Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp, Flow Duration, Total Fwd Packets, Total Backward Packets,Total Length of Fwd Packets, Total Length of Bwd Packets, Fwd Packet Length Max, Fwd Packet Length Min, Fwd Packet Length Mean, Fwd Packet Length Std,Bwd Packet Length Max, Bwd Packet Length Min, Bwd Packet Length Mean, Bwd Packet Length Std,Flow Bytes/s, Flow Packets/s, Flow IAT Mean, Flow IAT Std, Flow IAT Max, Flow IAT Min,Fwd IAT Total, Fwd IAT Mean, Fwd IAT Std, Fwd IAT Max, Fwd IAT Min,Bwd IAT Total, Bwd IAT Mean, Bwd IAT Std, Bwd IAT Max, Bwd IAT Min,Fwd PSH Flags, Bwd PSH Flags, Fwd URG Flags, Bwd URG Flags, Fwd Header Length, Bwd Header Length,Fwd Packets/s, Bwd Packets/s, Min Packet Length, Max Packet Length, Packet Length Mean, Packet Length Std, Packet Length Variance,FIN Flag Count, SYN Flag Count, RST Flag Count, PSH Flag Count, ACK Flag Count, URG Flag Count, CWE Flag Count, ECE Flag Count, Down/Up Ratio, Average Packet Size, Avg Fwd Segment Size, Avg Bwd Segment Size, Fwd Header Length,Fwd Avg Bytes/Bulk, Fwd Avg Packets/Bulk, Fwd Avg Bulk Rate, Bwd Avg Bytes/Bulk, Bwd Avg Packets/Bulk,Bwd Avg Bulk Rate,Subflow Fwd Packets, Subflow Fwd Bytes, Subflow Bwd Packets, Subflow Bwd Bytes,Init_Win_bytes_forward, Init_Win_bytes_backward, act_data_pkt_fwd, min_seg_size_forward,Active Mean, Active Std, Active Max, Active Min,Idle Mean, Idle Std, Idle Max, Idle Min, Label";

/** Number of columns in {@link GENERATED_FLOW_CSV_HEADER} and in every generated row. */
export const GENERATED_FLOW_COLUMNS = 85;

/** Options of {@link generateFlowCsv}. */
export interface FlowGeneratorOptions {
  /** Total number of data rows (a non-negative integer). */
  flows: number;
  /** Attack mixed into the attack phase; `"none"` gives benign traffic only. */
  attack: AttackKind;
  /** Seed of the pseudo-random generator; equal options give identical output. */
  seed: number;
  /** Where the attack phase starts, as a fraction of the flow sequence (default 0.4). */
  attackStart?: number;
  /** Where the attack phase ends, as a fraction of the flow sequence (default 0.7). */
  attackEnd?: number;
  /**
   * Share of flows inside the attack phase that are attack flows (default 0.8); the rest stays
   * benign background.
   */
  attackShare?: number;
  /**
   * Start time of the capture (default 2017-07-07T15:30:00Z, printed `7/7/2017 3:30` like the
   * first rows of the real Friday file). Flows advance in time order from here.
   */
  startTime?: Date;
}

/**
 * Streams a synthetic labelled CICFlowMeter CSV as text chunks.
 *
 * Format, mimicking the original CIC-IDS2017 GeneratedLabelledFlows files:
 * - the first chunk is exactly {@link GENERATED_FLOW_CSV_HEADER} plus `"\n"`; every later chunk
 *   holds whole rows and is at most 64 KiB (all text is ASCII, so characters are bytes);
 * - lines end in `"\n"`, as in the shared copies of the original files (a reader should still
 *   accept `"\r\n"`);
 * - no field is quoted and none contains a comma, so a row splits with `line.split(",")`;
 * - `Timestamp` is `M/D/YYYY H:MM` with a 12-hour clock and no AM/PM, taken in UTC from the
 *   flow's start time, at minute resolution like the real files;
 * - numbers print with at most 10 significant digits and no exponent; a flow lasting 0 µs has
 *   `Infinity` in `Flow Bytes/s` and `Flow Packets/s` (`NaN` in `Flow Bytes/s` when it carried no
 *   payload), as CICFlowMeter writes; about 0.5 % of benign flows are such flows.
 *
 * Features are internally consistent: `Flow Packets/s` = packets / duration · 1e6,
 * `Flow Bytes/s` = bytes / duration · 1e6, `Packet Length Variance` = `Packet Length Std`²,
 * `Flow IAT Mean` = duration / (packets − 1), `Subflow *` = `Total *`, `Average Packet Size` =
 * bytes / packets, flag counts are 0 or 1, and `Idle *` covers the gaps longer than
 * CICFlowMeter's 5 s activity timeout. Unlike CICFlowMeter 3, packet-length statistics count
 * each packet once (the real tool counts the first packet twice).
 *
 * Rows with zero-based index `i` in `floor(attackStart · flows) <= i < floor(attackEnd · flows)`
 * form the attack phase; each of them is an attack flow with probability `attackShare`, labelled
 * `GENERATED_LABELS[attack]`. Every other row is `BENIGN`.
 *
 * Output is deterministic for equal options on the same Node.js version (sampling uses
 * `Math.log`/`Math.exp`, whose last bit is the engine's).
 *
 * @throws RangeError when an option is out of range; thrown by this call, before any output.
 */
export function generateFlowCsv(options: FlowGeneratorOptions): Generator<string> {
  return generateChunks(resolveOptions(options));
}

interface ResolvedOptions {
  flows: number;
  attack: AttackKind;
  seed: number;
  phaseStart: number;
  phaseEnd: number;
  attackShare: number;
  startMs: number;
}

const DEFAULT_ATTACK_START = 0.4;
const DEFAULT_ATTACK_END = 0.7;
const DEFAULT_ATTACK_SHARE = 0.8;
const DEFAULT_START_TIME = "2017-07-07T15:30:00Z";

function resolveOptions(options: FlowGeneratorOptions): ResolvedOptions {
  const { flows, attack, seed } = options;
  const attackStart = options.attackStart ?? DEFAULT_ATTACK_START;
  const attackEnd = options.attackEnd ?? DEFAULT_ATTACK_END;
  const attackShare = options.attackShare ?? DEFAULT_ATTACK_SHARE;
  const startMs = (options.startTime ?? new Date(DEFAULT_START_TIME)).getTime();
  if (!Number.isSafeInteger(flows) || flows < 0) {
    throw new RangeError(`flows must be a non-negative integer, got ${flows}`);
  }
  if (!(ATTACK_KINDS as readonly string[]).includes(attack)) {
    throw new RangeError(`attack must be one of ${ATTACK_KINDS.join(", ")}, got ${String(attack)}`);
  }
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  if (!(attackStart >= 0 && attackStart <= attackEnd && attackEnd <= 1)) {
    throw new RangeError(
      `attackStart and attackEnd must satisfy 0 <= attackStart <= attackEnd <= 1, got ${attackStart} and ${attackEnd}`,
    );
  }
  if (!(attackShare >= 0 && attackShare <= 1)) {
    throw new RangeError(`attackShare must lie in [0, 1], got ${attackShare}`);
  }
  if (!Number.isFinite(startMs)) throw new RangeError("startTime must be a valid Date");
  return {
    flows,
    attack,
    seed,
    phaseStart: Math.floor(attackStart * flows),
    phaseEnd: Math.floor(attackEnd * flows),
    attackShare,
    startMs,
  };
}

/**
 * Mean time between benign flow starts: the real Friday afternoon file holds about 225,000
 * flows over 90 minutes, i.e. one every 25 ms.
 */
const BENIGN_INTERARRIVAL_MS = 25;

/**
 * Mean time between attack flow starts: floods open flows far faster than users do (a SYN flood
 * thousands a second, Hulk hundreds); slowloris opens connections slowly and keeps them.
 */
const ATTACK_INTERARRIVAL_MS: Readonly<Record<AttackKind, number>> = {
  none: BENIGN_INTERARRIVAL_MS,
  syn: 0.1,
  udp: 1,
  http: 2,
  slowloris: 20,
};

function* generateChunks(options: ResolvedOptions): Generator<string> {
  const { flows, attack, phaseStart, phaseEnd, attackShare } = options;
  const random = new Sampler(createPrng(options.seed));
  const servers = addressPool(random, EXTERNAL_PREFIXES, EXTERNAL_POOL_SIZE);
  const spoofed = attack === "syn" ? addressPool(random, SPOOFED_PREFIXES, SPOOFED_POOL_SIZE) : [];
  const clock = new MinuteClock(options.startMs);
  const shape = emptyShape();
  const summaries = new RowSummaries();
  const writer = new AsciiChunkWriter();
  const benignLabel = encodeAscii(GENERATED_LABELS.none);
  const attackLabel = encodeAscii(GENERATED_LABELS[attack]);

  yield GENERATED_FLOW_CSV_HEADER + "\n";
  for (let i = 0; i < flows; i++) {
    const isAttack =
      attack !== "none" && i >= phaseStart && i < phaseEnd && random.chance(attackShare);
    if (isAttack) shapeAttack(shape, attack, random, spoofed);
    else shapeBenign(shape, random, servers);
    writeRow(writer, shape, summaries, clock.timestamp(), isAttack ? attackLabel : benignLabel);
    if (!writer.hasRoomForRow()) yield writer.take();
    clock.advance(
      random.exponential(isAttack ? ATTACK_INTERARRIVAL_MS[attack] : BENIGN_INTERARRIVAL_MS),
    );
  }
  if (writer.length > 0) yield writer.take();
}

/**
 * Sampling helpers over the seeded generator. Uniform draws take one 32-bit output rather than
 * the 53-bit `nextFloat()`: 2^-32 resolution is far finer than any traffic shape needs, and it
 * halves the generator calls, which showed in the profile.
 */
class Sampler {
  private spareNormal = Number.NaN;

  constructor(private readonly prng: Prng) {}

  /** Uniform in [0, 1) with 32 random bits. */
  float(): number {
    return this.prng.nextUint32() * UINT32_SCALE;
  }

  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + this.prng.nextInt(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.prng.nextInt(items.length)]!;
  }

  /** Standard normal by Box–Muller, keeping the second value of each pair. */
  normal(): number {
    if (!Number.isNaN(this.spareNormal)) {
      const z = this.spareNormal;
      this.spareNormal = Number.NaN;
      return z;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - this.float()));
    const angle = 2 * Math.PI * this.float();
    this.spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /** Log-normal with the given median: the heavy tail of real durations and byte counts. */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  /** Log-normal rounded to an integer in [lo, hi]. */
  logNormalInt(median: number, sigma: number, lo: number, hi: number): number {
    return Math.min(hi, Math.max(lo, Math.round(this.logNormal(median, sigma))));
  }

  exponential(mean: number): number {
    return -mean * Math.log(1 - this.float());
  }
}

const UINT32_SCALE = 2 ** -32;

/** Network prefixes of benign servers: CDNs, cloud and DNS providers seen in CIC-IDS2017. */
const EXTERNAL_PREFIXES = ["104.16", "104.20", "172.217", "23.194", "52.84", "31.13", "151.101"];
/** Enough distinct servers that windows vary, few enough to stay cheap. */
const EXTERNAL_POOL_SIZE = 512;
/** Spoofed SYN sources, drawn from a private test range (they are only strings in a CSV). */
const SPOOFED_PREFIXES = ["172.16", "172.17", "172.18", "172.19", "172.20", "172.21"];
/** Enough spoofed sources that hardly two flows in a window share one. */
const SPOOFED_POOL_SIZE = 4096;

/** Hosts of the CIC-IDS2017 victim network that act as benign clients. */
const CLIENTS = [5, 8, 9, 12, 14, 15, 16, 17, 19, 25].map((host) =>
  encodeAscii(`192.168.10.${host}`),
);
const DNS_SERVER = encodeAscii("192.168.10.3");
const ATTACKER = encodeAscii("172.16.0.1");
const VICTIM = encodeAscii("192.168.10.50");

function addressPool(random: Sampler, prefixes: readonly string[], size: number): Uint8Array[] {
  const pool: Uint8Array[] = [];
  for (let i = 0; i < size; i++) {
    pool.push(encodeAscii(`${random.pick(prefixes)}.${random.int(0, 255)}.${random.int(1, 254)}`));
  }
  return pool;
}

function ephemeralPort(random: Sampler): number {
  return random.int(32768, 60999);
}

/**
 * Prints a timestamp like the original files (`7/7/2017 3:30`), re-formatting only when the
 * minute changes because most consecutive flows share it.
 */
class MinuteClock {
  private minute = Number.NaN;
  private text: Uint8Array = new Uint8Array(0);

  constructor(private ms: number) {}

  advance(ms: number): void {
    this.ms += ms;
  }

  timestamp(): Uint8Array {
    const minute = Math.floor(this.ms / 60_000);
    if (minute !== this.minute) {
      this.minute = minute;
      const date = new Date(minute * 60_000);
      const hour = date.getUTCHours() % 12 || 12;
      const minutes = String(date.getUTCMinutes()).padStart(2, "0");
      this.text = encodeAscii(
        `${date.getUTCMonth() + 1}/${date.getUTCDate()}/${date.getUTCFullYear()} ${hour}:${minutes}`,
      );
    }
    return this.text;
  }
}

/**
 * Everything that defines one flow. Payload sizes per direction are the multiset
 * {first × 1, bulk × min(bulkCount, packets − 1), rest × the remainder}; the gaps between the
 * flow's consecutive packets are {firstGap × 1, idleGap × min(idleGapCount, gaps − 1),
 * gap × the remainder}. Times are in µs, sizes in bytes of payload.
 */
interface FlowShape {
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

function emptyShape(): FlowShape {
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

const TCP = 6;
const UDP = 17;

/**
 * CICFlowMeter counts 20 header bytes per packet in these files, UDP included; TCP with
 * timestamps options shows 32.
 */
const HEADER_BYTES = 20;
const HEADER_BYTES_WITH_OPTIONS = 32;

/** CICFlowMeter cuts flows at 120 s, so no flow lasts longer. */
const FLOW_TIMEOUT_US = 120_000_000;
/** CICFlowMeter's activity timeout: a longer gap ends an active period and counts as idle. */
const ACTIVITY_TIMEOUT_US = 5_000_000;
/** Largest payload of one TCP segment on the CIC-IDS2017 Ethernet. */
const MSS = 1460;

/** Clears every field a profile might leave unset, so no value leaks from the previous flow. */
function resetShape(shape: FlowShape): void {
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
const BENIGN_MIX = {
  https: 0.47,
  http: 0.55,
  dns: 0.75,
  ntp: 0.78,
  keepAlive: 0.84,
  lanService: 0.89,
  fragment: 0.995,
} as const;

/** Initial TCP windows seen in CIC-IDS2017 (Linux, Windows, macOS, middleboxes). */
const CLIENT_WINDOWS = [29200, 8192, 65535, 64240, 14600, 256];
const SERVER_WINDOWS = [28960, 65535, 235, 946, 61, 256];
const LAN_SERVICES = [
  { port: 22, protocol: TCP },
  { port: 445, protocol: TCP },
  { port: 389, protocol: TCP },
  { port: 137, protocol: UDP },
  { port: 5353, protocol: UDP },
] as const;

function shapeBenign(shape: FlowShape, random: Sampler, servers: readonly Uint8Array[]): void {
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

function setTcpTraits(shape: FlowShape, random: Sampler): void {
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
function shapeWebSession(
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
function shapeDns(shape: FlowShape, random: Sampler): void {
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
function shapeNtp(shape: FlowShape, random: Sampler, server: Uint8Array): void {
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
function shapeKeepAlive(shape: FlowShape, random: Sampler, server: Uint8Array): void {
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
function shapeLanService(shape: FlowShape, random: Sampler): void {
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
function shapeFragment(shape: FlowShape, random: Sampler, server: Uint8Array): void {
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
function shapeZeroDuration(shape: FlowShape, random: Sampler, server: Uint8Array): void {
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
const SYN_SINGLE_PACKET_SHARE = 0.02;

function shapeAttack(
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
function shapeSynFlood(shape: FlowShape, random: Sampler, spoofed: readonly Uint8Array[]): void {
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
function shapeUdpFlood(shape: FlowShape, random: Sampler): void {
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
function shapeHttpFlood(shape: FlowShape, random: Sampler): void {
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
function shapeSlowloris(shape: FlowShape, random: Sampler): void {
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
function capDuration(shape: FlowShape): void {
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
interface Summary {
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  squaredDeviations: number;
}

function emptySummary(): Summary {
  return { count: 0, sum: 0, min: 0, max: 0, mean: 0, squaredDeviations: 0 };
}

/** Summarises the multiset {a × na, b × nb, c × nc}; all zeros when it is empty. */
function summarise(
  out: Summary,
  a: number,
  na: number,
  b: number,
  nb: number,
  c: number,
  nc: number,
): void {
  const count = na + nb + nc;
  out.count = count;
  if (count === 0) {
    out.sum = out.min = out.max = out.mean = out.squaredDeviations = 0;
    return;
  }
  const sum = a * na + b * nb + c * nc;
  const mean = sum / count;
  out.sum = sum;
  out.mean = mean;
  out.min = Math.min(na > 0 ? a : Infinity, nb > 0 ? b : Infinity, nc > 0 ? c : Infinity);
  out.max = Math.max(na > 0 ? a : -Infinity, nb > 0 ? b : -Infinity, nc > 0 ? c : -Infinity);
  // Deviations from the mean rather than sum of squares: µs gaps squared exceed 2^53.
  out.squaredDeviations = na * (a - mean) ** 2 + nb * (b - mean) ** 2 + nc * (c - mean) ** 2;
}

/** Sample variance (n − 1), as CICFlowMeter computes it. */
function variance(summary: Summary): number {
  return summary.count > 1 ? summary.squaredDeviations / (summary.count - 1) : 0;
}

/** Scratch summaries of one row, reused so that writing a row allocates nothing. */
class RowSummaries {
  readonly fwdLength = emptySummary();
  readonly bwdLength = emptySummary();
  readonly flowIat = emptySummary();
  readonly fwdIat = emptySummary();
  readonly bwdIat = emptySummary();
  readonly active = emptySummary();
  readonly idle = emptySummary();
}

/** Summarises one direction's payload sizes {first, bulk × k, rest × remainder}. */
function summariseLengths(
  out: Summary,
  packets: number,
  first: number,
  bulk: number,
  bulkCount: number,
  rest: number,
): void {
  if (packets === 0) {
    summarise(out, 0, 0, 0, 0, 0, 0);
    return;
  }
  const bulkPackets = Math.min(bulkCount, packets - 1);
  summarise(out, first, 1, bulk, bulkPackets, rest, packets - 1 - bulkPackets);
}

/**
 * Summarises one direction's `gaps` inter-arrival times: `idleGaps` of them span an idle period
 * of `idleGap`, the others share what is left of `total` as evenly as whole µs allow.
 */
function summariseDirectionGaps(
  out: Summary,
  gaps: number,
  total: number,
  idleGaps: number,
  idleGap: number,
): void {
  if (gaps <= 0) {
    summarise(out, 0, 0, 0, 0, 0, 0);
    return;
  }
  const idle = Math.min(idleGaps, gaps);
  const others = gaps - idle;
  if (others === 0) {
    summarise(out, idleGap, idle, 0, 0, 0, 0);
    return;
  }
  const remaining = Math.max(0, total - idle * idleGap);
  const even = Math.floor(remaining / others);
  summarise(out, remaining - even * (others - 1), 1, idleGap, idle, even, others - 1);
}

/** Bulk features are always 0 in CIC-IDS2017. */
const BULK_FIELDS = 6;

/** Writes the 85 fields of one flow, in header order, as one CSV line. */
function writeRow(
  w: AsciiChunkWriter,
  shape: FlowShape,
  s: RowSummaries,
  timestamp: Uint8Array,
  label: Uint8Array,
): void {
  const fwdPackets = shape.fwdPackets;
  const bwdPackets = shape.bwdPackets;
  const packets = fwdPackets + bwdPackets;
  summariseLengths(
    s.fwdLength,
    fwdPackets,
    shape.fwdFirst,
    shape.fwdBulk,
    shape.fwdBulkCount,
    shape.fwdRest,
  );
  summariseLengths(
    s.bwdLength,
    bwdPackets,
    shape.bwdFirst,
    shape.bwdBulk,
    shape.bwdBulkCount,
    shape.bwdRest,
  );
  const fwdBytes = s.fwdLength.sum;
  const bwdBytes = s.bwdLength.sum;
  const bytes = fwdBytes + bwdBytes;

  // Both directions together, by the parallel-variance formula.
  const lengthMean = bytes / packets;
  const lengthSquaredDeviations =
    s.fwdLength.squaredDeviations +
    fwdPackets * (s.fwdLength.mean - lengthMean) ** 2 +
    s.bwdLength.squaredDeviations +
    (bwdPackets > 0 ? bwdPackets * (s.bwdLength.mean - lengthMean) ** 2 : 0);
  const lengthVariance = packets > 1 ? lengthSquaredDeviations / (packets - 1) : 0;
  const lengthMin = bwdPackets > 0 ? Math.min(s.fwdLength.min, s.bwdLength.min) : s.fwdLength.min;
  const lengthMax = bwdPackets > 0 ? Math.max(s.fwdLength.max, s.bwdLength.max) : s.fwdLength.max;

  const gaps = Math.max(0, packets - 1);
  const idleGaps = gaps > 0 ? Math.min(shape.idleGapCount, gaps - 1) : 0;
  const restGaps = gaps > 0 ? gaps - 1 - idleGaps : 0;
  summarise(
    s.flowIat,
    shape.firstGap,
    gaps > 0 ? 1 : 0,
    shape.idleGap,
    idleGaps,
    shape.gap,
    restGaps,
  );
  const duration = s.flowIat.sum;

  if (bwdPackets === 0) {
    // All packets go forward, so the forward gaps are the flow's gaps.
    Object.assign(s.fwdIat, s.flowIat);
  } else {
    // The last packet is taken to be a reply, so forward packets stop one gap before the end.
    const fwdIdle = Math.min(idleGaps, Math.max(0, fwdPackets - 1));
    const fwdTotal = Math.min(duration, Math.max(duration - shape.gap, fwdIdle * shape.idleGap));
    summariseDirectionGaps(s.fwdIat, fwdPackets - 1, fwdTotal, fwdIdle, shape.idleGap);
  }
  // Replies start after the first gap and run to the end.
  const bwdIdle = Math.min(idleGaps, Math.max(0, bwdPackets - 1));
  summariseDirectionGaps(
    s.bwdIat,
    bwdPackets - 1,
    duration - shape.firstGap,
    bwdIdle,
    shape.idleGap,
  );

  summarise(
    s.idle,
    shape.firstGap,
    gaps > 0 && shape.firstGap > ACTIVITY_TIMEOUT_US ? 1 : 0,
    shape.idleGap,
    shape.idleGap > ACTIVITY_TIMEOUT_US ? idleGaps : 0,
    shape.gap,
    shape.gap > ACTIVITY_TIMEOUT_US ? restGaps : 0,
  );
  if (s.idle.count > 0) {
    const periods = s.idle.count + 1;
    summarise(s.active, Math.round((duration - s.idle.sum) / periods), periods, 0, 0, 0, 0);
  } else {
    summarise(s.active, 0, 0, 0, 0, 0, 0);
  }

  const fwdBulkPackets = fwdPackets > 0 ? Math.min(shape.fwdBulkCount, fwdPackets - 1) : 0;
  const actDataFwd =
    fwdPackets === 0
      ? 0
      : (shape.fwdFirst > 0 ? 1 : 0) +
        (shape.fwdBulk > 0 ? fwdBulkPackets : 0) +
        (shape.fwdRest > 0 ? fwdPackets - 1 - fwdBulkPackets : 0);

  w.flowId(
    shape.sourceIp,
    shape.destinationIp,
    shape.sourcePort,
    shape.destinationPort,
    shape.protocol,
  );
  w.ascii(shape.sourceIp);
  w.int(shape.sourcePort);
  w.ascii(shape.destinationIp);
  w.int(shape.destinationPort);
  w.int(shape.protocol);
  w.ascii(timestamp);
  w.int(duration);
  w.int(fwdPackets);
  w.int(bwdPackets);
  w.int(fwdBytes);
  w.int(bwdBytes);
  w.int(s.fwdLength.max);
  w.int(s.fwdLength.min);
  w.decimal(s.fwdLength.mean);
  w.decimal(Math.sqrt(variance(s.fwdLength)));
  w.int(s.bwdLength.max);
  w.int(s.bwdLength.min);
  w.decimal(s.bwdLength.mean);
  w.decimal(Math.sqrt(variance(s.bwdLength)));
  // 0 µs gives Infinity, or NaN for 0 bytes, exactly as CICFlowMeter divides.
  w.decimal((bytes * 1e6) / duration);
  w.decimal((packets * 1e6) / duration);
  writeTimeSummary(w, s.flowIat, false);
  writeTimeSummary(w, s.fwdIat, true);
  writeTimeSummary(w, s.bwdIat, true);
  w.int(shape.fwdPsh);
  w.int(0); // Bwd PSH Flags: always 0 in CIC-IDS2017
  w.int(0); // Fwd URG Flags
  w.int(0); // Bwd URG Flags
  w.int(fwdPackets * shape.headerBytes);
  w.int(bwdPackets * shape.headerBytes);
  // Directional rates are 0, not Infinity, for 0 µs flows in the real files.
  w.decimal(duration > 0 ? (fwdPackets * 1e6) / duration : 0);
  w.decimal(duration > 0 ? (bwdPackets * 1e6) / duration : 0);
  w.int(lengthMin);
  w.int(lengthMax);
  w.decimal(lengthMean);
  w.decimal(Math.sqrt(lengthVariance));
  w.decimal(lengthVariance);
  w.int(shape.fin);
  w.int(shape.syn);
  w.int(shape.rst);
  w.int(shape.psh);
  w.int(shape.ack);
  w.int(shape.urg);
  w.int(0); // CWE Flag Count
  w.int(0); // ECE Flag Count
  // The original files print Down/Up Ratio as the integer quotient.
  w.int(Math.floor(bwdPackets / fwdPackets));
  w.decimal(lengthMean);
  w.decimal(s.fwdLength.mean);
  w.decimal(s.bwdLength.mean);
  w.int(fwdPackets * shape.headerBytes);
  for (let i = 0; i < BULK_FIELDS; i++) w.int(0);
  w.int(fwdPackets);
  w.int(fwdBytes);
  w.int(bwdPackets);
  w.int(bwdBytes);
  w.int(shape.initWinForward);
  w.int(shape.initWinBackward);
  w.int(actDataFwd);
  w.int(shape.headerBytes);
  writeTimeSummary(w, s.active, false);
  writeTimeSummary(w, s.idle, false);
  w.lastField(label);
}

/** Writes [total,] mean, std, max, min of a set of µs durations. */
function writeTimeSummary(w: AsciiChunkWriter, summary: Summary, withTotal: boolean): void {
  if (withTotal) w.int(summary.sum);
  w.decimal(summary.mean);
  w.decimal(Math.sqrt(variance(summary)));
  w.int(summary.max);
  w.int(summary.min);
}

/** 64 KiB: large enough that a chunk write amortises its cost, small enough to stream. */
const CHUNK_BYTES = 64 * 1024;
/**
 * Room kept free for one more row. A row is at most about 2,300 bytes (85 fields of at most 25
 * characters plus the Flow ID), so a chunk never overflows.
 */
const MAX_ROW_BYTES = 4096;

const COMMA = 0x2c;
const NEWLINE = 0x0a;
const DASH = 0x2d;
const DOT = 0x2e;
const DIGIT_ZERO = 0x30;
const INFINITY_TEXT = encodeAscii("Infinity");
const NAN_TEXT = encodeAscii("NaN");

/** Encodes an ASCII string once, so that hot loops copy bytes instead of building strings. */
function encodeAscii(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * Writes CSV fields straight into a reusable byte buffer and decodes it once per chunk:
 * building 85 strings per row and joining them cost more than generating the flow itself.
 * Every field method appends the field and a comma; {@link lastField} ends the line.
 */
class AsciiChunkWriter {
  private readonly bytes = new Uint8Array(CHUNK_BYTES);
  private readonly decoder = new TextDecoder();
  private position = 0;

  get length(): number {
    return this.position;
  }

  hasRoomForRow(): boolean {
    return this.position + MAX_ROW_BYTES <= CHUNK_BYTES;
  }

  /** Returns the text written so far and starts a new chunk. */
  take(): string {
    const text = this.decoder.decode(this.bytes.subarray(0, this.position));
    this.position = 0;
    return text;
  }

  ascii(text: Uint8Array): void {
    this.copy(text);
    this.bytes[this.position++] = COMMA;
  }

  lastField(text: Uint8Array): void {
    this.copy(text);
    this.bytes[this.position++] = NEWLINE;
  }

  /** `source-destination-sourcePort-destinationPort-protocol`, as CICFlowMeter names a flow. */
  flowId(
    source: Uint8Array,
    destination: Uint8Array,
    sourcePort: number,
    destinationPort: number,
    protocol: number,
  ): void {
    this.copy(source);
    this.bytes[this.position++] = DASH;
    this.copy(destination);
    this.bytes[this.position++] = DASH;
    this.digits(sourcePort);
    this.bytes[this.position++] = DASH;
    this.digits(destinationPort);
    this.bytes[this.position++] = DASH;
    this.digits(protocol);
    this.bytes[this.position++] = COMMA;
  }

  /** An integer (negative only for the files' `-1` "unknown" window). */
  int(value: number): void {
    if (value < 0) {
      this.bytes[this.position++] = DASH;
      this.digits(-value);
    } else {
      this.digits(value);
    }
    this.bytes[this.position++] = COMMA;
  }

  /**
   * A number as the original files print it: at most 10 significant digits, no exponent,
   * integers as integers, `Infinity` and `NaN` spelled out. The digits are those of
   * `Math.round(x · 10^k) / 10^k` for the k that keeps 10 significant digits, cut with integer
   * arithmetic instead of the much slower `String(double)`.
   */
  decimal(value: number): void {
    if (Number.isInteger(value)) {
      this.int(value);
      return;
    }
    if (!Number.isFinite(value)) {
      if (value < 0) this.bytes[this.position++] = DASH;
      this.ascii(Number.isNaN(value) ? NAN_TEXT : INFINITY_TEXT);
      return;
    }
    const magnitude = Math.abs(value);
    // From 1e9 up, 10 significant digits leave no room for decimals.
    if (magnitude >= 1e9) {
      this.int(Math.round(value));
      return;
    }
    let decimals = SIGNIFICANT_DIGITS - integerDigits(magnitude);
    const scale = POW10[decimals];
    // Below 1e-12 no digit survives; the values printed here never get that small.
    if (scale === undefined) {
      this.int(0);
      return;
    }
    const scaled = Math.round(magnitude * scale);
    const whole = Math.floor(scaled / scale);
    let fraction = scaled - whole * scale;
    if (value < 0 && scaled > 0) this.bytes[this.position++] = DASH;
    this.digits(whole);
    if (fraction !== 0) {
      while (fraction % 10 === 0) {
        fraction /= 10;
        decimals--;
      }
      this.bytes[this.position++] = DOT;
      this.paddedDigits(fraction, decimals);
    }
    this.bytes[this.position++] = COMMA;
  }

  private copy(text: Uint8Array): void {
    // A loop beats `set` for the few bytes of an address or a label.
    const bytes = this.bytes;
    let p = this.position;
    for (let i = 0; i < text.length; i++) bytes[p++] = text[i]!;
    this.position = p;
  }

  /** A non-negative integer below 2^53. */
  private digits(value: number): void {
    if (value < 10) {
      this.bytes[this.position++] = DIGIT_ZERO + value;
    } else if (value <= INT32_MAX) {
      this.paddedDigits(value, int32Width(value));
    } else {
      this.paddedDigits(value, decimalWidth(value));
    }
  }

  /** A non-negative integer below 2^53, left-padded with zeros to `width` digits. */
  private paddedDigits(value: number, width: number): void {
    const bytes = this.bytes;
    let p = this.position + width;
    this.position = p;
    if (value <= INT32_MAX) {
      // Integer division in int32 is several times faster than Math.floor on doubles.
      let rest = value | 0;
      for (let i = 0; i < width; i++) {
        const next = (rest / 10) | 0;
        bytes[--p] = DIGIT_ZERO + rest - next * 10;
        rest = next;
      }
      return;
    }
    let rest = value;
    for (let i = 0; i < width; i++) {
      const next = Math.floor(rest / 10);
      bytes[--p] = DIGIT_ZERO + (rest - next * 10);
      rest = next;
    }
  }
}

const INT32_MAX = 0x7fffffff;

/** Number of decimal digits of an integer in [10, 2^31). */
function int32Width(value: number): number {
  if (value < 1e5) return value < 1e2 ? 2 : value < 1e3 ? 3 : value < 1e4 ? 4 : 5;
  return value < 1e6 ? 6 : value < 1e7 ? 7 : value < 1e8 ? 8 : value < 1e9 ? 9 : 10;
}

/** Exact powers of ten 1e0..1e22 (literals, so no rounding from Math.pow). */
const POW10 = [
  1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
  1e18, 1e19, 1e20, 1e21, 1e22,
];

/** Significant digits of decimals in the original files. */
const SIGNIFICANT_DIGITS = 10;

/** Number of decimal digits of a non-negative integer below 2^53 (1 for 0). */
function decimalWidth(value: number): number {
  let width = 1;
  while (width < POW10.length && value >= POW10[width]!) width++;
  return width;
}

/**
 * floor(log10(magnitude)) + 1 for 0 < magnitude < 1e9: the digits before the decimal point, or
 * minus the zeros right after it. Comparisons first, as most values printed are at least 1.
 */
function integerDigits(magnitude: number): number {
  if (magnitude < 1) return Math.floor(Math.log10(magnitude)) + 1;
  if (magnitude < 1e4) return magnitude < 1e2 ? (magnitude < 1e1 ? 1 : 2) : magnitude < 1e3 ? 3 : 4;
  if (magnitude < 1e6) return magnitude < 1e5 ? 5 : 6;
  return magnitude < 1e7 ? 7 : magnitude < 1e8 ? 8 : 9;
}
