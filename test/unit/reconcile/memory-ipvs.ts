// A stateful, faithful in-memory IPVS for unit tests of the diff logic: it
// holds services and dests like the kernel does and fails like the kernel does
// (EEXIST on a duplicate add, ENOENT on a missing service/dest, EINVAL on an
// unknown scheduler or a zero port on a non-fwmark service). Connection counts
// are set by the test through `setConns` (the kernel's ActiveConn/InactConn).
// It is not a call recorder: assertions look at the state it holds.

import type { Ipvs, IpvsDest, IpvsInfo, IpvsService, IpvsServiceId, IpvsTimeouts } from '../../../src/kernel/ipvs/types.ts';

const SCHEDULERS = new Set(['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf', 'twos']);

function errno(code: string): Error {
  return Object.assign(new Error(`Request rejected: ${code}`), { code });
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
  #check(s: IpvsService): void {
    if (!SCHEDULERS.has(s.scheduler)) throw errno('ENOENT'); // the kernel: scheduler module not found
    if (s.port < 0 || s.port > 65535) throw errno('EINVAL');
  }
  async addService(s: IpvsService): Promise<void> {
    this.#check(s);
    if (this.services.has(sk(s))) throw errno('EEXIST');
    this.services.set(sk(s), { svc: { ...s, flags: s.flags & ~0x2 }, dests: new Map() });
  }
  async updateService(s: IpvsService): Promise<void> {
    const cur = this.services.get(sk(s));
    if (!cur) throw errno('ESRCH');
    this.#check(s);
    cur.svc = { ...s, flags: s.flags & ~0x2 };
  }
  async deleteService(id: IpvsServiceId): Promise<void> {
    if (!this.services.delete(sk(id))) throw errno('ESRCH');
  }
  async listDests(id: IpvsServiceId): Promise<IpvsDest[]> {
    const s = this.services.get(sk(id));
    if (!s) throw errno('ESRCH');
    return [...s.dests.values()].map((d) => ({ ...d }));
  }
  async addDest(id: IpvsServiceId, d: IpvsDest): Promise<void> {
    const s = this.services.get(sk(id));
    if (!s) throw errno('ESRCH');
    if (d.weight < 0) throw errno('ERANGE');
    if (s.dests.has(dk(d))) throw errno('EEXIST');
    s.dests.set(dk(d), { ...d, activeConns: 0, inactiveConns: 0, persistentConns: 0 });
  }
  async updateDest(id: IpvsServiceId, d: IpvsDest): Promise<void> {
    const s = this.services.get(sk(id));
    if (!s) throw errno('ESRCH');
    const cur = s.dests.get(dk(d));
    if (!cur) throw errno('ENOENT');
    if (d.weight < 0) throw errno('ERANGE');
    s.dests.set(dk(d), { ...cur, weight: d.weight, forward: d.forward, upperThreshold: d.upperThreshold, lowerThreshold: d.lowerThreshold });
  }
  async deleteDest(id: IpvsServiceId, d: Pick<IpvsDest, 'address' | 'port'>): Promise<void> {
    const s = this.services.get(sk(id));
    if (!s) throw errno('ESRCH');
    if (!s.dests.delete(dk(d))) throw errno('ENOENT');
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
