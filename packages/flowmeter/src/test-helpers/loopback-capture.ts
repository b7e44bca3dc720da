/**
 * Test helpers for real packets: capture on the loopback interface with tcpdump, summarise with
 * tshark. Both are Debian packages that `.ci/run` installs; capturing needs root or CAP_NET_RAW.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Why real-packet tests cannot run here, or null when they can. */
export async function captureUnavailable(): Promise<string | null> {
  for (const tool of ["tcpdump", "tshark"]) {
    try {
      await run("sh", ["-c", `command -v ${tool}`]);
    } catch {
      return `${tool} is not installed (apt-get install ${tool})`;
    }
  }
  try {
    // Opening the interface is what needs the privilege; compile-only (-d) would not test it.
    await run("timeout", ["3", "tcpdump", "-i", "lo", "-c", "1", "-w", "/dev/null", "udp port 9"]);
  } catch (error) {
    const text = String((error as { stderr?: string }).stderr ?? error);
    if (/permission|not permitted|privilege/i.test(text)) {
      return "tcpdump cannot capture on lo (needs root or CAP_NET_RAW)";
    }
    // Exit by `timeout` (124) means it was capturing and saw nothing: fine.
    if ((error as { code?: number }).code !== 124) return `tcpdump failed: ${text.trim()}`;
  }
  return null;
}

export async function commandExists(tool: string): Promise<boolean> {
  try {
    await run("sh", ["-c", `command -v ${tool}`]);
    return true;
  } catch {
    return false;
  }
}

/** A running `tcpdump -i lo -U -w FILE FILTER`. */
export class LoopbackCapture {
  private constructor(
    private readonly child: ChildProcess,
    private readonly stderr: () => string,
  ) {}

  static async start(file: string, filter: string): Promise<LoopbackCapture> {
    // --immediate-mode: without it packets wait in the kernel ring for up to a second, and
    // those still waiting when tcpdump is stopped never reach the file. -B 32 MiB: with the
    // default 2 MiB, at load 20 on two cores, tcpdump dropped 14–48 packets of 400 per run.
    const child = spawn(
      "tcpdump",
      ["-i", "lo", "--immediate-mode", "-B", "32768", "-U", "-n", "-w", file, filter],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    // tcpdump says "listening on lo" once the socket is open: packets from then on are kept.
    let text = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${text}`)), 10_000);
      child.stderr.on("data", (d: Buffer) => {
        text += d.toString();
        if (text.includes("listening on")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`tcpdump exited with ${code}: ${text}`));
      });
    });
    return new LoopbackCapture(child, () => text);
  }

  /**
   * Stops the capture; with -U every packet seen is already in the file. Returns how many
   * packets the kernel dropped (tcpdump's own count): on a machine this loaded, tcpdump is not
   * always scheduled in time, and a capture with holes has half-seen connections.
   */
  async stop(): Promise<number> {
    if (this.child.exitCode !== null) return this.dropped();
    // Give the kernel a moment to hand over the last packets before tcpdump stops reading.
    await new Promise((r) => setTimeout(r, 300));
    const exited = once(this.child, "exit");
    this.child.kill("SIGINT");
    await exited;
    return this.dropped();
  }

  private dropped(): number {
    const kernel = /(\d+) packets? dropped by kernel/.exec(this.stderr());
    const interfaceDrops = /(\d+) packets? dropped by interface/.exec(this.stderr());
    return Number(kernel?.[1] ?? 0) + Number(interfaceDrops?.[1] ?? 0);
  }
}

/** One row of `tshark -q -z conv,…`: endpoint A, endpoint B, frames and bytes each way. */
export interface TsharkConversation {
  a: string;
  b: string;
  framesAtoB: number;
  bytesAtoB: number;
  framesBtoA: number;
  bytesBtoA: number;
  /** False when tshark printed a rounded size ("12 kB") instead of bytes. */
  exactBytes: boolean;
}

const UNITS: Record<string, number> = { bytes: 1, kB: 1e3, MB: 1e6, GB: 1e9 };

/** Runs `tshark -q -z conv,tcp|udp -r FILE` and parses its table. */
export async function tsharkConversations(
  file: string,
  protocol: "tcp" | "udp",
): Promise<TsharkConversation[]> {
  const { stdout } = await run("tshark", ["-q", "-n", "-z", `conv,${protocol}`, "-r", file], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const rows: TsharkConversation[] = [];
  // "127.0.0.1:33044 <-> 127.0.0.1:18999   6 3065 bytes   6 483 bytes   12 3548 bytes ..."
  // The first pair is "<-" (B to A), the second "->" (A to B).
  const row =
    /^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+([\d.,]+)\s+(bytes|kB|MB|GB)\s+(\d+)\s+([\d.,]+)\s+(bytes|kB|MB|GB)/;
  for (const line of stdout.split("\n")) {
    const m = row.exec(line.trim());
    if (!m) continue;
    const size = (value: string, unit: string) => Number(value.replace(/,/g, "")) * UNITS[unit]!;
    rows.push({
      a: m[1]!,
      b: m[2]!,
      framesBtoA: Number(m[3]),
      bytesBtoA: size(m[4]!, m[5]!),
      framesAtoB: Number(m[6]),
      bytesAtoB: size(m[7]!, m[8]!),
      exactBytes: m[5] === "bytes" && m[8] === "bytes",
    });
  }
  return rows;
}
