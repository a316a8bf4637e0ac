// Which LoadBalancer addresses each Service holds: pure, from the LoadBalancer pools and every
// Service's spec and status (the allocator's only memory, so a restarted allocator plans the same).
//
// In order, over the served Services sorted by age (creationTimestamp, then namespace/name):
//  1. keep: an address in status that is still in a LoadBalancer pool (disabled pools included:
//     disabling stops new allocations only), of one of the Service's families, agreeing with its
//     request, and not kept by an older Service;
//  2. requests: a requested address must lie in an enabled LoadBalancer pool and be free; if any
//     requested family fails, the Service gets no new address at all (nothing half-allocated);
//  3. the rest: per missing family, the lowest free address of the first enabled pool of that family
//     by name. SingleStack and RequireDualStack need every family; PreferDualStack takes what exists.
// Services not served (another type, another class) keep their status, except that a non-
// LoadBalancer Service loses the addresses of LoadBalancer pools it still shows (type changed).
import { contains, ipFromBigInt, formatIP, parseIP, type CIDR, type Family } from '../net/index.ts';
import type { IPPoolModel } from '../pools/model/ippool.ts';
import type { LBService } from './model.ts';

export interface LBPool {
  name: string;
  cidr: CIDR;
  cidrText: string;
  family: Family;
  disabled: boolean;
}

export type LBDiagnosticCode = 'LoadBalancerIPInvalid' | 'LoadBalancerIPNotInPool' | 'LoadBalancerIPPoolDisabled'
  | 'LoadBalancerIPTaken' | 'LoadBalancerNoPool' | 'LoadBalancerPoolExhausted';

export interface LBDiagnostic {
  /** namespace/name of the Service */
  service: string;
  field: string;
  reason: string;
  code: LBDiagnosticCode;
}

export interface LBWrite {
  service: string;
  /** the IPs status.loadBalancer.ingress should list, in order */
  ingress: string[];
}

export interface LBPlan {
  /** served Service → its addresses after this plan (in its families' order) */
  assigned: Map<string, string[]>;
  /** Services whose status must change */
  writes: LBWrite[];
  diagnostics: LBDiagnostic[];
}

