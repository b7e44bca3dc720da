/** The installed `floodwatch` bin: the esbuild bundle, rebuilt when older than its sources. */
import { execFile } from "node:child_process";
import { statSync, utimesSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../bin/floodwatch.mjs", import.meta.url));
const BUNDLE = fileURLToPath(new URL("../dist/floodwatch.mjs", import.meta.url));
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const DEFAULT_MODEL = fileURLToPath(
  new URL("../../core/models/default-model.json", import.meta.url),
);

describe("bin/floodwatch.mjs", { timeout: 120_000 }, () => {
  it("generates and scores exactly as the TypeScript entry point does", async () => {
    const dir = await mkdtemp(join(tmpdir(), "floodwatch-bin-"));
    try {
      const generate = (out: string) => [
        "generate",
        "--out",
        out,
        "--flows",
        "2000",
        "--attack",
        "syn",
        "--seed",
        "5",
      ];
      await Promise.all([
        run(process.execPath, [BIN, ...generate(join(dir, "bundled.csv"))]),
        run(process.execPath, ["--import", "tsx", MAIN, ...generate(join(dir, "source.csv"))]),
      ]);
      const csv = await readFile(join(dir, "bundled.csv"), "utf8");
      expect(csv.split("\n")).toHaveLength(2002);
      expect(csv).toBe(await readFile(join(dir, "source.csv"), "utf8"));

      const score = ["score", "--model", DEFAULT_MODEL, join(dir, "bundled.csv")];
      const [bundled, source] = await Promise.all([
        run(process.execPath, [BIN, ...score]),
        run(process.execPath, ["--import", "tsx", MAIN, ...score]),
      ]);
      expect(bundled.stdout.trim().split("\n")).toHaveLength(40);
      expect(bundled.stdout).toBe(source.stdout);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("rebuilds a bundle older than the sources before running it", async () => {
    // Dating the bundle back to 1970 stands for a source edited after the last build.
    utimesSync(BUNDLE, 0, 0);
    const { stdout } = await run(process.execPath, [BIN, "--help"]);
    expect(stdout).toMatch(/^usage: floodwatch <command>/);
    expect(statSync(BUNDLE).mtimeMs).toBeGreaterThan(Date.now() - 60_000);
  });
});
