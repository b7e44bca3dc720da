/**
 * Opens the CLI's inputs: files or `-` for standard input, as byte streams, with a running
 * SHA-256 of the bytes read (the training data's content hash).
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { access } from "node:fs/promises";
import { FlowCsvError } from "@floodwatch/core";
import { UsageError } from "./cli-error.ts";

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

/** Opens an input; `hash`, when given, is fed every byte read. */
export function openFlowInput(path: string, hash?: Hash): FlowInput {
  const stream =
    path === "-" ? process.stdin : createReadStream(path, { highWaterMark: CHUNK_BYTES });
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash?.update(chunk);
      yield chunk;
    }
  }
  return { name: path === "-" ? "stdin" : path, chunks: chunks() };
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
