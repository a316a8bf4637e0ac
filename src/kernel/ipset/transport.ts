// Reading the kernel's ipsets over netfilter netlink with the shared netlink socket
// (../netlink/socket.ts): one dump request, its replies streamed into the decoder (./codec.ts),
// without exec'ing `ipset save`.
//
// Protocol facts (net/netfilter/ipset/ip_set_core.c):
//   - a dump request needs IPSET_ATTR_PROTOCOL ≥ IPSET_PROTOCOL_MIN (6) on kernels with protocol 7
//     (6.18 takes any higher value too); kernels before protocol 7 want exactly 6, so 6 is sent;
//   - a protocol it refuses is IPSET_ERR_PROTOCOL (4097) in an NLMSG_ERROR;
//   - the dump ends with NLMSG_DONE, whose payload is the dump's error code (0 = whole).

import { NETLINK_NETFILTER } from '../netlink/constants.ts';
import { NlError, NlSocket, NlTransportError } from '../netlink/socket.ts';
import { DUMP_REQUEST_TYPE, IpsetDumpDecoder, encodeDumpPayload } from './codec.ts';
import { IPSET_PROTOCOL_MIN } from './constants.ts';
import { IpsetNetlinkError, ipsetErrnoName } from './errors.ts';
import type { NetlinkReadResult } from './types.ts';

export interface ReadSetsOptions {
  /** Network namespace to read (a path such as /run/netns/NAME); default: the calling thread's. */
  netns?: string;
  /** IPSET_ATTR_PROTOCOL to send (default 6, accepted by every kernel with protocol 6 or 7). */
  protocol?: number;
  /** Give up when the dump has not ended after this long (default 60 s). */
  timeoutMs?: number;
  /** Only this set (IPSET_ATTR_SETNAME); a missing one is ENOENT. */
  setName?: string;
}

/** Read every set (or one) over netlink; throws IpsetNetlinkError when the kernel refuses or the dump breaks. */
export async function readSetsNetlink(opts: ReadSetsOptions = {}): Promise<NetlinkReadResult> {
  let sock: NlSocket;
  try {
    sock = NlSocket.open(NETLINK_NETFILTER, opts.netns, { errnoName: ipsetErrnoName });
  } catch (e) {
    const err = e as { code?: string; errno?: number; message?: string };
    throw new IpsetNetlinkError(`ipset netlink: cannot open a NETLINK_NETFILTER socket${opts.netns ? ` in ${opts.netns}` : ''}: ${err.message ?? String(e)}`, err.code ?? 'EOPEN', err.errno);
  }
  const decoder = new IpsetDumpDecoder();
  const protocol = opts.protocol ?? IPSET_PROTOCOL_MIN;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  try {
    await sock.dump(DUMP_REQUEST_TYPE, [encodeDumpPayload(protocol, opts.setName)], { timeoutMs, onMessage: (type, data) => decoder.push(type, data) });
    return decoder.result();
  } catch (e) {
    if (e instanceof IpsetNetlinkError) throw e;
    if (e instanceof NlError) {
      const hint = e.code === 'IPSET_ERR_PROTOCOL' ? ` (the kernel does not speak ipset protocol ${protocol})` : '';
      throw new IpsetNetlinkError(`ipset netlink dump${opts.setName ? ` of set ${opts.setName}` : ''}: kernel answered ${e.code}${hint}`, e.code, e.errno);
    }
    if (e instanceof NlTransportError) {
      const what = e.code === 'ETIMEDOUT' ? `ipset netlink dump did not end within ${timeoutMs} ms (${decoder.result().messages} messages received)` : `ipset netlink dump: ${e.message}`;
      throw new IpsetNetlinkError(what, e.code, e.errno);
    }
    throw e;
  } finally {
    sock.close();
  }
}
