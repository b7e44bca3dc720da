/**
 * Flow timestamps: the `Timestamp` column in the spellings real CICFlowMeter files use, parsed
 * straight from the CSV bytes to epoch milliseconds.
 *
 * - `2017-07-07 12:02:55.371187` (CIC-IDS2017 improved, CIC-DDoS2019), and ISO 8601 generally:
 *   `T` or space, optional seconds and fraction, optional `Z` or `±hh[:mm]` zone.
 * - `7/7/2017 3:30` and `7/7/2017 3:30:12` (original CIC-IDS2017): day first, then month, and a
 *   12-hour clock written without AM/PM. The half of the day cannot be recovered from the text,
 *   so the hour is taken as written (3:30 is 03:30); the date, which is what places a window in a
 *   capture, is exact.
 * - `07/07/2017 03:30:12 PM`: CICFlowMeter's own `dd/MM/yyyy hh:mm:ss a`.
 *
 * A timestamp without a zone is naive: it is read in UTC unless a zone is given (a fixed offset
 * such as `-03:00`, or an IANA name such as `America/Halifax`).
 */

/** Offset in ms to subtract from a naive time read as if UTC, to get the true UTC instant. */
export type ZoneOffset = (naiveMs: number) => number;

const HOUR_MS = 3_600_000;

/**
 * The offset function of a zone setting: `UTC`/`Z`, a fixed `±hh:mm` (or `±hhmm`, `±hh`), or an
 * IANA time zone name. Throws a `RangeError` naming the setting when it is none of these.
 */
export function zoneOffset(zone: string | undefined): ZoneOffset {
  if (zone === undefined || zone === "" || /^(utc|z|gmt)$/i.test(zone)) return () => 0;
  const fixed = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
  if (fixed !== null) {
    const minutes = Number(fixed[2]) * 60 + Number(fixed[3] ?? 0);
    if (minutes > 18 * 60) throw new RangeError(`timestamp zone ${zone}: offset beyond ±18:00`);
    const offset = (fixed[1] === "-" ? -1 : 1) * minutes * 60_000;
    return () => offset;
  }
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
  } catch {
    throw new RangeError(
      `timestamp zone ${JSON.stringify(zone)}: not UTC, a ±hh:mm offset or an IANA time zone`,
    );
  }
  // Offsets change at most a few times a year, on the hour: one Intl call per naive hour seen.
  const byHour = new Map<number, number>();
  const offsetAt = (utcMs: number): number => {
    const parts = format.formatToParts(utcMs);
    const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
    const local = Date.UTC(
      get("year"),
      get("month") - 1,
      get("day"),
      get("hour"),
      get("minute"),
      get("second"),
    );
    return local - Math.floor(utcMs / 1000) * 1000;
  };
  return (naiveMs) => {
    const hour = Math.floor(naiveMs / HOUR_MS);
    let offset = byHour.get(hour);
    if (offset === undefined) {
      // The offset at the instant the naive time would be if it were UTC, corrected once: exact
      // except inside the hour a transition skips or repeats.
      const first = offsetAt(hour * HOUR_MS);
      offset = offsetAt(hour * HOUR_MS - first);
      byHour.set(hour, offset);
    }
    return offset;
  };
}

/** Position after the digits starting at `i`, value in {@link digitValue}. */
let digitValue = 0;
function readDigits(data: Uint8Array, i: number, end: number, max: number): number {
  let value = 0;
  const stop = Math.min(end, i + max);
  let j = i;
  while (j < stop) {
    const c = data[j]! - 0x30;
    if (c < 0 || c > 9) break;
    value = value * 10 + c;
    j++;
  }
  digitValue = value;
  return j;
}

/**
 * Parses one timestamp cell (bytes `start..end`, already trimmed) to epoch ms, or NaN when it is
 * none of the accepted formats. `zone` applies to naive timestamps only.
 */
