/**
 * The parse workers of ingest: a few threads, started with the server (or the first upload) and
 * shared by all uploads, each of which is a job on the least busy one. Starting a worker costs
 * about 0.3 s (tsx compiles the core sources it loads), too much to pay per upload.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { ParseJobSpec, ParseReply, ParseRequest } from "./parse-protocol.ts";

/**
 * One thread less than the cores, at least one and at most four: the main thread keeps a core
 * for HTTP and Redis, and four threads parse far more than one Redis takes in.
 */
export function defaultParseThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

const WORKER_ENTRY = new URL("./parse-worker-entry.mjs", import.meta.url);

/** A worker thread and the jobs it runs. */
class PoolWorker {
  readonly thread: Worker;
  readonly #jobs = new Map<number, (reply: ParseReply) => void>();

  constructor(onExit: (worker: PoolWorker) => void) {
    this.thread = new Worker(WORKER_ENTRY);
    // An idle worker must not keep the process alive; one with jobs holds it like a socket.
    this.thread.unref();
    this.thread.on("message", (reply: ParseReply) => this.#jobs.get(reply.job)?.(reply));
    let crash: Error | undefined;
    this.thread.on("error", (error) => {
      crash = error;
    });
    this.thread.on("exit", (code) => {
      onExit(this);
      const message = crash?.message ?? `parse worker exited with code ${code}`;
      for (const [job, deliver] of [...this.#jobs]) {
        deliver({ kind: "failed", job, failure: { kind: "internal", message } });
      }
      this.#jobs.clear();
    });
  }

  get jobCount(): number {
    return this.#jobs.size;
  }

  attach(job: number, deliver: (reply: ParseReply) => void): void {
    this.#jobs.set(job, deliver);
    if (this.#jobs.size === 1) this.thread.ref();
  }

  detach(job: number): void {
    if (!this.#jobs.delete(job)) return;
    if (this.#jobs.size === 0) this.thread.unref();
  }

  send(request: ParseRequest, transfer: ArrayBuffer[] = []): void {
    this.thread.postMessage(request, transfer);
  }
}

/** The workers parsing uploads. Nothing starts until {@link warm} or the first {@link open}. */
export class ParsePool {
  readonly #size: number;
  readonly #workers: PoolWorker[] = [];
  #nextJob = 1;
  #closed = false;

  constructor(size = defaultParseThreads()) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`pool size ${size}`);
    this.#size = size;
  }

  /** Starts the workers now, so the first upload does not wait for them. */
  warm(): void {
    if (this.#closed) return;
    while (this.#workers.length < this.#size) {
      this.#workers.push(
        new PoolWorker((gone) => {
          const at = this.#workers.indexOf(gone);
          if (at >= 0) this.#workers.splice(at, 1);
        }),
      );
    }
  }

  /** Opens a job for one upload on the least busy worker. */
  open(spec: ParseJobSpec): ParseJobHandle {
    if (this.#closed) throw new Error("the parse pool is closed");
    this.warm();
    let worker = this.#workers[0]!;
    for (const candidate of this.#workers) {
      if (candidate.jobCount < worker.jobCount) worker = candidate;
    }
    return new ParseJobHandle(worker, this.#nextJob++, spec);
  }

  /** Stops the workers; jobs still open fail. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const workers = this.#workers.splice(0);
    await Promise.all(workers.map((worker) => worker.thread.terminate()));
  }
}

/**
 * One upload's side of a job: chunks go in, replies come out in request order. Replies not yet
 * taken are held here; the caller bounds them by bounding the chunks it sends ahead.
 */
export class ParseJobHandle {
  readonly #worker: PoolWorker;
  readonly #job: number;
  readonly #replies: ParseReply[] = [];
  #waiting: { resolve: (reply: ParseReply) => void; reject: (error: Error) => void } | undefined;
  #closed = false;

  constructor(worker: PoolWorker, job: number, spec: ParseJobSpec) {
    this.#worker = worker;
    this.#job = job;
    worker.attach(job, (reply) => this.#receive(reply));
    worker.send({ kind: "open", job, spec });
  }

  /**
   * Sends the next bytes of the upload, given as consecutive pieces, in one message: copied into
   * one buffer that is transferred (the pieces may be slices of buffers shared with others).
   */
  push(pieces: readonly Uint8Array[]): void {
    let length = 0;
    for (const piece of pieces) length += piece.byteLength;
    const bytes = new Uint8Array(length);
    let at = 0;
    for (const piece of pieces) {
      bytes.set(piece, at);
      at += piece.byteLength;
    }
    this.#worker.send({ kind: "chunk", job: this.#job, bytes }, [bytes.buffer]);
  }

  /** Ends the upload; its reply carries the last entry and how the upload ended. */
  end(): void {
    this.#worker.send({ kind: "end", job: this.#job });
  }

  /** The next reply, in request order; rejects when `signal` aborts or the job closes first. */
  next(signal?: AbortSignal): Promise<ParseReply> {
    const ready = this.#replies.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new Error("parse job closed"));
        return;
      }
      const onAbort = () => {
        this.#waiting = undefined;
        reject(new Error("upload aborted"));
      };
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting = {
        resolve: (reply) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(reply);
        },
        reject: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
    });
  }

  /** Drops the job: the worker forgets it, a waiting {@link next} rejects. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#worker.detach(this.#job);
    this.#worker.send({ kind: "close", job: this.#job });
    this.#replies.length = 0;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(new Error("parse job closed"));
  }

  #receive(reply: ParseReply): void {
    if (this.#closed) return;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting !== undefined) waiting.resolve(reply);
    else this.#replies.push(reply);
  }
}
