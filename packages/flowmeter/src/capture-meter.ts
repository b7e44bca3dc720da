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

/** Output is batched into chunks of about this many bytes. */
const CSV_CHUNK_BYTES = 64 * 1024;

/**
 * A capture's flows as CSV text chunks in the CICFlowMeter layout: the header line first, then
 * one line per flow in the order the flows end. If the capture is broken part way, the flows
 * of every packet before the fault are still written, then the {@link CaptureFormatError} is
 * thrown.
 */
export async function* captureToFlowCsv(
  chunks: AsyncIterable<Uint8Array>,
  options: FlowCsvOptions = {},
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  let text = flowCsvHeader(options.label !== undefined) + "\n";
  const capture = new CaptureMeter(options, (flow) => {
    text += flowCsvLine(flow, options.label) + "\n";
  });
  let failure: unknown = null;
  try {
    for await (const chunk of chunks) {
      capture.push(chunk);
      if (text.length >= CSV_CHUNK_BYTES) {
        yield encoder.encode(text);
        text = "";
      }
    }
    capture.end();
  } catch (error) {
    failure = error;
    capture.flush();
  }
  options.onStats?.(capture.stats);
  if (text.length > 0) yield encoder.encode(text);
  if (failure !== null) throw failure;
}
