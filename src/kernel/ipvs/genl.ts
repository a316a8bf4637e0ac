// The IPVS adapter over generic netlink (family "IPVS"), on the shared netlink transport
// (../netlink/socket.ts, family resolution in ../netlink/genl.ts) with src/kernel/ipvs/codec.ts for
// the messages. No exec'd processes.
//
//   const ipvs = await openIpvs();
//   await ipvs.addService({ family: 4, protocol: 'TCP', address: '10.96.0.10', port: 53, scheduler: 'rr',
//                           flags: 0, timeout: 0, netmask: 32 });
//   await ipvs.addDest(svc, { address: '10.244.1.5', port: 53, weight: 1, forward: 'masq', upperThreshold: 0, lowerThreshold: 0 });
//
// Failures throw IpvsError naming the command and the object, with the errno name in `.code`:
//   IPVS NEW_DEST TCP/10.96.0.10:53 -> 10.244.1.5:53: EEXIST (destination already exists)
// Kernel facts worth knowing (net/netfilter/ipvs/ip_vs_ctl.c):
//   - a missing service is ESRCH (getService returns undefined for it); a missing dest is ENOENT;
//   - an unknown scheduler is ENOENT on NEW_SERVICE/SET_SERVICE;
//   - dumping the dests of a missing service yields no dests (no error);
//   - every listed service has IP_VS_SVC_F_HASHED set (see comparableServiceFlags);
//   - stats (conns, packets, bytes) are folded from per-CPU counters by the kernel's 2-second rate
//     estimator, so they lag traffic by up to 2 s; ActiveConn/InactConn/PersistConn are immediate;
//   - ipvsadm gives route/tunnel dests the service's port; the kernel itself keeps the port it is given.
// The transport is synchronous (the kernel answers inside sendmsg/recvmsg), so requests on the one
// socket never overlap: each has its replies to itself, dumps included.

import { NETLINK_GENERIC, NLM_F_DUMP } from '../netlink/constants.ts';
import { genlHeader, genlPayload, resolveGenlFamily } from '../netlink/genl.ts';
import { NlError, NlSocket, NlTransportError } from '../netlink/socket.ts';
import type { Ipvs, IpvsDest, IpvsInfo, IpvsService, IpvsServiceId, IpvsTimeouts } from './types.ts';
import { IPVS_CMD, IPVS_GENL_NAME, IPVS_GENL_VERSION } from './constants.ts';
import type { IpvsCmdName } from './constants.ts';
import {
  describeService,
  decodeDestMessage,
  decodeInfo,
  decodeServiceMessage,
  decodeTimeouts,
  encodeDest,
  encodeService,
  encodeServiceId,
  encodeTimeouts,
} from './codec.ts';
import { joinHostPort } from '../../net/index.ts';
import { IpvsError, errnoName, errnoNumber, explainIpvsErrno } from './errors.ts';

export { IpvsError } from './errors.ts';
export { comparableServiceFlags, virtualServerFlagBits, virtualServerFlagNames, VIRTUAL_SERVER_FLAG_BITS } from './codec.ts';

const REQUEST_TIMEOUT_MS = 60_000;

export interface OpenIpvsOptions {
  /** Per-request timeout in ms (default 60 s). */
  timeoutMs?: number;
  /** SO_RCVBUF for the socket; default 4 MiB. */
  recvBufferSize?: number;
  /** Network namespace to act on (a path such as /run/netns/NAME); default: the calling thread's. */
  netns?: string;
}

interface Context {
  op: IpvsCmdName;
  object: string;
  scheduler?: string;
}

/** Open a generic netlink socket and resolve the IPVS family. Fails with code ENOENT and a hint
 * when the kernel has no IPVS (module not loaded or not built). */
