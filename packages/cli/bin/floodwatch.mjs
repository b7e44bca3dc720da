#!/usr/bin/env node
/**
 * The `floodwatch` command (`pnpm exec floodwatch`, or `pnpm floodwatch` at the root): runs the
 * bundle dist/floodwatch.mjs, first building it when it is missing or older than a source file of
 * the CLI or of the workspace packages it bundles (core, flowmeter), so an edit never runs stale code. The check is a few dozen
 * `stat` calls (milliseconds); the build, when needed, takes well under a second.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { URL, fileURLToPath, pathToFileURL } from "node:url";

const PACKAGE = new URL("../", import.meta.url);
const BUNDLE = fileURLToPath(new URL("dist/floodwatch.mjs", PACKAGE));
/** What the bundle is built from (the workspace packages are bundled in). */
const SOURCES = [
  new URL("src/", PACKAGE),
  new URL("../core/src/", PACKAGE),
  new URL("../flowmeter/src/", PACKAGE),
].map((u) => fileURLToPath(u));

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function stale() {
  if (!existsSync(BUNDLE)) return true;
  const built = statSync(BUNDLE).mtimeMs;
  return SOURCES.some((dir) => existsSync(dir) && newestMtime(dir) > built);
}

if (stale()) {
  const { buildCli } = await import("../build.mjs");
  await buildCli();
}
await import(pathToFileURL(BUNDLE).href);
