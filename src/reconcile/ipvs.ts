// The IPVS reconciler: makes the kernel's owned virtual servers and their real servers the plan's,
// with graceful termination of leaving TCP dests and a conntrack flush for leaving UDP/SCTP dests.
//
// It keeps a cache of the owned kernel services (read in full on the first sync and on every
// repair pass; in between, the last read plus this process's successful operations). Between repair
// passes only the virtual servers the plan reports changed (`Plan.changed`, keys since the plan this
// reconciler last applied), those re-read because an operation on them failed or they have
// terminating dests, and owned services that left the plan are diffed. A plan without `changed`, or
// one that does not follow the last applied plan, is diffed in full against the cache.

import type { Logger } from '../log/index.ts';
import type { Plan, VirtualServer } from '../plan/types.ts';
import { virtualServerKey } from '../plan/types.ts';
import type { Ipvs, IpvsDest, IpvsService, IpvsServiceId } from '../kernel/ipvs/types.ts';
import type { CountingRunner } from '../kernel/exec.ts';
import { diffIpvs, destKey, matchesPlan, PlannedService, serviceId, toIpvsService } from './ipvs-diff.ts';
import type { CachedDest, IpvsOp, KernelService } from './ipvs-diff.ts';
import { keyOf } from './desired.ts';
import type { GracefulQueue } from './graceful.ts';
import type { Ownership } from './ownership.ts';
import type { SyncContext } from './result.ts';

/** Netlink requests kept in flight by a large sync. */
const IPVS_CONCURRENCY = 16;

/** A cache entry that operations change in place (never a PlannedService, whose objects are the plan's). */
interface OwnEntry { service: IpvsService; dests: CachedDest[] }

/**
 * A kernel service as the reconciler caches it between repair passes: everything but the traffic
 * counters. A dump carries ten 64-bit counters per service and per dest (BigInts: about 20 MB of heap
 * at 10,000 Services); nothing here reads them (the metrics read IPVS afresh).
 */
export function cacheEntry(service: IpvsService, dests: readonly IpvsDest[]): OwnEntry {
  const { stats: _s, ...svc } = service;
  return { service: svc, dests: dests.map(({ stats: _d, ...d }) => d) };
}

function describeDest(d: Pick<IpvsDest, 'address' | 'port'> & Partial<IpvsDest>): string {
  return `${destKey(d)}${d.weight !== undefined ? ` weight ${d.weight}` : ''}${d.forward ? ` ${d.forward}` : ''}`;
}

export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export interface IpvsReconcilerOptions {
  ipvs: Ipvs;
  graceful: GracefulQueue;
  runner: CountingRunner;
  /** Flush UDP/SCTP conntrack entries of deleted dests. */
  conntrack: boolean;
  log: Logger;
}

export class IpvsReconciler {
  readonly #ipvs: Ipvs;
  readonly #graceful: GracefulQueue;
  readonly #runner: CountingRunner;
  readonly #conntrack: boolean;
  readonly #log: Logger;
  /** Cached kernel view (owned services only), by virtual server key. */
  #cache = new Map<string, KernelService>();
  /** Services to re-read next sync (an operation on them failed). */
  readonly #dirty = new Set<string>();
  /** The generation of the plan last applied (undefined: none, or a sync broke off). */
  #generation: number | undefined;

  constructor(opts: IpvsReconcilerOptions) {
    this.#ipvs = opts.ipvs;
    this.#graceful = opts.graceful;
    this.#runner = opts.runner;
    this.#conntrack = opts.conntrack;
    this.#log = opts.log;
  }

  /** Keys of the owned services in the cache. */
  cachedKeys(): IterableIterator<string> { return this.#cache.keys(); }

  /** Whether the cache holds the owned service `key`. */
  hasCached(key: string): boolean { return this.#cache.has(key); }

  /** Forget the cache (after a cleanup, or when the next sync must read everything). */
  reset(): void {
    this.#cache.clear();
    this.#dirty.clear();
    this.#generation = undefined;
  }

  /**
   * The owned kernel services; one that is already what `desired` plans on its key is kept as the
   * planned object itself (PlannedService), so a repair pass does not hold a second copy of the plan.
   */
  async #read(own: Ownership, desired: ReadonlyMap<string, VirtualServer>): Promise<Map<string, KernelService>> {
    const out = new Map<string, KernelService>();
    const ipvs = this.#ipvs;
    const services = (await ipvs.listServices()).filter((s) => own.ownsVirtualServer(virtualServerKey(s), s.address));
    await mapLimit(services, IPVS_CONCURRENCY, async (s) => {
      const key = virtualServerKey(s);
      const entry = cacheEntry(s, await ipvs.listDests(s));
      const vs = desired.get(key);
      if (vs && matchesPlan(vs, entry)) out.set(keyOf(vs), new PlannedService(vs));
      else out.set(key, entry);
    });
    return out;
  }

  /** The cache entry of `key` to change in place: a PlannedService is first replaced by a copy of its service and dests. */
  #own(key: string): OwnEntry | undefined {
    const c = this.#cache.get(key);
    if (!(c instanceof PlannedService)) return c as OwnEntry | undefined;
    const copy: OwnEntry = { service: toIpvsService(c.vs), dests: c.vs.realServers.slice() };
    this.#cache.set(key, copy);
    return copy;
  }

