// The one netlink transport: requests and dumps over a netlink socket of the ipvsnet addon
// (src/native: socket, bind, sendto, poll + recv, close), with sequence numbers, ACKs, errno and
// dumps (collected, or streamed message by message to a decoder). rtnetlink (src/kernel/rtnl),
// the ipset reader (src/kernel/ipset/transport.ts) and the IPVS adapter (generic netlink,
// src/kernel/ipvs/genl.ts, family resolution in ./genl.ts) all use it.
//
// Synchronous underneath: the kernel handles a request inside sendmsg (its reply or ACK is queued
// when send returns) and builds each further part of a dump inside recvmsg, so a request is one
// send and a few receives that find their data waiting. Every wait is bounded (poll with the time
// left): a reply that does not come, or a dump that does not end, within the timeout is an
// NlTransportError ETIMEDOUT. No watcher on the event loop, no callback from native code: the
// socket holds no state between calls but its fd. The Promise API stays, for the callers' sake;
// a call has done its kernel work when it returns its promise.
//
// A socket keeps the network namespace it was created in: `NlSocket.open(protocol, netns)` creates
// it inside `netns` (setns(2) through the native addon, on the calling thread) and returns.
//
// `strictChecking` turns on NETLINK_GET_STRICT_CHK (Linux >= 4.20): the kernel then rejects a GET
// request whose unused header fields are not 0, and filters dumps by the header (an address dump by
// ifa_index). A kernel without the option leaves the socket as it was; `strict` says which it is.
import { inNetns, netlinkClose, netlinkOpen, netlinkRecv, netlinkSend, netlinkSetOption } from '../../native/index.ts';
import { NETLINK_GET_STRICT_CHK, NETLINK_ROUTE, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_ACK, NLM_F_DUMP } from './constants.ts';
import { NlError, NlTransportError } from './errors.ts';
import { encodeNlmsg, splitNlmsgs } from './message.ts';
import type { NlMessage } from './message.ts';

export { NlError, NlTransportError } from './errors.ts';
export type { NlMessage } from './message.ts';

export const DEFAULT_TIMEOUT_MS = 30_000;
export const MIN_RECV_BUFFER = 64 * 1024;

export interface NlSocketOptions {
  /** Names for a family's private error numbers (ipset's IPSET_ERR_*); errno names otherwise. */
  errnoName?: (errno: number) => string | undefined;
  /**
   * SO_RCVBUF in bytes (default 1 MiB, at least MIN_RECV_BUFFER). A dump needs room for one part only
   * (the kernel builds the next as the reader drains the queue), but a part is up to 32 KiB and the
   * kernel fails the dump with ENOBUFS when the buffer cannot take a whole part.
   */
  recvBufferSize?: number;
  /** SO_SNDBUF in bytes (default 256 KiB). */
  sendBufferSize?: number;
  /** How long a request or dump may take before it fails with ETIMEDOUT (default 30 s). */
  timeoutMs?: number;
  /** Ask for strict checking of GET requests (NETLINK_GET_STRICT_CHK); `strict` tells whether the kernel took it. */
  strictChecking?: boolean;
}

export interface ReceiveOptions {
  /** Wait for NLMSG_DONE (a dump) rather than the ACK. */
  dump?: boolean;
  /** Each reply message (nothing collected); `data` is valid only during the call. A throw ends the exchange with that error. */
  onMessage?: (type: number, data: Buffer) => void;
  timeoutMs?: number;
}

export interface DumpOptions {
  /** Each reply message as it arrives; `data` is valid only during the call. A throw ends the dump with that error. */
  onMessage: (type: number, data: Buffer) => void;
  /** Give up when the dump has not ended after this long. */
  timeoutMs?: number;
}

function transportError(what: string, e: unknown): NlTransportError {
  const err = e as Error & { code?: string; errno?: number };
  return new NlTransportError(`netlink: ${what}: ${err.message ?? String(e)}`, err.code ?? 'ESOCKET', err.errno);
}

export class NlSocket {
  readonly protocol: number;
  private readonly fd: number;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly errnoName: ((errno: number) => string | undefined) | undefined;
  private readonly timeoutMs: number;
  private closed = false;
  /** Set when a dump broke off: the kernel may still hold its state, so the socket takes no more requests. */
  private broken: NlTransportError | undefined;
  /** Whether the kernel checks this socket's GET requests strictly and filters its dumps by their headers. */
  readonly strict: boolean;
  /** Datagrams and bytes received so far (what a dump cost to read). */
  received = { datagrams: 0, bytes: 0 };

