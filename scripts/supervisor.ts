/**
 * The local launcher's process supervisor: starts named children, streams their output with the
 * name in front, restarts a child that exits unexpectedly (policy in `restart-policy.ts`), and
 * stops everything on request or when one child crash-loops. Used by `pnpm start` and, with the
 * same code, by the tests that kill its children.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import {
  DEFAULT_RESTART_POLICY,
  NO_EXITS,
  decideRestart,
  describeExit,
  formatDelay,
  type ExitHistory,
  type RestartPolicy,
} from "./restart-policy.ts";

/** How to run one child. */
export interface ChildSpec {
  /** Unique name, printed in front of its output and in every line about it. */
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  /** Added to the launcher's own environment. */
  env?: Record<string, string>;
  /** True once the child serves (its /health answers); absent: ready once spawned. */
  ready?: () => Promise<boolean>;
  /** Stopped after every other child (Redis, which the others drain into). */
  stopLast?: boolean;
}

/** Settings of {@link Supervisor}. */
export interface SupervisorOptions {
  /** Where the supervisor's lines and the children's output go (default: stdout). */
  print?: (line: string) => void;
  policy?: RestartPolicy;
  /** How long a child may drain after SIGTERM before SIGKILL. */
  stopDeadlineMs?: number;
  /** How long a restarted child may take to be ready again before the line says so. */
  readyDeadlineMs?: number;
}

/** The child the supervisor gave up on. */
export interface CrashLoop {
  name: string;
  exitsInWindow: number;
  lastExit: string;
}

/** `ready` for a child with an HTTP health check: true when `url` answers 2xx. */
export function httpReady(url: string): () => Promise<boolean> {
  return async () => {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      return response.ok;
    } catch {
      return false;
    }
  };
}

const TAG_WIDTH = 12;
const POLL_MS = 250;

/** One supervised child across its restarts. */
export class SupervisedChild {
  process: ChildProcess | undefined;
  /** Times it was started (1 after the first start). */
  starts = 0;
  startedAt = 0;
  history: ExitHistory = NO_EXITS;
  restartTimer: NodeJS.Timeout | undefined;

  constructor(readonly spec: ChildSpec) {}

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  get running(): boolean {
    const p = this.process;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }
}

export class Supervisor {
  readonly #children = new Map<string, SupervisedChild>();
  readonly #print: (line: string) => void;
  readonly #policy: RestartPolicy;
  readonly #stopDeadlineMs: number;
  readonly #readyDeadlineMs: number;
  #stopping: Promise<void> | undefined;
  #reportCrashLoop: (loop: CrashLoop) => void = () => undefined;
  /** Resolves when a child crash-loops and the supervisor gives up on it (it keeps the others). */
  readonly crashLoop: Promise<CrashLoop>;

