// The IPVS adapter over generic netlink (family "IPVS"), using the `netlink` package's socket for
// transport and src/kernel/ipvs/codec.ts for the messages. No exec'd processes.
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
// Requests may be issued concurrently (up to 32 in flight on the one socket); dumps run alone,
// because netlink interleaves a dump's parts with other replies otherwise.

import { createGenericNetlink, genl as genlStructs } from 'netlink';
import type { GenericNetlinkSocket } from 'netlink';
import { closeLater } from '../netlink/socket.ts';
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

const NLMSG_ERROR = 2;
const NLM_F_DUMP = 0x300;
const MAX_IN_FLIGHT = 32;
const REQUEST_TIMEOUT_MS = 60_000;

export interface OpenIpvsOptions {
  /** Per-request timeout in ms (default 60 s). */
  timeoutMs?: number;
  /** SO_RCVBUF for the socket (large dumps); default 4 MiB. */
  recvBufferSize?: number;
}

interface Context {
  op: IpvsCmdName;
  object: string;
  scheduler?: string;
}

/** Open a generic netlink socket and resolve the IPVS family. Fails with code ENOENT and a hint
 * when the kernel has no IPVS (module not loaded or not built). */
export async function openIpvs(opts: OpenIpvsOptions = {}): Promise<GenlIpvs> {
  const sock = createGenericNetlink({ recvBufferSize: opts.recvBufferSize ?? 4 * 1024 * 1024, sendBufferSize: 1024 * 1024 });
  let familyId: number | undefined;
  try {
    const reply = await sock.ctrlRequest(genlStructs.Commands.GET_FAMILY, { familyName: IPVS_GENL_NAME }, { timeout: opts.timeoutMs ?? REQUEST_TIMEOUT_MS });
    familyId = reply[0]?.familyId;
  } catch (err) {
    closeLater(sock.socket);
    const code = /ENOENT/.test(String((err as Error).message)) ? 'ENOENT' : 'EIO';
    throw new IpvsError({
      op: 'RESOLVE_FAMILY',
      object: IPVS_GENL_NAME,
      code,
      errno: errnoNumber(code) ?? 5,
      detail:
        code === 'ENOENT'
          ? 'the kernel has no IPVS: load it with `modprobe ip_vs` (a kernel built with CONFIG_IP_VS, e.g. Debian linux-image-amd64)'
          : String((err as Error).message),
      cause: err,
    });
  }
  if (familyId === undefined) {
    closeLater(sock.socket);
    throw new IpvsError({ op: 'RESOLVE_FAMILY', object: IPVS_GENL_NAME, code: 'EIO', errno: 5, detail: 'controller reply without a family id' });
  }
  return new GenlIpvs(sock, familyId, opts.timeoutMs ?? REQUEST_TIMEOUT_MS);
}

/** One generic netlink socket with its concurrency rule: up to MAX_IN_FLIGHT plain requests, or
 * one dump alone (netlink would interleave a dump's parts with other replies otherwise). */
class Channel {
  readonly sock: GenericNetlinkSocket;
  private readonly familyId: number;
  private readonly timeoutMs: number;
  private inFlight = 0;
  private dumping = false;
  private readonly waiters: (() => void)[] = [];
  closed = false;

  constructor(sock: GenericNetlinkSocket, familyId: number, timeoutMs: number) {
    this.sock = sock;
    this.familyId = familyId;
    this.timeoutMs = timeoutMs;
  }

