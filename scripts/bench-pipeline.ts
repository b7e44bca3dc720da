/**
 * `pnpm bench:pipeline`: the whole pipeline as separate processes on this machine (a private
 * append-only Redis, ingest, the API, detectors — started by tests/stack.ts), fed over HTTP as a
 * user would feed it. Input: the real CIC-IDS2017 files of ../shared/data repeated, or generated
 * flows when they are absent (the same corpus as `pnpm bench:core`). It prints:
 *
 * - end-to-end throughput: flows/s from the start of the POST to the upload's last window result
 *   stored (the upload's `updatedAt` when it turned `done`), with 1 and 2 detectors, at stride 50
 *   (the shipped model; 1,000,000 flows) and stride 1 (a model trained here on generated benign
 *   flows; 200,000 flows, since every flow then closes a window), with the CPU each process used;
 * - latency from a flow's arrival at ingest to its window's result on the API's WebSocket under a
 *   paced load, split into the wait inside ingest (until the window's stream entry is stamped),
 *   the detector, and the relay to the WebSocket, with the default entry size and a smaller one;
 * - peak RSS (VmHWM) of every service process for a 2 GB upload streamed from memory.
 *
 *   pnpm bench:pipeline [--flows 1000000] [--stride1-flows 200000] [--rate 20000]
 *                       [--latency-seconds 20] [--small-entry-flows 500] [--skip-2gb]
 *                       [--profile] [--profile-stride 50|1] [--only throughput|latency|2gb|profile]
 *
 * `--profile` adds a run with one detector under `--cpu-prof` (at stride 50 on `--flows`, or with
 * `--profile-stride 1` on `--stride1-flows` with the stride-1 model) and prints where each
 * service spent its CPU. Figures only: nothing is asserted. The machine's load average is printed
 * with them, since other work on the same cores moves every figure.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import {
  redisKeys,
  uploadAcceptedSchema,
  type FloodwatchModel,
  type UploadStatus,
} from "@floodwatch/core";
import { closeRedis, connectRedis, publishModel } from "@floodwatch/platform";
import {
  corpusFlows,
  loadBenchCorpus,
  repeatCorpus,
  type BenchCorpus,
} from "../packages/core/bench/bench-data.ts";
import {
  LiveFeed,
  postUpload,
  uploadCsv,
  waitForUploadEnd,
  waitUntil,
  UnexpectedAnswerError,
  type CsvSource,
} from "../tests/pipeline-client.ts";
import { loadDefaultModel, trainGeneratedModel } from "../tests/reference-scoring.ts";
import {
  PipelineStack,
  startPipelineRedis,
  type ServiceProcess,
  type StackOptions,
} from "../tests/stack.ts";

const { values: args } = parseArgs({
  options: {
    flows: { type: "string", default: "1000000" },
    "stride1-flows": { type: "string", default: "200000" },
    rate: { type: "string", default: "20000" },
    "latency-seconds": { type: "string", default: "20" },
    "small-entry-flows": { type: "string", default: "500" },
    "skip-2gb": { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    "profile-stride": { type: "string", default: "50" },
    only: { type: "string" },
  },
});
const SECTIONS = ["throughput", "latency", "2gb", "profile"] as const;
type Section = (typeof SECTIONS)[number];
if (args.only !== undefined && !(SECTIONS as readonly string[]).includes(args.only)) {
  throw new Error(`--only takes one of ${SECTIONS.join(", ")}; got ${args.only}`);
}
/** Whether a section runs: all but the optional ones by default, or just the one `--only` names. */
function runs(section: Section): boolean {
  if (args.only !== undefined) return args.only === section;
  if (section === "2gb") return !args["skip-2gb"];
  if (section === "profile") return args.profile;
  return true;
}
const FLOWS = Number(args.flows);
const STRIDE1_FLOWS = Number(args["stride1-flows"]);
const PROFILE_STRIDE = Number(args["profile-stride"]);
if (PROFILE_STRIDE !== 1 && PROFILE_STRIDE !== 50) {
  throw new Error(`--profile-stride takes 50 or 1; got ${args["profile-stride"]}`);
}
const PACED_RATE = Number(args.rate);
const LATENCY_SECONDS = Number(args["latency-seconds"]);
const SMALL_ENTRY_FLOWS = Number(args["small-entry-flows"]);
/** The 2 GB upload: 2 GiB of CSV, whole rows. */
const BIG_UPLOAD_BYTES = 2 * 1024 ** 3;
/** Windows completed in the first seconds of a paced run are left out: JIT and connection warm-up. */
const LATENCY_WARMUP_MS = 2_000;
/** `INGEST_ENTRY_FLOWS` when unset (services/ingest/src/env.ts). */
const DEFAULT_ENTRY_FLOWS = 2_000;
/** Pacing tick: small enough that flows leave in bursts of ~100 at 20,000 flows/s. */
const PACE_TICK_MS = 5;
/** A 2 GB upload at a few tens of thousands of flows/s takes minutes. */
const LONG_UPLOAD_MS = 30 * 60_000;

