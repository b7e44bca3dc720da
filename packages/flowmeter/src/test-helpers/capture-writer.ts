/**
 * Test helpers: build packets and write them as pcap or pcapng, so tests know every byte of the
 * capture they feed the meter and can compute the expected features by hand.
 */

export interface IpPacketSpec {
  src: string;
  dst: string;
  /** 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6. */
  protocol: number;
  srcPort?: number;
  dstPort?: number;
  /** TCP flags byte. */
  flags?: number;
  window?: number;
  /** Payload bytes (zeros). */
  payload?: number;
  /** Bytes of TCP options (a multiple of 4). */
  tcpOptions?: number;
  /** IPv4: fragment offset in 8-byte units and the more-fragments bit. */
  fragmentOffset?: number;
  moreFragments?: boolean;
  /** IPv6: extension headers before the transport header (0 hop-by-hop, 60 destination, 44 fragment). */
  extensions?: number[];
}

function parseV4(text: string): number[] {
  return text.split(".").map(Number);
}

function parseV6(text: string): number[] {
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t].map((g) =>
    parseInt(g || "0", 16),
  );
  return groups.flatMap((g) => [g >> 8, g & 255]);
}

function transport(spec: IpPacketSpec): number[] {
  const payload = Array<number>(spec.payload ?? 0).fill(0);
  const sp = spec.srcPort ?? 0;
  const dp = spec.dstPort ?? 0;
  if (spec.protocol === 6) {
    const options = spec.tcpOptions ?? 0;
    const hl = 20 + options;
    const w = spec.window ?? 8192;
    return [
      sp >> 8,
      sp & 255,
      dp >> 8,
      dp & 255,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      (hl / 4) << 4,
      spec.flags ?? 0,
      w >> 8,
      w & 255,
      0,
      0,
      0,
      0,
      ...Array<number>(options).fill(1),
      ...payload,
    ];
  }
  if (spec.protocol === 17) {
    const len = 8 + payload.length;
    return [sp >> 8, sp & 255, dp >> 8, dp & 255, len >> 8, len & 255, 0, 0, ...payload];
  }
  // ICMP echo request
  return [8, 0, 0, 0, 0, 1, 0, 1, ...payload];
}

/** An IPv4 or IPv6 packet (chosen by the address syntax). */
export function ipPacket(spec: IpPacketSpec): Uint8Array {
  if (spec.src.includes(":")) return ipv6Packet(spec);
  const l4 = spec.fragmentOffset ? Array<number>(spec.payload ?? 0).fill(0) : transport(spec);
  const total = 20 + l4.length;
  const frag = ((spec.moreFragments ? 0x20 : 0) << 8) | (spec.fragmentOffset ?? 0);
  return new Uint8Array([
    0x45,
    0,
    total >> 8,
    total & 255,
    0x12,
    0x34,
    frag >> 8,
    frag & 255,
    64,
    spec.protocol,
    0,
    0,
    ...parseV4(spec.src),
    ...parseV4(spec.dst),
    ...l4,
  ]);
}

function ipv6Packet(spec: IpPacketSpec): Uint8Array {
  const exts = spec.extensions ?? [];
  const body: number[] = [];
  for (let i = 0; i < exts.length; i++) {
    const next = i + 1 < exts.length ? exts[i + 1]! : spec.protocol;
    if (exts[i] === 44) {
      const off = (spec.fragmentOffset ?? 0) << 3;
      body.push(next, 0, off >> 8, (off & 255) | (spec.moreFragments ? 1 : 0), 0, 0, 0, 7);
    } else {
      body.push(next, 0, 1, 4, 0, 0, 0, 0); // 8 bytes, a PadN option
    }
  }
  const l4 = spec.fragmentOffset ? Array<number>(spec.payload ?? 0).fill(0) : transport(spec);
  body.push(...l4);
  const first = exts.length > 0 ? exts[0]! : spec.protocol;
  return new Uint8Array([
    0x60,
    0,
    0,
    0,
    body.length >> 8,
    body.length & 255,
    first,
    64,
    ...parseV6(spec.src),
    ...parseV6(spec.dst),
    ...body,
  ]);
}

/** An Ethernet frame around an IP packet, with optional VLAN tags (outer first). */
export function ethernet(
  ip: Uint8Array,
  vlanTags: { tpid: number; vid: number }[] = [],
): Uint8Array {
  const etherType = ip[0]! >> 4 === 6 ? 0x86dd : 0x0800;
  const header = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
  for (const tag of vlanTags)
    header.push(tag.tpid >> 8, tag.tpid & 255, tag.vid >> 8, tag.vid & 255);
  header.push(etherType >> 8, etherType & 255);
  const frame = new Uint8Array(header.length + ip.length);
  frame.set(header);
  frame.set(ip, header.length);
  return frame;
}

/** A Linux cooked (SLL) frame. */
export function sll(ip: Uint8Array): Uint8Array {
  const etherType = ip[0]! >> 4 === 6 ? 0x86dd : 0x0800;
  const frame = new Uint8Array(16 + ip.length);
  frame.set([0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, etherType >> 8, etherType & 255]);
  frame.set(ip, 16);
  return frame;
}

