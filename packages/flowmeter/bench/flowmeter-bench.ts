/**
 * `pnpm bench:flowmeter [--packets N] [--flood PERCENT] [--file capture.pcap] [--cic-compat]`: reads a pcap file
 * through the reader, decoder and flow meter on one thread and prints packets/s, flows/s and
 * peak RSS. Without --file it generates (once, cached in the temp directory) a capture of N
 * packets (default 3,000,000): TCP conversations with handshake, data and teardown, DNS-like
 * UDP exchanges, and a spoofed SYN flood of one-packet flows, so the table sees both long flows
 * and a stream of new ones.
 *
 * The machine is shared, so besides wall-clock rates it prints rates per CPU second of this
 * process (user + system), which the load of other processes disturbs much less; `uptime` load
 * is printed with them.
 */
import {
  createReadStream,
  existsSync,
  openSync,
  closeSync,
  writeSync,
  renameSync,
  statSync,
} from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CaptureMeter } from "../src/capture-meter.ts";

const { values } = parseArgs({
  options: {
    packets: { type: "string", default: "3000000" },
    flood: { type: "string", default: "30" },
    file: { type: "string" },
    "cic-compat": { type: "boolean", default: false },
  },
});
const packetTarget = Number(values.packets);
const floodPercent = Number(values.flood);

/** Ethernet + IPv4 + TCP/UDP frame for a flow endpoint pair, written straight into `out`. */
function frame(
  out: Buffer,
  at: number,
  src: number,
  dst: number,
  sport: number,
  dport: number,
  tcpFlags: number,
  payload: number,
  udp: boolean,
): number {
  const l4 = udp ? 8 : 20;
  const ipLength = 20 + l4 + payload;
  out.fill(0, at, at + 14 + ipLength);
  out.writeUInt16BE(0x0800, at + 12);
  const ip = at + 14;
  out[ip] = 0x45;
  out.writeUInt16BE(ipLength, ip + 2);
  out[ip + 8] = 64;
  out[ip + 9] = udp ? 17 : 6;
  out.writeUInt32BE(src >>> 0, ip + 12);
  out.writeUInt32BE(dst >>> 0, ip + 16);
  const t = ip + 20;
  out.writeUInt16BE(sport, t);
  out.writeUInt16BE(dport, t + 2);
  if (udp) {
    out.writeUInt16BE(8 + payload, t + 4);
  } else {
    out[t + 12] = 0x50;
    out[t + 13] = tcpFlags;
    out.writeUInt16BE(64240, t + 14);
  }
  return 14 + ipLength;
}

function generate(path: string, packets: number, flood: number): void {
  const fd = openSync(path + ".tmp", "w");
  const buffer = Buffer.alloc(8 * 1024 * 1024);
  let used = 0;
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20);
  writeSync(fd, header);
  // 2,000 TCP conversations open at a time, each 12 packets; ticked round-robin.
  const CONCURRENT = 2000;
  const step = new Int32Array(CONCURRENT);
  const id = new Int32Array(CONCURRENT).map((_, i) => i);
  let nextId = CONCURRENT;
  const SERVER = 0x0a000001;
  const tcpScript: [boolean, number, number][] = [
    [true, 0x02, 0],
    [false, 0x12, 0],
    [true, 0x10, 0],
    [true, 0x18, 300],
    [false, 0x10, 0],
    [false, 0x18, 1400],
    [false, 0x18, 1400],
    [true, 0x10, 0],
    [false, 0x18, 600],
    [true, 0x11, 0],
    [false, 0x11, 0],
    [true, 0x10, 0],
  ];
  let micros = 1_700_000_000_000_000;
  let conversation = 0;
  let dns = 0;
  for (let i = 0; i < packets; i++) {
    if (used > buffer.length - 2000) {
      writeSync(fd, buffer, 0, used);
      used = 0;
    }
    micros += 1;
    const rec = used;
    used += 16;
    // Per 100 packets: `flood` spoofed SYNs, then DNS packets and TCP packets 2 : 5.
    const slot = i % 100;
    const kind = slot < flood ? 0 : 3 + Math.floor(((slot - flood) * 7) / (100 - flood));
    let length: number;
    if (kind < 3) {
      // Spoofed SYN flood: a new source for every packet.
      length = frame(buffer, used, 0x64000000 + i, SERVER, 1024 + (i % 60000), 80, 0x02, 0, false);
    } else if (kind < 5) {
      // DNS-like exchange: query then answer.
      const pair = dns >> 1;
      const query = (dns++ & 1) === 0;
      const client = 0xc0a80000 + (pair % 65000);
      length = query
        ? frame(buffer, used, client, 0x08080808, 30000 + (pair % 30000), 53, 0, 40, true)
        : frame(buffer, used, 0x08080808, client, 53, 30000 + (pair % 30000), 0, 120, true);
    } else {
      const c = conversation++ % CONCURRENT;
      const [fromClient, flags, payload] = tcpScript[step[c]!]!;
      const client = 0xac100000 + id[c]!;
      const port = 40000 + (id[c]! % 20000);
      length = fromClient
        ? frame(buffer, used, client, SERVER, port, 443, flags, payload, false)
        : frame(buffer, used, SERVER, client, 443, port, flags, payload, false);
      if (++step[c]! === tcpScript.length) {
        step[c] = 0;
        id[c] = nextId++;
      }
    }
    buffer.writeUInt32LE(Math.floor(micros / 1e6), rec);
    buffer.writeUInt32LE(micros % 1e6, rec + 4);
    buffer.writeUInt32LE(length, rec + 8);
    buffer.writeUInt32LE(length, rec + 12);
    used += length;
  }
  writeSync(fd, buffer, 0, used);
  closeSync(fd);
  renameSync(path + ".tmp", path);
}

const file =
  values.file ?? join(tmpdir(), `floodwatch-flowmeter-bench-${packetTarget}-${floodPercent}.pcap`);
if (!values.file && !existsSync(file)) {
  process.stderr.write(`generating ${packetTarget} packets into ${file}\n`);
  generate(file, packetTarget, floodPercent);
}

let flows = 0;
const meter = new CaptureMeter({ cicCompat: values["cic-compat"] }, () => {
  flows++;
});
const wallStart = process.hrtime.bigint();
const cpuStart = process.cpuUsage();
for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
  meter.push(chunk as Buffer);
}
meter.end();
const wall = Number(process.hrtime.bigint() - wallStart) / 1e9;
const cpuUsed = process.cpuUsage(cpuStart);
const cpu = (cpuUsed.user + cpuUsed.system) / 1e6;
const { read, decode } = meter.stats;
const packets = read.packets;
const rssMb = process.resourceUsage().maxRSS / 1024;
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(
  JSON.stringify({
    file,
    bytes: statSync(file).size,
    packets,
    flows,
    notMetered: decode.notIp + decode.fragments + decode.truncated,
    floodPercent: values.file ? null : floodPercent,
    cicCompat: values["cic-compat"],
    wallSeconds: +wall.toFixed(3),
    cpuSeconds: +cpu.toFixed(3),
    packetsPerSecond: fmt(packets / wall),
    flowsPerSecond: fmt(flows / wall),
    packetsPerCpuSecond: fmt(packets / cpu),
    flowsPerCpuSecond: fmt(flows / cpu),
    peakRssMb: Math.round(rssMb),
    load: loadavg().map((l) => +l.toFixed(2)),
  }),
);