export async function openIpvs(opts: OpenIpvsOptions = {}): Promise<GenlIpvs> {
  const timeoutMs = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;
  let sock: NlSocket;
  try {
    sock = NlSocket.open(NETLINK_GENERIC, opts.netns, { recvBufferSize: opts.recvBufferSize ?? 4 * 1024 * 1024, sendBufferSize: 1024 * 1024, timeoutMs });
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'EIO';
    throw new IpvsError({ op: 'RESOLVE_FAMILY', object: IPVS_GENL_NAME, code, errno: errnoNumber(code) ?? 5, detail: String((err as Error).message), cause: err });
  }
  let familyId: number;
  try {
    familyId = await resolveGenlFamily(sock, IPVS_GENL_NAME);
  } catch (err) {
    sock.close();
    const missing = err instanceof NlError && err.code === 'ENOENT';
    const code = missing ? 'ENOENT' : ((err as { code?: string }).code ?? 'EIO');
    throw new IpvsError({
      op: 'RESOLVE_FAMILY',
      object: IPVS_GENL_NAME,
      code,
      errno: errnoNumber(code) ?? 5,
      detail: missing
        ? 'the kernel has no IPVS: load it with `modprobe ip_vs` (a kernel built with CONFIG_IP_VS, e.g. Debian linux-image-amd64)'
        : String((err as Error).message),
      cause: err,
    });
  }
  return new GenlIpvs(sock, familyId);
}

export interface ServiceWithDests {
  service: IpvsService;
  dests: IpvsDest[];
}

export class GenlIpvs implements Ipvs {
  readonly familyId: number;
  private readonly sock: NlSocket;
  private closed = false;

  constructor(sock: NlSocket, familyId: number) {
    this.familyId = familyId;
    this.sock = sock;
  }

  /** Send one command; returns the payloads (after the genl header) of the reply messages. */
  private async request(cmd: number, attrs: Buffer[], dump: boolean, ctx: Context): Promise<Buffer[]> {
    if (this.closed) throw new Error('IPVS adapter is closed');
    let msgs;
    try {
      msgs = await this.sock.request(this.familyId, [genlHeader(cmd, IPVS_GENL_VERSION), ...attrs], dump ? NLM_F_DUMP : 0);
    } catch (err) {
      if (err instanceof NlError) {
        const code = errnoName(err.errno);
        const detail = explainIpvsErrno(ctx.op, code, ctx.scheduler);
        throw new IpvsError({ op: ctx.op, object: ctx.object, code, errno: err.errno, ...(detail !== undefined ? { detail } : {}) });
      }
      const code = err instanceof NlTransportError ? err.code : 'EIO';
      throw new IpvsError({ op: ctx.op, object: ctx.object, code, errno: errnoNumber(code) ?? 5, detail: String((err as Error).message), cause: err });
    }
    return msgs.filter((m) => m.type === this.familyId).map((m) => this.decode(ctx, () => genlPayload(m)));
  }

