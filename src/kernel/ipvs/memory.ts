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
  // join(): a flat string (a template literal of this length is a rope, about four times its size)
  return [id.family, id.protocol, id.address, id.port].join('/');
}

const FORWARDS: readonly IpvsDest['forward'][] = ['masq', 'local', 'tunnel', 'route', 'bypass'];
/** Slots per dest in a service's flat record list: address, port, weight, forward (index in FORWARDS). */
const W = 4;

/**
 * One service and its dests in one exactly sized list: the service's S slots, then its dests as flat
 * records (W slots each), rather than objects and a Map entry apiece: this fake stands in for the
 * kernel in bench:agent's process, whose RSS is measured (50,000 Services × 5 dests as objects were
 * about 70 MB of that process's heap). A change replaces the list.
 */
type Entry = ReadonlyArray<string | number>;
/** Slots of the service before its dests: family, protocol, address, port, scheduler, flags, timeout, netmask. */
const S = 8;

function entryOf(s: IpvsService): Entry {
  return [s.family, s.protocol, s.address, s.port, s.scheduler, s.flags & ~0x2, s.timeout, s.netmask];
}

/** The service as the kernel lists it (HASHED set on every listed one). */
function serviceOf(e: Entry): IpvsService {
  return {
    family: e[0] as IpvsService['family'], protocol: e[1] as IpvsService['protocol'], address: e[2] as string, port: e[3] as number,
    scheduler: e[4] as string, flags: (e[5] as number) | 0x2, timeout: e[6] as number, netmask: e[7] as number,
  };
}

/** The key of dest `address`/`port` of service key `k` in the side tables (connections, thresholds); `${k} ` prefixes them all. */
function dk(k: string, address: string, port: number): string {
  return `${k} ${address}/${port}`;
}

function find(e: Entry, d: Pick<IpvsDest, 'address' | 'port'>): number {
  for (let i = S; i < e.length; i += W) if (e[i + 1] === d.port && e[i] === d.address) return i;
  return -1;
}

export class MemoryIpvs implements Ipvs {
  readonly #services = new Map<string, Entry>();
  /** Connection counts set by setConns (the kernel's ActiveConn/InactConn), by service key and dest; 0 when absent. */
  readonly #conns = new Map<string, [active: number, inactive: number]>();
  /** Upper and lower connection thresholds that are not 0, by service key and dest. */
  readonly #thresholds = new Map<string, [upper: number, lower: number]>();

