/**
 * Seeded generator of synthetic, labelled CICFlowMeter flows in the original CIC-IDS2017
 * "GeneratedLabelledFlows" CSV layout, for tests, demos and benchmark inputs.
 *
 * A flow is not simulated packet by packet: its payload sizes and the gaps between its packets
 * are each described by a small multiset (one "first" value, a run of "bulk" values, the rest
 * equal), which is enough to derive every one of the 85 columns exactly and consistently at a
 * few hundred thousand flows a second.
 *
 * This file is the generator's entry (options, the phases of an upload, the loop); the sampler,
 * the traffic shapes, the row writer and the ASCII writer are its siblings. Exported from
 * `@floodwatch/core/generator`, not core's main entry: services never generate flows.
 */
import { ORIGINAL_FLOW_CSV_HEADER } from "../flow-features.ts";
import { createPrng } from "../prng.ts";
import { AsciiChunkWriter, encodeAscii } from "./ascii-writer.ts";
import { RowSummaries, writeRow } from "./row-writer.ts";
import { MinuteClock, Sampler } from "./sampler.ts";
import {
  EXTERNAL_POOL_SIZE,
  EXTERNAL_PREFIXES,
  SPOOFED_POOL_SIZE,
  SPOOFED_PREFIXES,
  addressPool,
  emptyShape,
  shapeAttack,
  shapeBenign,
} from "./traffic-shapes.ts";

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
 * - the first chunk is exactly {@link ORIGINAL_FLOW_CSV_HEADER} plus `"\n"`; every later chunk
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

  yield ORIGINAL_FLOW_CSV_HEADER + "\n";
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
