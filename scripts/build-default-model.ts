/**
 * Rebuilds the default model shipped in `packages/core/models/default-model.json` with the
 * floodwatch CLI: generated benign traffic, fixed seeds and creation time, so the file is
 * byte-for-byte reproducible.
 *
 *   pnpm model:default
 *
 * It is a demo baseline only: for real detection, train on your own network's benign traffic.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCli } from "../packages/cli/src/cli.ts";

const FLOWS = "100000";
const out = fileURLToPath(new URL("../packages/core/models/default-model.json", import.meta.url));
const dir = await mkdtemp(join(tmpdir(), "floodwatch-default-model-"));
try {
  const benign = join(dir, "generated-benign.csv");
  let code = await runCli(["generate", "--out", benign, "--flows", FLOWS, "--seed", "20171107"]);
  if (code === 0) {
    code = await runCli([
      "train",
      "--out",
      out,
      "--train-stride",
      "10",
      "--created-at",
      "2026-11-23T00:00:00.000Z",
      benign,
    ]);
  }
  process.exitCode = code;
} finally {
  await rm(dir, { recursive: true, force: true });
}
