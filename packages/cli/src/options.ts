/**
 * Command definitions and typed option parsing on top of node:util parseArgs.
 */
import type { ParseArgsConfig } from "node:util";
import { UsageError } from "./cli-error.ts";

export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** One subcommand of `floodwatch`. */
export interface CommandSpec {
  name: string;
  usage: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  run(args: { values: OptionValues; positionals: string[] }): Promise<void>;
}

export function stringOption(values: OptionValues, name: string, opts: { required: true }): string;
export function stringOption(
  values: OptionValues,
  name: string,
  opts?: { required?: boolean },
): string | undefined;
export function stringOption(
  values: OptionValues,
  name: string,
  opts: { required?: boolean } = {},
) {
  const value = values[name];
  if (value === undefined || value === "") {
    if (opts.required) throw new UsageError(`--${name} is required`);
    return undefined;
  }
  return String(value);
}

/** An integer option within bounds; the message names the option and the bad value. */
export function intOption(
  values: OptionValues,
  name: string,
  fallback: number,
  bounds: { min?: number; max?: number },
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value))
    throw new UsageError(`--${name} must be an integer, got ${String(raw)}`);
  if (bounds.min !== undefined && value < bounds.min)
    throw new UsageError(`--${name} must be at least ${bounds.min}, got ${value}`);
  if (bounds.max !== undefined && value > bounds.max)
    throw new UsageError(`--${name} must be at most ${bounds.max}, got ${value}`);
  return value;
}

/** A number option strictly between bounds. */
export function numberOption(
  values: OptionValues,
  name: string,
  fallback: number,
  bounds: { gt?: number; lt?: number },
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value))
    throw new UsageError(`--${name} must be a number, got ${String(raw)}`);
  if (bounds.gt !== undefined && !(value > bounds.gt))
    throw new UsageError(`--${name} must be above ${bounds.gt}, got ${value}`);
  if (bounds.lt !== undefined && !(value < bounds.lt))
    throw new UsageError(`--${name} must be below ${bounds.lt}, got ${value}`);
  return value;
}

/** One of a fixed set of words. */
export function choiceOption<T extends string>(
  values: OptionValues,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const raw = values[name];
  if (raw === undefined) return fallback;
  if (!choices.includes(raw as T)) {
    throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got ${String(raw)}`);
  }
  return raw as T;
}
