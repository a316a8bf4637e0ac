// The Reconciler: makes the kernel hold a Plan with the fewest operations, through one reconciler
// per subsystem, each owning its cache of the kernel:
//
//   ./addresses.ts  kube-ipvs0 and its addresses     ./ipvs.ts      IPVS virtual and real servers
//   ./ipsets.ts     ipsets (over netlink)             ./iptables.ts  chains and jumps (one restore per family)
//
// Order inside one sync (so traffic never meets a half-built state):
//   1. kube-ipvs0 exists; new service addresses are bound;
//   2. IPVS: services added/edited, dests added/edited, stale dests gracefully
//      terminated, services that left the plan deleted;
//   3. addresses that left the plan unbound;
//   4. ipsets, then iptables.
//
// Kernel state is read in full on the first sync and on every repair pass
// (`repairIntervalMs`, 0 = every sync); in between, each subsystem's cache (the
// last read plus this process's own successful operations) is the baseline. A
// failing operation is logged with its object and exact operation, marks that
// object for a re-read, and is retried on the next sync; the rest of the sync
// still applies.

import { createLogger, type Logger } from '../log/index.ts';
import type { Family } from '../net/index.ts';
import type { Plan, VirtualServer } from '../plan/types.ts';
import { virtualServerKey } from '../plan/types.ts';
import type { Ipvs } from '../kernel/ipvs/types.ts';
import type { IpsetAdapter } from '../kernel/ipset/index.ts';
import type { IptablesAdapter, Table } from '../kernel/iptables.ts';
import type { LinkAdapter } from '../kernel/link.ts';
import { createRunner } from '../kernel/exec.ts';
import type { CountingRunner } from '../kernel/exec.ts';
import type { Backend } from '../kernel/iptables.ts';
import { GracefulQueue } from './graceful.ts';
import { Ownership, loadState, saveState, defaultStateFile } from './ownership.ts';
import type { OwnedState } from './ownership.ts';
import { OWNED_SETS } from './names.ts';
import { OPERATION_KINDS, FailureLog, emptyResult } from './result.ts';
import type { SyncContext, SyncResult } from './result.ts';
import { AddressReconciler, DEFAULT_DUMMY } from './addresses.ts';
import { IpvsReconciler } from './ipvs.ts';
import { IpsetReconciler } from './ipsets.ts';
import { IptablesReconciler } from './iptables.ts';
import { repairDue } from './repair.ts';
import { DesiredIndex } from './desired.ts';

export { GracefulQueue } from './graceful.ts';
export { diffIpvs, toIpvsDest } from './ipvs-diff.ts';
export { cacheEntry } from './ipvs.ts';
export { OPERATION_KINDS } from './result.ts';
export type { OperationKind, SyncFailure, SyncResult } from './result.ts';
export { DEFAULT_DUMMY } from './addresses.ts';
export { repairDue } from './repair.ts';

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
  /** A repair pass (full kernel read) every … ms (default 0: every sync; the agent: its syncPeriod; ./repair.ts). */
  repairIntervalMs?: number;
  /** --ipvs-exclude-cidrs: virtual servers there are never touched. */
  excludeCIDRs?: string[];
  /** Where owned virtual servers and applied iptables hashes are recorded (null = nowhere). */
  stateFile?: string | null;
  /** Flush UDP/SCTP conntrack entries of deleted dests (default true). */
  conntrack?: boolean;
  now?: () => number;
}

export class Reconciler {
  readonly log: Logger;
  readonly #runner: CountingRunner;
  readonly #graceful: GracefulQueue;
  readonly #failures: FailureLog;
  readonly #repairMs: number;
  readonly #exclude: string[];
  readonly #stateFile: string | null;
  readonly #now: () => number;
  readonly #close: () => void;
  readonly #addresses: AddressReconciler | null;
  readonly #ipvs: IpvsReconciler | null;
  readonly #ipsets: IpsetReconciler | null;
  readonly #iptables: IptablesReconciler;

  #state: OwnedState | undefined;
  /** The keys last recorded in the state file (what `state.virtualServers` holds), as a set. */
  #recordedKeys: Set<string> | undefined;
  #lastFullRead = -Infinity;
  #forceFull = true;
  readonly #desired = new DesiredIndex();
  /** Keys of the graceful queue at the end of the last sync; whether that sync had failures. */
  #lastGraceful = new Set<string>();
  #lastFailed = true;