/** The valid pools that hand out LoadBalancer addresses. */
export function lbPools(pools: readonly IPPoolModel[]): LBPool[] {
  return pools.filter((p) => p.allowedUses.includes('LoadBalancer'))
    .map((p) => ({ name: p.name, cidr: p.cidr, cidrText: p.cidrText, family: p.family, disabled: p.disabled }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** First and last address handed out of a pool: an IPv4 pool of /30 or wider skips its network and broadcast addresses. */
export function usableRange(p: LBPool): [bigint, bigint] {
  const width = p.family === 4 ? 32 : 128;
  const size = 1n << BigInt(width - p.cidr.prefix);
  const first = (p.cidr.ip.value >> BigInt(width - p.cidr.prefix)) << BigInt(width - p.cidr.prefix);
  const last = first + size - 1n;
  return p.family === 4 && p.cidr.prefix <= 30 ? [first + 1n, last - 1n] : [first, last];
}

function poolOf(pools: readonly LBPool[], ip: string): LBPool | undefined {
  const a = parseIP(ip);
  return a ? pools.find((p) => p.family === a.family && contains(p.cidr, a)) : undefined;
}

const familyOf = (ip: string): Family => (ip.includes(':') ? 6 : 4);
const age = (s: LBService): string => s.creationTimestamp ?? '\uffff';

/**
 * Per pool, the lowest usable address not known to be taken: a cursor that only moves up (addresses
 * are only ever added to `used`), so handing out n addresses costs O(n) in all.
 */
class FreeCursor {
  private readonly used = new Set<bigint>();
  private c: bigint;
  private readonly last: bigint;
  private readonly pool: LBPool;
  constructor(pool: LBPool) {
    this.pool = pool;
    [this.c, this.last] = usableRange(pool);
  }
  markUsed(v: bigint): void { this.used.add(v); }
  /** free v again (a request rolled back); the cursor does not move back, so it is offered from the next plan on */
  unmark(v: bigint): void { this.used.delete(v); }
  /** the lowest free address, without taking it */
  peek(): string | undefined {
    while (this.c <= this.last && this.used.has(this.c)) this.c++;
    return this.c <= this.last ? formatIP(ipFromBigInt(this.pool.family, this.c)!) : undefined;
  }
}

export function planLBAddresses(pools: readonly LBPool[], services: readonly LBService[]): LBPlan {
  const served = services.filter((s) => s.eligible)
    .sort((a, b) => (age(a) < age(b) ? -1 : age(a) > age(b) ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const taken = new Map<string, string>(); // ip → Service
  const kept = new Map<string, Map<Family, string>>();
  const diagnostics: LBDiagnostic[] = [];
  const blocked = new Set<string>();
  /** requested addresses given in step 2, taken back if the Service's other families fail in step 3 */
  const requestedNow = new Map<string, string[]>();
  // 1. keep
  for (const s of served) {
    const mine = new Map<Family, string>();
    kept.set(s.key, mine);
    for (const ip of s.ingress) {
      const f = familyOf(ip);
      if (!s.families.includes(f) || mine.has(f) || taken.has(ip) || !poolOf(pools, ip)) continue;
      if (!s.requestError && s.requested[f] !== undefined && s.requested[f] !== ip) continue;
      mine.set(f, ip);
      taken.set(ip, s.key);
    }
  }
  // 2. requests
  for (const s of served) {
    if (s.requestError) {
      diagnostics.push({ service: s.key, ...s.requestError, code: 'LoadBalancerIPInvalid' });
      blocked.add(s.key);
      continue;
    }
    const mine = kept.get(s.key)!;
    const field = s.requestedField ?? 'spec.loadBalancerIP';
    const want = s.families.filter((f) => s.requested[f] !== undefined && !mine.has(f)).map((f) => s.requested[f]!);
    const problems: LBDiagnostic[] = [];
    for (const ip of want) {
      const p = poolOf(pools, ip);
      if (!p) problems.push({ service: s.key, field, code: 'LoadBalancerIPNotInPool', reason: `${ip} is in no IPPool with allowedUses [LoadBalancer]` });
      else if (p.disabled) problems.push({ service: s.key, field, code: 'LoadBalancerIPPoolDisabled', reason: `${ip} is in IPPool ${p.name}, which is disabled` });
      else if (taken.has(ip)) problems.push({ service: s.key, field, code: 'LoadBalancerIPTaken', reason: `${ip} is already held by Service ${taken.get(ip)}` });
    }
    if (problems.length) {
      diagnostics.push(...problems);
      blocked.add(s.key);
      continue;
    }
    for (const ip of want) { mine.set(familyOf(ip), ip); taken.set(ip, s.key); }
    requestedNow.set(s.key, want);
  }
  // 3. the rest
  const cursors = new Map(pools.filter((p) => !p.disabled).map((p) => [p.name, new FreeCursor(p)]));
  const take = (ip: string, key: string) => {
    taken.set(ip, key);
    const p = poolOf(pools, ip);
    if (p) cursors.get(p.name)?.markUsed(parseIP(ip)!.value);
  };
  for (const ip of taken.keys()) take(ip, taken.get(ip)!);
  for (const s of served) {
    if (blocked.has(s.key)) continue;
    const mine = kept.get(s.key)!;
    const fresh: [Family, string][] = [];
    const problems: LBDiagnostic[] = [];
    for (const f of s.families.filter((x) => !mine.has(x))) {
      const candidates = pools.filter((p) => p.family === f && !p.disabled);
      let ip: string | undefined;
      for (const p of candidates) if ((ip = cursors.get(p.name)!.peek()) !== undefined) break;
      if (ip !== undefined) { fresh.push([f, ip]); continue; }
      if (s.policy === 'PreferDualStack' && candidates.length === 0) continue;
      problems.push(candidates.length === 0
        ? { service: s.key, field: 'spec.ipFamilies', code: 'LoadBalancerNoPool', reason: `no enabled IPPool with allowedUses [LoadBalancer] holds IPv${f} addresses` }
        : { service: s.key, field: 'spec.ipFamilies', code: 'LoadBalancerPoolExhausted', reason: `every IPv${f} LoadBalancer IPPool is full (${candidates.map((p) => p.name).join(', ')})` });
    }
    if (problems.length && !(s.policy === 'PreferDualStack' && fresh.length + mine.size > 0)) {
      diagnostics.push(...problems);
      for (const ip of requestedNow.get(s.key) ?? []) { // nothing half-allocated
        mine.delete(familyOf(ip));
        taken.delete(ip);
        const p = poolOf(pools, ip);
        if (p) cursors.get(p.name)?.unmark(parseIP(ip)!.value);
      }
      continue;
    }
    diagnostics.push(...problems);
    for (const [f, ip] of fresh) { mine.set(f, ip); take(ip, s.key); }
  }
  const assigned = new Map<string, string[]>();
  const writes: LBWrite[] = [];
  for (const s of served) {
    const mine = kept.get(s.key)!;
    const ingress = s.families.map((f) => mine.get(f)).filter((x): x is string => x !== undefined);
    assigned.set(s.key, ingress);
    if (s.otherIngress > 0 || ingress.join(',') !== s.ingress.join(',')) writes.push({ service: s.key, ingress });
  }
  for (const s of services) {
    if (s.eligible || s.ingress.length === 0 || s.typeLoadBalancer) continue;
    const left = s.ingress.filter((ip) => !poolOf(pools, ip));
    if (left.length !== s.ingress.length) writes.push({ service: s.key, ingress: left });
  }
  return { assigned, writes, diagnostics };
}