export function parseTimestampBytes(
  data: Uint8Array,
  start: number,
  end: number,
  zone: ZoneOffset,
): number {
  let i = readDigits(data, start, end, 4);
  if (i === start || i >= end) return Number.NaN;
  const first = digitValue;
  const separator = data[i]!;
  let year: number;
  let month: number;
  let day: number;
  let dayFirst = false;
  if (separator === 0x2d /* - */) {
    if (i - start !== 4) return Number.NaN;
    year = first;
    const j = readDigits(data, i + 1, end, 2);
    if (j === i + 1 || data[j] !== 0x2d) return Number.NaN;
    month = digitValue;
    i = readDigits(data, j + 1, end, 2);
    if (i === j + 1) return Number.NaN;
    day = digitValue;
    if (i < end && (data[i] === 0x54 /* T */ || data[i] === 0x20)) i++;
    else if (i === end) return finish(year, month, day, 0, 0, 0, 0, zone, true);
    else return Number.NaN;
  } else if (separator === 0x2f /* / */) {
    if (i - start > 2) return Number.NaN;
    day = first;
    const j = readDigits(data, i + 1, end, 2);
    if (j === i + 1 || data[j] !== 0x2f) return Number.NaN;
    month = digitValue;
    i = readDigits(data, j + 1, end, 4);
    if (i - (j + 1) !== 4) return Number.NaN;
    year = digitValue;
    if (i === end) return finish(year, month, day, 0, 0, 0, 0, zone, true);
    if (data[i] !== 0x20) return Number.NaN;
    while (i < end && data[i] === 0x20) i++;
    dayFirst = true;
  } else return Number.NaN;

  // Time of day: h[h]:mm[:ss[.fraction]]
  let j = readDigits(data, i, end, 2);
  if (j === i || data[j] !== 0x3a /* : */) return Number.NaN;
  let hour = digitValue;
  layoutMinuteStart = j + 1 - start;
  i = readDigits(data, j + 1, end, 2);
  if (i - (j + 1) !== 2) return Number.NaN;
  const minute = digitValue;
  let second = 0;
  let millis = 0;
  if (i < end && data[i] === 0x3a) {
    j = i + 1;
    i = readDigits(data, j, end, 2);
    if (i - j !== 2) return Number.NaN;
    second = digitValue;
    if (i < end && (data[i] === 0x2e || data[i] === 0x2c) /* . or , */) {
      j = i + 1;
      let scale = 100;
      i = j;
      while (i < end) {
        const c = data[i]! - 0x30;
        if (c < 0 || c > 9) break;
        millis += c * scale;
        scale /= 10;
        i++;
      }
      if (i === j) return Number.NaN;
    }
  }
  layoutTimeEnd = i - start;
  while (i < end && data[i] === 0x20) i++;
  if (i === end) return finish(year, month, day, hour, minute, second, millis, zone, true);

  const c = data[i]! | 0x20;
  if (dayFirst && (c === 0x61 /* a */ || c === 0x70) /* p */) {
    // CICFlowMeter's `hh:mm:ss a`: a real 12-hour clock.
    if (i + 2 !== end || (data[i + 1]! | 0x20) !== 0x6d /* m */) return Number.NaN;
    if (hour < 1 || hour > 12) return Number.NaN;
    hour = (hour % 12) + (c === 0x70 ? 12 : 0);
    return finish(year, month, day, hour, minute, second, millis, zone, true);
  }
  if (dayFirst) return Number.NaN;
  // ISO zone designator.
  if (c === 0x7a /* z */ && i + 1 === end) {
    return finish(year, month, day, hour, minute, second, millis, zone, false);
  }
  if (data[i] === 0x2b || data[i] === 0x2d) {
    const sign = data[i] === 0x2d ? -1 : 1;
    j = readDigits(data, i + 1, end, 2);
    if (j - (i + 1) !== 2) return Number.NaN;
    let offsetMinutes = digitValue * 60;
    if (j < end && data[j] === 0x3a) j++;
    if (j < end) {
      const k = readDigits(data, j, end, 2);
      if (k - j !== 2) return Number.NaN;
      offsetMinutes += digitValue;
      j = k;
    }
    if (j !== end) return Number.NaN;
    const local = finish(year, month, day, hour, minute, second, millis, zone, false);
    layoutAdjust += sign * offsetMinutes * 60_000;
    return local - sign * offsetMinutes * 60_000;
  }
  return Number.NaN;
}

function finish(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  millis: number,
  zone: ZoneOffset,
  naive: boolean,
): number {
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return Number.NaN;
  }
  if (day > daysInMonth(year, month)) return Number.NaN;
  const hourPart = daysFromCivil(year, month, day) * 86_400_000 + hour * HOUR_MS;
  const ms = hourPart + minute * 60_000 + second * 1000 + millis;
  layoutHourPart = hourPart;
  layoutAdjust = naive ? zone(ms) : 0;
  return ms - layoutAdjust;
}

