// An in-memory IPVS with the `Ipvs` interface, for the unit lane and the benchmarks (the host kernel
// has no IPVS). It holds services and dests as the kernel does and fails as GenlIpvs does against
// the kernel (net/netfilter/ipvs/ip_vs_ctl.c), with the same IpvsError codes and command names:
//   - EEXIST on a duplicate service or dest;
//   - ESRCH on a missing service (SET_SERVICE, DEL_SERVICE, NEW_DEST, SET_DEST, DEL_DEST);
//   - ENOENT on a missing dest, and on an unknown scheduler (no module ip_vs_<name>);
//   - a dump of the dests of a missing service is empty; getService of one is undefined;
//   - every listed service carries IP_VS_SVC_F_HASHED (0x2).
// test/contract/ipvs.ts checks these facts against this fake (unit lane) and GenlIpvs (VM lane).
// Connection counts are set by tests through `setConns` (the kernel's ActiveConn/InactConn).
// It is not a call recorder: assertions look at the state it holds.

import type { Ipvs, IpvsDest, IpvsInfo, IpvsService, IpvsServiceId, IpvsTimeouts } from './types.ts';
import { IpvsError, errnoNumber, explainIpvsErrno } from './errors.ts';

const SCHEDULERS = new Set(['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf', 'twos']);

function fail(op: string, code: string, scheduler?: string): IpvsError {
  const detail = explainIpvsErrno(op, code, scheduler);
  return new IpvsError({ op, object: '(memory)', code, errno: errnoNumber(code) ?? 5, ...(detail !== undefined ? { detail } : {}) });
}

function sk(id: IpvsServiceId): string {
  return `${id.family}/${id.protocol}/${id.address}/${id.port}`;
}
function dk(d: Pick<IpvsDest, 'address' | 'port'>): string {
  return `${d.address}/${d.port}`;
}

export class MemoryIpvs implements Ipvs {
  readonly services = new Map<string, { svc: IpvsService; dests: Map<string, IpvsDest> }>();
  timeouts: IpvsTimeouts = { tcp: 900, tcpFin: 120, udp: 300 };
  closed = false;

  async info(): Promise<IpvsInfo> { return { version: '1.2.1', connTableSize: 4096 }; }

  async listServices(): Promise<IpvsService[]> {
    // The kernel reports HASHED on every listed service.
    return [...this.services.values()].map(({ svc }) => ({ ...svc, flags: svc.flags | 0x2 }));
  }
  async getService(id: IpvsServiceId): Promise<IpvsService | undefined> {
    const s = this.services.get(sk(id));
    return s ? { ...s.svc, flags: s.svc.flags | 0x2 } : undefined;
  }
  #check(op: string, s: IpvsService): void {
    if (s.port < 0 || s.port > 65535) throw fail(op, 'EINVAL'); // GenlIpvs refuses it before sending
    if (!SCHEDULERS.has(s.scheduler)) throw fail(op, 'ENOENT', s.scheduler);
  }
  async addService(s: IpvsService): Promise<void> {
    this.#check('NEW_SERVICE', s);
    if (this.services.has(sk(s))) throw fail('NEW_SERVICE', 'EEXIST');
    this.services.set(sk(s), { svc: { ...s, flags: s.flags & ~0x2 }, dests: new Map() });
  }
  async updateService(s: IpvsService): Promise<void> {
    const cur = this.services.get(sk(s));
    if (!cur) throw fail('SET_SERVICE', 'ESRCH');
    this.#check('SET_SERVICE', s);
    cur.svc = { ...s, flags: s.flags & ~0x2 };
  }
  async deleteService(id: IpvsServiceId): Promise<void> {
    if (!this.services.delete(sk(id))) throw fail('DEL_SERVICE', 'ESRCH');
  }
  async listDests(id: IpvsServiceId): Promise<IpvsDest[]> {
    const s = this.services.get(sk(id));
    return s ? [...s.dests.values()].map((d) => ({ ...d })) : [];
  }
  async addDest(id: IpvsServiceId, d: IpvsDest): Promise<void> {
    const s = this.services.get(sk(id));
    if (!s) throw fail('NEW_DEST', 'ESRCH');
    if (d.weight < 0 || d.weight > 0x7fffffff) throw fail('NEW_DEST', 'EINVAL'); // GenlIpvs refuses it before sending
    if (s.dests.has(dk(d))) throw fail('NEW_DEST', 'EEXIST');
    s.dests.set(dk(d), { ...d, activeConns: 0, inactiveConns: 0, persistentConns: 0 });
  }
  async updateDest(id: IpvsServiceId, d: IpvsDest): Promise<void> {
    const s = this.services.get(sk(id));
    if (!s) throw fail('SET_DEST', 'ESRCH');
    const cur = s.dests.get(dk(d));
    if (!cur) throw fail('SET_DEST', 'ENOENT');
    if (d.weight < 0 || d.weight > 0x7fffffff) throw fail('SET_DEST', 'EINVAL');
    s.dests.set(dk(d), { ...cur, weight: d.weight, forward: d.forward, upperThreshold: d.upperThreshold, lowerThreshold: d.lowerThreshold });
  }
  async deleteDest(id: IpvsServiceId, d: Pick<IpvsDest, 'address' | 'port'>): Promise<void> {
    const s = this.services.get(sk(id));
    if (!s) throw fail('DEL_DEST', 'ESRCH');
    if (!s.dests.delete(dk(d))) throw fail('DEL_DEST', 'ENOENT');
  }
  async getTimeouts(): Promise<IpvsTimeouts> { return { ...this.timeouts }; }
  async setTimeouts(t: Partial<IpvsTimeouts>): Promise<void> { this.timeouts = { ...this.timeouts, ...t }; }
  close(): void { this.closed = true; }

  /** Test helper: the kernel's connection counters for one dest. */
  setConns(id: IpvsServiceId, d: Pick<IpvsDest, 'address' | 'port'>, active: number, inactive: number): void {
    const cur = this.services.get(sk(id))?.dests.get(dk(d));
    if (!cur) throw new Error('no such dest');
    cur.activeConns = active;
    cur.inactiveConns = inactive;
  }

  /** Test helper: a compact, sorted picture of the state. */
  snapshot(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [k, s] of [...this.services].sort()) {
      out[`${k} ${s.svc.scheduler} f${s.svc.flags} t${s.svc.timeout}`] = [...s.dests.values()].map((d) => `${d.address}:${d.port} w${d.weight} ${d.forward}`).sort();
    }
    return out;
  }
}
