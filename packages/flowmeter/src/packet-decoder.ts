/**
 * Decodes one captured frame down to what the flow meter needs: addresses, ports, protocol,
 * TCP flags and window, header and payload lengths.
 *
 * Link types: Ethernet (any number of 802.1Q / 802.1ad tags), Linux cooked capture v1 and v2,
 * raw IP, BSD loopback. Network: IPv4, IPv6 with its extension headers walked. Transport: TCP,
 * UDP, ICMP, ICMPv6; any other IP protocol is metered with ports 0.
 *
 * Lengths come from the IP header, not from the captured length, so a packet cut by the snap
 * length still counts its full size, and Ethernet padding is never counted as payload.
 */

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;
/** DLT_RAW as written by some OpenBSD-derived tools. */
const LINKTYPE_RAW_OPENBSD = 12;
/** DLT_RAW on older BSD. */
const LINKTYPE_RAW_BSD = 14;

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

/** What became of one frame (plain numbers: the result of every packet, so no objects). */
export const DecodeResult = {
  /** An IP packet with its transport header: meter it. */
  Packet: 0,
  /** Not IP (ARP, LLDP, …). */
  NotIp: 1,
  /** A non-first IP fragment: no transport header to read, so it cannot be put in a flow. */
  Fragment: 2,
  /** Headers cut short by the snap length, or malformed. */
  Truncated: 3,
  /** A link type this decoder does not know. */
  UnknownLink: 4,
} as const;
export type DecodeResult = (typeof DecodeResult)[keyof typeof DecodeResult];

/**
 * The decoded fields of the current packet. One instance is reused for every packet, so
 * decoding allocates nothing. Addresses are four 32-bit words; IPv4 uses the first only.
 */
export class DecodedPacket {
  /** 4 or 6. */
  ipVersion = 4;
  readonly src = new Uint32Array(4);
  readonly dst = new Uint32Array(4);
  srcPort = 0;
  dstPort = 0;
  protocol = 0;
  /** TCP flags byte (0 for other protocols). */
  tcpFlags = 0;
  /** TCP window; -1 for other protocols. */
  window = -1;
  /** Transport header bytes (TCP with options, UDP 8, ICMP 8, 0 for others). */
  headerBytes = 0;
  /** Transport payload bytes, from the IP length fields. */
  payloadBytes = 0;
  /** Length of the frame on the wire, as the capture recorded it. */
  wireBytes = 0;
  timestampMicros = 0;
}

/** Decodes a frame into `out`. */
export function decodePacket(
  linkType: number,
  data: Uint8Array,
  offset: number,
  capturedLength: number,
  originalLength: number,
  out: DecodedPacket,
): DecodeResult {
  const end = offset + capturedLength;
  out.wireBytes = originalLength;
  let pos = offset;
  let etherType: number;
  switch (linkType) {
    case LINKTYPE_ETHERNET: {
      if (end - pos < 14) return DecodeResult.Truncated;
      etherType = (data[pos + 12]! << 8) | data[pos + 13]!;
      pos += 14;
      // 802.1Q (0x8100), 802.1ad (0x88a8) and the pre-standard QinQ 0x9100: a 4-byte tag each.
      while (etherType === 0x8100 || etherType === 0x88a8 || etherType === 0x9100) {
        if (end - pos < 4) return DecodeResult.Truncated;
        etherType = (data[pos + 2]! << 8) | data[pos + 3]!;
        pos += 4;
      }
      break;
    }
    case LINKTYPE_LINUX_SLL:
      if (end - pos < 16) return DecodeResult.Truncated;
      etherType = (data[pos + 14]! << 8) | data[pos + 15]!;
      pos += 16;
      break;
    case LINKTYPE_LINUX_SLL2:
      if (end - pos < 20) return DecodeResult.Truncated;
      etherType = (data[pos]! << 8) | data[pos + 1]!;
      pos += 20;
      break;
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_OPENBSD:
    case LINKTYPE_RAW_BSD:
      if (end - pos < 1) return DecodeResult.Truncated;
      etherType = data[pos]! >> 4 === 6 ? 0x86dd : 0x0800;
      break;
    case LINKTYPE_IPV4:
      etherType = 0x0800;
      break;
    case LINKTYPE_IPV6:
      etherType = 0x86dd;
      break;
    case LINKTYPE_NULL: {
      if (end - pos < 4) return DecodeResult.Truncated;
      // The address family is in the capturing host's byte order; 2 is AF_INET everywhere and
      // 24, 28, 30 are AF_INET6 on the BSDs and macOS.
      const family = data[pos]! | data[pos + 3]!;
      etherType =
        family === 2 ? 0x0800 : family === 24 || family === 28 || family === 30 ? 0x86dd : 0;
      pos += 4;
      break;
    }
    default:
      return DecodeResult.UnknownLink;
  }
  if (etherType === 0x0800) return decodeIpv4(data, pos, end, out);
  if (etherType === 0x86dd) return decodeIpv6(data, pos, end, out);
  return DecodeResult.NotIp;
}

