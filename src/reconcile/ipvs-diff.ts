// Pure IPVS diff: planned virtual servers against what the kernel holds (only
// the virtual servers ipvsnet owns). Produces the fewest operations: a changed
// service is edited, never deleted and re-added; only changed dests are touched.
// Dests that leave the plan are handed to graceful termination (see graceful.ts).

import type { RealServer, VirtualServer, VirtualServerFlag } from '../plan/types.ts';
import type { IpvsDest, IpvsService, IpvsServiceId } from '../kernel/ipvs/types.ts';
import { virtualServerKey } from '../plan/types.ts';
import { joinHostPort } from '../net/index.ts';

export const SVC_FLAG_BITS: Record<VirtualServerFlag, number> = {
  persistent: 0x1,
  hashed: 0x2,
  onepacket: 0x4,
  'sh-fallback': 0x8,
  'sh-port': 0x10,
};
/** The kernel sets HASHED on every service it lists; it is not ours to compare. */
const IGNORED_BITS = SVC_FLAG_BITS.hashed;

export function flagsToBits(flags: readonly VirtualServerFlag[]): number {
  let b = 0;
  for (const f of flags) b |= SVC_FLAG_BITS[f];
  return b;
}

export function serviceId(vs: Pick<VirtualServer, 'family' | 'protocol' | 'address' | 'port'>): IpvsServiceId {
  return { family: vs.family, protocol: vs.protocol, address: vs.address, port: vs.port };
}

export function keyOf(id: Pick<IpvsServiceId, 'protocol' | 'address' | 'port'>): string {
  return virtualServerKey(id);
}

export function destKey(d: Pick<IpvsDest, 'address' | 'port'>): string {
  return joinHostPort(d.address, d.port);
}

export function toIpvsService(vs: VirtualServer): IpvsService {
  return {
    ...serviceId(vs),
    scheduler: vs.scheduler,
    flags: flagsToBits(vs.flags),
    timeout: vs.timeout,
    netmask: vs.netmask,
  };
}

export function toIpvsDest(rs: RealServer): IpvsDest {
  return { address: rs.address, port: rs.port, weight: rs.weight, forward: rs.forward, upperThreshold: 0, lowerThreshold: 0 };
}

export function serviceDiffers(want: IpvsService, have: IpvsService): boolean {
  return (
    want.scheduler !== have.scheduler ||
    (want.flags & ~IGNORED_BITS) !== (have.flags & ~IGNORED_BITS) ||
    want.timeout !== have.timeout ||
    ((want.flags & SVC_FLAG_BITS.persistent) !== 0 && want.netmask !== have.netmask)
  );
}

export function destDiffers(want: Pick<IpvsDest, 'weight' | 'forward'>, have: Pick<IpvsDest, 'weight' | 'forward'>): boolean {
  return want.weight !== have.weight || want.forward !== have.forward;
}

export type IpvsOp =
  | { kind: 'addService'; vs: VirtualServer; service: IpvsService }
  | { kind: 'updateService'; vs: VirtualServer; service: IpvsService }
  | { kind: 'deleteService'; key: string; id: IpvsServiceId }
  | { kind: 'addDest'; vs: VirtualServer; id: IpvsServiceId; dest: IpvsDest }
  | { kind: 'updateDest'; vs: VirtualServer; id: IpvsServiceId; dest: IpvsDest }
  /** A dest that left the plan: graceful termination decides what happens. */
  | { kind: 'staleDest'; vs: VirtualServer; id: IpvsServiceId; dest: IpvsDest };

/** A dest as the cache knows it: a dumped one (with its connection counts) or a planned RealServer the kernel holds as it is. */
export type CachedDest = Pick<IpvsDest, 'address' | 'port' | 'weight' | 'forward'> & Partial<IpvsDest>;

/** A kernel service as the reconciler caches it (src/reconcile/ipvs.ts). */
export interface KernelService {
  readonly service: IpvsService;
  readonly dests: readonly CachedDest[];
}

/**
 * A kernel service known to be exactly the planned virtual server `vs` (as diffIpvs compares them):
 * the cache keeps the plan's own object instead of a copy of its service and dests (at 50,000
 * Services × 5, a copy was about 45 MB of heap). Never changed in place: a change first replaces it
 * with an explicit entry. The plan's objects are never changed after they are handed out.
 */
export class PlannedService implements KernelService {
  readonly vs: VirtualServer;
  constructor(vs: VirtualServer) { this.vs = vs; }
  get service(): IpvsService { return toIpvsService(this.vs); }
  get dests(): readonly CachedDest[] { return this.vs.realServers; }
}

/** Whether the kernel's `have` is what diffIpvs would leave as it is for `vs` (no operation). */
export function matchesPlan(vs: VirtualServer, have: KernelService): boolean {
  if (have instanceof PlannedService && have.vs === vs) return true;
  const rs = vs.realServers;
  const dests = have.dests;
  if (rs.length !== dests.length || serviceDiffers(toIpvsService(vs), have.service)) return false;
  if (rs.length <= 8) {
    for (const r of rs) {
      const d = dests.find((x) => x.port === r.port && x.address === r.address);
      if (!d || destDiffers(r, d)) return false;
    }
    return true;
  }
  const byKey = new Map(dests.map((d) => [destKey(d), d]));
  for (const r of rs) {
    const d = byKey.get(destKey(r));
    if (!d || destDiffers(r, d)) return false;
  }
  return true;
}

/**
 * The operations turning `kernel` (owned services only, keyed by virtualServerKey)
 * into `desired`. `kernel` services absent from `desired` are deleted.
 */
export function diffIpvs(desired: readonly VirtualServer[], kernel: ReadonlyMap<string, KernelService>): IpvsOp[] {
  const ops: IpvsOp[] = [];
  const wanted = new Set<string>();
  for (const vs of desired) {
    const key = virtualServerKey(vs);
    wanted.add(key);
    const id = serviceId(vs);
    const want = toIpvsService(vs);
    const have = kernel.get(key);
    if (!have) {
      ops.push({ kind: 'addService', vs, service: want });
      for (const rs of vs.realServers) ops.push({ kind: 'addDest', vs, id, dest: toIpvsDest(rs) });
      continue;
    }
    if (serviceDiffers(want, have.service)) ops.push({ kind: 'updateService', vs, service: want });
    const haveDests = new Map(have.dests.map((d) => [destKey(d), d]));
    const wantKeys = new Set<string>();
    for (const rs of vs.realServers) {
      const d = toIpvsDest(rs);
      const k = destKey(d);
      wantKeys.add(k);
      const h = haveDests.get(k);
      if (!h) ops.push({ kind: 'addDest', vs, id, dest: d });
      else if (destDiffers(d, h)) ops.push({ kind: 'updateDest', vs, id, dest: d });
    }
    for (const [k, h] of haveDests) if (!wantKeys.has(k)) ops.push({ kind: 'staleDest', vs, id, dest: { upperThreshold: 0, lowerThreshold: 0, ...h } });
  }
  for (const [key, k] of kernel) {
    if (!wanted.has(key)) ops.push({ kind: 'deleteService', key, id: { family: k.service.family, protocol: k.service.protocol, address: k.service.address, port: k.service.port } });
  }
  return ops;
}
