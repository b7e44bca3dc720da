/**
 * Opens the CLI's inputs: files or `-` for standard input, as byte streams, with a running
 * SHA-256 of the bytes read (the training data's content hash). A pcap or pcapng capture
 * (recognised by its magic number) is metered into CICFlowMeter CSV on the way, so every
 * command that reads flow CSV reads captures too.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { access } from "node:fs/promises";
import { FlowCsvError } from "@floodwatch/core";
import { CaptureFormatError, captureToFlowCsv, detectCaptureKind } from "@floodwatch/flowmeter";
import { DataError, UsageError } from "./cli-error.ts";

/** Read size: large chunks keep the per-chunk overhead of the scanner negligible. */
const CHUNK_BYTES = 1 << 20;

/** One input, opened. */
export interface FlowInput {
  /** The name as given (`-` shown as `stdin`). */
  name: string;
  chunks: AsyncIterable<Uint8Array>;
}

/** Checks every input exists before any work starts, so a typo fails fast with exit code 2. */
export async function checkInputs(paths: readonly string[]): Promise<void> {
  if (paths.length === 0) throw new UsageError("no input file given (use - for standard input)");
  if (paths.filter((p) => p === "-").length > 1)
    throw new UsageError("standard input (-) can be read once");
  for (const path of paths) {
    if (path === "-") continue;
    try {
      await access(path);
    } catch {
      throw new UsageError(`cannot read ${path}: no such file`);
    }
  }
}

/** How a capture input becomes flows. */
export interface CaptureInputOptions {
  /** Reproduce CICFlowMeter's bugs (`--cic-compat`). */
  cicCompat?: boolean;
  /** A `Label` for every flow of a capture (eval's `--capture-label`). */
  label?: string;
}

/** Opens an input; `hash`, when given, is fed every byte read. */
export function openFlowInput(
  path: string,
  hash?: Hash,
  capture: CaptureInputOptions = {},
): FlowInput {
  const stream =
    path === "-" ? process.stdin : createReadStream(path, { highWaterMark: CHUNK_BYTES });
  const name = path === "-" ? "stdin" : path;
  async function* bytes(): AsyncGenerator<Uint8Array> {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash?.update(chunk);
      yield chunk;
    }
  }
  return { name, chunks: flowCsvOrCapture(name, bytes(), capture) };
}

/** Passes CSV through; meters a capture (told apart by its first four bytes) into CSV. */
async function* flowCsvOrCapture(
  name: string,
  source: AsyncGenerator<Uint8Array>,
  capture: CaptureInputOptions,
): AsyncGenerator<Uint8Array> {
  const head: Uint8Array[] = [];
  let headBytes = 0;
  while (headBytes < 4) {
    const next = await source.next();
    if (next.done) break;
    head.push(next.value);
    headBytes += next.value.length;
  }
  async function* replay(): AsyncGenerator<Uint8Array> {
    yield* head;
    yield* source;
  }
  if (detectCaptureKind(Buffer.concat(head)) === null) {
    yield* replay();
    return;
  }
  try {
    yield* captureToFlowCsv(replay(), {
      cicCompat: capture.cicCompat ?? false,
      ...(capture.label !== undefined ? { label: capture.label } : {}),
      onStats: ({ read, decode, meter }) =>
        process.stderr.write(
          `${name}: ${read.packets} packets, ${meter.flows} flows` +
            `${meter.evicted ? `, ${meter.evicted} evicted (flow table full)` : ""}` +
            `${decode.fragments ? `, ${decode.fragments} non-first fragments` : ""}` +
            `${decode.notIp + decode.truncated ? `, ${decode.notIp + decode.truncated} not metered (not IP or cut short)` : ""}\n`,
        ),
    });
  } catch (error) {
    if (error instanceof CaptureFormatError) throw new DataError(`${name}: ${error.message}`);
    throw error;
  }
}

/** A SHA-256 for the content hash of training data. */
export function newContentHash(): Hash {
  return createHash("sha256");
}

/** Runs `work` on an input, naming the input in any {@link FlowCsvError} it throws. */
export async function withInputName<T>(name: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof FlowCsvError) error.source = name;
    throw error;
  }
}
