// A thin request/response layer over the `netlink` package's raw socket
// (netlink/dist/raw.js): sequence numbers, ACKs, multipart dumps, errno.
// The package's typed rtnetlink layer costs tens of milliseconds of module
// initialisation at every CNI plugin start; the few messages ipvsnet needs are
// encoded and decoded in ./index.ts instead.
import { RawNetlinkSocket } from 'netlink/dist/raw.js';
import { getSystemErrorName } from 'node:util';

export const NETLINK_ROUTE = 0;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;

export interface NlMessage {
  type: number;
  flags: number;
  /** payload after the 16-byte header */
  data: Buffer;
}

interface Pending {
  dump: boolean;
  out: NlMessage[];
  resolve: (m: NlMessage[]) => void;
  reject: (e: Error) => void;
}

export class NlError extends Error {
  readonly errno: number;
  readonly code: string;
  constructor(errno: number) {
    let code = String(errno);
    try {
      code = getSystemErrorName(errno < 0 ? errno : -errno); // the kernel sends -errno; Node wants it negative
    } catch {
      /* unknown errno */
    }
    super(`Request rejected: ${code}`);
    this.errno = errno;
    this.code = code;
  }
}

export class NlSocket {
  private readonly raw: RawNetlinkSocket;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(protocol = NETLINK_ROUTE) {
    this.raw = new RawNetlinkSocket(protocol);
    this.raw.on('message', (msg: Buffer) => this.receive(msg));
    this.raw.on('error', (e: Error) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
    this.raw.unref();
  }

  request(type: number, payload: Uint8Array[], flags = 0): Promise<NlMessage[]> {
    if (this.closed) return Promise.reject(new Error('netlink socket closed'));
    this.seq = (this.seq + 1) >>> 0 || 1;
    const seq = this.seq;
    const body = Buffer.concat(payload);
    const hdr = Buffer.alloc(16);
    hdr.writeUInt32LE(16 + body.length, 0);
    hdr.writeUInt16LE(type, 4);
    hdr.writeUInt16LE(flags | NLM_F_REQUEST | NLM_F_ACK, 6);
    hdr.writeUInt32LE(seq, 8);
    hdr.writeUInt32LE(0, 12);
    return new Promise<NlMessage[]>((resolve, reject) => {
      if (this.pending.size === 0) this.raw.ref();
      this.pending.set(seq, { dump: (flags & NLM_F_DUMP) === NLM_F_DUMP, out: [], resolve, reject });
      this.raw.send(Buffer.concat([hdr, body]), {}, (err?: Error) => {
        if (err) this.finish(seq, err);
      });
    });
  }

  private finish(seq: number, err?: Error): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    if (this.pending.size === 0 && !this.closed) this.raw.unref();
    if (err) p.reject(err);
    else p.resolve(p.out);
  }

  private receive(buf: Buffer): void {
    let off = 0;
    while (off + 16 <= buf.length) {
      const len = buf.readUInt32LE(off);
      if (len < 16 || off + len > buf.length) break;
      const type = buf.readUInt16LE(off + 4);
      const flags = buf.readUInt16LE(off + 6);
      const seq = buf.readUInt32LE(off + 8);
      const data = buf.subarray(off + 16, off + len);
      off += (len + 3) & ~3;
      const p = this.pending.get(seq);
      if (!p) continue;
      if (type === NLMSG_ERROR) {
        const errno = data.readInt32LE(0);
        this.finish(seq, errno === 0 ? undefined : new NlError(errno));
      } else if (type === NLMSG_DONE) {
        // NLMSG_DONE carries an int error code: a dump the kernel broke off (e.g. -EINTR) must not
        // look complete.
        // Only a negative value is an error (the last dump call's return value; 0 when whole).
        const errno = data.length >= 4 ? data.readInt32LE(0) : 0;
        this.finish(seq, errno < 0 ? new NlError(errno) : undefined);
      } else {
        p.out.push({ type, flags, data: Buffer.from(data) });
        // a non-dump request without NLM_F_MULTI ends with its ACK (handled above)
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const seq of [...this.pending.keys()]) this.finish(seq, new Error('netlink socket closed'));
    closeLater(this.raw);
  }
}

/**
 * Close a raw netlink socket once the current event-loop turn is over, never inside the binding's
 * receive callback: a request usually settles in that callback (its continuation runs in the
 * callback's microtasks), and when the same poll event was also "writable" the binding's poll handler
 * goes on to restart its watcher, which a close in the middle has freed. After setImmediate the poll
 * handler has returned. (Suspected, not proven, in the VM lane's occasional node crashes.)
 */
export function closeLater(sock: { close(): void }): void {
  setImmediate(() => sock.close());
}
