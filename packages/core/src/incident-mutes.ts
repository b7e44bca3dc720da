/**
 * Mutes: an address block (IPv4 or IPv6 CIDR), optionally one port, until a time. An incident
 * whose top victim falls in an active mute is recorded but never notified.
 */
import type { Incident, Mute } from "./incident-contracts.ts";

/** A parsed CIDR block: the address as a bigint, its family and prefix length. */
export interface CidrBlock {
  family: 4 | 6;
  network: bigint;
  prefix: number;
}

/** An address or block that does not parse. */
export class CidrError extends Error {
  override readonly name = "CidrError";
}

function parseIpv4(text: string): bigint | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseIpv6(text: string): bigint | null {
  let head = text;
  // An embedded IPv4 tail (`::ffff:10.0.0.1`) becomes two groups.
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".") && lastColon >= 0) {
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    head = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = head.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...right];
  let value = 0n;
  for (const group of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return null;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  return value;
}

/** An IP address as (family, bigint), or null when it is not one. */
export function parseIp(text: string): { family: 4 | 6; value: bigint } | null {
  const trimmed = text.trim();
  const v4 = parseIpv4(trimmed);
  if (v4 !== null) return { family: 4, value: v4 };
  const v6 = trimmed.includes(":") ? parseIpv6(trimmed) : null;
  return v6 === null ? null : { family: 6, value: v6 };
}

/** Parses `a.b.c.d[/n]` or `v6[/n]`; a bare address is a /32 or /128. Throws {@link CidrError}. */
export function parseCidr(text: string): CidrBlock {
  const [address, prefixText, extra] = text.trim().split("/");
  if (extra !== undefined || address === undefined)
    throw new CidrError(`not a CIDR block: ${text}`);
  const ip = parseIp(address);
  if (!ip) throw new CidrError(`not an IPv4 or IPv6 address: ${address}`);
  const bits = ip.family === 4 ? 32 : 128;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
      throw new CidrError(`prefix length must be 0-${bits}: ${text}`);
    }
    prefix = Number(prefixText);
  }
  const hostBits = BigInt(bits - prefix);
  return { family: ip.family, network: (ip.value >> hostBits) << hostBits, prefix };
}

/** Whether `ip` lies in `block`; an unparseable address lies in none. */
export function ipInCidr(ip: string, block: CidrBlock): boolean {
  const parsed = parseIp(ip);
  if (!parsed || parsed.family !== block.family) return false;
  const hostBits = BigInt((block.family === 4 ? 32 : 128) - block.prefix);
  return (parsed.value >> hostBits) << hostBits === block.network;
}

/** The mute that silences `incident` at `now` (its top victim, and top port when the mute has one), or null. */
export function matchingMute(incident: Incident, mutes: readonly Mute[], now: number): Mute | null {
  const victim = incident.victims[0];
  if (!victim) return null;
  const port = incident.ports[0]?.port;
  for (const mute of mutes) {
    if (mute.until <= now) continue;
    if (mute.port !== null && mute.port !== port) continue;
    let block: CidrBlock;
    try {
      block = parseCidr(mute.cidr);
    } catch {
      continue;
    }
    if (ipInCidr(victim.ip, block)) return mute;
  }
  return null;
}