function readU32(data: Uint8Array, pos: number): number {
  return (
    ((data[pos]! << 24) | (data[pos + 1]! << 16) | (data[pos + 2]! << 8) | data[pos + 3]!) >>> 0
  );
}

function decodeIpv4(data: Uint8Array, pos: number, end: number, out: DecodedPacket): DecodeResult {
  if (end - pos < 20 || data[pos]! >> 4 !== 4) return DecodeResult.Truncated;
  const ihl = (data[pos]! & 0x0f) * 4;
  if (ihl < 20) return DecodeResult.Truncated;
  const totalLength = (data[pos + 2]! << 8) | data[pos + 3]!;
  const fragmentOffset = ((data[pos + 6]! & 0x1f) << 8) | data[pos + 7]!;
  out.ipVersion = 4;
  out.protocol = data[pos + 9]!;
  out.src[0] = readU32(data, pos + 12);
  out.dst[0] = readU32(data, pos + 16);
  out.src[1] = out.src[2] = out.src[3] = 0;
  out.dst[1] = out.dst[2] = out.dst[3] = 0;
  if (fragmentOffset !== 0) return DecodeResult.Fragment;
  // TSO captures write total length 0; fall back to what the frame holds.
  const l4Length = (totalLength >= ihl ? totalLength : out.wireBytes) - ihl;
  return decodeTransport(data, pos + ihl, end, l4Length, out);
}

function decodeIpv6(data: Uint8Array, pos: number, end: number, out: DecodedPacket): DecodeResult {
  if (end - pos < 40 || data[pos]! >> 4 !== 6) return DecodeResult.Truncated;
  let remaining = (data[pos + 4]! << 8) | data[pos + 5]!;
  let next = data[pos + 6]!;
  out.ipVersion = 6;
  for (let i = 0; i < 4; i++) {
    out.src[i] = readU32(data, pos + 8 + 4 * i);
    out.dst[i] = readU32(data, pos + 24 + 4 * i);
  }
  pos += 40;
  // Walk the extension headers to the transport header; a fragment header with a non-zero
  // offset means no transport header follows in this packet.
  for (;;) {
    let extLength: number;
    if (next === 0 || next === 43 || next === 60 || next === 135 || next === 139 || next === 140) {
      if (end - pos < 2) return DecodeResult.Truncated;
      extLength = (data[pos + 1]! + 1) * 8;
    } else if (next === 44) {
      if (end - pos < 8) return DecodeResult.Truncated;
      const fragmentOffset = ((data[pos + 2]! << 8) | data[pos + 3]!) >> 3;
      if (fragmentOffset !== 0) {
        out.protocol = data[pos]!;
        return DecodeResult.Fragment;
      }
      extLength = 8;
    } else if (next === 51) {
      if (end - pos < 2) return DecodeResult.Truncated;
      extLength = (data[pos + 1]! + 2) * 4;
    } else {
      break;
    }
    next = data[pos]!;
    pos += extLength;
    remaining -= extLength;
  }
  out.protocol = next;
  return decodeTransport(data, pos, end, remaining, out);
}

function decodeTransport(
  data: Uint8Array,
  pos: number,
  end: number,
  l4Length: number,
  out: DecodedPacket,
): DecodeResult {
  if (l4Length < 0) l4Length = 0;
  switch (out.protocol) {
    case PROTO_TCP: {
      if (end - pos < 16) return DecodeResult.Truncated;
      out.srcPort = (data[pos]! << 8) | data[pos + 1]!;
      out.dstPort = (data[pos + 2]! << 8) | data[pos + 3]!;
      const headerBytes = (data[pos + 12]! >> 4) * 4;
      out.tcpFlags = data[pos + 13]!;
      out.window = (data[pos + 14]! << 8) | data[pos + 15]!;
      out.headerBytes = headerBytes;
      out.payloadBytes = l4Length > headerBytes ? l4Length - headerBytes : 0;
      return DecodeResult.Packet;
    }
    case PROTO_UDP:
      if (end - pos < 4) return DecodeResult.Truncated;
      out.srcPort = (data[pos]! << 8) | data[pos + 1]!;
      out.dstPort = (data[pos + 2]! << 8) | data[pos + 3]!;
      out.tcpFlags = 0;
      out.window = -1;
      out.headerBytes = 8;
      out.payloadBytes = l4Length > 8 ? l4Length - 8 : 0;
      return DecodeResult.Packet;
    case PROTO_ICMP:
    case PROTO_ICMPV6:
      out.srcPort = out.dstPort = 0;
      out.tcpFlags = 0;
      out.window = -1;
      out.headerBytes = 8;
      out.payloadBytes = l4Length > 8 ? l4Length - 8 : 0;
      return DecodeResult.Packet;
    default:
      out.srcPort = out.dstPort = 0;
      out.tcpFlags = 0;
      out.window = -1;
      out.headerBytes = 0;
      out.payloadBytes = l4Length;
      return DecodeResult.Packet;
  }
}