  /** Run `fn`, turning codec validation errors (bad input, before anything is sent) into IpvsError. */
  private encode<T>(ctx: Context, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new IpvsError({ op: ctx.op, object: ctx.object, code: 'EINVAL', errno: 22, detail: `not sent: ${(err as Error).message}`, cause: err });
    }
  }

  private decode<T>(ctx: Context, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new IpvsError({ op: ctx.op, object: ctx.object, code: 'EPROTO', errno: errnoNumber('EPROTO') ?? 71, detail: `undecodable reply: ${(err as Error).message}`, cause: err });
    }
  }

  // ---- Ipvs -----------------------------------------------------------------------------------

  async info(): Promise<IpvsInfo> {
    const ctx: Context = { op: 'GET_INFO', object: '' };
    const [m] = await this.request(IPVS_CMD.GET_INFO, [], false, ctx);
    if (!m) throw new IpvsError({ op: ctx.op, object: '', code: 'EPROTO', errno: 71, detail: 'no reply' });
    return this.decode(ctx, () => decodeInfo(m));
  }

  async listServices(): Promise<IpvsService[]> {
    const ctx: Context = { op: 'GET_SERVICE', object: '(dump)' };
    const msgs = await this.request(IPVS_CMD.GET_SERVICE, [], true, ctx);
    const out: IpvsService[] = [];
    for (const m of msgs) {
      const s = this.decode(ctx, () => decodeServiceMessage(m));
      if (s) out.push(s);
    }
    return out;
  }

  async getService(id: IpvsServiceId): Promise<IpvsService | undefined> {
    const ctx: Context = { op: 'GET_SERVICE', object: safeDescribe(id) };
    const attr = this.encode(ctx, () => encodeServiceId(id));
    try {
      const [m] = await this.request(IPVS_CMD.GET_SERVICE, [attr], false, ctx);
      return m ? this.decode(ctx, () => decodeServiceMessage(m)) : undefined;
    } catch (err) {
      if (err instanceof IpvsError && err.code === 'ESRCH') return undefined;
      throw err;
    }
  }

  async addService(s: IpvsService): Promise<void> {
    const ctx: Context = { op: 'NEW_SERVICE', object: safeDescribe(s), scheduler: s.scheduler };
    await this.request(IPVS_CMD.NEW_SERVICE, [this.encode(ctx, () => encodeService(s))], false, ctx);
  }

  async updateService(s: IpvsService): Promise<void> {
    const ctx: Context = { op: 'SET_SERVICE', object: safeDescribe(s), scheduler: s.scheduler };
    await this.request(IPVS_CMD.SET_SERVICE, [this.encode(ctx, () => encodeService(s))], false, ctx);
  }

  async deleteService(id: IpvsServiceId): Promise<void> {
    const ctx: Context = { op: 'DEL_SERVICE', object: safeDescribe(id) };
    await this.request(IPVS_CMD.DEL_SERVICE, [this.encode(ctx, () => encodeServiceId(id))], false, ctx);
  }

  async listDests(id: IpvsServiceId): Promise<IpvsDest[]> {
    const ctx: Context = { op: 'GET_DEST', object: `${safeDescribe(id)} (dump)` };
    const msgs = await this.request(IPVS_CMD.GET_DEST, [this.encode(ctx, () => encodeServiceId(id))], true, ctx);
    return msgs.map((m) => this.decode(ctx, () => decodeDestMessage(m, id.family)));
  }

  async addDest(id: IpvsServiceId, d: IpvsDest): Promise<void> {
    await this.destCmd('NEW_DEST', id, d, true);
  }

  async updateDest(id: IpvsServiceId, d: IpvsDest): Promise<void> {
    await this.destCmd('SET_DEST', id, d, true);
  }

  async deleteDest(id: IpvsServiceId, d: Pick<IpvsDest, 'address' | 'port'>): Promise<void> {
    await this.destCmd('DEL_DEST', id, d, false);
  }

  private async destCmd(op: 'NEW_DEST' | 'SET_DEST' | 'DEL_DEST', id: IpvsServiceId, d: Pick<IpvsDest, 'address' | 'port'> & Partial<IpvsDest>, full: boolean): Promise<void> {
    const ctx: Context = { op, object: `${safeDescribe(id)} -> ${joinHostPort(String(d.address), d.port)}` };
    const attrs = this.encode(ctx, () => [encodeServiceId(id), encodeDest(id.family, d, full)]);
    await this.request(IPVS_CMD[op], attrs, false, ctx);
  }

  async getTimeouts(): Promise<IpvsTimeouts> {
    const ctx: Context = { op: 'GET_CONFIG', object: 'timeouts' };
    const [m] = await this.request(IPVS_CMD.GET_CONFIG, [], false, ctx);
    if (!m) throw new IpvsError({ op: ctx.op, object: ctx.object, code: 'EPROTO', errno: 71, detail: 'no reply' });
    return this.decode(ctx, () => decodeTimeouts(m));
  }

  /** Set the given timeouts (seconds); omitted ones are left as they are. The kernel reads 0 as
   * "leave unchanged" too, like `ipvsadm --set 0 0 0`. */
  async setTimeouts(t: Partial<IpvsTimeouts>): Promise<void> {
    const ctx: Context = { op: 'SET_CONFIG', object: `timeouts tcp=${t.tcp ?? '-'} tcpfin=${t.tcpFin ?? '-'} udp=${t.udp ?? '-'}` };
    const attrs = this.encode(ctx, () => encodeTimeouts(t));
    if (attrs.length === 0) return;
    await this.request(IPVS_CMD.SET_CONFIG, attrs, false, ctx);
  }

  /** Every service (as listServices) with its dests: one services dump, then one dests dump per
   * service. An addition to the Ipvs interface; the reconciler may use it when present. */
  async listServicesWithDests(): Promise<ServiceWithDests[]> {
    const services = await this.listServices();
    const out: ServiceWithDests[] = [];
    for (const service of services) out.push({ service, dests: await this.listDests(service) });
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
  }
}

function safeDescribe(id: IpvsServiceId): string {
  return describeService({ ...id, address: String(id.address), port: id.port });
}
