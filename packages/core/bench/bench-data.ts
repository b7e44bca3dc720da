/**
 * Inputs for benchmarks: real CIC-IDS2017 flows from ../shared/data when present (repeated to
 * the requested size, streamed from one copy in memory), generated flows otherwise.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CONTEXT_KEYS } from "../src/flow-csv-reader.ts";
import { canonicalColumnKey } from "../src/flow-features.ts";
import { generateFlowCsv } from "../src/generator/index.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
/** The shared real data, beside the checkout. */
export const SHARED_DATA = resolve(repoRoot, "../shared/data");

/** A CSV header plus a body that can be repeated: one stream of `flows` rows or more. */
export interface BenchCorpus {
  description: string;
  header: Buffer;
  body: Buffer;
  bodyFlows: number;
  benignTraining: Buffer;
}

function splitHeader(file: Buffer): { header: Buffer; body: Buffer; rows: number } {
  const nl = file.indexOf(10);
  const body = file.subarray(nl + 1);
  let rows = 0;
  for (let i = 0; i < body.length; i++) if (body[i] === 10) rows++;
  return { header: file.subarray(0, nl + 1), body, rows };
}

function generated(flows: number, attack: "none" | "syn", seed: number): Buffer {
  return Buffer.from([...generateFlowCsv({ flows, attack, seed })].join(""));
}

/** Loads the real corpus, or generates one and says so. */
export function loadBenchCorpus(): BenchCorpus {
  const dir = resolve(SHARED_DATA, "cicids2017");
  if (existsSync(resolve(dir, "wednesday-dos.csv"))) {
    const wednesday = splitHeader(readFileSync(resolve(dir, "wednesday-dos.csv")));
    const friday = splitHeader(readFileSync(resolve(dir, "friday-ddos.csv")));
    return {
      description:
        "CIC-IDS2017 wednesday-dos.csv + friday-ddos.csv (91 columns, real flows), repeated",
      header: wednesday.header,
      body: Buffer.concat([wednesday.body, friday.body]),
      bodyFlows: wednesday.rows + friday.rows,
      benignTraining: readFileSync(resolve(dir, "train-benign-mon-tue-thu.csv")),
    };
  }
  process.stderr.write(`note: ${SHARED_DATA} is absent; benchmarking on generated flows\n`);
  const sample = splitHeader(generated(50_000, "syn", 7));
  return {
    description: "generated flows (85-column original layout, SYN flood phase), repeated",
    header: sample.header,
    body: sample.body,
    bodyFlows: sample.rows,
    benignTraining: generated(20_000, "none", 8),
  };
}

/** Streams the header then the body repeated until at least `flows` rows, in 1 MiB chunks. */
export function* repeatCorpus(corpus: BenchCorpus, flows: number): Generator<Uint8Array> {
  yield corpus.header;
  const reps = Math.ceil(flows / corpus.bodyFlows);
  const chunk = 1 << 20;
  for (let r = 0; r < reps; r++) {
    for (let o = 0; o < corpus.body.length; o += chunk) yield corpus.body.subarray(o, o + chunk);
  }
}

/** Rows `repeatCorpus` yields for a request of `flows`. */
export function corpusFlows(corpus: BenchCorpus, flows: number): number {
  return Math.ceil(flows / corpus.bodyFlows) * corpus.bodyFlows;
}

/**
 * The same corpus with its who/when columns (IPs, port, protocol, timestamp) renamed so the
 * reader skips them: what scoring costs without carrying context.
 */
export function withoutContextColumns(corpus: BenchCorpus): BenchCorpus {
  const contextKeys = new Set(Object.values(CONTEXT_KEYS));
  const names = corpus.header
    .toString("utf8")
    .replace(/\r?\n$/, "")
    .split(",");
  const renamed = names.map((name) =>
    contextKeys.has(canonicalColumnKey(name)) ? `unread ${name.trim()}` : name,
  );
  return { ...corpus, header: Buffer.from(`${renamed.join(",")}\n`) };
}