  constructor(opts: ReconcilerOptions) {
    this.#runner = opts.runner ?? createRunner();
    this.log = opts.logger ?? createLogger();
    this.#now = opts.now ?? Date.now;
    this.#graceful = new GracefulQueue({ timeoutMs: opts.gracefulTimeoutMs ?? 60_000, now: this.#now });
    this.#failures = new FailureLog(this.log);
    this.#repairMs = opts.repairIntervalMs ?? 0;
    this.#exclude = opts.excludeCIDRs ?? [];
    this.#stateFile = opts.stateFile === undefined ? null : opts.stateFile;
    const link = opts.link ?? null;
    this.#addresses = link ? new AddressReconciler(link, opts.dummy ?? DEFAULT_DUMMY) : null;
    this.#ipvs = opts.ipvs
      ? new IpvsReconciler({ ipvs: opts.ipvs, graceful: this.#graceful, runner: this.#runner, conntrack: opts.conntrack ?? true, log: this.log })
      : null;
    this.#ipsets = opts.ipset ? new IpsetReconciler(opts.ipset) : null;
    this.#iptables = new IptablesReconciler(opts.iptables ?? {});
    const ipvs = opts.ipvs;
    this.#close = () => { ipvs?.close(); link?.close(); };
  }

  get graceful(): GracefulQueue { return this.#graceful; }
  get runner(): CountingRunner { return this.#runner; }

  /**
   * Build a Reconciler over the real kernel (adapters from the kernel factory, src/kernel/open.ts):
   * IPVS over generic netlink, kube-ipvs0 over rtnetlink, ipset, and iptables with the host's
   * backend. Each missing feature is reported ONCE here, with what to install; that part is skipped.
   */
  static async open(opts: Partial<ReconcilerOptions> & { families?: Family[]; backend?: Backend } = {}): Promise<{ reconciler: Reconciler; problems: string[] }> {
    const log = opts.logger ?? createLogger();
    const runner = opts.runner ?? createRunner();
    // Loaded here, not at import: the factory loads the netlink binding (a native addon), which
    // importing the reconciler alone (its unit tests, over the in-memory IPVS) must not.
    const { openKernel } = await import('../kernel/open.ts');
    const { adapters, problems } = await openKernel({
      runner,
      ...(opts.families ? { families: opts.families } : {}),
      ...(opts.backend ? { backend: opts.backend } : {}),
      ownsSet: (n) => OWNED_SETS.has(n),
      onIpsetFallback: (why) => log.warn({ why }, 'ipset: netlink read failed; read with "ipset save" instead'),
      onIpsetWriteFallback: (why) => log.warn({ why }, 'ipset: netlink write failed; written with "ipset restore" from now on'),
      given: {
        ...(opts.ipvs !== undefined ? { ipvs: opts.ipvs } : {}),
        ...(opts.link !== undefined ? { link: opts.link } : {}),
        ...(opts.ipset !== undefined ? { ipset: opts.ipset } : {}),
        ...(opts.iptables !== undefined ? { iptables: opts.iptables ?? {} } : {}),
      },
    });
    for (const p of problems) log.error({ problem: p }, 'missing kernel feature; that part of the plan is skipped');
    const reconciler = new Reconciler({ ...opts, ...adapters, runner, logger: log, stateFile: opts.stateFile === undefined ? await defaultStateFile() : opts.stateFile });
    return { reconciler, problems };
  }

  close(): void { this.#close(); }

  #finish(result: SyncResult, t0: number, procs0: number): SyncResult {
    for (const k of OPERATION_KINDS) result.totalOperations += result.operations[k];
    result.processes = this.#runner.count() - procs0;
    result.durationMs = performance.now() - t0;
    return result;
  }

  /** One reconcile of the kernel to `plan`. */
  async sync(plan: Plan): Promise<SyncResult> {
    const t0 = performance.now();
    const procs0 = this.#runner.count();
    this.#state ??= await loadState(this.#stateFile);
    const state = this.#state;
    const startedAt = this.#now();
    const full = this.#forceFull || repairDue(startedAt, this.#lastFullRead, this.#repairMs);
    this.#forceFull = false;
    const result = emptyResult(full);
    const ctx: SyncContext = this.#failures.context(result);

    // 1. kube-ipvs0 and its new addresses.
    const bound = this.#addresses ? (await this.#addresses.bind(plan.families, ctx)).bound : [];

    // 2. IPVS.
    // Every virtual server on a service address ipvsnet binds is its own; on a node address (NodePort),
    // only the planned and recorded keys are: another one there belongs to someone else.
    // The plan's virtual servers by key and its service addresses, updated by the keys that changed.
    const changedKeys = this.#desired.update(plan);
    const keyed = this.#desired.byKey;
    const serviceAddrs = this.#desired.serviceAddrs;
    const own = new Ownership({ bound, planned: serviceAddrs, plannedKeys: keyed, recorded: this.#recordedKeys ?? state.virtualServers, excludeCIDRs: this.#exclude });
    const desired = this.#exclude.length === 0 ? keyed : new Map([...keyed].filter(([, vs]) => !own.excluded(vs.address)));
    if (this.#ipvs) {
      await this.#recordAhead(desired, changedKeys, state, ctx);
      try {
        await this.#ipvs.sync(desired, own, plan, ctx);
      } catch (err) {
        ctx.fail('ipvs', 'read IPVS state', err);
        this.#forceFull = true;
      }
    }
    result.terminating = this.#graceful.size;

    // 3. Addresses that left the plan (after their virtual servers went).
    await this.#addresses?.unbind(ctx);

    // 4. ipsets, then iptables.
    await this.#ipsets?.sync(plan.families.flatMap((f) => f.ipsets), ctx, plan);
    await this.#iptables.sync(plan.families, state.iptables, ctx);

    if (full) this.#lastFullRead = startedAt;

    // Record what is owned now: the planned keys, the terminating ones, and what the IPVS cache holds.
    // After a delta without failures (before or now) only the keys that can have moved are looked at.
    const graceful = new Set<string>();
    for (const t of this.#graceful.entries()) graceful.add(virtualServerKey(t.id));
    const failed = result.failures.length > 0;
    let keys: Set<string>;
    let same = true;
    if (changedKeys && !full && !failed && !this.#lastFailed && this.#recordedKeys) {
      keys = this.#recordedKeys;
      const look = (k: string): void => {
        const want = desired.has(k) || graceful.has(k) || (this.#ipvs?.hasCached(k) ?? false);
        if (want === keys.has(k)) return;
        same = false;
        if (want) keys.add(k); else keys.delete(k);
      };
      for (const k of changedKeys) look(k);
      for (const k of this.#lastGraceful) look(k);
      for (const k of graceful) look(k);
    } else {
      keys = new Set(desired.keys());
      for (const k of graceful) keys.add(k);
      if (this.#ipvs) for (const k of this.#ipvs.cachedKeys()) keys.add(k);
      const recorded = this.#recordedKeys ?? new Set(state.virtualServers);
      same = recorded.size === keys.size;
      if (same) for (const k of keys) if (!recorded.has(k)) { same = false; break; }
    }
    this.#lastGraceful = graceful;
    this.#lastFailed = failed;
    if (!same) state.virtualServers = [...keys].sort();
    this.#recordedKeys = keys;
    if (!same || result.operations.iptablesRestore > 0) {
      try { await saveState(this.#stateFile, state); } catch (err) { ctx.fail('state', `write ${this.#stateFile}`, err); }
    }
    return this.#finish(result, t0, procs0);
  }

  /**
   * Write-ahead for virtual servers that only the state file can show to be ipvsnet's (NodePort ones,
   * on node addresses): they are recorded before they are created, so a crash in between never
   * leaves one that a later cleanup cannot find. Service-address ones need no record (kube-ipvs0
   * holds their address first).
   */
  async #recordAhead(desired: ReadonlyMap<string, VirtualServer>, changed: ReadonlySet<string> | undefined, state: OwnedState, ctx: SyncContext): Promise<void> {
    const recorded = this.#recordedKeys ?? new Set(state.virtualServers);
    let ahead: Set<string> | undefined;
    // A delta's new virtual servers are among its changed keys (the index was updated from them).
    for (const k of changed ?? desired.keys()) {
      const vs = desired.get(k);
      if (vs?.kind === 'nodePort' && !recorded.has(k)) (ahead ??= new Set(recorded)).add(k);
    }
    if (!ahead) return;
    state.virtualServers = [...ahead].sort();
    this.#recordedKeys = ahead;
    try { await saveState(this.#stateFile, state); } catch (err) { ctx.fail('state', `write ${this.#stateFile}`, err); }
  }

  /**
   * Remove exactly what ipvsnet owns: its virtual servers (on kube-ipvs0's
   * addresses or recorded in its state file, never inside --ipvs-exclude-cidrs),
   * kube-ipvs0 itself, its iptables jumps and chains, and its sets (names from
   * rules/, as the planner makes them). Foreign IPVS services, chains and sets are left alone.
   */
  async cleanup(extra: { sets?: string[]; chains?: Partial<Record<Table, string[]>> } = {}): Promise<SyncResult> {
    const t0 = performance.now();
    const procs0 = this.#runner.count();
    const result = emptyResult(true);
    const ctx = this.#failures.context(result);
    const state = await loadState(this.#stateFile);
    const bound = this.#addresses ? await this.#addresses.current(ctx) : [];
    await this.#ipvs?.cleanup(new Ownership({ bound, planned: [], recorded: state.virtualServers, excludeCIDRs: this.#exclude }), ctx);
    await this.#addresses?.cleanup(bound, ctx);
    await this.#iptables.cleanup(extra.chains ?? {}, ctx, (chain) => this.log.warn({ chain }, 'chain still referenced by a foreign chain: flushed, not deleted'));
    await this.#ipsets?.cleanup(extra.sets ?? [], ctx);
    try { await saveState(this.#stateFile, { virtualServers: [], iptables: {} }); } catch { /* nothing recorded */ }
    this.#state = undefined;
    this.#recordedKeys = undefined;
    this.#lastFailed = true;
    this.#forceFull = true;
    return this.#finish(result, t0, procs0);
  }
}
