// The one netlink transport: a request/response layer over the `netlink` package's raw socket
// (netlink/dist/raw.js) with sequence numbers, ACKs, errno, and dumps (collected, or streamed
// message by message to a decoder). rtnetlink (src/kernel/rtnl) and the ipset reader
// (src/kernel/ipset/transport.ts) use it; the IPVS adapter keeps the package's generic-netlink
// socket (family resolution) and shares only closeLater().
//
// The package's typed layers cost tens of milliseconds of module initialisation at every CNI plugin
// start; the few messages ipvsnet needs are encoded and decoded by its own codecs instead.
//
// A socket keeps the network namespace it was created in: `NlSocket.open(protocol, netns)` creates
// it inside `netns` (setns(2) through the native addon, on the calling thread) and returns.
import { RawNetlinkSocket } from 'netlink/dist/raw.js';
import { getSystemErrorName } from 'node:util';
import { inNetns } from '../../native/index.ts';
import { NETLINK_ROUTE, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST } from './constants.ts';

export interface NlMessage {
  type: number;
  flags: number;
  /** payload after the 16-byte header */
  data: Buffer;
}

/** The kernel refused a request: `errno` is positive, `code` its name ("EEXIST"; a family's own name for private numbers). */
export class NlError extends Error {
  readonly errno: number;
  readonly code: string;
  constructor(errno: number, name?: (errno: number) => string | undefined) {
    const positive = Math.abs(errno);
    let code = name?.(positive);
    if (code === undefined) {
      try {
        code = getSystemErrorName(-positive); // Node wants it negative
      } catch {
        code = String(errno);
      }
    }
    super(`Request rejected: ${code}`);
    this.errno = positive;
    this.code = code;
  }
}

/** A transport failure (socket error, truncated or lost data, timeout) with a code. */
export class NlTransportError extends Error {
  readonly code: string;
  readonly errno: number | undefined;
  constructor(message: string, code: string, errno?: number) {
    super(message);
    this.name = 'NlTransportError';
    this.code = code;
    this.errno = errno;
  }
}

export interface NlSocketOptions {
  /** Names for a family's private error numbers (ipset's IPSET_ERR_*); errno names otherwise. */
  errnoName?: (errno: number) => string | undefined;
}

export interface DumpOptions {
  /** Each reply message as it arrives; `data` is valid only during the call. A throw ends the dump with that error. */
  onMessage: (type: number, data: Buffer) => void;
  /** Give up when the dump has not ended after this long. */
  timeoutMs?: number;
}

interface Pending {
  dump: boolean;
  out: NlMessage[];
  onMessage: ((type: number, data: Buffer) => void) | undefined;
  resolve: (m: NlMessage[]) => void;
  reject: (e: Error) => void;
}

export class NlSocket {
  private readonly raw: RawNetlinkSocket;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly pending = new Map<number, Pending>();
  private readonly errnoName: ((errno: number) => string | undefined) | undefined;
  private closed = false;

  constructor(protocol = NETLINK_ROUTE, opts: NlSocketOptions = {}) {
    this.errnoName = opts.errnoName;
    this.raw = new RawNetlinkSocket(protocol);
    this.raw.on('message', (msg: Buffer) => this.receive(msg));
    this.raw.on('error', (e: Error & { code?: string; errno?: number }) => this.failAll(new NlTransportError(`netlink socket: ${e.message}`, e.code ?? 'ESOCKET', e.errno)));
    this.raw.on('truncatedMessage', () => this.failAll(new NlTransportError('netlink: a message was truncated by the receive buffer', 'ETRUNC')));
    this.raw.unref();
  }

  /** A socket of `protocol` in the network namespace at `netns` (a path such as /run/netns/NAME), or the caller's. */
  static open(protocol = NETLINK_ROUTE, netns?: string, opts: NlSocketOptions = {}): NlSocket {
    return netns ? inNetns(netns, () => new NlSocket(protocol, opts)) : new NlSocket(protocol, opts);
  }

