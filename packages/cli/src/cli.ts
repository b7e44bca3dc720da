/**
 * The floodwatch command line as a function, so scripts and tests can run it in-process.
 * Exit codes: 0 success, 1 bad data (with what and where), 2 usage error.
 */
import { parseArgs } from "node:util";
import { FlowCsvError, ModelFileError, TrainingError } from "@floodwatch/core";
import { DataError, UsageError } from "./cli-error.ts";
import { evalCommand } from "./commands/eval.ts";
import { generateCommand } from "./commands/generate.ts";
import { incidentsCommand } from "./commands/incidents.ts";
import { modelCommand } from "./commands/model.ts";
import { scoreCommand } from "./commands/score.ts";
import { trainCommand } from "./commands/train.ts";
import type { CommandSpec } from "./options.ts";

const COMMANDS: readonly CommandSpec[] = [
  trainCommand,
  scoreCommand,
  evalCommand,
  generateCommand,
  modelCommand,
  incidentsCommand,
];

function usage(): string {
  return [
    "usage: floodwatch <command> [options]",
    "",
    ...COMMANDS.map((c) => `  floodwatch ${c.usage}`),
  ].join("\n");
}

/** Runs one command line; returns the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(usage() + "\n");
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command && (rest.includes("--help") || rest.includes("-h"))) {
    process.stdout.write(`usage: floodwatch ${command.usage}\n`);
    return 0;
  }
  try {
    if (!command) throw new UsageError(`unknown command ${name}`);
    let parsed;
    try {
      parsed = parseArgs({
        args: [...rest],
        options: command.options,
        allowPositionals: true,
        strict: true,
      });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    await command.run(parsed);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(
        `floodwatch: ${error.message}\n${command ? `usage: floodwatch ${command.usage}` : usage()}\n`,
      );
      return 2;
    }
    if (
      error instanceof DataError ||
      error instanceof FlowCsvError ||
      error instanceof ModelFileError ||
      error instanceof TrainingError
    ) {
      const where =
        error instanceof FlowCsvError
          ? `${error.source ? `${error.source}: ` : ""}${error.line !== undefined ? `line ${error.line}: ` : ""}`
          : "";
      process.stderr.write(`floodwatch: ${where}${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
