// Writing ipsets over netfilter netlink (no process): the lines of a diff (./restore.ts, structured
// form) as CREATE / DESTROY / FLUSH / SWAP / ADD / DEL requests (./encode.ts), sent in datagrams of
// at most `chunkBytes` on one NlSocket (../netlink/socket.ts). The kernel handles a datagram's
// requests in order inside the send; only each datagram's last request asks for an ACK, so the
// replies are that ACK and one NLMSG_ERROR per failing request, matched to its line by sequence
// number. Between datagrams the event loop gets a turn (setImmediate), so a large write never holds
// it for longer than one datagram's kernel work; every wait is bounded by the socket's timeout.
//
// Before the first write the kernel is asked its protocol (IPSET_CMD_PROTOCOL) and, for each set type
// and family created, the revisions it has (IPSET_CMD_TYPE): CREATE names a revision, the newest one.
//
// Failures read as `ipset restore`'s do: an IpsetError naming the set, the member and the operation,
// with the ipset tool's sentence for the kernel's error (./errors.ts). As with restore, when a create
// fails, the later failures of that set's lines (which follow from it) are not reported again.

import { setImmediate as turn } from 'node:timers/promises';
import { NETLINK_NETFILTER } from '../netlink/constants.ts';
import { NlError, NlSocket, NlTransportError } from '../netlink/socket.ts';
import { parseAttrs } from '../netlink/attrs.ts';
import { AF_INET } from '../netlink/constants.ts';
import { str, u8 } from '../netlink/attrs.ts';
import {
  ATTR_FAMILY, ATTR_PROTOCOL, ATTR_REVISION, ATTR_TYPENAME, IPSET_CMD_PROTOCOL, IPSET_CMD_TYPE, IPSET_PROTOCOL,
  IPSET_PROTOCOL_MIN, NFNL_SUBSYS_IPSET,
} from './constants.ts';
import { BatchWriter, nfproto, writeCreate, writeElement, writeSetCommand, writeSwap } from './encode.ts';
import { IpsetError, IpsetNetlinkError, ipsetErrnoName, ipsetErrorCode, ipsetReason } from './errors.ts';
import type { PayloadLine } from './restore.ts';

export interface NetlinkWriteOptions {
  /** Network namespace to write in (a path such as /run/netns/NAME); default: the calling thread's. */
  netns?: string;
  /** Bound on each datagram's replies (default 30 s). */
  timeoutMs?: number;
  /** Bytes of requests per datagram (default 64 KiB, about 700 member adds). */
  chunkBytes?: number;
}

export interface NetlinkWriteResult {
  failures: IpsetError[];
  /** Lines not written because the first of them cannot be encoded (a foreign member form): for `ipset restore`. */
  rest: PayloadLine[];
  /** Requests sent. */
  messages: number;
  datagrams: number;
}

function openError(netns: string | undefined, e: unknown): IpsetNetlinkError {
  const err = e as { code?: string; errno?: number; message?: string };
  return new IpsetNetlinkError(`ipset netlink: cannot open a NETLINK_NETFILTER socket${netns ? ` in ${netns}` : ''}: ${err.message ?? String(e)}`, err.code ?? 'EOPEN', err.errno);
}

/** One request answered by one message (IPSET_CMD_PROTOCOL, IPSET_CMD_TYPE): its attributes. */
async function query(sock: NlSocket, cmd: number, attrs: Buffer[], what: string): Promise<Map<number, Buffer>> {
  try {
    const replies = await sock.request((NFNL_SUBSYS_IPSET << 8) | cmd, [Buffer.from([AF_INET, 0, 0, 0]), ...attrs]);
    const reply = replies.find((m) => (m.type & 0xff) === cmd);
    if (!reply) throw new IpsetNetlinkError(`ipset netlink: ${what}: no reply`, 'EDECODE');
    return parseAttrs(reply.data.subarray(4));
  } catch (e) {
    if (e instanceof NlError) throw new IpsetNetlinkError(`ipset netlink: ${what}: kernel answered ${e.code}`, e.code, e.errno);
    if (e instanceof NlTransportError) throw new IpsetNetlinkError(`ipset netlink: ${what}: ${e.message}`, e.code, e.errno);
    throw e;
  }
}

/** The kernel's ipset protocol and set-type revisions, learnt once per writer's namespace. */
export class IpsetKernelInfo {
  protocol: number | undefined;
  readonly revisions = new Map<string, number>();

