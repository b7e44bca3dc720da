import { spawn, type ChildProcess } from "node:child_process";
import {
  CaptureFormatError,
  CaptureMeter,
  flowCsvHeader,
  flowCsvLine,
} from "@floodwatch/flowmeter";
import { DataError, UsageError } from "../cli-error.ts";
import { LiveUpload, LiveUploadRefused } from "../live-upload.ts";
import { type CommandSpec, choiceOption, intOption, stringOption } from "../options.ts";
import { METER_OPTIONS, meterOptions } from "./flows.ts";

/**
 * How often the sensor ends timed-out flows by the wall clock and reports its totals. Flows are
 * reported when they end, so this adds at most a second to the flow timeout.
 */
const TICK_MS = 1000;

const asError = (error: unknown): Error =>
  error instanceof Error ? error : new Error(String(error));

export const sensorCommand: CommandSpec = {
  name: "sensor",
  usage:
    "sensor --ingest URL (--interface IF [--bpf FILTER] | --read -) [--name NAME] [--clock wall|packet] [--buffer-mb N] [--cic-compat] [--max-flows N] [--flow-timeout S] [--activity-timeout S]",
  options: {
    ingest: { type: "string" },
    interface: { type: "string" },
    bpf: { type: "string" },
    read: { type: "string" },
    name: { type: "string" },
    clock: { type: "string" },
    "buffer-mb": { type: "string" },
    ...METER_OPTIONS,
  },
  async run({ values }) {
    const ingestUrl = stringOption(values, "ingest", { required: true });
    const iface = stringOption(values, "interface");
    const read = stringOption(values, "read");
    if ((iface === undefined) === (read === undefined)) {
      throw new UsageError("give either --interface IF or --read -");
    }
    if (read !== undefined && read !== "-") throw new UsageError("--read takes - (standard input)");
    // Live capture expires flows by the wall clock; a replayed capture by its own packet times,
    // so that its flows are exactly those `floodwatch flows` makes of it.
    const clock = choiceOption(
      values,
      "clock",
      ["wall", "packet"] as const,
      iface ? "wall" : "packet",
    );
    const name = stringOption(values, "name") ?? `live: ${iface ?? "stdin"}`;
    const bufferBytes = intOption(values, "buffer-mb", 64, { min: 1, max: 4096 }) * 1024 * 1024;
    const log = (message: string) => process.stderr.write(`sensor: ${message}\n`);

    const upload = new LiveUpload({
      ingestUrl,
      name,
      header: flowCsvHeader(false),
      maxBufferBytes: bufferBytes,
      log,
    });
    const meter = new CaptureMeter(meterOptions(values), (flow) => upload.push(flowCsvLine(flow)));

    let tcpdump: ChildProcess | null = null;
    let input: NodeJS.ReadableStream = process.stdin;
    if (iface !== undefined) {
      const filter = stringOption(values, "bpf");
      // -U: write each packet as it comes; --immediate-mode: hand packets over at once rather
      // than in the kernel's blocks of up to a second.
      const args = [
        "-i",
        iface,
        "-U",
        "--immediate-mode",
        "-n",
        "-w",
        "-",
        ...(filter ? [filter] : []),
      ];
      tcpdump = spawn("tcpdump", args, { stdio: ["ignore", "pipe", "inherit"] });
      tcpdump.on("error", (error) => log(`cannot run tcpdump: ${error.message}`));
      input = tcpdump.stdout!;
    }
    const stop = () => {
      log("stopping: ending open flows");
      if (tcpdump) tcpdump.kill("SIGINT");
      else process.stdin.destroy();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);

    const report = () => {
      const { read: r, meter: m } = meter.stats;
      log(
        `${r.packets} packets, ${m.flows} flows sent to ingest, ${meter.meter.activeFlows} open, ` +
          `${m.evicted} evicted, ${upload.stats.linesDropped} dropped while ingest was away, ` +
          `${upload.backlog} queued`,
      );
    };
    let ticks = 0;
    const timer = setInterval(() => {
      if (clock === "wall") meter.meter.expire(Date.now() * 1000);
      if (++ticks % 10 === 0) report();
    }, TICK_MS);

    let failure: unknown = null;
    try {
      for await (const chunk of input as AsyncIterable<Buffer>) meter.push(chunk);
    } catch (error) {
      failure = error;
    }
    clearInterval(timer);
    try {
      meter.end();
    } catch (error) {
      // An interrupted capture ends mid-record; its flows are still sent.
      if (!(error instanceof CaptureFormatError) || failure === null) failure ??= error;
    }
    try {
      await upload.close();
    } catch (error) {
      if (error instanceof LiveUploadRefused) throw new DataError(error.message);
      throw error;
    } finally {
      report();
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    }
    if (failure instanceof CaptureFormatError) throw new DataError(`capture: ${failure.message}`);
    if (failure !== null) throw asError(failure);
    process.stdout.write(
      JSON.stringify({
        uploads: upload.stats.uploadIds,
        flows: meter.stats.meter.flows,
        ...upload.stats,
      }) + "\n",
    );
  },
};
