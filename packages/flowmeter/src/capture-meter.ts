/**
 * Capture bytes in, flows out: the reader, the decoder and the meter wired together, and the
 * same as a stream of CSV text for everything that already reads CICFlowMeter CSV.
 */
import { CaptureReader, CaptureFormatError, type CaptureReadStats } from "./capture-reader.ts";
import { FlowMeter, type FlowMeterOptions, type FlowMeterStats } from "./flow-meter.ts";
import { flowCsvHeader, flowCsvLine, type FlowRecord } from "./flow-record.ts";
import { DecodedPacket, DecodeResult, decodePacket } from "./packet-decoder.ts";

export type CaptureMeterOptions = Omit<FlowMeterOptions, "onFlow">;

/** Packets that were read but not metered, by reason. */
export interface DecodeStats {
  notIp: number;
  fragments: number;
  truncated: number;
  unknownLink: number;
  /** The first link type that was not understood, for the message. */
  firstUnknownLink: number | null;
}

/** Meters a capture pushed chunk by chunk; flows go to `onFlow` as they end. */
export class CaptureMeter {
  readonly reader: CaptureReader;
  readonly meter: FlowMeter;
  readonly decode: DecodeStats = {
    notIp: 0,
    fragments: 0,
    truncated: 0,
    unknownLink: 0,
    firstUnknownLink: null,
  };
  private readonly packet = new DecodedPacket();

  constructor(options: CaptureMeterOptions, onFlow: (flow: FlowRecord) => void) {
    this.meter = new FlowMeter({ ...options, onFlow });
    const packet = this.packet;
    const meter = this.meter;
    const decode = this.decode;
    this.reader = new CaptureReader((linkType, micros, data, offset, capLen, origLen) => {
      const result = decodePacket(linkType, data, offset, capLen, origLen, packet);
      if (result === DecodeResult.Packet) {
        packet.timestampMicros = micros;
        meter.addPacket(packet);
      } else if (result === DecodeResult.Fragment) decode.fragments++;
      else if (result === DecodeResult.NotIp) decode.notIp++;
      else if (result === DecodeResult.Truncated) decode.truncated++;
      else {
        decode.unknownLink++;
        decode.firstUnknownLink ??= linkType;
      }
    });
  }

  push(chunk: Uint8Array): void {
    this.reader.push(chunk);
  }

  /**
   * The capture is complete: ends every open flow. A capture in which no packet had a known
   * link type is refused, since nothing in it could be metered.
   */
  end(): void {
    try {
      this.reader.end();
    } finally {
      this.meter.flush();
    }
    const { packets } = this.reader.stats;
    if (packets > 0 && this.decode.unknownLink === packets) {
      throw new CaptureFormatError(
        `unsupported link type ${this.decode.firstUnknownLink} (supported: Ethernet 1, raw IP 101/228/229, Linux SLL 113, SLL2 276, BSD loopback 0)`,
        0,
      );
    }
  }

  /** Ends the flows still open (the sensor's shutdown, or after an error). */
  flush(): void {
    this.meter.flush();
  }

  get stats(): { read: CaptureReadStats; decode: DecodeStats; meter: FlowMeterStats } {
    return { read: this.reader.stats, decode: this.decode, meter: this.meter.stats };
  }
}

export interface FlowCsvOptions extends CaptureMeterOptions {
  /** Written in a `Label` column on every row; no `Label` column when absent. */
  label?: string;
  /** Told the final totals, also when the capture turns out to be broken. */
  onStats?: (stats: CaptureMeter["stats"]) => void;
}

const asError = (error: unknown): Error =>
  error instanceof Error ? error : new Error(String(error));

/** Output is batched into chunks of about this many bytes. */
const CSV_CHUNK_BYTES = 64 * 1024;

/**
 * Capture bytes in, CSV text out, synchronously: for callers that get the capture in messages
 * (ingest's parse workers) rather than as an async stream. `push` returns the text of the flows
 * that ended (the header line with the first call); `end` the rest.
 */
export class FlowCsvTranscoder {
  readonly capture: CaptureMeter;
  private text: string;

  constructor(private readonly options: Omit<FlowCsvOptions, "onStats"> = {}) {
    this.text = flowCsvHeader(options.label !== undefined) + "\n";
    this.capture = new CaptureMeter(options, (flow) => {
      this.text += flowCsvLine(flow, this.options.label) + "\n";
    });
  }

  push(chunk: Uint8Array): string {
    this.capture.push(chunk);
    return this.take();
  }

  /**
   * Ends the capture. On a {@link CaptureFormatError} the flows of every packet before the
   * fault are still returned, in `error` beside them, for the caller to report.
   */
  end(): { text: string; error: Error | null } {
    try {
      this.capture.end();
      return { text: this.take(), error: null };
    } catch (error) {
      this.capture.flush();
      return { text: this.take(), error: asError(error) };
    }
  }

  /** After a failed `push`: the flows still open, ended. */
  abort(): string {
    this.capture.flush();
    return this.take();
  }

  private take(): string {
    const text = this.text;
    this.text = "";
    return text;
  }
}

/**
 * A capture's flows as CSV text chunks in the CICFlowMeter layout: the header line first, then
 * one line per flow in the order the flows end. If the capture is broken part way, the flows
 * of every packet before the fault are still written, then the {@link CaptureFormatError} is
 * thrown.
 */
export async function* captureToFlowCsv(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: FlowCsvOptions = {},
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  const transcoder = new FlowCsvTranscoder(options);
  let text = "";
  let failure: Error | null = null;
  try {
    for await (const chunk of chunks) {
      text += transcoder.push(chunk);
      if (text.length >= CSV_CHUNK_BYTES) {
        yield encoder.encode(text);
        text = "";
      }
    }
    const end = transcoder.end();
    text += end.text;
    failure = end.error;
  } catch (error) {
    failure = asError(error);
    text += transcoder.abort();
  }
  options.onStats?.(transcoder.capture.stats);
  if (text.length > 0) yield encoder.encode(text);
  if (failure !== null) throw failure;
}
