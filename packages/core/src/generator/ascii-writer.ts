/**
 * The ASCII writer of the flow generator: numbers and bytes straight into reused 64 KiB chunks,
 * formatted as the original files print them, without a string per field.
 */

export const CHUNK_BYTES = 64 * 1024;
/**
 * Room kept free for one more row. A row is at most about 2,300 bytes (85 fields of at most 25
 * characters plus the Flow ID), so a chunk never overflows.
 */
export const MAX_ROW_BYTES = 4096;

export const COMMA = 0x2c;
export const NEWLINE = 0x0a;
export const DASH = 0x2d;
export const DOT = 0x2e;
export const DIGIT_ZERO = 0x30;
export const INFINITY_TEXT = encodeAscii("Infinity");
export const NAN_TEXT = encodeAscii("NaN");

/** Encodes an ASCII string once, so that hot loops copy bytes instead of building strings. */
export function encodeAscii(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * Writes CSV fields straight into a reusable byte buffer and decodes it once per chunk:
 * building 85 strings per row and joining them cost more than generating the flow itself.
 * Every field method appends the field and a comma; {@link lastField} ends the line.
 */
export class AsciiChunkWriter {
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

export const INT32_MAX = 0x7fffffff;

/** Number of decimal digits of an integer in [10, 2^31). */
export function int32Width(value: number): number {
  if (value < 1e5) return value < 1e2 ? 2 : value < 1e3 ? 3 : value < 1e4 ? 4 : 5;
  return value < 1e6 ? 6 : value < 1e7 ? 7 : value < 1e8 ? 8 : value < 1e9 ? 9 : 10;
}

/** Exact powers of ten 1e0..1e22 (literals, so no rounding from Math.pow). */
export const POW10 = [
  1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
  1e18, 1e19, 1e20, 1e21, 1e22,
];

/** Significant digits of decimals in the original files. */
export const SIGNIFICANT_DIGITS = 10;

/** Number of decimal digits of a non-negative integer below 2^53 (1 for 0). */
export function decimalWidth(value: number): number {
  let width = 1;
  while (width < POW10.length && value >= POW10[width]!) width++;
  return width;
}

/**
 * floor(log10(magnitude)) + 1 for 0 < magnitude < 1e9: the digits before the decimal point, or
 * minus the zeros right after it. Comparisons first, as most values printed are at least 1.
 */
export function integerDigits(magnitude: number): number {
  if (magnitude < 1) return Math.floor(Math.log10(magnitude)) + 1;
  if (magnitude < 1e4) return magnitude < 1e2 ? (magnitude < 1e1 ? 1 : 2) : magnitude < 1e3 ? 3 : 4;
  if (magnitude < 1e6) return magnitude < 1e5 ? 5 : 6;
  return magnitude < 1e7 ? 7 : magnitude < 1e8 ? 8 : 9;
}