  private async acquire(dump: boolean): Promise<void> {
    for (;;) {
      if (this.closed) throw new Error('IPVS adapter is closed');
      if (dump ? this.inFlight === 0 && !this.dumping : !this.dumping && this.inFlight < MAX_IN_FLIGHT) break;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (dump) this.dumping = true;
    else this.inFlight++;
  }

  private release(dump: boolean): void {
    if (dump) this.dumping = false;
    else this.inFlight--;
    const ws = this.waiters.splice(0);
    for (const w of ws) w();
  }

  /** Send one command; returns the payloads (after the genl header) of the reply messages. */
  async request(cmd: number, attrs: Buffer[], dump: boolean, ctx: Context): Promise<Buffer[]> {
    await this.acquire(dump);
    try {
      const header = Buffer.from([cmd, IPVS_GENL_VERSION, 0, 0]);
      let msgs;
      try {
        [msgs] = await this.sock.socket.request(this.familyId, [header, ...attrs], {
          flags: dump ? NLM_F_DUMP : 0,
          checkError: false,
          timeout: this.timeoutMs,
        });
      } catch (err) {
        const m = String((err as Error).message ?? err);
        const code = /Timeout/i.test(m) ? 'ETIMEDOUT' : ((err as { code?: string }).code ?? 'EIO');
        throw new IpvsError({ op: ctx.op, object: ctx.object, code, errno: errnoNumber(code) ?? 5, detail: m, cause: err });
      }
      const first = msgs[0];
      if (first && first.type === NLMSG_ERROR) {
        const errno = first.data.length >= 4 ? -first.data.readInt32LE(0) : 5;
        if (errno === 0) return [];
        const code = errnoName(errno);
        const detail = explainIpvsErrno(ctx.op, code, ctx.scheduler);
        throw new IpvsError({ op: ctx.op, object: ctx.object, code, errno, ...(detail !== undefined ? { detail } : {}) });
      }
      const out: Buffer[] = [];
      for (const m of msgs) {
        if (m.type !== this.familyId) continue;
        out.push(m.data.subarray(4));
      }
      return out;
    } finally {
      this.release(dump);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w();
    closeLater(this.sock.socket);
  }
}

export interface ServiceWithDests {
  service: IpvsService;
  dests: IpvsDest[];
}

export class GenlIpvs implements Ipvs {
  readonly familyId: number;
  private readonly timeoutMs: number;
  private readonly main: Channel;
  /** Extra sockets for parallel dest dumps (listServicesWithDests), opened on first use. */
  private readonly dumpers: Channel[] = [];

  constructor(sock: GenericNetlinkSocket, familyId: number, timeoutMs: number) {
    this.familyId = familyId;
    this.timeoutMs = timeoutMs;
    this.main = new Channel(sock, familyId, timeoutMs);
  }

  private request(cmd: number, attrs: Buffer[], dump: boolean, ctx: Context): Promise<Buffer[]> {
    return this.main.request(cmd, attrs, dump, ctx);
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

  /** Every service (as listServices) with its dests. The dest dumps run on up to `parallel`
   * sockets at once (each dump must have its socket to itself), which shortens a full read of a
   * large table. An addition to the Ipvs interface; the reconciler may use it when present. */
  async listServicesWithDests(parallel = 4): Promise<ServiceWithDests[]> {
    const services = await this.listServices();
    const n = Math.max(1, Math.min(parallel, 16));
    while (this.dumpers.length < n - 1) {
      const sock = createGenericNetlink({ recvBufferSize: 4 * 1024 * 1024, sendBufferSize: 256 * 1024 });
      this.dumpers.push(new Channel(sock, this.familyId, this.timeoutMs));
    }
    const channels = [this.main, ...this.dumpers.slice(0, n - 1)];
    const out: ServiceWithDests[] = services.map((service) => ({ service, dests: [] }));
    let next = 0;
    await Promise.all(
      channels.map(async (ch) => {
        while (next < out.length) {
          const item = out[next++]!;
          const id = item.service;
          const ctx: Context = { op: 'GET_DEST', object: `${safeDescribe(id)} (dump)` };
          const msgs = await ch.request(IPVS_CMD.GET_DEST, [this.encode(ctx, () => encodeServiceId(id))], true, ctx);
          item.dests = msgs.map((m) => this.decode(ctx, () => decodeDestMessage(m, id.family)));
        }
      }),
    );
    return out;
  }

  close(): void {
    this.main.close();
    for (const d of this.dumpers.splice(0)) d.close();
  }
}

function safeDescribe(id: IpvsServiceId): string {
  return describeService({ ...id, address: String(id.address), port: id.port });
}