  constructor(protocol = NETLINK_ROUTE, opts: NlSocketOptions = {}) {
    this.protocol = protocol;
    this.errnoName = opts.errnoName;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    try {
      this.fd = netlinkOpen(protocol, Math.max(opts.recvBufferSize ?? 1 << 20, MIN_RECV_BUFFER), opts.sendBufferSize ?? 256 << 10);
    } catch (e) {
      throw transportError(`cannot open a socket of protocol ${protocol}`, e);
    }
    this.strict = opts.strictChecking === true && this.setStrict();
  }

  /** NETLINK_GET_STRICT_CHK on; false when the kernel lacks the option (before 4.20). */
  private setStrict(): boolean {
    try {
      netlinkSetOption(this.fd, NETLINK_GET_STRICT_CHK, 1);
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOPROTOOPT') return false;
      netlinkClose(this.fd);
      throw transportError('cannot turn on strict checking (NETLINK_GET_STRICT_CHK)', e);
    }
  }

  /** A socket of `protocol` in the network namespace at `netns` (a path such as /run/netns/NAME), or the caller's. */
  static open(protocol = NETLINK_ROUTE, netns?: string, opts: NlSocketOptions = {}): NlSocket {
    return netns ? inNetns(netns, () => new NlSocket(protocol, opts)) : new NlSocket(protocol, opts);
  }

  /** One request; resolves with its reply messages (a dump's, when flags carry NLM_F_DUMP) once ACKed or done. */
  async request(type: number, payload: Uint8Array[], flags = 0, opts: { timeoutMs?: number } = {}): Promise<NlMessage[]> {
    const dump = (flags & NLM_F_DUMP) === NLM_F_DUMP;
    const seq = this.send(type, payload, dump ? flags : flags | NLM_F_ACK);
    return this.receive(seq, { dump, ...opts });
  }

  /** A dump streamed to `onMessage` (nothing collected); resolves when the kernel ends it. */
  async dump(type: number, payload: Uint8Array[], opts: DumpOptions): Promise<void> {
    const seq = this.send(type, payload, NLM_F_DUMP);
    this.receive(seq, { dump: true, ...opts });
  }

  /** Send one message (NLM_F_REQUEST is added); returns its sequence number. The low half of request(). */
  send(type: number, payload: Uint8Array[], flags: number): number {
    if (this.closed) throw new NlTransportError('netlink socket closed', 'ECLOSED');
    if (this.broken) throw new NlTransportError(`netlink socket unusable after an earlier failure: ${this.broken.message}`, this.broken.code, this.broken.errno);
    this.seq = (this.seq + 1) >>> 0 || 1;
    try {
      netlinkSend(this.fd, encodeNlmsg(type, flags, this.seq, payload));
    } catch (e) {
      throw transportError('sending the request failed', e);
    }
    return this.seq;
  }

  /**
   * Receive the replies to request `seq` until its ACK (or NLMSG_DONE with `dump`), an error, or the
   * timeout. Messages of other sequence numbers (late replies to a request that timed out) are dropped.
   */
  receive(seq: number, opts: ReceiveOptions = {}): NlMessage[] {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    const out: NlMessage[] = [];
    let datagrams = 0;
    try {
      for (;;) {
        if (this.closed) throw new NlTransportError('netlink socket closed', 'ECLOSED');
        const left = deadline - Date.now();
        const buf = left > 0 ? this.recv(left) : null;
        if (buf === null) {
          throw new NlTransportError(opts.dump
            ? `netlink dump did not end within ${timeoutMs} ms (${datagrams} datagrams received)`
            : `netlink: no reply within ${timeoutMs} ms`, 'ETIMEDOUT');
        }
        datagrams++;
        const end = this.parse(buf, seq, opts, out);
        if (end === 'done') return out;
        if (end) throw end;
      }
    } catch (e) {
      // A dump that did not end (timeout, lost data, a decoder that threw) may still be running in
      // the kernel, which refuses a second dump on the socket meanwhile (EBUSY) and would interleave
      // its remaining parts: the socket takes no more requests. A kernel error ends the dump.
      if (opts.dump && !(e instanceof NlError)) {
        const err = e as Error & { code?: string; errno?: number };
        this.broken = new NlTransportError(err.message, err.code ?? 'EABANDONED', err.errno);
      }
      throw e;
    }
  }

  /** A fresh sequence number, for a message the caller encodes itself (batch()). */
  reserveSeq(): number {
    this.seq = (this.seq + 1) >>> 0 || 1;
    return this.seq;
  }