  /**
   * Make the owned virtual servers `desired` (keyed, outside --ipvs-exclude-cidrs). Throws when the
   * kernel cannot be read; the caller then reads in full next time.
   */
  async sync(desired: ReadonlyMap<string, VirtualServer>, own: Ownership, plan: Pick<Plan, 'generation' | 'changed'>, ctx: SyncContext): Promise<void> {
    const generation = this.#generation;
    this.#generation = undefined;
    const reread = new Set<string>();
    if (ctx.full) {
      this.#cache = await this.#read(own, desired);
      this.#dirty.clear();
    } else {
      // Re-read services that failed last time and those with terminating dests.
      for (const k of this.#dirty) reread.add(k);
      for (const t of this.#graceful.entries()) reread.add(virtualServerKey(t.id));
      for (const key of reread) {
        const cached = this.#cache.get(key);
        const vs = desired.get(key);
        const id: IpvsServiceId | undefined = cached?.service ?? (vs ? serviceId(vs) : undefined);
        if (!id) continue;
        const s = await this.#ipvs.getService(id);
        if (!s) { this.#cache.delete(key); continue; }
        this.#cache.set(key, cacheEntry(s, await this.#ipvs.listDests(s)));
      }
      this.#dirty.clear();
    }
    // Between repair passes only what changed since the plan last applied is diffed, with the
    // re-read services; owned services that left the plan always are.
    const changed = !ctx.full && plan.changed && generation !== undefined && plan.changed.since === generation ? plan.changed.virtualServers : undefined;
    let toDiff: VirtualServer[];
    let kernel: ReadonlyMap<string, KernelService> = this.#cache;
    if (changed) {
      // The changed keys name every virtual server added or removed since that plan (so every owned
      // one that left it), and the re-read ones are added: the rest of the plan is not walked.
      toDiff = [];
      const sub = new Map<string, KernelService>();
      const visit = (k: string): void => {
        const vs = desired.get(k);
        if (vs) toDiff.push(vs);
        const c = this.#cache.get(k);
        if (c) sub.set(k, c);
      };
      for (const k of changed) visit(k);
      for (const k of reread) if (!changed.has(k)) visit(k);
      kernel = sub;
    } else {
      toDiff = [...desired.values()];
    }
    await this.#apply(diffIpvs(toDiff, kernel), ctx);
    // What the kernel now holds as planned is cached as the plan's own object (not after a failure:
    // such a service is re-read next sync; not with terminating dests: the kernel holds more).
    for (const vs of toDiff) {
      const key = keyOf(vs);
      if (this.#dirty.has(key)) continue;
      const c = this.#cache.get(key);
      if (c && !(c instanceof PlannedService && c.vs === vs) && matchesPlan(vs, c)) this.#cache.set(key, new PlannedService(vs));
    }
    this.#generation = plan.generation;
  }

  async #apply(diff: IpvsOp[], ctx: SyncContext): Promise<void> {
    const ipvs = this.#ipvs;
    const ops = ctx.result.operations;
    const failedServices = new Set<string>();
    const conntrackFlushes: { protocol: string; vip: string; port: number; ep: string }[] = [];
    /** Per service with stale TCP dests: one dump of its dests in the kernel, for their connection counts. */
    const liveDests = new Map<string, Promise<IpvsDest[]>>();
    const runOp = async (op: IpvsOp): Promise<void> => {
      switch (op.kind) {
        case 'addService': {
          const key = keyOf(op.vs); // the planned object's key string (desired.ts), not a new one per cache entry
          try {
            await ipvs.addService(op.service);
            ops.addService++;
            this.#cache.set(key, { service: { ...op.service }, dests: [] });
          } catch (err) {
            failedServices.add(key);
            this.#dirty.add(key);
            ctx.fail(op.vs.service, `addService ${key} scheduler ${op.service.scheduler} flags ${op.service.flags} timeout ${op.service.timeout}`, err);
          }
          break;
        }
        case 'updateService': {
          const key = keyOf(op.vs);
          try {
            await ipvs.updateService(op.service);
            ops.updateService++;
            const c = this.#own(key);
            if (c) c.service = { ...op.service };
          } catch (err) {
            this.#dirty.add(key);
            ctx.fail(op.vs.service, `updateService ${key} scheduler ${op.service.scheduler} flags ${op.service.flags} timeout ${op.service.timeout}`, err);
          }
          break;
        }
        case 'addDest':
        case 'updateDest': {
          const key = keyOf(op.vs);
          if (failedServices.has(key)) break;
          const c = this.#own(key);
          try {
            if (op.kind === 'addDest') {
              await ipvs.addDest(op.id, op.dest);
              ops.addDest++;
              c?.dests.push({ ...op.dest });
            } else {
              await ipvs.updateDest(op.id, op.dest);
              ops.updateDest++;
              if (c) c.dests = c.dests.map((d) => (destKey(d) === destKey(op.dest) ? { ...d, weight: op.dest.weight, forward: op.dest.forward } : d));
            }
            // A returning endpoint leaves the termination queue.
            this.#graceful.remove(op.id, op.dest);
          } catch (err) {
            this.#dirty.add(key);
            ctx.fail(op.vs.service, `${op.kind} ${key} → ${describeDest(op.dest)}`, err);
          }
          break;
        }
        case 'staleDest': {
          const key = keyOf(op.vs);
          // A TCP dest's connections decide its fate: read from the kernel now (as kube-proxy does),
          // the cache's counts being those of the last read, or none at all.
          let dest = op.dest;
          if (op.vs.protocol === 'TCP') {
            let dump = liveDests.get(key);
            if (!dump) liveDests.set(key, (dump = ipvs.listDests(op.id)));
            const live = (await dump.catch(() => [])).find((d) => d.port === dest.port && d.address === dest.address);
            if (live) dest = { ...dest, activeConns: live.activeConns ?? 0, inactiveConns: live.inactiveConns ?? 0 };
          }
          const c = this.#own(key);
          const decision = this.#graceful.decide(op.id, op.vs.protocol, dest);
          try {
            if (decision === 'quiesce') {
              await ipvs.updateDest(op.id, { ...op.dest, weight: 0 });
              ops.updateDest++;
              if (c) c.dests = c.dests.map((d) => (destKey(d) === destKey(op.dest) ? { ...d, weight: 0 } : d));
            } else if (decision !== 'wait') {
              await ipvs.deleteDest(op.id, op.dest);
              ops.deleteDest++;
              this.#graceful.remove(op.id, op.dest);
              if (c) c.dests = c.dests.filter((d) => destKey(d) !== destKey(op.dest));
              if (decision === 'delete-now' && op.vs.protocol !== 'TCP') {
                conntrackFlushes.push({ protocol: op.vs.protocol.toLowerCase(), vip: op.vs.address, port: op.vs.port, ep: op.dest.address });
              }
              if (decision === 'delete-expired') this.#log.warn({ object: op.vs.service, dest: destKey(op.dest) }, 'graceful termination bound reached; dest deleted with connections left');
            }
          } catch (err) {
            this.#dirty.add(key);
            ctx.fail(op.vs.service, `${decision === 'quiesce' ? 'updateDest (weight 0)' : 'deleteDest'} ${key} → ${describeDest(op.dest)}`, err);
          }
          break;
        }
        case 'deleteService': {
          try {
            await ipvs.deleteService(op.id);
            ops.deleteService++;
            this.#cache.delete(op.key);
            this.#graceful.dropService(op.id);
          } catch (err) {
            this.#dirty.add(op.key);
            ctx.fail(op.key, `deleteService ${op.key}`, err);
          }
          break;
        }
      }
    };
    // Ops of one virtual server run in order; different virtual servers run concurrently
    // (bounded), so a large sync keeps several netlink requests in flight.
    const groups = new Map<string, IpvsOp[]>();
    for (const op of diff) {
      const k = op.kind === 'deleteService' ? op.key : keyOf(op.vs);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = []));
      g.push(op);
    }
    await mapLimit([...groups.values()], IPVS_CONCURRENCY, async (g) => { for (const op of g) await runOp(op); });
    if (this.#conntrack) {
      for (const f of conntrackFlushes) {
        const args = ['-D', '-p', f.protocol, '--orig-dst', f.vip, '--orig-port-dst', String(f.port), '--dst-nat', f.ep];
        const r = await this.#runner.run('conntrack', args);
        ops.conntrackFlush++;
        // Exit 1 with "0 flow entries" means nothing to delete.
        if (r.missing) ctx.fail(`${f.vip}:${f.port}`, `conntrack ${args.join(' ')}`, new Error('conntrack binary not found: install the "conntrack" package'));
        else if (r.exitCode !== 0 && !/0 flow entries/.test(r.stderr)) ctx.fail(`${f.vip}:${f.port}`, `conntrack ${args.join(' ')}`, new Error(r.stderr.trim()));
      }
    }
  }

  /** Delete every owned virtual server (on a bound address or recorded, never an excluded one). */
  async cleanup(own: Ownership, ctx: SyncContext): Promise<void> {
    try {
      for (const s of await this.#ipvs.listServices()) {
        const key = virtualServerKey(s);
        if (!own.ownsVirtualServer(key, s.address)) continue;
        try { await this.#ipvs.deleteService(s); ctx.result.operations.deleteService++; } catch (err) { ctx.fail(key, `deleteService ${key}`, err); }
      }
    } catch (err) { ctx.fail('ipvs', 'list IPVS services', err); }
    this.reset();
  }
}