  async load(sock: NlSocket, lines: readonly PayloadLine[]): Promise<void> {
    if (this.protocol === undefined) {
      const a = await query(sock, IPSET_CMD_PROTOCOL, [u8(ATTR_PROTOCOL, IPSET_PROTOCOL)], 'protocol query');
      const p = a.get(ATTR_PROTOCOL)?.[0];
      if (p === undefined || p < IPSET_PROTOCOL_MIN) throw new IpsetNetlinkError(`ipset netlink: the kernel speaks ipset protocol ${p ?? '?'}, not ${IPSET_PROTOCOL_MIN} or later`, 'IPSET_ERR_PROTOCOL');
      this.protocol = Math.min(p, IPSET_PROTOCOL);
    }
    for (const l of lines) {
      if (!l.create) continue;
      const key = `${l.create.type}/${l.create.family ?? 0}`;
      if (this.revisions.has(key)) continue;
      const a = await query(sock, IPSET_CMD_TYPE, [u8(ATTR_PROTOCOL, this.protocol), str(ATTR_TYPENAME, l.create.type), u8(ATTR_FAMILY, nfproto(l.create.family))], `set type ${l.create.type} query`);
      const rev = a.get(ATTR_REVISION)?.[0];
      if (rev === undefined) throw new IpsetNetlinkError(`ipset netlink: set type ${l.create.type}: the kernel named no revision`, 'EDECODE');
      this.revisions.set(key, rev);
    }
  }
}

function failure(l: PayloadLine, e: NlError): IpsetError {
  const code = e.errno >= 4352 ? ipsetErrorCode(e.errno, l.type ?? l.create?.type) : e.code;
  const reason = ipsetReason(code, l.op);
  return new IpsetError(
    `ipset set ${l.set}${l.member !== undefined ? ` member ${l.member}` : ''}: "${l.text}" (netlink): ${reason}`,
    { set: l.set, ...(l.member !== undefined ? { member: l.member } : {}), operation: l.text },
  );
}

/**
 * Apply `lines` over netlink. `info` carries the kernel's protocol and revisions between calls.
 * Throws IpsetNetlinkError when the socket cannot be opened or the kernel refuses the protocol
 * (nothing was written then); per-line failures come back in the result.
 */
export async function writeSetsNetlink(lines: readonly PayloadLine[], info: IpsetKernelInfo, opts: NetlinkWriteOptions = {}): Promise<NetlinkWriteResult> {
  const todo = lines.filter((l) => !(l.op === 'create' && !l.create)); // an existing set's `create -exist`: nothing to do
  if (todo.length === 0) return { failures: [], rest: [], messages: 0, datagrams: 0 };
  let sock: NlSocket;
  try {
    sock = NlSocket.open(NETLINK_NETFILTER, opts.netns, { errnoName: ipsetErrnoName, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) });
  } catch (e) {
    throw openError(opts.netns, e);
  }
  const chunk = opts.chunkBytes ?? 64 * 1024;
  const failed: Array<{ line: PayloadLine; at: number; err: NlError }> = [];
  let messages = 0;
  let datagrams = 0;
  let stop = todo.length;
  try {
    await info.load(sock, todo);
    const protocol = info.protocol!;
    let i = 0;
    while (i < stop) {
      if (datagrams > 0) await turn();
      const w = new BatchWriter(chunk + 1024);
      const bySeq = new Map<number, number>();
      const first = i;
      while (i < stop && (i === first || w.length < chunk)) {
        const l = todo[i++]!;
        const seq = sock.reserveSeq();
        const name = l.target ?? l.set;
        if (l.op === 'add' || l.op === 'del') {
          if (!l.type || !l.family || l.member === undefined || !writeElement(w, seq, protocol, l.op, name, l.type, l.family, l.member)) {
            stop = --i; // this line and the rest go to `ipset restore`
            break;
          }
        } else if (l.op === 'create') {
          writeCreate(w, seq, protocol, name, info.revisions.get(`${l.create!.type}/${l.create!.family ?? 0}`)!, l.create!);
        } else if (l.op === 'swap') {
          writeSwap(w, seq, protocol, name, l.with!);
        } else {
          writeSetCommand(w, seq, protocol, l.op, name);
        }
        bySeq.set(seq, i - 1);
      }
      const seqs = w.seqs;
      if (seqs.length === 0) break;
      let errors: Map<number, NlError>;
      try {
        errors = sock.batch(w.finish(), seqs[0]!, seqs[seqs.length - 1]!);
      } catch (e) {
        if (e instanceof NlTransportError) throw new IpsetNetlinkError(`ipset netlink write (after ${messages} requests): ${e.message}`, e.code, e.errno);
        throw e;
      }
      messages += seqs.length;
      datagrams++;
      for (const [seq, err] of errors) failed.push({ line: todo[bySeq.get(seq)!]!, at: bySeq.get(seq)!, err });
    }
  } finally {
    sock.close();
  }
  // A failed create explains the failures of its set's later lines (the adds into it, the swap, the destroy).
  const createFailedAt = new Map<string, number>();
  for (const f of failed) if (f.line.op === 'create') createFailedAt.set(f.line.target ?? f.line.set, f.at);
  const failures = failed
    .filter((f) => !(f.at > (createFailedAt.get(f.line.target ?? f.line.set) ?? Infinity)))
    .map((f) => failure(f.line, f.err));
  return { failures, rest: todo.slice(stop), messages, datagrams };
}
