// The Reconciler: makes the kernel hold a Plan with the fewest operations.
//
//   read kernel state ─ diff against the plan ─ apply only the differences
//
// Order inside one sync (so traffic never meets a half-built state):
//   1. kube-ipvs0 exists; new service addresses are bound;
//   2. IPVS: services added/edited, dests added/edited, stale dests gracefully
//      terminated, services that left the plan deleted;
//   3. addresses that left the plan unbound;
//   4. ipsets (one `ipset restore`), then iptables (one `iptables-restore` per family).
//
// Kernel state is read in full on the first sync and on every repair pass
// (`repairIntervalMs`, 0 = every sync); in between, the state cached from the
// last read plus this process's own successful operations is the baseline, and
// only services with terminating dests are re-read. A failing operation is
// logged with its object and exact operation, marks that object for a re-read,
// and is retried on the next sync; the rest of the sync still applies.

import { createHash } from 'node:crypto';
import pino from 'pino';
import type { Logger } from 'pino';
import type { Family } from '../net/index.ts';
import type { Plan, VirtualServer } from '../plan/types.ts';
import { virtualServerKey } from '../plan/types.ts';
import type { Ipvs, IpvsDest, IpvsService, IpvsServiceId } from '../kernel/ipvs/types.ts';
import { IpsetAdapter, ownedSetNames, prepareMembers, TEMP_PREFIX } from '../kernel/ipset.ts';
import type { KernelSet } from '../kernel/ipset.ts';
import { IptablesAdapter, detectBackend, applyToState, JUMP_RULES } from '../kernel/iptables.ts';
import type { JumpRule, RulesetState, Table } from '../kernel/iptables.ts';
import { LinkAdapter, DEFAULT_DUMMY } from '../kernel/link.ts';
import { formatIP, hostOf, ipFamily, requireIP } from '../net/index.ts';
import { createRunner } from './exec.ts';
import type { CountingRunner } from './exec.ts';
import { diffIpvs, destKey, serviceId, toIpvsDest } from './ipvs-diff.ts';
import type { IpvsOp, KernelService } from './ipvs-diff.ts';
import { GracefulQueue } from './graceful.ts';
import { Ownership, loadState, saveState, DEFAULT_STATE_FILE } from './ownership.ts';
import type { OwnedState } from './ownership.ts';
import { diffAddresses } from './address-diff.ts';

export { GracefulQueue } from './graceful.ts';
export { diffIpvs } from './ipvs-diff.ts';

export const OPERATION_KINDS = [
  'createLink', 'bindAddress', 'unbindAddress',
  'addService', 'updateService', 'deleteService', 'addDest', 'updateDest', 'deleteDest',
  'ipsetCreate', 'ipsetAdd', 'ipsetDel', 'ipsetSwap', 'iptablesRestore', 'conntrackFlush',
] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

export interface SyncFailure {
  /** The object the operation came from: a Service port ("ns/name:port"), a set, a chain, an address. */
  object: string;
  /** The exact operation, e.g. "addDest TCP/10.96.0.10/80 → 10.244.0.5:8080 weight 1 masq". */
  operation: string;
  error: string;
}

export interface SyncResult {
  operations: Record<OperationKind, number>;
  /** Sum of `operations`. */
  totalOperations: number;
  /** External processes exec'd by this sync (ipset/iptables/conntrack). */
  processes: number;
  failures: SyncFailure[];
  /** TCP dests at weight 0 waiting for their connections to drain. */
  terminating: number;
  /** Whether this sync read the whole kernel state (first sync / repair pass). */
  fullRead: boolean;
  durationMs: number;
}

