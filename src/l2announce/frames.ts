// The frames a node sends when it takes over a LoadBalancer address (pure): a gratuitous ARP request
// for IPv4 (sender and target the address, broadcast: RFC 5227's announcement, which neighbours use
// to update an existing ARP entry) and an unsolicited Neighbor Advertisement for IPv6 (RFC 4861
// §7.2.6: to all-nodes ff02::1, hop limit 255, Override set, the target link-layer address option).
import { parseIP, toBuffer } from '../net/index.ts';
import { macBytes } from '../kernel/rtnl/codec.ts';

function eth(dst: Uint8Array, src: Uint8Array, type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(14);
  h.set(dst, 0);
  h.set(src, 6);
  h.writeUInt16BE(type, 12);
  return Buffer.concat([h, payload]);
}

/** A gratuitous ARP request announcing `ip` at `mac` (42 bytes; the NIC pads to 60). */
export function gratuitousArp(mac: string, ip: string): Buffer {
  const m = macBytes(mac);
  const a = parseIP(ip);
  if (!a || a.family !== 4) throw new Error(`gratuitous ARP: ${ip} is not an IPv4 address`);
  const p = Buffer.alloc(28);
  p.writeUInt16BE(1, 0); // Ethernet
  p.writeUInt16BE(0x0800, 2); // IPv4
  p.writeUInt8(6, 4);
  p.writeUInt8(4, 5);
  p.writeUInt16BE(1, 6); // request
  p.set(m, 8);
  p.set(toBuffer(a), 14);
  // target hardware address stays zero
  p.set(toBuffer(a), 24);
  return eth(new Uint8Array([255, 255, 255, 255, 255, 255]), m, 0x0806, p);
}

function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An unsolicited Neighbor Advertisement of `ip` at `mac`, from `ip` to ff02::1. */
export function unsolicitedNA(mac: string, ip: string): Buffer {
  const m = macBytes(mac);
  const a = parseIP(ip);
  if (!a || a.family !== 6) throw new Error(`unsolicited NA: ${ip} is not an IPv6 address`);
  const src = toBuffer(a);
  const dst = toBuffer(parseIP('ff02::1')!);
  const icmp = Buffer.alloc(32);
  icmp.writeUInt8(136, 0); // Neighbor Advertisement
  icmp.writeUInt32BE(0x20000000, 4); // Override; not Router, not Solicited
  icmp.set(src, 8); // target
  icmp.writeUInt8(2, 24); // option: target link-layer address
  icmp.writeUInt8(1, 25); // length in units of 8 octets
  icmp.set(m, 26);
  const pseudo = Buffer.alloc(40);
  pseudo.set(src, 0);
  pseudo.set(dst, 16);
  pseudo.writeUInt32BE(icmp.length, 32);
  pseudo.writeUInt8(58, 39);
  icmp.writeUInt16BE(checksum(Buffer.concat([pseudo, icmp])), 2);
  const ip6 = Buffer.alloc(40);
  ip6.writeUInt32BE(0x60000000, 0);
  ip6.writeUInt16BE(icmp.length, 4);
  ip6.writeUInt8(58, 6); // ICMPv6
  ip6.writeUInt8(255, 7); // hop limit
  ip6.set(src, 8);
  ip6.set(dst, 24);
  return eth(new Uint8Array([0x33, 0x33, 0, 0, 0, 1]), m, 0x86dd, Buffer.concat([ip6, icmp]));
}
