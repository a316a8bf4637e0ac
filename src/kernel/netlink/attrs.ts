// Netlink attribute (TLV) encoding and decoding, shared by rtnetlink (src/kernel/rtnl), the IPVS
// generic-netlink codec (src/kernel/ipvs/codec.ts) and the ipset codec (src/kernel/ipset/codec.ts).
// Host byte order (little-endian on every supported arch) unless the name says otherwise.

import { NLA_F_NESTED, NLA_TYPE_MASK } from './constants.ts';

export { NLA_F_NESTED };

export function align4(n: number): number {
  return (n + 3) & ~3;
}

export function attr(type: number, payload: Uint8Array): Buffer {
  const len = 4 + payload.length;
  const b = Buffer.alloc(align4(len));
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  b.set(payload, 4);
  return b;
}

/** A nested attribute; `flagNested` sets NLA_F_NESTED (rtnetlink wants it, IPVS sends none). */
export function nested(type: number, children: Uint8Array[], flagNested = true): Buffer {
  return attr(flagNested ? type | NLA_F_NESTED : type, Buffer.concat(children));
}

export function u8(type: number, v: number): Buffer {
  return attr(type, Buffer.from([v & 0xff]));
}

export function u16(type: number, v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v, 0);
  return attr(type, b);
}

export function be16(type: number, v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v, 0);
  return attr(type, b);
}

export function u32(type: number, v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return attr(type, b);
}

/** A NUL-terminated string attribute. */
export function str(type: number, s: string): Buffer {
  return attr(type, Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]));
}

/**
 * Parse an attribute stream into type → payload (later duplicates win, flags masked off).
 * `strict`: a truncated stream throws; otherwise parsing stops at the first bad attribute.
 */
export function parseAttrs(buf: Uint8Array, strict = false): Map<number, Buffer> {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off < b.length) {
    if (off + 4 > b.length) {
      if (strict) throw new Error(`netlink attribute header truncated at offset ${off} of ${b.length}`);
      break;
    }
    const len = b.readUInt16LE(off);
    const type = b.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    if (len < 4 || off + len > b.length) {
      if (strict) throw new Error(`netlink attribute type ${type} has bad length ${len} at offset ${off} of ${b.length}`);
      break;
    }
    out.set(type, b.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

/**
 * Walk the attributes of `b` from offset `from` to its end or its first bad attribute, without copies:
 * `visit` gets each one's type (flags masked off) and its payload's bounds, and returns true to stop.
 */
export function walkAttrs(b: Buffer, from: number, visit: (type: number, start: number, end: number) => boolean | void): void {
  for (let off = from; off + 4 <= b.length;) {
    const len = b.readUInt16LE(off);
    if (len < 4 || off + len > b.length) return;
    if (visit(b.readUInt16LE(off + 2) & NLA_TYPE_MASK, off + 4, off + len) === true) return;
    off += align4(len);
  }
}

/** A NUL-terminated string payload (the text before the first NUL). */
export function cstring(b: Buffer | undefined): string | undefined {
  if (!b) return undefined;
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8');
}