type AdminRedis = ReturnType<typeof connectRedis>;

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const print = (line = "") => process.stdout.write(`${line}\n`);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

/** Prints rows as a table with aligned columns. */
function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  print(line(header));
  print(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) print(line(row));
}

/** CPU seconds (user + system) the Redis server has used, from `INFO cpu`. */
async function redisCpuSeconds(admin: AdminRedis): Promise<number> {
  const info = await admin.info("cpu");
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1]);
  return field("used_cpu_sys") + field("used_cpu_user");
}

/** CPU used by each process (and Redis) over a run, as a share of one core. */
class CpuMeter {
  readonly #before: Map<ServiceProcess, number>;
  readonly #startedAt = performance.now();
  /** This process: the harness that sends the uploads (and, in the latency runs, reads the feed). */
  readonly #harnessBefore = process.cpuUsage();

  private constructor(
    private readonly processes: readonly ServiceProcess[],
    private readonly admin: AdminRedis,
    private readonly redisBefore: number,
  ) {
    this.#before = new Map(processes.map((p) => [p, p.cpuSeconds() ?? 0]));
  }

  static async start(stack: PipelineStack, admin: AdminRedis): Promise<CpuMeter> {
    return new CpuMeter(stack.processes, admin, await redisCpuSeconds(admin));
  }

  /** "ingest 0.95, api 0.10, ..." in cores over the run. */
  async read(): Promise<string> {
    const seconds = (performance.now() - this.#startedAt) / 1000;
    const shares = this.processes
      .filter((p) => p.running)
      .map((p) => {
        const used = (p.cpuSeconds() ?? 0) - (this.#before.get(p) ?? 0);
        return `${p.kind === "detector" ? p.name.replace(/^.*-(detector-\d+)$/, "$1") : p.kind} ${(used / seconds).toFixed(2)}`;
      });
    const redisUsed = (await redisCpuSeconds(this.admin)) - this.redisBefore;
    shares.push(`redis ${(redisUsed / seconds).toFixed(2)}`);
    const harness = process.cpuUsage(this.#harnessBefore);
    shares.push(`harness ${((harness.user + harness.system) / 1e6 / seconds).toFixed(2)}`);
    return shares.join(", ");
  }
}

/** One timed upload: from the POST's first byte to the upload's last window stored. */
interface TimedUpload {
  status: UploadStatus;
  seconds: number;
  cpu: string;
}

async function timeUpload(
  stack: PipelineStack,
  admin: AdminRedis,
  source: CsvSource,
  name: string,
): Promise<TimedUpload> {
  const cpu = await CpuMeter.start(stack, admin);
  const startedAt = Date.now();
  const accepted = await uploadCsv(stack, source, name);
  const status = await waitForUploadEnd(stack, accepted.uploadId, LONG_UPLOAD_MS);
  if (status.state !== "done") {
    throw new Error(`upload ${name} ended ${status.state}: ${status.error ?? "no reason"}`);
  }
  // `updatedAt` is the commit time of the last window (or ingest's end, when that came last).
  const seconds = (status.updatedAt - startedAt) / 1000;
  return { status, seconds, cpu: await cpu.read() };
}

/** Deletes every key of a prefix, so that what one run left in Redis does not weigh on the next. */
async function dropPrefix(admin: AdminRedis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await admin.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1_000);
    if (keys.length > 0) await admin.unlink(...keys);
    cursor = next;
  } while (cursor !== "0");
}

/**
 * Runs `work` on a fresh stack: the services' output is printed if it fails; the stack is
 * stopped and its keys deleted in every case.
 */
async function withStack<T>(
  admin: AdminRedis,
  options: StackOptions,
  work: (stack: PipelineStack) => Promise<T>,
): Promise<T> {
  const stack = await PipelineStack.start(options);
  try {
    return await work(stack);
  } catch (error) {
    print(stack.diagnostics());
    throw error;
  } finally {
    await stack.stop();
    await dropPrefix(admin, options.prefix);
  }
}

/** The stride-1 model: generated benign flows, the shipped model's features, window 50/1. */
function trainStrideOneModel(features: readonly string[]): FloodwatchModel {
  return trainGeneratedModel({
    features,
    window: { size: 50, stride: 1 },
    trainStride: 5,
    flows: 20_000,
    seed: 20_260_101,
  });
}

interface ThroughputRow {
  detectors: number;
  stride: number;
  timed: TimedUpload;
}

async function benchThroughput(
  redisUrl: string,
  admin: AdminRedis,
  corpus: BenchCorpus,
  strideOne: FloodwatchModel,
): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  for (const detectors of [1, 2]) {
    const options = { redisUrl, prefix: `bench-d${detectors}`, detectors };
    await withStack(admin, options, async (stack) => {
      for (const [stride, flows] of [
        [50, FLOWS],
        [1, STRIDE1_FLOWS],
      ] as const) {
        if (stride === 1) await publishModel(admin, redisKeys(stack.prefix), strideOne);
        print(
          `  ${detectors} detector(s), stride ${stride}: ${fmt(corpusFlows(corpus, flows))} flows...  (load ${load()})`,
        );
        const source = repeatCorpus(corpus, flows);
        const timed = await timeUpload(stack, admin, source, `bench-s${stride}.csv`);
        print(
          `    ${fmt(timed.status.rowsAccepted / timed.seconds)} flows/s in ${timed.seconds.toFixed(2)} s; CPU (cores): ${timed.cpu}`,
        );
        rows.push({ detectors, stride, timed });
      }
    });
  }
  return rows;
}