// The layout of the last timestamp parsed (module state: parsing is synchronous), for
// TimestampColumn: where its minutes start and its time of day ends (offsets from the cell's
// start), the exact partial sum up to the hour, and what was subtracted for the zone.
let layoutMinuteStart = -1;
let layoutTimeEnd = -1;
let layoutHourPart = 0;
let layoutAdjust = 0;

/**
 * Parses a column of timestamps, one cell at a time, cheaply for the common case: consecutive
 * flows within the same hour. A cell that matches the last parsed one everywhere but in the
 * digits of its minutes, seconds and fraction (same length, same separators, same date, hour and
 * suffix) is finished from the last one's hour: the same partial sums, so the same value to the
 * bit as a full parse. Anything else gets the full parse. Zone offsets change on the hour, so
 * the last one's zone adjustment holds.
 */
export class TimestampColumn {
  readonly #zone: ZoneOffset;
  readonly #last = new Uint8Array(64);
  /** Length of the cached cell; -1 when nothing is cached. */
  #length = -1;
  #minuteStart = 0;
  #timeEnd = 0;
  #hourPart = 0;
  #adjust = 0;

  constructor(zone: ZoneOffset) {
    this.#zone = zone;
  }

  /** The timestamp in bytes `start..end` (already trimmed) as epoch ms, or NaN. */
  parse(data: Uint8Array, start: number, end: number): number {
    const length = end - start;
    if (length === this.#length) {
      const value = this.#sameHour(data, start);
      if (value === value) return value;
    }
    layoutMinuteStart = -1;
    layoutTimeEnd = -1;
    const value = parseTimestampBytes(data, start, end, this.#zone);
    // Cache only a clean parse with minutes and at most a 64-byte cell.
    if (value === value && layoutMinuteStart > 0 && layoutTimeEnd > 0 && length <= 64) {
      this.#last.set(data.subarray(start, end));
      this.#length = length;
      this.#minuteStart = layoutMinuteStart;
      this.#timeEnd = layoutTimeEnd;
      this.#hourPart = layoutHourPart;
      this.#adjust = layoutAdjust;
    }
    return value;
  }

  /** The value when the cell shares the cached one's hour and layout, NaN otherwise. */
  #sameHour(data: Uint8Array, start: number): number {
    const last = this.#last;
    const minuteStart = this.#minuteStart;
    const timeEnd = this.#timeEnd;
    for (let k = 0; k < minuteStart; k++) if (data[start + k] !== last[k]) return Number.NaN;
    for (let k = timeEnd; k < this.#length; k++) if (data[start + k] !== last[k]) return Number.NaN;
    let minute = 0;
    let second = 0;
    let millis = 0;
    let scale = 100;
    // field 0: minutes, 1: seconds, 2: fraction; separators must match the cached cell's.
    let field = 0;
    for (let k = minuteStart; k < timeEnd; k++) {
      const c = data[start + k]! - 0x30;
      const cached = last[k]! - 0x30;
      if (cached < 0 || cached > 9) {
        if (data[start + k] !== last[k]) return Number.NaN;
        field++;
        continue;
      }
      if (c < 0 || c > 9) return Number.NaN;
      if (field === 0) minute = minute * 10 + c;
      else if (field === 1) second = second * 10 + c;
      else {
        millis += c * scale;
        scale /= 10;
      }
    }
    if (minute > 59 || second > 60) return Number.NaN;
    return this.#hourPart + minute * 60_000 + second * 1000 + millis - this.#adjust;
  }
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's `days_from_civil`): integer
 * arithmetic, several times cheaper than `Date.UTC` on a path that runs once per flow.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const encoder = new TextEncoder();

/**
 * Parses a timestamp string in any of the accepted formats to epoch ms, or NaN.
 * @param zone - applies to naive timestamps; see {@link zoneOffset}.
 */
export function parseFlowTimestamp(text: string, zone?: string): number {
  const bytes = encoder.encode(text.trim());
  return parseTimestampBytes(bytes, 0, bytes.length, zoneOffset(zone));
}
