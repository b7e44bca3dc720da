import { createReadStream, createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  CaptureFormatError,
  captureToFlowCsv,
  DEFAULT_ACTIVITY_TIMEOUT_MICROS,
  DEFAULT_FLOW_TIMEOUT_MICROS,
  DEFAULT_MAX_FLOWS,
} from "@floodwatch/flowmeter";
import { DataError } from "../cli-error.ts";
import { checkInputs } from "../flow-input.ts";
import { type CommandSpec, intOption, stringOption } from "../options.ts";

/** Meter options shared by `flows` and `sensor`. */
export const METER_OPTIONS = {
  "cic-compat": { type: "boolean" },
  "max-flows": { type: "string" },
  "flow-timeout": { type: "string" },
  "activity-timeout": { type: "string" },
} as const;

export function meterOptions(values: Parameters<CommandSpec["run"]>[0]["values"]) {
  return {
    cicCompat: values["cic-compat"] === true,
    maxFlows: intOption(values, "max-flows", DEFAULT_MAX_FLOWS, { min: 1, max: 50_000_000 }),
    flowTimeoutMicros:
      intOption(values, "flow-timeout", DEFAULT_FLOW_TIMEOUT_MICROS / 1e6, {
        min: 1,
        max: 86_400,
      }) * 1e6,
    activityTimeoutMicros:
      intOption(values, "activity-timeout", DEFAULT_ACTIVITY_TIMEOUT_MICROS / 1e6, {
        min: 1,
        max: 86_400,
      }) * 1e6,
  };
}

export const flowsCommand: CommandSpec = {
  name: "flows",
  usage:
    "flows [--out FILE] [--cic-compat] [--label LABEL] [--max-flows N] [--flow-timeout S] [--activity-timeout S] CAPTURE",
  options: { out: { type: "string" }, label: { type: "string" }, ...METER_OPTIONS },
  async run({ values, positionals }) {
    await checkInputs(positionals);
    if (positionals.length !== 1) throw new DataError("flows reads one capture (pcap or pcapng)");
    const path = positionals[0]!;
    const name = path === "-" ? "stdin" : path;
    const out = stringOption(values, "out");
    const label = stringOption(values, "label");
    const input = path === "-" ? process.stdin : createReadStream(path, { highWaterMark: 1 << 20 });
    const csv = captureToFlowCsv(input as AsyncIterable<Uint8Array>, {
      ...meterOptions(values),
      ...(label !== undefined ? { label } : {}),
      onStats: ({ read, decode, meter }) =>
        process.stderr.write(
          `${name}: ${read.packets} packets, ${meter.flows} flows, ${meter.evicted} evicted, ` +
            `${decode.fragments} non-first fragments, ${decode.notIp} not IP, ` +
            `${decode.truncated} cut short, ${meter.droppedSinglePacket} single-packet flows dropped\n`,
        ),
    });
    try {
      await pipeline(Readable.from(csv), out ? createWriteStream(out) : process.stdout, {
        end: out !== undefined,
      });
    } catch (error) {
      if (error instanceof CaptureFormatError) throw new DataError(`${name}: ${error.message}`);
      throw error;
    }
  },
};
