// Netlink message framing (struct nlmsghdr, include/uapi/linux/netlink.h), pure: a request's bytes,
// and a datagram split into its messages. Host byte order; each message 4-byte aligned.
import { NLMSG_HDRLEN, NLM_F_REQUEST } from './constants.ts';
import { NlTransportError } from './errors.ts';

export interface NlMessage {
  type: number;
  flags: number;
  /** payload after the 16-byte header */
  data: Buffer;
}

export interface NlFramed extends NlMessage {
  seq: number;
  pid: number;
}

/** One request message: header (length, type, flags | NLM_F_REQUEST, seq, port 0) and the payload parts. */
export function encodeNlmsg(type: number, flags: number, seq: number, payload: readonly Uint8Array[]): Buffer {
  const len = NLMSG_HDRLEN + payload.reduce((n, p) => n + p.length, 0);
  const msg = Buffer.alloc(len);
  msg.writeUInt32LE(len, 0);
  msg.writeUInt16LE(type, 4);
  msg.writeUInt16LE((flags | NLM_F_REQUEST) & 0xffff, 6);
  msg.writeUInt32LE(seq >>> 0, 8);
  msg.writeUInt32LE(0, 12);
  let off = NLMSG_HDRLEN;
  for (const p of payload) {
    msg.set(p, off);
    off += p.length;
  }
  return msg;
}

/**
 * The messages of one datagram, in order; `data` views the datagram (no copy). A length that is
 * too short or runs past the end throws NlTransportError EDECODE (the datagram is not netlink's).
 * Trailing bytes shorter than a header are padding.
 */
export function splitNlmsgs(buf: Buffer): NlFramed[] {
  const out: NlFramed[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) {
      throw new NlTransportError(`netlink: bad message length ${len} at offset ${off} of ${buf.length}`, 'EDECODE');
    }
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      data: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += (len + 3) & ~3;
  }
  return out;
}
