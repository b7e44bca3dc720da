import {
  DEFAULT_FEATURES,
  FlowCsvError,
  FlowCsvReader,
  FlowEntryBuilder,
  MissingColumnsError,
  type FlowEntry,
} from "@floodwatch/core";
import { generateFlowCsv } from "@floodwatch/core/generator";
import { afterAll, describe, expect, it } from "vitest";
import { ParsePool, type ParseJobHandle } from "./parse-pool.ts";
import { parseFailureError, type ParseEnd, type ParseJobSpec } from "./parse-protocol.ts";

const pool = new ParsePool(2);
afterAll(() => pool.close());

const window = { size: 50, stride: 50 };
const spec = (uploadId: string): ParseJobSpec => ({
  uploadId,
  features: DEFAULT_FEATURES,
  window,
  windowsPerEntry: 10,
  modelVersion: "test-model",
});

/** Sends `csv` in `pieceBytes` pieces, then the end; collects what comes back. */
async function parseAll(
  job: ParseJobHandle,
  csv: Uint8Array,
  pieceBytes: number,
): Promise<{ entries: FlowEntry[]; end: ParseEnd; rowsAccepted: number }> {
  let messages = 0;
  for (let at = 0; at < csv.length; at += pieceBytes) {
    job.push([csv.subarray(at, at + pieceBytes)]);
    messages++;
  }
  job.end();
  const entries: FlowEntry[] = [];
  for (let i = 0; i < messages; i++) {
    const reply = await job.next();
    if (reply.kind === "failed") throw parseFailureError(reply.failure);
    expect(reply.end).toBeUndefined();
    entries.push(...reply.entries);
  }
  const last = await job.next();
  if (last.kind === "failed") throw parseFailureError(last.failure);
  entries.push(...last.entries);
  return { entries, end: last.end!, rowsAccepted: last.stats.rowsAccepted };
}

describe("ParsePool", () => {
  it("cuts a chunked upload into the same entries as the reader and builder in-thread", async () => {
    const csv = new TextEncoder().encode(
      [...generateFlowCsv({ flows: 2_345, seed: 7, attack: "syn" })].join(""),
    );
    const job = pool.open(spec("u_pool"));
    const parsed = await parseAll(job, csv, 10_007);
    job.close();

    const reader = new FlowCsvReader({ features: DEFAULT_FEATURES });
    const batches = [...reader.push(csv), ...reader.end()];
    const builder = new FlowEntryBuilder({
      ...spec("u_pool"),
      featureCount: DEFAULT_FEATURES.length,
      labelled: reader.labelled,
    });
    const expected = batches.flatMap((batch) => builder.push(batch));
    const last = builder.flush();
    if (last !== null) expected.push(last);

    expect(parsed.rowsAccepted).toBe(2_345);
    expect(parsed.end).toEqual({ sawRows: true, tailFlows: builder.tailFlows });
    expect(parsed.entries.map((entry) => entry.meta.firstWindow)).toEqual(
      expected.map((entry) => entry.meta.firstWindow),
    );
    // 46 windows of 50 flows: four entries of 10 and a last of 6.
    expect(parsed.entries.map((entry) => entry.meta.windowCount)).toEqual([10, 10, 10, 10, 6]);
    parsed.entries.forEach((entry, i) => {
      expect(entry.values).toEqual(expected[i]!.values);
      expect(entry.lines).toEqual(expected[i]!.lines);
      expect(entry.attack).toEqual(expected[i]!.attack);
    });
  });

  it("reports a file missing model columns as the core error, with what was missing and seen", async () => {
    const job = pool.open(spec("u_missing"));
    job.push([new TextEncoder().encode("Flow Duration,Label\n1,BENIGN\n")]);
    const reply = await job.next();
    job.close();
    expect(reply.kind).toBe("failed");
    const error = parseFailureError(reply.kind === "failed" ? reply.failure : never());
    expect(error).toBeInstanceOf(MissingColumnsError);
    expect((error as MissingColumnsError).seen).toEqual(["Flow Duration", "Label"]);
    expect((error as MissingColumnsError).missing).toContain("Total Fwd Packets");
    expect((error as MissingColumnsError).line).toBe(1);
  });

  it("reports an empty upload as FlowCsvError 'empty' at its end", async () => {
    const job = pool.open(spec("u_empty"));
    job.end();
    const reply = await job.next();
    job.close();
    const error = parseFailureError(reply.kind === "failed" ? reply.failure : never());
    expect(error).toBeInstanceOf(FlowCsvError);
    expect((error as FlowCsvError).code).toBe("empty");
  });

  it("fails the jobs still open when the pool closes, and refuses new ones", async () => {
    const closing = new ParsePool(1);
    const job = closing.open(spec("u_closed"));
    const waiting = job.next();
    await closing.close();
    const reply = await waiting;
    expect(reply.kind).toBe("failed");
    expect(() => closing.open(spec("u_late"))).toThrow("the parse pool is closed");
  });
});

function never(): never {
  throw new Error("expected a failed reply");
}
