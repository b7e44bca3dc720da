/**
 * Seeded sampling for the flow generator, and its minute clock that prints timestamps like the
 * original CIC-IDS2017 files.
 */
import type { Prng } from "../prng.ts";
import { encodeAscii } from "./ascii-writer.ts";

/**
 * Sampling helpers over the seeded generator. Uniform draws take one 32-bit output rather than
 * the 53-bit `nextFloat()`: 2^-32 resolution is far finer than any traffic shape needs, and it
 * halves the generator calls, which showed in the profile.
 */
export class Sampler {
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

export const UINT32_SCALE = 2 ** -32;

/** Network prefixes of benign servers: CDNs, cloud and DNS providers seen in CIC-IDS2017. */

/**
 * Prints a timestamp like the original files (`7/7/2017 3:30`), re-formatting only when the
 * minute changes because most consecutive flows share it.
 */
export class MinuteClock {
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
