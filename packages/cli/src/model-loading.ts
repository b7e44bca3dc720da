import { readFile } from "node:fs/promises";
import { parseModel, type FloodwatchModel } from "@floodwatch/core";
import { UsageError } from "./cli-error.ts";

/** Reads and validates a model file; a missing file is a usage error, a bad one a data error. */
export async function loadModelFile(path: string): Promise<FloodwatchModel> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new UsageError(`cannot read model ${path}: no such file`);
  }
  return parseModel(text);
}