  /**
   * Send `datagram`, requests the caller encoded with sequence numbers from reserveSeq(), `lastSeq`
   * the last of them and the only one asking for an ACK; the kernel handles them in order inside the
   * send. Resolves with the errors the kernel answered (sequence number → NlError) once the last
   * one's ACK or error has come; bounded by the timeout like every wait here.
   */
  batch(datagram: Buffer, firstSeq: number, lastSeq: number, opts: { timeoutMs?: number } = {}): Map<number, NlError> {
    if (this.closed) throw new NlTransportError('netlink socket closed', 'ECLOSED');
    if (this.broken) throw new NlTransportError(`netlink socket unusable after an earlier failure: ${this.broken.message}`, this.broken.code, this.broken.errno);
    try {
      netlinkSend(this.fd, datagram);
    } catch (e) {
      throw transportError('sending the batch failed', e);
    }
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    const errors = new Map<number, NlError>();
    const ours = (seq: number): boolean => (firstSeq <= lastSeq ? seq >= firstSeq && seq <= lastSeq : seq >= firstSeq || seq <= lastSeq);
    try {
      for (;;) {
        const left = deadline - Date.now();
        const buf = left > 0 ? this.recv(left) : null;
        if (buf === null) throw new NlTransportError(`netlink: the batch's last reply did not come within ${timeoutMs} ms`, 'ETIMEDOUT');
        for (const m of splitNlmsgs(buf)) {
          if (m.type === NLMSG_OVERRUN) throw new NlTransportError('netlink: NLMSG_OVERRUN (data lost)', 'EOVERRUN');
          if (m.type !== NLMSG_ERROR || !ours(m.seq)) continue;
          if (m.data.length < 4) throw new NlTransportError('netlink: NLMSG_ERROR without an error code', 'EDECODE');
          const errno = m.data.readInt32LE(0);
          if (errno !== 0) errors.set(m.seq, new NlError(errno, this.errnoName));
          if (m.seq === lastSeq) return errors;
        }
      }
    } catch (e) {
      // Replies of this batch may still be queued: later requests on this socket would read them.
      const err = e as Error & { code?: string; errno?: number };
      this.broken = new NlTransportError(err.message, err.code ?? 'EABANDONED', err.errno);
      throw e;
    }
  }

  private recv(timeoutMs: number): Buffer | null {
    try {
      const buf = netlinkRecv(this.fd, timeoutMs);
      if (buf) {
        this.received.datagrams++;
        this.received.bytes += buf.length;
      }
      return buf;
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOBUFS') throw new NlTransportError('netlink: the receive buffer overran, replies were lost (ENOBUFS)', 'EOVERRUN');
      throw transportError('receiving failed', e);
    }
  }

  /** Handle one datagram; 'done' when the exchange ended well, an Error when it failed, undefined to read on. */
  private parse(buf: Buffer, seq: number, opts: ReceiveOptions, out: NlMessage[]): 'done' | Error | undefined {
    let msgs;
    try {
      msgs = splitNlmsgs(buf);
    } catch (e) {
      return e as Error;
    }
    for (const { type, flags, seq: mseq, data } of msgs) {
      if (mseq !== seq || type === NLMSG_NOOP) continue;
      if (type === NLMSG_ERROR) {
        if (data.length < 4) return new NlTransportError('netlink: NLMSG_ERROR without an error code', 'EDECODE');
        const errno = data.readInt32LE(0);
        // An ACK (error 0) ends a request; a dump ends only with NLMSG_DONE.
        if (errno !== 0) return new NlError(errno, this.errnoName);
        if (!opts.dump) return 'done';
      } else if (type === NLMSG_DONE) {
        // NLMSG_DONE carries the dump's last return value: a dump the kernel broke off (e.g. -EINTR)
        // must not look complete. Only a negative value is an error (0 when whole).
        const errno = data.length >= 4 ? data.readInt32LE(0) : 0;
        return errno < 0 ? new NlError(errno, this.errnoName) : 'done';
      } else if (type === NLMSG_OVERRUN) {
        return new NlTransportError('netlink: NLMSG_OVERRUN (data lost)', 'EOVERRUN');
      } else if (opts.onMessage) {
        try {
          opts.onMessage(type, data);
        } catch (e) {
          return e instanceof Error ? e : new Error(String(e));
        }
      } else {
        out.push({ type, flags, data });
      }
    }
    return undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    netlinkClose(this.fd);
  }
}