export interface ReconcilerOptions {
  /** IPVS adapter; null = do not program IPVS (tests of the other parts). */
  ipvs: Ipvs | null;
  /** rtnetlink adapter for kube-ipvs0; null = do not manage addresses. */
  link?: LinkAdapter | null;
  ipset?: IpsetAdapter | null;
  /** iptables adapter per family; null = do not manage iptables. */
  iptables?: Partial<Record<Family, IptablesAdapter>> | null;
  runner?: CountingRunner;
  dummy?: string;
  logger?: Logger;
  /** Bound on graceful termination of a TCP dest (default 60 s). */
  gracefulTimeoutMs?: number;
  /** Full kernel read every … ms (default 0: every sync). */
  repairIntervalMs?: number;
  /** --ipvs-exclude-cidrs: virtual servers there are never touched. */
  excludeCIDRs?: string[];
  /** Where owned virtual servers and applied iptables hashes are recorded (null = nowhere). */
  stateFile?: string | null;
  /** Flush UDP/SCTP conntrack entries of deleted dests (default true). */
  conntrack?: boolean;
  now?: () => number;
}

function emptyOps(): Record<OperationKind, number> {
  return Object.fromEntries(OPERATION_KINDS.map((k) => [k, 0])) as Record<OperationKind, number>;
}

/**
 * A kernel service as the reconciler caches it between repair passes: everything but the traffic
 * counters. A dump carries ten 64-bit counters per service and per dest (BigInts: about 20 MB of heap
 * at 10,000 Services); nothing here reads them (the metrics read IPVS afresh).
 */
export function cacheEntry(service: IpvsService, dests: readonly IpvsDest[]): KernelService {
  const { stats: _s, ...svc } = service;
  return { service: svc, dests: dests.map(({ stats: _d, ...d }) => d) };
}

function describeDest(d: Pick<IpvsDest, 'address' | 'port'> & Partial<IpvsDest>): string {
  return `${destKey(d)}${d.weight !== undefined ? ` weight ${d.weight}` : ''}${d.forward ? ` ${d.forward}` : ''}`;
}