  #setThresholds(k: string, d: IpvsDest): void {
    const key = dk(k, d.address, d.port);
    if (d.upperThreshold || d.lowerThreshold) this.#thresholds.set(key, [d.upperThreshold, d.lowerThreshold]);
    else this.#thresholds.delete(key);
  }
  timeouts: IpvsTimeouts = { tcp: 900, tcpFin: 120, udp: 300 };
  closed = false;

  async info(): Promise<IpvsInfo> { return { version: '1.2.1', connTableSize: 4096 }; }

  async listServices(): Promise<IpvsService[]> {
    // The kernel reports HASHED on every listed service.
    return [...this.#services.values()].map(serviceOf);
  }
  async getService(id: IpvsServiceId): Promise<IpvsService | undefined> {
    const s = this.#services.get(sk(id));
    return s ? serviceOf(s) : undefined;
  }
  #check(op: string, s: IpvsService): void {
    if (s.port < 0 || s.port > 65535) throw fail(op, 'EINVAL'); // GenlIpvs refuses it before sending
    if (!SCHEDULERS.has(s.scheduler)) throw fail(op, 'ENOENT', s.scheduler);
  }
  async addService(s: IpvsService): Promise<void> {
    this.#check('NEW_SERVICE', s);
    if (this.#services.has(sk(s))) throw fail('NEW_SERVICE', 'EEXIST');
    this.#services.set(sk(s), entryOf(s));
  }
  async updateService(s: IpvsService): Promise<void> {
    const cur = this.#services.get(sk(s));
    if (!cur) throw fail('SET_SERVICE', 'ESRCH');
    this.#check('SET_SERVICE', s);
    this.#services.set(sk(s), [...entryOf(s), ...cur.slice(S)]);
  }
  async deleteService(id: IpvsServiceId): Promise<void> {
    const k = sk(id);
    if (!this.#services.delete(k)) throw fail('DEL_SERVICE', 'ESRCH');
    for (const m of [this.#conns, this.#thresholds]) for (const c of [...m.keys()]) if (c.startsWith(`${k} `)) m.delete(c);
  }
  async listDests(id: IpvsServiceId): Promise<IpvsDest[]> {
    const k = sk(id);
    const s = this.#services.get(k);
    if (!s) return [];
    const out: IpvsDest[] = [];
    for (let i = S; i < s.length; i += W) {
      const key = dk(k, s[i] as string, s[i + 1] as number);
      const [active, inactive] = this.#conns.get(key) ?? [0, 0];
      const [upper, lower] = this.#thresholds.get(key) ?? [0, 0];
      out.push({
        address: s[i] as string, port: s[i + 1] as number, weight: s[i + 2] as number, forward: FORWARDS[s[i + 3] as number]!,
        upperThreshold: upper, lowerThreshold: lower, activeConns: active, inactiveConns: inactive, persistentConns: 0,
      });
    }
    return out;
  }
  async addDest(id: IpvsServiceId, d: IpvsDest): Promise<void> {
    const k = sk(id);
    const s = this.#services.get(k);
    if (!s) throw fail('NEW_DEST', 'ESRCH');
    if (d.weight < 0 || d.weight > 0x7fffffff) throw fail('NEW_DEST', 'EINVAL'); // GenlIpvs refuses it before sending
    if (find(s, d) >= 0) throw fail('NEW_DEST', 'EEXIST');
    // concat: an array of the exact size (push leaves spare slots: ~480 bytes for 5 dests instead of ~180)
    this.#services.set(k, s.concat([d.address, d.port, d.weight, FORWARDS.indexOf(d.forward)]));
    this.#setThresholds(k, d);
  }
  async updateDest(id: IpvsServiceId, d: IpvsDest): Promise<void> {
    const k = sk(id);
    const s = this.#services.get(k);
    if (!s) throw fail('SET_DEST', 'ESRCH');
    const i = find(s, d);
    if (i < 0) throw fail('SET_DEST', 'ENOENT');
    if (d.weight < 0 || d.weight > 0x7fffffff) throw fail('SET_DEST', 'EINVAL');
    const next = s.slice();
    next[i + 2] = d.weight;
    next[i + 3] = FORWARDS.indexOf(d.forward);
    this.#services.set(k, next);
    this.#setThresholds(k, d);
  }
  async deleteDest(id: IpvsServiceId, d: Pick<IpvsDest, 'address' | 'port'>): Promise<void> {
    const k = sk(id);
    const s = this.#services.get(k);
    if (!s) throw fail('DEL_DEST', 'ESRCH');
    const i = find(s, d);
    if (i < 0) throw fail('DEL_DEST', 'ENOENT');
    this.#services.set(k, [...s.slice(0, i), ...s.slice(i + W)]);
    this.#conns.delete(dk(k, d.address, d.port));
    this.#thresholds.delete(dk(k, d.address, d.port));
  }
  async getTimeouts(): Promise<IpvsTimeouts> { return { ...this.timeouts }; }
  async setTimeouts(t: Partial<IpvsTimeouts>): Promise<void> { this.timeouts = { ...this.timeouts, ...t }; }
  close(): void { this.closed = true; }

  /** Test helper: the kernel's connection counters for one dest. */
  setConns(id: IpvsServiceId, d: Pick<IpvsDest, 'address' | 'port'>, active: number, inactive: number): void {
    const k = sk(id);
    const s = this.#services.get(k);
    if (!s || find(s, d) < 0) throw new Error('no such dest');
    this.#conns.set(dk(k, d.address, d.port), [active, inactive]);
  }

  /** Test helper: a compact, sorted picture of the state. */
  snapshot(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [k, s] of [...this.#services].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const dests: string[] = [];
      for (let i = S; i < s.length; i += W) dests.push(`${s[i] as string}:${s[i + 1] as number} w${s[i + 2] as number} ${FORWARDS[s[i + 3] as number]!}`);
      out[`${k} ${s[4] as string} f${s[5] as number} t${s[6] as number}`] = dests.sort();
    }
    return out;
  }

  /** Test helper: every service (as listed) with every dest (as dumped), sorted by key. */
  async dump(): Promise<Array<[key: string, service: IpvsService, dests: IpvsDest[]]>> {
    const out: Array<[string, IpvsService, IpvsDest[]]> = [];
    for (const [k, s] of [...this.#services].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const svc = { ...serviceOf(s), flags: (s[5] as number) };
      const dests = (await this.listDests(svc)).sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
      out.push([k, svc, dests]);
    }
    return out;
  }
}