  constructor(options: SupervisorOptions = {}) {
    this.#print = options.print ?? ((line) => process.stdout.write(`${line}\n`));
    this.#policy = options.policy ?? DEFAULT_RESTART_POLICY;
    this.#stopDeadlineMs = options.stopDeadlineMs ?? 10_000;
    this.#readyDeadlineMs = options.readyDeadlineMs ?? 60_000;
    this.crashLoop = new Promise((resolve) => (this.#reportCrashLoop = resolve));
    liveSupervisors.add(this);
  }

  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /** Starts a child and supervises it until {@link stop}. */
  add(spec: ChildSpec): SupervisedChild {
    if (this.#children.has(spec.name)) throw new Error(`duplicate child name ${spec.name}`);
    const child = new SupervisedChild(spec);
    this.#children.set(spec.name, child);
    this.#launch(child);
    return child;
  }

  child(name: string): SupervisedChild {
    const child = this.#children.get(name);
    if (!child) throw new Error(`no child named ${name}`);
    return child;
  }

  get children(): SupervisedChild[] {
    return [...this.#children.values()];
  }

  /** Waits until every child is ready; throws naming the ones that are not by `deadline`. */
  async waitReady(deadline: number): Promise<void> {
    await Promise.all(this.children.map((child) => this.#waitChildReady(child, deadline)));
  }

  /**
   * The one shutdown path: SIGTERM to every child (SIGKILL past the deadline), those marked
   * `stopLast` after the others. Idempotent; never throws.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const child of this.children) clearTimeout(child.restartTimer);
      const [last, first] = partition(this.children, (c) => c.spec.stopLast === true);
      await Promise.allSettled(first.map((c) => this.#stopChild(c)));
      await Promise.allSettled(last.map((c) => this.#stopChild(c)));
      liveSupervisors.delete(this);
    })();
    return this.#stopping;
  }

  /** Kills every child at once (the launcher itself is going away). */
  killAll(): void {
    for (const child of this.children) {
      clearTimeout(child.restartTimer);
      if (child.running) child.process?.kill("SIGKILL");
    }
  }

  #launch(child: SupervisedChild): void {
    const { spec } = child;
    const running = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.process = running;
    child.starts += 1;
    child.startedAt = Date.now();
    const tag = `[${spec.name}]`.padEnd(TAG_WIDTH);
    for (const stream of [running.stdout, running.stderr]) {
      if (stream) createInterface({ input: stream }).on("line", (l) => this.#print(`${tag} ${l}`));
    }
    // A command that cannot be spawned (ENOENT) emits `error` and then `exit`: the exit decides.
    running.on("error", (error) => this.#print(`floodwatch: ${spec.name}: ${error.message}`));
    running.once("exit", (code, signal) => this.#onExit(child, running, code, signal));
  }

  #onExit(
    child: SupervisedChild,
    exited: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    if (this.stopping || child.process !== exited) return;
    const how = describeExit(code, signal);
    const decision = decideRestart(child.history, child.startedAt, Date.now(), this.#policy);
    child.history = decision.history;
    if (decision.action === "give-up") {
      const window = formatDelay(this.#policy.crashLoopWindowMs);
      this.#print(
        `floodwatch: ${child.name} ${how}, ${decision.exitsInWindow} exits within ${window}: ` +
          `it is crash-looping; stopping the stack`,
      );
      this.#reportCrashLoop({
        name: child.name,
        exitsInWindow: decision.exitsInWindow,
        lastExit: how,
      });
      return;
    }
    this.#print(
      `floodwatch: ${child.name} (pid ${exited.pid}) ${how}; restarting it in ${formatDelay(decision.delayMs)}`,
    );
    child.restartTimer = setTimeout(() => {
      child.restartTimer = undefined;
      if (this.stopping) return;
      this.#launch(child);
      if (child.spec.ready) void this.#announceBack(child);
    }, decision.delayMs);
  }

  /** One line when a restarted child serves again, so the reader knows the crash is over. */
  async #announceBack(child: SupervisedChild): Promise<void> {
    const running = child.process;
    try {
      await this.#waitChildReady(child, Date.now() + this.#readyDeadlineMs, running);
      this.#print(`floodwatch: ${child.name} is back (pid ${running?.pid})`);
    } catch (error) {
      if (!this.stopping && child.process === running) {
        this.#print(`floodwatch: ${(error as Error).message}`);
      }
    }
  }

  async #waitChildReady(
    child: SupervisedChild,
    deadline: number,
    only?: ChildProcess,
  ): Promise<void> {
    const ready = child.spec.ready;
    for (;;) {
      if (this.stopping) throw new Error("stopping");
      if (only !== undefined && child.process !== only) throw new Error("restarted again");
      if (child.running && (ready === undefined || (await ready()))) return;
      if (Date.now() > deadline) throw new Error(`${child.name} is not ready`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  async #stopChild(child: SupervisedChild): Promise<void> {
    const running = child.process;
    if (!running || !child.running) return;
    // `close`, not `exit`: the child's last lines (its shutdown log) are printed by then.
    const exited = new Promise<void>((resolve) => running.once("close", () => resolve()));
    running.kill("SIGTERM");
    const timer = setTimeout(() => running.kill("SIGKILL"), this.#stopDeadlineMs);
    await exited;
    clearTimeout(timer);
  }
}

function partition<T>(items: T[], test: (item: T) => boolean): [T[], T[]] {
  return [items.filter(test), items.filter((item) => !test(item))];
}

/** If the launcher's own process exits without stopping (a crash), no child is left behind. */
const liveSupervisors = new Set<Supervisor>();
process.once("exit", () => {
  for (const supervisor of liveSupervisors) supervisor.killAll();
});