/** Netlink requests kept in flight by a large sync. */
const IPVS_CONCURRENCY = 16;

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export class Reconciler {
  readonly #ipvs: Ipvs | null;
  readonly #link: LinkAdapter | null;
  readonly #ipset: IpsetAdapter | null;
  readonly #iptables: Partial<Record<Family, IptablesAdapter>>;
  readonly #runner: CountingRunner;
  readonly #dummy: string;
  readonly log: Logger;
  readonly #graceful: GracefulQueue;
  readonly #repairMs: number;
  readonly #exclude: string[];
  readonly #stateFile: string | null;
  readonly #conntrack: boolean;
  readonly #now: () => number;

  #state: OwnedState | undefined;
  #lastFullRead = -Infinity;
  #forceFull = true;
  /** Cached kernel view (owned services only). */
  #ipvsCache = new Map<string, KernelService>();
  #dirtyServices = new Set<string>();
  /** Planned virtual servers last applied without error, by key (compared by identity). */
  #applied = new Map<string, VirtualServer>();
  /** The keys last recorded in the state file (what `state.virtualServers` holds), as a set. */
  #recordedKeys: Set<string> | undefined;
  #ipsetCache: Map<string, KernelSet> | undefined;
  /** kube-ipvs0's addresses and those held by other interfaces (undefined = read next sync). */
  #addrCache: { bound: Set<string>; elsewhere: Set<string> } | undefined;
  #iptablesCache = new Map<Family, RulesetState>();
  #iptablesDirty = new Set<Family>();
  /** Objects whose last operation failed (logged once per distinct error). */
  #failing = new Map<string, string>();

  constructor(opts: ReconcilerOptions) {
    this.#ipvs = opts.ipvs;
    this.#link = opts.link ?? null;
    this.#ipset = opts.ipset ?? null;
    this.#iptables = opts.iptables ?? {};
    this.#runner = opts.runner ?? createRunner();
    this.#dummy = opts.dummy ?? DEFAULT_DUMMY;
    this.log = opts.logger ?? pino({ name: 'ipvsnet-reconcile' }, pino.destination(2));
    this.#now = opts.now ?? Date.now;
    this.#graceful = new GracefulQueue({ timeoutMs: opts.gracefulTimeoutMs ?? 60_000, now: this.#now });
    this.#repairMs = opts.repairIntervalMs ?? 0;
    this.#exclude = opts.excludeCIDRs ?? [];
    this.#stateFile = opts.stateFile === undefined ? null : opts.stateFile;
    this.#conntrack = opts.conntrack ?? true;
  }

  get graceful(): GracefulQueue { return this.#graceful; }
  get runner(): CountingRunner { return this.#runner; }

  /**
   * Build a Reconciler over the real kernel: IPVS over generic netlink, kube-ipvs0
   * over rtnetlink, ipset, and iptables with the host's backend. Each missing
   * feature is reported ONCE here, with what to install; that part is then skipped.
   */
  static async open(opts: Partial<ReconcilerOptions> & { families?: Family[]; backend?: 'nft' | 'legacy' } = {}): Promise<{ reconciler: Reconciler; problems: string[] }> {
    const log = opts.logger ?? pino({ name: 'ipvsnet-reconcile' }, pino.destination(2));
    const runner = opts.runner ?? createRunner();
    const problems: string[] = [];
    let ipvs: Ipvs | null = opts.ipvs ?? null;
    if (opts.ipvs === undefined) {
      try {
        const genl = '../kernel/ipvs/genl.ts';
        const mod = (await import(genl)) as { openIpvs: () => Promise<Ipvs> };
        ipvs = await mod.openIpvs();
        await ipvs.info();
      } catch (err) {
        ipvs = null;
        problems.push(`IPVS unavailable (${err instanceof Error ? err.message : String(err)}): load the ip_vs module ("modprobe ip_vs ip_vs_rr") or use a kernel built with CONFIG_IP_VS`);
      }
    }
    let link: LinkAdapter | null = opts.link === undefined ? new LinkAdapter() : opts.link;
    if (link) {
      try { await link.getLink('lo'); } catch (err) { problems.push(`rtnetlink unavailable: ${String(err)}`); link = null; }
    }
    let ipset: IpsetAdapter | null = opts.ipset === undefined
      ? new IpsetAdapter({ run: runner.run, onFallback: (why) => log.warn({ why }, 'ipset: netlink read failed; read with "ipset save" instead') })
      : opts.ipset;
    if (ipset) {
      try { await ipset.version(); } catch (err) { problems.push(err instanceof Error ? err.message : String(err)); ipset = null; }
    }
    let iptables: Partial<Record<Family, IptablesAdapter>> = {};
    if (opts.iptables === undefined) {
      for (const fam of opts.families ?? [4]) {
        try {
          const backend = opts.backend ?? (await detectBackend(runner.run, fam));
          iptables[fam] = new IptablesAdapter({ family: fam, backend, run: runner.run });
        } catch (err) {
          problems.push(err instanceof Error ? err.message : String(err));
        }
      }
    } else {
      iptables = opts.iptables ?? {};
    }
    for (const p of problems) log.error({ problem: p }, 'missing kernel feature; that part of the plan is skipped');
    const reconciler = new Reconciler({ ...opts, ipvs, link, ipset, iptables, runner, logger: log, stateFile: opts.stateFile === undefined ? DEFAULT_STATE_FILE : opts.stateFile });
    return { reconciler, problems };
  }

  close(): void {
    this.#ipvs?.close();
    this.#link?.close();
  }

  #fail(result: SyncResult, object: string, operation: string, err: unknown): void {
    const error = err instanceof Error ? err.message : String(err);
    result.failures.push({ object, operation, error });
    const key = `${object}|${operation}`;
    if (this.#failing.get(key) !== error) this.log.error({ object, operation, err: error }, 'kernel operation failed; retried next sync');
    this.#failing.set(key, error);
  }

  /** Read every owned IPVS service and its dests. */
  async #readIpvs(own: Ownership): Promise<Map<string, KernelService>> {
    const out = new Map<string, KernelService>();
    const ipvs = this.#ipvs;
    if (!ipvs) return out;
    const services = (await ipvs.listServices()).filter((s) => own.ownsVirtualServer(virtualServerKey(s), s.address));
    await mapLimit(services, IPVS_CONCURRENCY, async (s) => {
      out.set(virtualServerKey(s), cacheEntry(s, await ipvs.listDests(s)));
    });
    return out;
  }

  /** One reconcile of the kernel to `plan`. */
  async sync(plan: Plan): Promise<SyncResult> {
    const t0 = performance.now();
    const procs0 = this.#runner.count();
    const result: SyncResult = { operations: emptyOps(), totalOperations: 0, processes: 0, failures: [], terminating: 0, fullRead: false, durationMs: 0 };
    const ops = result.operations;
    this.#state ??= await loadState(this.#stateFile);
    const state = this.#state;
    const full = this.#forceFull || this.#repairMs <= 0 || this.#now() - this.#lastFullRead >= this.#repairMs;
    this.#forceFull = false;
    result.fullRead = full;

    const desiredVs: VirtualServer[] = plan.families.flatMap((f) => f.virtualServers);
    const plannedAddrs = new Set(desiredVs.map((v) => v.address));
    const wantBound = [...new Set(plan.families.flatMap((f) => canonicalBound(f.boundAddresses)))];

    // 1. kube-ipvs0 and its addresses.
    let bound: string[] = [];
    let dummyIndex: number | undefined;
    let toUnbind: string[] = [];
    if (this.#link) {
      try {
        const d = await this.#link.ensureDummy(this.#dummy);
        dummyIndex = d.index;
        if (d.created) ops.createLink++;
        // Read back on the first sync, each repair pass, a re-created link or after a failure;
        // in between, the last read plus this process's successful binds/unbinds.
        if (full || d.created || !this.#addrCache) {
          this.#addrCache = undefined;
          const r = await this.#link.addressesOn(this.#dummy);
          this.#addrCache = { bound: new Set(r.on), elsewhere: r.elsewhere };
        }
        const cache = this.#addrCache;
        bound = [...cache.bound];
        const ad = diffAddresses(wantBound, cache.bound, cache.elsewhere);
        for (const a of ad.bind) {
          try {
            if (await this.#link.bindAddress(this.#dummy, a, dummyIndex)) ops.bindAddress++;
            cache.bound.add(a);
          } catch (err) {
            this.#addrCache = undefined;
            this.#fail(result, a, `bind ${a}/${ipFamily(a) === 6 ? 128 : 32} on ${this.#dummy}`, err);
          }
        }
        toUnbind = ad.unbind;
      } catch (err) {
        this.#addrCache = undefined;
        this.#fail(result, this.#dummy, `ensure dummy link ${this.#dummy}`, err);
      }
    }

    // 2. IPVS.
    const own = new Ownership({ bound, planned: plannedAddrs, recorded: this.#recordedKeys ?? state.virtualServers, excludeCIDRs: this.#exclude });
    const excludedDesired = desiredVs.filter((v) => !own.excluded(v.address));
    const desiredKeys = new Map<string, VirtualServer>();
    for (const vs of excludedDesired) desiredKeys.set(virtualServerKey(vs), vs);
    if (this.#ipvs) {
      try {
        const reread = new Set<string>();
        if (full) {
          this.#ipvsCache = await this.#readIpvs(own);
          this.#dirtyServices.clear();
          this.#applied.clear();
        } else {
          // Re-read services that failed last time and those with terminating dests.
          for (const k of this.#dirtyServices) reread.add(k);
          for (const t of this.#graceful.entries()) reread.add(virtualServerKey(t.id));
          for (const key of reread) {
            const cached = this.#ipvsCache.get(key);
            const vs = desiredVs.find((v) => virtualServerKey(v) === key);
            const id: IpvsServiceId | undefined = cached?.service ?? (vs ? serviceId(vs) : undefined);
            if (!id) continue;
            const s = await this.#ipvs.getService(id);
            if (!s) { this.#ipvsCache.delete(key); continue; }
            this.#ipvsCache.set(key, cacheEntry(s, await this.#ipvs.listDests(s)));
          }
          this.#dirtyServices.clear();
        }
        // Between repair passes only what changed is diffed: a virtual server whose planned object is
        // the one last applied without error (the planner keeps unchanged objects) and that is not
        // being re-read is in the kernel as planned. The cache entries of the rest, and of every
        // owned service that left the plan, go to the diff.
        let toDiff: VirtualServer[] = excludedDesired;
        let kernel: ReadonlyMap<string, KernelService> = this.#ipvsCache;
        if (!full) {
          toDiff = [];
          const sub = new Map<string, KernelService>();
          for (const [k, vs] of desiredKeys) {
            if (this.#applied.get(k) === vs && !reread.has(k)) continue;
            toDiff.push(vs);
            const c = this.#ipvsCache.get(k);
            if (c) sub.set(k, c);
          }
          for (const [k, c] of this.#ipvsCache) if (!desiredKeys.has(k)) sub.set(k, c);
          kernel = sub;
        }
        await this.#applyIpvs(diffIpvs(toDiff, kernel), result);
        for (const vs of toDiff) {
          const k = virtualServerKey(vs);
          if (this.#dirtyServices.has(k)) this.#applied.delete(k);
          else this.#applied.set(k, vs);
        }
        for (const k of kernel.keys()) if (!desiredKeys.has(k)) this.#applied.delete(k);
      } catch (err) {
        this.#fail(result, 'ipvs', 'read IPVS state', err);
        this.#forceFull = true;
      }
    }
    result.terminating = this.#graceful.size;

    // 3. Addresses that left the plan (after their virtual servers went).
    if (this.#link && dummyIndex !== undefined) {
      for (const a of toUnbind) {
        try {
          if (await this.#link.unbindAddress(this.#dummy, a, dummyIndex)) ops.unbindAddress++;
          this.#addrCache?.bound.delete(a);
        } catch (err) {
          this.#addrCache = undefined;
          this.#fail(result, a, `unbind ${a} from ${this.#dummy}`, err);
        }
      }
    }

    // 4. ipsets, then iptables.
    if (this.#ipset) {
      try {
        if (full || !this.#ipsetCache) this.#ipsetCache = await this.#ipset.read();
        const sets = plan.families.flatMap((f) => f.ipsets);
        const r = await this.#ipset.sync(sets, this.#ipsetCache);
        ops.ipsetAdd += r.adds; ops.ipsetDel += r.dels; ops.ipsetSwap += r.swaps; ops.ipsetCreate += r.creates;
        for (const f of r.failures) this.#fail(result, `ipset ${f.set ?? '?'}${f.member ? ` member ${f.member}` : ''}`, f.operation ?? 'ipset restore', f);
        // Without failures the kernel's sets are now the plan's (changed by our restore, or found equal),
        // so the cache holds the plan's prepared members rather than a second copy read from the kernel
        // (50,000 strings at 10,000 Services). Failures force a re-read.
        if (r.failures.length) this.#ipsetCache = undefined;
        else this.#ipsetCache = cacheFromPlan(sets, this.#ipsetCache);
      } catch (err) {
        this.#fail(result, 'ipset', 'ipset save/restore', err);
        this.#ipsetCache = undefined;
      }
    }
    for (const fp of plan.families) {
      const ipt = this.#iptables[fp.family];
      if (!ipt) continue;
      const text = fp.iptables.restore;
      const hash = sha(text + JSON.stringify(fp.iptables.jumps ?? null));
      const unchanged = state.iptables[String(fp.family)] === hash;
      const jumps = fp.iptables.jumps?.map((j): JumpRule => jumpFromPlan(j));
      try {
        let current = this.#iptablesCache.get(fp.family);
        if (full || !current || this.#iptablesDirty.has(fp.family)) {
          current = await ipt.read();
          this.#iptablesCache.set(fp.family, current);
          this.#iptablesDirty.delete(fp.family);
        } else if (unchanged) {
          continue;
        }
        const built = ipt.buildPayload(text, current, unchanged, jumps);
        if (built) {
          await ipt.restore(built.payload);
          ops.iptablesRestore++;
          state.iptables[String(fp.family)] = hash;
          // The cache no longer describes the kernel; re-read when needed.
          this.#iptablesCache.set(fp.family, applyToState(current, text, jumps ?? JUMP_RULES));
        } else {
          state.iptables[String(fp.family)] = hash;
        }
      } catch (err) {
        this.#fail(result, `iptables (IPv${fp.family})`, err instanceof Error && 'lineText' in err && err.lineText ? `iptables-restore line: ${String(err.lineText)}` : 'iptables-restore --noflush', err);
        this.#iptablesDirty.add(fp.family);
        delete state.iptables[String(fp.family)];
      }
    }

    if (full) this.#lastFullRead = this.#now();

    // Record what is owned now.
    const keys = new Set(desiredKeys.keys());
    for (const t of this.#graceful.entries()) keys.add(virtualServerKey(t.id));
    for (const k of this.#ipvsCache.keys()) keys.add(k);
    const recorded = this.#recordedKeys ?? new Set(state.virtualServers);
    let same = recorded.size === keys.size;
    if (same) for (const k of keys) if (!recorded.has(k)) { same = false; break; }
    const changed = !same || ops.iptablesRestore > 0;
    if (!same) state.virtualServers = [...keys].sort();
    this.#recordedKeys = keys;
    if (changed) {
      try { await saveState(this.#stateFile, state); } catch (err) { this.#fail(result, 'state', `write ${this.#stateFile}`, err); }
    }

    for (const k of OPERATION_KINDS) result.totalOperations += ops[k];
    result.processes = this.#runner.count() - procs0;
    result.durationMs = performance.now() - t0;
    return result;
  }

  async #applyIpvs(diff: IpvsOp[], result: SyncResult): Promise<void> {
    const ipvs = this.#ipvs!;
    const ops = result.operations;
    const failedServices = new Set<string>();
    const conntrackFlushes: { protocol: string; vip: string; port: number; ep: string }[] = [];
    const runOp = async (op: IpvsOp): Promise<void> => {
      switch (op.kind) {
        case 'addService': {
          const key = virtualServerKey(op.vs);
          try {
            await ipvs.addService(op.service);
            ops.addService++;
            this.#ipvsCache.set(key, { service: { ...op.service }, dests: [] });
          } catch (err) {
            failedServices.add(key);
            this.#dirtyServices.add(key);
            this.#fail(result, op.vs.service, `addService ${key} scheduler ${op.service.scheduler} flags ${op.service.flags} timeout ${op.service.timeout}`, err);
          }
          break;
        }
        case 'updateService': {
          const key = virtualServerKey(op.vs);
          try {
            await ipvs.updateService(op.service);
            ops.updateService++;
            const c = this.#ipvsCache.get(key);
            if (c) c.service = { ...op.service };
          } catch (err) {
            this.#dirtyServices.add(key);
            this.#fail(result, op.vs.service, `updateService ${key} scheduler ${op.service.scheduler} flags ${op.service.flags} timeout ${op.service.timeout}`, err);
          }
          break;
        }
        case 'addDest':
        case 'updateDest': {
          const key = virtualServerKey(op.vs);
          if (failedServices.has(key)) break;
          const c = this.#ipvsCache.get(key);
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
            this.#dirtyServices.add(key);
            this.#fail(result, op.vs.service, `${op.kind} ${key} → ${describeDest(op.dest)}`, err);
          }
          break;
        }
        case 'staleDest': {
          const key = virtualServerKey(op.vs);
          const c = this.#ipvsCache.get(key);
          const decision = this.#graceful.decide(op.id, op.vs.protocol, op.dest);
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
              if (decision === 'delete-expired') this.log.warn({ object: op.vs.service, dest: destKey(op.dest) }, 'graceful termination bound reached; dest deleted with connections left');
            }
          } catch (err) {
            this.#dirtyServices.add(key);
            this.#fail(result, op.vs.service, `${decision === 'quiesce' ? 'updateDest (weight 0)' : 'deleteDest'} ${key} → ${describeDest(op.dest)}`, err);
          }
          break;
        }
        case 'deleteService': {
          try {
            await ipvs.deleteService(op.id);
            ops.deleteService++;
            this.#ipvsCache.delete(op.key);
            this.#graceful.dropService(op.id);
          } catch (err) {
            this.#dirtyServices.add(op.key);
            this.#fail(result, op.key, `deleteService ${op.key}`, err);
          }
          break;
        }
      }
    };
    // Ops of one virtual server run in order; different virtual servers run concurrently
    // (bounded), so a large sync keeps several netlink requests in flight.
    const groups = new Map<string, IpvsOp[]>();
    for (const op of diff) {
      const k = op.kind === 'deleteService' ? op.key : virtualServerKey(op.vs);
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
        if (r.missing) this.#fail(result, `${f.vip}:${f.port}`, `conntrack ${args.join(' ')}`, new Error('conntrack binary not found: install the "conntrack" package'));
        else if (r.exitCode !== 0 && !/0 flow entries/.test(r.stderr)) this.#fail(result, `${f.vip}:${f.port}`, `conntrack ${args.join(' ')}`, new Error(r.stderr.trim()));
      }
    }
  }

  /**
   * Remove exactly what ipvsnet owns: its virtual servers (on kube-ipvs0's
   * addresses or recorded in its state file, never inside --ipvs-exclude-cidrs),
   * kube-ipvs0 itself, its iptables jumps and chains, and its sets.
   * Foreign IPVS services, chains and sets are left alone.
   */
  async cleanup(extra: { sets?: string[]; chains?: Partial<Record<Table, string[]>> } = {}): Promise<SyncResult> {
    const t0 = performance.now();
    const procs0 = this.#runner.count();
    const result: SyncResult = { operations: emptyOps(), totalOperations: 0, processes: 0, failures: [], terminating: 0, fullRead: true, durationMs: 0 };
    const ops = result.operations;
    const state = await loadState(this.#stateFile);
    let bound: string[] = [];
    if (this.#link) {
      try {
        if (await this.#link.getLink(this.#dummy)) bound = await this.#link.listAddresses(this.#dummy);
      } catch (err) { this.#fail(result, this.#dummy, `list addresses on ${this.#dummy}`, err); }
    }
    if (this.#ipvs) {
      const own = new Ownership({ bound, planned: [], recorded: state.virtualServers, excludeCIDRs: this.#exclude });
      try {
        for (const s of await this.#ipvs.listServices()) {
          const key = virtualServerKey(s);
          if (!own.ownsVirtualServer(key, s.address)) continue;
          try { await this.#ipvs.deleteService(s); ops.deleteService++; } catch (err) { this.#fail(result, key, `deleteService ${key}`, err); }
        }
      } catch (err) { this.#fail(result, 'ipvs', 'list IPVS services', err); }
    }
    if (this.#link) {
      try { if (await this.#link.deleteLink(this.#dummy)) ops.unbindAddress += bound.length; } catch (err) { this.#fail(result, this.#dummy, `delete link ${this.#dummy}`, err); }
    }
    for (const fam of [4, 6] as const) {
      const ipt = this.#iptables[fam];
      if (!ipt) continue;
      try {
        const r = await ipt.cleanup(extra.chains);
        if (r.removedChains.length || r.removedJumps) ops.iptablesRestore++;
        for (const k of r.kept) this.log.warn({ chain: k }, 'chain still referenced by a foreign chain: flushed, not deleted');
      } catch (err) { this.#fail(result, `iptables (IPv${fam})`, 'iptables-restore (cleanup)', err); }
    }
    if (this.#ipset) {
      try {
        const r = await this.#ipset.destroy([...ownedSetNames(), ...(extra.sets ?? [])]);
        ops.ipsetSwap += 0;
        for (const f of r.failures) this.#fail(result, `ipset ${f.set ?? '?'}`, f.operation ?? 'ipset destroy', f);
        result.operations.ipsetDel += r.destroyed.length;
      } catch (err) { this.#fail(result, 'ipset', 'ipset destroy', err); }
    }
    try { await saveState(this.#stateFile, { virtualServers: [], iptables: {} }); } catch { /* nothing recorded */ }
    this.#state = undefined;
    this.#recordedKeys = undefined;
    this.#forceFull = true;
    this.#ipvsCache.clear();
    this.#applied.clear();
    this.#ipsetCache = undefined;
    this.#iptablesCache.clear();
    for (const k of OPERATION_KINDS) result.totalOperations += ops[k];
    result.processes = this.#runner.count() - procs0;
    result.durationMs = performance.now() - t0;
    return result;
  }
}

/** The kernel's sets after a successful sync of `sets` over `before` (a restore, or nothing to do). */
function cacheFromPlan(sets: Plan['families'][number]['ipsets'], before: Map<string, KernelSet> | undefined): Map<string, KernelSet> | undefined {
  if (!before) return undefined;
  const out = new Map(before);
  for (const s of sets) {
    const prev = before.get(s.name);
    // A newly created set's kernel create line is unknown until the next read; keep the one we sent.
    // A set recreated because its type or family changed gets the new type's line too.
    const same = prev && prev.type === s.type && (prev.family === undefined || prev.family === s.family);
    const createLine = (same ? prev.createLine : undefined) ?? (s.type === 'bitmap:port' ? `create ${s.name} bitmap:port range 0-65535` : `create ${s.name} ${s.type} family ${s.family === 6 ? 'inet6' : 'inet'} hashsize 1024 maxelem 65536`);
    // The prepared set itself (shared, never mutated): the next diff sees `have.members === want`
    // and skips the set while neither the plan's array nor the kernel read changes.
    out.set(s.name, { name: s.name, type: s.type, family: s.family, createLine, members: prepareMembers(s).want });
  }
  for (const k of [...out.keys()]) if (k.startsWith(TEMP_PREFIX)) out.delete(k);
  return out;
}

// Canonical forms of a plan's bound addresses, remembered per array (the planner keeps the array
// while the addresses do not change; plan output is never mutated).
const canonicalByArray = new WeakMap<readonly string[], string[]>();
function canonicalBound(addrs: readonly string[]): string[] {
  let c = canonicalByArray.get(addrs);
  if (!c) canonicalByArray.set(addrs, (c = addrs.map((a) => formatIP(hostOf(a) ?? requireIP(a)))));
  return c;
}

function jumpFromPlan(j: { table: 'nat' | 'filter'; chain: string; args: string[] }): JumpRule {
  const ci = j.args.indexOf('--comment');
  const ji = Math.max(j.args.indexOf('-j'), j.args.indexOf('--jump'));
  return { table: j.table, from: j.chain, to: ji >= 0 ? j.args[ji + 1] ?? '' : '', comment: ci >= 0 ? j.args[ci + 1] ?? '' : '' };
}

export { toIpvsDest };
