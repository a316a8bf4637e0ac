// Minimal netlink attribute encoding/decoding for the rtnetlink messages the
// `netlink` package does not type (IFLA_LINKINFO payloads, bridge port
// settings). Host byte order (little-endian on every supported arch).

export { NLA_F_NESTED, attr, nested, u8, u16, u32, str } from '../nlattr.ts';
import { parseAttrs as parseAttrsStrictOrNot } from '../nlattr.ts';

/** struct ifinfomsg */
export function ifinfomsg(o: { family?: number; type?: number; index?: number; flags?: number; change?: number }): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(o.family ?? 0, 0);
  b.writeUInt16LE(o.type ?? 0, 2);
  b.writeInt32LE(o.index ?? 0, 4);
  b.writeUInt32LE((o.flags ?? 0) >>> 0, 8);
  b.writeUInt32LE((o.change ?? 0) >>> 0, 12);
  return b;
}

/** Parse a stream of attributes into type → payload (last one wins; flags masked off; lenient). */
export function parseAttrs(buf: Uint8Array): Map<number, Buffer> {
  return parseAttrsStrictOrNot(buf, false);
}

export function cstring(b: Buffer | undefined): string | undefined {
  if (!b) return undefined;
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8');
}