  /** One request; resolves with its reply messages (a dump's, when flags carry NLM_F_DUMP) once ACKed or done. */
  request(type: number, payload: Uint8Array[], flags = 0): Promise<NlMessage[]> {
    return this.send(type, payload, flags | NLM_F_ACK, undefined);
  }

  /** A dump streamed to `onMessage` (nothing collected); resolves when the kernel ends it. */
  async dump(type: number, payload: Uint8Array[], opts: DumpOptions): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const done = this.send(type, payload, NLM_F_DUMP, opts.onMessage);
    if (opts.timeoutMs === undefined) { await done; return; }
    const seq = this.seq;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new NlTransportError(`netlink dump did not end within ${opts.timeoutMs} ms`, 'ETIMEDOUT');
        this.finish(seq, err);
        reject(err);
      }, opts.timeoutMs);
    });
    try {
      await Promise.race([done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private send(type: number, payload: Uint8Array[], flags: number, onMessage: Pending['onMessage']): Promise<NlMessage[]> {
    if (this.closed) return Promise.reject(new Error('netlink socket closed'));
    this.seq = (this.seq + 1) >>> 0 || 1;
    const seq = this.seq;
    const body = Buffer.concat(payload);
    const hdr = Buffer.alloc(NLMSG_HDRLEN);
    hdr.writeUInt32LE(NLMSG_HDRLEN + body.length, 0);
    hdr.writeUInt16LE(type, 4);
    hdr.writeUInt16LE(flags | NLM_F_REQUEST, 6);
    hdr.writeUInt32LE(seq, 8);
    hdr.writeUInt32LE(0, 12);
    return new Promise<NlMessage[]>((resolve, reject) => {
      if (this.pending.size === 0) this.raw.ref();
      this.pending.set(seq, { dump: (flags & NLM_F_DUMP) === NLM_F_DUMP, out: [], onMessage, resolve, reject });
      this.raw.send(Buffer.concat([hdr, body]), {}, (err?: Error & { code?: string; errno?: number }) => {
        if (err) this.finish(seq, new NlTransportError(`netlink: sending the request failed: ${err.message}`, err.code ?? 'ESEND', err.errno));
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

  private failAll(err: Error): void {
    for (const seq of [...this.pending.keys()]) this.finish(seq, err);
  }

  private receive(buf: Buffer): void {
    let off = 0;
    while (off + NLMSG_HDRLEN <= buf.length) {
      const len = buf.readUInt32LE(off);
      if (len < NLMSG_HDRLEN || off + len > buf.length) {
        this.failAll(new NlTransportError(`netlink: bad message length ${len} at offset ${off} of ${buf.length}`, 'EDECODE'));
        return;
      }
      const type = buf.readUInt16LE(off + 4);
      const flags = buf.readUInt16LE(off + 6);
      const seq = buf.readUInt32LE(off + 8);
      const data = buf.subarray(off + NLMSG_HDRLEN, off + len);
      off += (len + 3) & ~3;
      const p = this.pending.get(seq);
      if (!p || type === NLMSG_NOOP) continue;
      if (type === NLMSG_ERROR) {
        const errno = data.readInt32LE(0);
        // An ACK (error 0) ends a request; a dump ends only with NLMSG_DONE.
        if (errno !== 0) this.finish(seq, new NlError(errno, this.errnoName));
        else if (!p.dump) this.finish(seq);
      } else if (type === NLMSG_DONE) {
        // NLMSG_DONE carries the dump's last return value: a dump the kernel broke off (e.g. -EINTR)
        // must not look complete. Only a negative value is an error (0 when whole).
        const errno = data.length >= 4 ? data.readInt32LE(0) : 0;
        this.finish(seq, errno < 0 ? new NlError(errno, this.errnoName) : undefined);
      } else if (type === NLMSG_OVERRUN) {
        this.finish(seq, new NlTransportError('netlink: NLMSG_OVERRUN (data lost)', 'EOVERRUN'));
      } else if (p.onMessage) {
        try {
          p.onMessage(type, data);
        } catch (e) {
          this.finish(seq, e instanceof Error ? e : new Error(String(e)));
        }
      } else {
        p.out.push({ type, flags, data: Buffer.from(data) });
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Error('netlink socket closed'));
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