/** A Linux cooked v2 (SLL2) frame. */
export function sll2(ip: Uint8Array): Uint8Array {
  const etherType = ip[0]! >> 4 === 6 ? 0x86dd : 0x0800;
  const frame = new Uint8Array(20 + ip.length);
  frame.set([
    etherType >> 8,
    etherType & 255,
    0,
    0,
    0,
    0,
    0,
    1,
    0,
    1,
    0,
    6,
    2,
    0,
    0,
    0,
    0,
    1,
    0,
    0,
  ]);
  frame.set(ip, 20);
  return frame;
}

export interface CapturedFrame {
  /** Microseconds since the epoch. */
  micros: number;
  frame: Uint8Array;
  /** Keep only this many bytes (snap length); the original length stays the frame's. */
  snap?: number;
  /** pcapng: interface index. */
  iface?: number;
}

class ByteWriter {
  private readonly parts: Uint8Array[] = [];
  constructor(private readonly littleEndian: boolean) {}
  u16(v: number) {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, this.littleEndian);
    this.parts.push(b);
  }
  u32(v: number) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, this.littleEndian);
    this.parts.push(b);
  }
  bytes(b: Uint8Array | number[]) {
    this.parts.push(b instanceof Uint8Array ? b : new Uint8Array(b));
  }
  pad4(length: number) {
    if (length % 4) this.parts.push(new Uint8Array(4 - (length % 4)));
  }
  done(): Uint8Array {
    const total = this.parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

export interface PcapOptions {
  linkType?: number;
  nanos?: boolean;
  bigEndian?: boolean;
  snapLength?: number;
}

/** A classic pcap file. */
export function writePcap(frames: CapturedFrame[], options: PcapOptions = {}): Uint8Array {
  const w = new ByteWriter(!options.bigEndian);
  w.u32(options.nanos ? 0xa1b23c4d : 0xa1b2c3d4);
  w.u16(2);
  w.u16(4);
  w.u32(0);
  w.u32(0);
  w.u32(options.snapLength ?? 262144);
  w.u32(options.linkType ?? 1);
  for (const f of frames) {
    const captured = f.frame.subarray(0, f.snap ?? f.frame.length);
    const seconds = Math.floor(f.micros / 1e6);
    const micros = f.micros - seconds * 1e6;
    w.u32(seconds);
    w.u32(options.nanos ? micros * 1000 : micros);
    w.u32(captured.length);
    w.u32(f.frame.length);
    w.bytes(captured);
  }
  return w.done();
}

export interface PcapngInterfaceSpec {
  linkType: number;
  /** if_tsresol byte; absent means microseconds. */
  tsresol?: number;
}

export interface PcapngOptions {
  bigEndian?: boolean;
  interfaces?: PcapngInterfaceSpec[];
  /** Blocks of unknown types inserted before the packet with this index. */
  unknownBlockBefore?: number;
  /** Write packets as simple packet blocks (interface 0, no timestamps). */
  simple?: boolean;
}

/** A pcapng file: one section, the given interfaces, enhanced (or simple) packet blocks. */
export function writePcapng(frames: CapturedFrame[], options: PcapngOptions = {}): Uint8Array {
  const le = !options.bigEndian;
  const w = new ByteWriter(le);
  // Section header block.
  w.u32(0x0a0d0d0a);
  w.u32(28);
  w.u32(0x1a2b3c4d);
  w.u16(1);
  w.u16(0);
  w.u32(0xffffffff);
  w.u32(0xffffffff);
  w.u32(28);
  for (const iface of options.interfaces ?? [{ linkType: 1 }]) {
    const withOption = iface.tsresol !== undefined;
    const length = 20 + (withOption ? 12 : 0);
    w.u32(1);
    w.u32(length);
    w.u16(iface.linkType);
    w.u16(0);
    w.u32(0);
    if (withOption) {
      w.u16(9);
      w.u16(1);
      w.bytes([iface.tsresol!, 0, 0, 0]);
      w.u16(0);
      w.u16(0);
    }
    w.u32(length);
  }
  const interfaces = options.interfaces ?? [{ linkType: 1 }];
  frames.forEach((f, index) => {
    if (options.unknownBlockBefore === index) {
      w.u32(0x00000bad);
      w.u32(20);
      w.bytes([1, 2, 3, 4, 5, 6, 7, 8]);
      w.u32(20);
    }
    const captured = f.frame.subarray(0, f.snap ?? f.frame.length);
    const padded = (captured.length + 3) & ~3;
    if (options.simple) {
      w.u32(3);
      w.u32(16 + padded);
      w.u32(f.frame.length);
      w.bytes(captured);
      w.pad4(captured.length);
      w.u32(16 + padded);
      return;
    }
    const iface = interfaces[f.iface ?? 0]!;
    const resolution = iface.tsresol ?? 6;
    // Ticks as a BigInt: nanosecond ticks overflow a double's exact range.
    const ticks =
      resolution & 0x80
        ? (BigInt(f.micros) << BigInt(resolution & 0x7f)) / 1_000_000n
        : resolution >= 6
          ? BigInt(f.micros) * 10n ** BigInt(resolution - 6)
          : BigInt(f.micros) / 10n ** BigInt(6 - resolution);
    w.u32(6);
    w.u32(32 + padded);
    w.u32(f.iface ?? 0);
    w.u32(Number(ticks >> 32n));
    w.u32(Number(ticks & 0xffffffffn));
    w.u32(captured.length);
    w.u32(f.frame.length);
    w.bytes(captured);
    w.pad4(captured.length);
    w.u32(32 + padded);
  });
  return w.done();
}