/** Byte offsets of the rows of a corpus body, for slicing whole rows at any flow index. */
function rowOffsets(body: Buffer): Uint32Array {
  const starts: number[] = [0];
  for (let i = body.indexOf(10); i !== -1; i = body.indexOf(10, i + 1)) starts.push(i + 1);
  return Uint32Array.from(starts);
}

/**
 * The CSV at `rate` flows/s for `seconds`: the header, then every {@link PACE_TICK_MS} the rows
 * now due. `sentAt[i]` gets the time (ms since epoch) flow `i` was handed to the socket.
 */
async function* pacedBody(
  corpus: BenchCorpus,
  offsets: Uint32Array,
  rate: number,
  total: number,
  sentAt: Float64Array,
): AsyncGenerator<Uint8Array> {
  yield corpus.header;
  const rows = offsets.length - 1;
  const started = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor((rate * (performance.now() - started)) / 1000));
    if (due > sent) {
      sentAt.fill(Date.now(), sent, due);
      // Rows sent..due of the corpus repeated end to end, cut where it wraps.
      for (let flow = sent; flow < due;) {
        const row = flow % rows;
        const take = Math.min(due - flow, rows - row);
        yield corpus.body.subarray(offsets[row], offsets[row + take]);
        flow += take;
      }
      sent = due;
    }
    await sleep(PACE_TICK_MS);
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface LatencyFigures {
  entryFlows: number;
  windows: number;
  sentRate: number;
  total: { p50: number; p99: number; max: number };
  /** Until ingest stamped the window's entry (`receivedAt`). */
  ingest: { p50: number; p99: number; max: number };
  /** From `receivedAt` to the detector's commit (`scoredAt`). */
  detector: { p50: number; p99: number; max: number };
  /** From the commit to the WebSocket client: results stream, API relay, WebSocket hub. */
  relay: { p50: number; p99: number; max: number };
}

