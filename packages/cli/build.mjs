/**
 * Bundles the `floodwatch` command (src/main.ts with @floodwatch/core, zod and the rest) into one
 * JavaScript file, dist/floodwatch.mjs, with esbuild, so that the command starts in plain Node:
 * no TypeScript compiler to load before it reads a byte (tsx cost ~0.9 s per run).
 *
 *   node packages/cli/build.mjs    (run by `pnpm install` as this package's `prepare` script,
 *                                   and by bin/floodwatch.mjs when a source is newer)
 *
 * Plain JavaScript because it must run before anything is compiled.
 */
import process from "node:process";
import { URL, fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = new URL(".", import.meta.url);
export const BUNDLE = fileURLToPath(new URL("dist/floodwatch.mjs", here));

export async function buildCli() {
  await build({
    entryPoints: [fileURLToPath(new URL("src/main.ts", here))],
    outfile: BUNDLE,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    // Bundled CommonJS packages may `require` Node's built-ins; an ES module has no `require`.
    banner: {
      js: [
        "#!/usr/bin/env node",
        'import { createRequire as floodwatchCreateRequire } from "node:module";',
        "const require = floodwatchCreateRequire(import.meta.url);",
      ].join("\n"),
    },
    legalComments: "none",
    logLevel: "warning",
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildCli();