function summarize(values: number[]): { p50: number; p99: number; max: number } {
  const sorted = Float64Array.from(values).sort();
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

async function benchLatency(
  redisUrl: string,
  admin: AdminRedis,
  corpus: BenchCorpus,
  entryFlows: number | undefined,
  window: { size: number; stride: number },
): Promise<LatencyFigures> {
  const options: StackOptions = {
    redisUrl,
    prefix: `bench-latency-${entryFlows ?? "default"}`,
    detectors: 2,
    env: entryFlows ? { INGEST_ENTRY_FLOWS: String(entryFlows) } : {},
  };
  return withStack(admin, options, async (stack) => {
    const total = PACED_RATE * LATENCY_SECONDS;
    const sentAt = new Float64Array(total);
    const totals: number[] = [];
    const ingestWaits: number[] = [];
    const detectorTimes: number[] = [];
    const relayTimes: number[] = [];
    let received = 0;
    const feed = await LiveFeed.connect(stack.api.url);
    // Each stack carries this one upload, so every window on the feed is one of its windows.
    feed.onWindows = ({ windows, receivedAt }) => {
      for (const w of windows) {
        received++;
        const lastFlow = w.window * window.stride + window.size - 1;
        const sent = sentAt[lastFlow]!;
        // sentAt[0] is set before any flow leaves, so before any window can come back.
        if (sent - sentAt[0]! < LATENCY_WARMUP_MS) continue;
        totals.push(receivedAt - sent);
        ingestWaits.push(w.receivedAt - sent);
        detectorTimes.push(w.scoredAt - w.receivedAt);
        relayTimes.push(receivedAt - w.scoredAt);
      }
    };
    try {
      const offsets = rowOffsets(corpus.body);
      const started = performance.now();
      const answer = await postUpload(
        stack.ingest.url,
        pacedBody(corpus, offsets, PACED_RATE, total, sentAt),
        "paced.csv",
      );
      const sendingSeconds = (performance.now() - started) / 1000;
      if (answer.status !== 201) {
        throw new UnexpectedAnswerError("paced upload", answer.status, answer.body);
      }
      const accepted = uploadAcceptedSchema.parse(JSON.parse(answer.body));
      await waitForUploadEnd(stack, accepted.uploadId);
      await waitUntil(
        "every window on the WebSocket",
        () => (received >= accepted.windowsQueued ? true : undefined),
        30_000,
      );
      return {
        entryFlows: entryFlows ?? DEFAULT_ENTRY_FLOWS,
        windows: totals.length,
        sentRate: total / sendingSeconds,
        total: summarize(totals),
        ingest: summarize(ingestWaits),
        detector: summarize(detectorTimes),
        relay: summarize(relayTimes),
      };
    } finally {
      feed.close();
    }
  });
}

/** Header and body repeated, whole bodies, until at least `bytes`: nothing is written to disk. */
function* bodyOfAtLeast(corpus: BenchCorpus, bytes: number): Generator<Uint8Array> {
  yield corpus.header;
  const chunk = 1 << 20;
  for (let sent = corpus.header.length; sent < bytes; sent += corpus.body.length) {
    for (let o = 0; o < corpus.body.length; o += chunk) yield corpus.body.subarray(o, o + chunk);
  }
}

interface PeakRss {
  bytes: number;
  timed: TimedUpload;
  rss: { name: string; mib: number }[];
  /** Largest `used_memory` sampled during the upload, and the flows stream's length then. */
  redisMib: number;
  flowsStreamEntries: number;
}

/** How often Redis's memory is sampled during the 2 GB upload. */
const MEMORY_SAMPLE_MS = 250;

async function benchPeakRss(
  redisUrl: string,
  admin: AdminRedis,
  corpus: BenchCorpus,
): Promise<PeakRss> {
  const options: StackOptions = { redisUrl, prefix: "bench-2gb", detectors: 2 };
  return withStack(admin, options, async (stack) => {
    const reps = Math.ceil((BIG_UPLOAD_BYTES - corpus.header.length) / corpus.body.length);
    const bytes = corpus.header.length + reps * corpus.body.length;
    print(
      `  ${fmt(bytes / 1e9, 2)} GB, ${fmt(reps * corpus.bodyFlows)} flows...  (load ${load()})`,
    );
    // Redis's own peak (`used_memory_peak`) covers its whole life, earlier runs included.
    let redisBytes = 0;
    let flowsStreamEntries = 0;
    const flowsKey = redisKeys(stack.prefix).flows;
    const sampler = setInterval(() => {
      void Promise.all([admin.info("memory"), admin.xlen(flowsKey)]).then(([memory, length]) => {
        const used = Number(/^used_memory:(\d+)/m.exec(memory)?.[1] ?? 0);
        if (used > redisBytes) [redisBytes, flowsStreamEntries] = [used, length];
      });
    }, MEMORY_SAMPLE_MS);
    let timed: TimedUpload;
    try {
      const source = bodyOfAtLeast(corpus, BIG_UPLOAD_BYTES);
      timed = await timeUpload(stack, admin, source, "2gb.csv");
    } finally {
      clearInterval(sampler);
    }
    const rss = stack.processes.map((p) => ({ name: p.name, mib: (p.peakRssKib() ?? 0) / 1024 }));
    return { bytes, timed, rss, redisMib: redisBytes / 1024 ** 2, flowsStreamEntries };
  });
}

/** Samples V8 files under these names: not a function of the service. */
const NOT_WORK = new Set(["(idle)", "(program)", "(root)"]);

/**
 * Self time per function in a V8 `.cpuprofile`, as shares of the samples where the process was
 * busy (idle time left out), plus the busy time in seconds.
 */
async function topFunctions(
  file: string,
  count: number,
): Promise<{ busySeconds: number; top: { name: string; share: number }[] }> {
  const profile = JSON.parse(await readFile(file, "utf8")) as {
    startTime: number;
    endTime: number;
    samples: number[];
    nodes: {
      id: number;
      hitCount?: number;
      callFrame: { functionName: string; url: string; lineNumber: number };
    }[];
  };
  const byFunction = new Map<string, number>();
  let busy = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    if (NOT_WORK.has(functionName)) continue;
    busy += hits;
    const where = url ? `${url.replace(/^.*\/work\/main\//, "")}:${lineNumber + 1}` : "";
    const key = `${functionName || "(anonymous)"} ${where}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + hits);
  }
  const sampleSeconds = (profile.endTime - profile.startTime) / 1e6 / profile.samples.length;
  return {
    busySeconds: busy * sampleSeconds,
    top: [...byFunction.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, hits]) => ({ name, share: hits / Math.max(1, busy) })),
  };
}

async function benchProfile(
  redisUrl: string,
  admin: AdminRedis,
  corpus: BenchCorpus,
  strideOne: FloodwatchModel | undefined,
) {
  const dir = await mkdtemp(join(tmpdir(), "floodwatch-bench-profile-"));
  try {
    const options: StackOptions = {
      redisUrl,
      prefix: "bench-profile",
      detectors: 1,
      nodeArgs: ["--cpu-prof", "--cpu-prof-dir", dir],
    };
    // The profiles are written when the processes exit, so they are read after withStack.
    let names = new Map<string, string>();
    const timed = await withStack(admin, options, async (stack) => {
      names = new Map(stack.processes.map((p) => [String(p.pid), p.name]));
      if (strideOne) await publishModel(admin, redisKeys(stack.prefix), strideOne);
      const flows = strideOne ? STRIDE1_FLOWS : FLOWS;
      return timeUpload(stack, admin, repeatCorpus(corpus, flows), "profile.csv");
    });
    print(
      `  stride ${strideOne ? 1 : 50}, 1 detector, ${fmt(timed.status.rowsAccepted)} flows under --cpu-prof: ` +
        `${fmt(timed.status.rowsAccepted / timed.seconds)} flows/s; CPU (cores): ${timed.cpu}`,
    );
    print("  self time as a share of each process's busy time (start-up included)");
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main thread (the
    // others are tsx's module loader).
    for (const file of (await readdir(dir)).sort()) {
      const match = /^CPU\.\d+\.\d+\.(\d+)\.(\d+)\./.exec(file);
      if (match?.[2] !== "0") continue;
      const { busySeconds, top } = await topFunctions(join(dir, file), 16);
      print(`  ${names.get(match[1]!) ?? file}: ${busySeconds.toFixed(1)} s busy`);
      for (const { name, share } of top) {
        print(`    ${(share * 100).toFixed(1).padStart(5)} %  ${name}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function printThroughput(rows: readonly ThroughputRow[]): void {
  printTable(
    ["throughput", "flows", "seconds", "flows/s", "windows/s", "CPU, cores per process"],
    rows.map(({ detectors, stride, timed }) => [
      `${detectors} detector${detectors > 1 ? "s" : ""}, stride ${stride}`,
      fmt(timed.status.rowsAccepted),
      timed.seconds.toFixed(2),
      fmt(timed.status.rowsAccepted / timed.seconds),
      fmt(timed.status.windowsScored / timed.seconds),
      timed.cpu,
    ]),
  );
}

function printLatency(figures: readonly LatencyFigures[]): void {
  const ms = (n: number) => fmt(n, 1);
  printTable(
    [
      "latency, ms",
      "windows",
      "sent flows/s",
      "p50",
      "p99",
      "max",
      "ingest p50/p99",
      "detector p50/p99",
      "relay+ws p50/p99",
    ],
    figures.map((l) => [
      `entries of ${fmt(l.entryFlows)} flows`,
      fmt(l.windows),
      fmt(l.sentRate),
      ms(l.total.p50),
      ms(l.total.p99),
      ms(l.total.max),
      `${ms(l.ingest.p50)} / ${ms(l.ingest.p99)}`,
      `${ms(l.detector.p50)} / ${ms(l.detector.p99)}`,
      `${ms(l.relay.p50)} / ${ms(l.relay.p99)}`,
    ]),
  );
  print(
    "  latency: a window's last flow handed to the socket -> its result parsed by the WebSocket " +
      `client (first ${LATENCY_WARMUP_MS / 1000} s left out). ingest: until ingest stamped the ` +
      "window's entry (`receivedAt`); detector: until the detector committed it (`scoredAt`); " +
      "relay+ws: results stream -> API relay -> WebSocket hub -> client",
  );
}

function printPeakRss(peak: PeakRss): void {
  printTable(
    ["2 GB upload", "GB", "flows", "seconds", "flows/s"],
    [
      [
        "2 detectors, stride 50",
        fmt(peak.bytes / 1e9, 2),
        fmt(peak.timed.status.rowsAccepted),
        peak.timed.seconds.toFixed(1),
        fmt(peak.timed.status.rowsAccepted / peak.timed.seconds),
      ],
    ],
  );
  print();
  printTable(
    ["peak RSS (VmHWM)", "MiB"],
    [
      ...peak.rss.map((r) => [r.name.replace(/^bench-2gb-/, ""), fmt(r.mib)]),
      ["redis used_memory (largest sample)", fmt(peak.redisMib)],
    ],
  );
  print(
    `  Redis was largest with ${fmt(peak.flowsStreamEntries)} entries on the flows stream ` +
      "(acknowledged entries stay until a detector's periodic trim)",
  );
  print(`  CPU during the 2 GB upload (cores): ${peak.timed.cpu}`);
}

async function main(): Promise<void> {
  const corpus = loadBenchCorpus();
  const model = loadDefaultModel();
  print(`floodwatch pipeline benchmark — ${corpus.description}`);
  print(
    `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), load average ${load()}`,
  );
  print(
    "services as separate processes (tsx), private redis-server with an append-only file, " +
      "uploads over HTTP on 127.0.0.1",
  );

  const redis = await startPipelineRedis();
  const admin = connectRedis(redis.url, "bench-admin");
  try {
    let throughput: ThroughputRow[] | undefined;
    if (runs("throughput")) {
      print();
      print("Training the stride-1 model on 20,000 generated benign flows...");
      const strideOne = trainStrideOneModel(model.features);
      print("Throughput (POST start -> last window result stored):");
      throughput = await benchThroughput(redis.url, admin, corpus, strideOne);
    }

    let latency: LatencyFigures[] | undefined;
    if (runs("latency")) {
      print();
      print(
        `Latency under a paced load of ${fmt(PACED_RATE)} flows/s for ${LATENCY_SECONDS} s, 2 detectors:`,
      );
      latency = [];
      for (const entryFlows of [undefined, SMALL_ENTRY_FLOWS]) {
        print(`  INGEST_ENTRY_FLOWS=${entryFlows ?? "2000 (default)"}...  (load ${load()})`);
        latency.push(await benchLatency(redis.url, admin, corpus, entryFlows, model.window));
      }
    }

    let peak: PeakRss | undefined;
    if (runs("2gb")) {
      print();
      print("Peak RSS for a 2 GB upload, 2 detectors:");
      peak = await benchPeakRss(redis.url, admin, corpus);
    }

    if (runs("profile")) {
      print();
      print("CPU profile:");
      const strideOne = PROFILE_STRIDE === 1 ? trainStrideOneModel(model.features) : undefined;
      await benchProfile(redis.url, admin, corpus, strideOne);
    }

    print();
    print(`Results (load average now ${load()})`);
    const tables: (() => void)[] = [];
    if (throughput) tables.push(() => printThroughput(throughput));
    if (latency) tables.push(() => printLatency(latency));
    if (peak) tables.push(() => printPeakRss(peak));
    for (const table of tables) {
      print();
      table();
    }
  } finally {
    await closeRedis(admin);
    await redis.close();
  }
}

await main();
