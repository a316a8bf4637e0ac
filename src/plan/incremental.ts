// IncrementalPlanner: keeps each Service's contribution and the sorted
// aggregates, so one changed Service or EndpointSlice costs only that Service's
// recomputation plus a few sorted inserts. plan() must always equal
// buildPlan() over the same objects (checked by a property test).

import type { Diagnostic, Family } from '../net/index.ts';
import type { FamilyPlan, HealthCheckNodePort, IpsetMemberChanges, Plan, VirtualServer } from './types.ts';
import { ipsetName } from './ipsets.ts';
import { virtualServerKey } from './types.ts';
import type { EndpointSliceModel, NodeModel, ServiceModel } from '../model/types.ts';
import { parseService } from '../model/service.ts';
import { parseEndpointSlice } from '../model/endpointslice.ts';
import { parseNode } from '../model/node.ts';
import { objectRef } from '../model/common.ts';
import { compareDiagnostics } from '../model/diagnostics.ts';
import type { NodeConfig } from './config.ts';
import { buildContext, type PlanContext } from './context.ts';
import { addrKey, computeService, type FamilyContribution, type ServiceContribution } from './service.ts';
import { boundText, claimExtras, cmpStr, conflictsOf, familyPlan, noNodeAccessId, vsSortKey } from './assemble.ts';
import type { Claim, NoNodeAccess } from './claims.ts';
import { configDiagnostics, dedupeSorted, localNode, type PlanInput } from './full.ts';
import { SortedBag, VirtualServerIndex } from './sorted.ts';

class FamilyState {
  readonly vs = new VirtualServerIndex();
  readonly bound = new SortedBag<string>();
  readonly members = new Map<string, SortedBag<string>>();
  readonly nna = new SortedBag<NoNodeAccess>();
  readonly noLocal = { internal: 0, external: 0 };
  dirty = true;
  cached?: FamilyPlan;
  /**
   * Members whose presence changed since the last takeMemberChanges(), with whether each was present
   * then, per base set name. Kept from the first take on (a family state built by rebuild() starts
   * with every member new, which no plan reports as changes).
   */
  private readonly journal = new Map<string, Map<string, boolean>>();
  /** The keys (virtualServerKey → sort key) of virtual servers claimed or released since the last take, kept alike. */
  private readonly touched = new Map<string, string>();
  private tracking = false;
  /** Told the virtualServerKey of every virtual server added or removed. */
  readonly onChange: (key: string) => void;

  constructor(onChange: (key: string) => void) {
    this.onChange = onChange;
  }

  apply(c: FamilyContribution, sign: 1 | -1): void {
    this.dirty = true;
    if (c.noLocal & 1) this.noLocal.internal += sign;
    if (c.noLocal & 2) this.noLocal.external += sign;
    for (const cl of c.claims) {
      // A losing claim's key still counts as changed: the winner's virtual server is the same
      // object then, and the reconciler compares it with the kernel at no cost.
      const vkey = virtualServerKey(cl.vs);
      this.onChange(vkey);
      // The sort key identifies (protocol, address, port) uniquely, so it doubles as the index key.
      const key = vsSortKey(cl.vs);
      if (this.tracking) this.touched.set(vkey, key);
      const [before, after] = sign > 0 ? this.vs.add(key, key, cl) : this.vs.remove(key, cl);
      // Only the winning claim's members are in the sets: move them when the winner changes.
      if (before === after) continue;
      if (before) this.claim(before, -1);
      if (after) this.claim(after, 1);
    }
    for (const b of c.bound) {
      if (sign > 0) this.bound.add(addrKey(b), boundText(b));
      else this.bound.remove(addrKey(b));
    }
    const mm = c.members;
    for (let i = 0; i < mm.length; i += 2) this.member(mm[i]!, mm[i + 1]!, sign);
  }

  private member(set: string, m: string, sign: 1 | -1): void {
    let bag = this.members.get(set);
    if (!bag) this.members.set(set, (bag = new SortedBag<string>(true)));
    const had = bag.has(m);
    if (sign > 0) bag.add(m, m);
    else bag.remove(m);
    if (!this.tracking || bag.has(m) === had) return;
    let j = this.journal.get(set);
    if (!j) this.journal.set(set, (j = new Map()));
    if (!j.has(m)) j.set(m, had);
  }

  /** The virtual server now planned on each key touched since the last call (none: not in the plan). */
  takeTouched(into: Map<string, VirtualServer>): void {
    for (const [vkey, key] of this.touched) {
      const w = this.vs.winner(key);
      if (w) into.set(vkey, w.vs);
    }
    this.touched.clear();
  }

  /** Each set's members added and removed since the last call (by kernel set name); starts the journal. */
  takeMemberChanges(family: Family, into: Map<string, IpsetMemberChanges>): void {
    this.tracking = true;
    for (const [set, j] of this.journal) {
      const bag = this.members.get(set)!;
      const added: string[] = [];
      const removed: string[] = [];
      for (const [m, had] of j) {
        const has = bag.has(m);
        if (has && !had) added.push(m);
        else if (!has && had) removed.push(m);
      }
      if (added.length || removed.length) into.set(ipsetName(set, family), { added: added.sort(), removed: removed.sort() });
    }
    this.journal.clear();
  }

  private claim(cl: Claim, sign: 1 | -1): void {
    claimExtras(
      cl,
      (set, m) => this.member(set, m, sign),
      (e) => (sign > 0 ? this.nna.add(noNodeAccessId(e), e) : this.nna.remove(noNodeAccessId(e))),
    );
  }

  plan(family: Family, ctx: PlanContext): FamilyPlan {
    if (!this.dirty && this.cached) return this.cached;
    const members = new Map<string, string[]>();
    for (const [k, bag] of this.members) if (bag.size > 0) members.set(k, bag.list());
    this.cached = familyPlan(family, { virtualServers: this.vs.list(), bound: this.bound.list(), members, noNodeAccess: this.nna.list(), noLocal: this.noLocal }, ctx);
    this.dirty = false;
    return this.cached;
  }
}

/** The parts of the local Node the plan depends on. */
function nodeView(n: NodeModel | undefined): string {
  return n ? JSON.stringify([n.addresses, n.zone ?? '', n.podCIDRs]) : '';
}

type Keyish = string | { metadata?: { name?: unknown; namespace?: unknown } };

export class IncrementalPlanner {
  private cfg: NodeConfig;
  private ctx!: PlanContext;
  private localAddresses: string[] | undefined;
  private readonly services = new Map<string, ServiceModel>();
  private readonly slices = new Map<string, EndpointSliceModel>();
  /** A Service's slices: the slice itself when it has one (most do), else a list sorted by key. */
  private readonly slicesByService = new Map<string, EndpointSliceModel | EndpointSliceModel[]>();
  private readonly nodes = new Map<string, NodeModel>();
  private readonly contributions = new Map<string, ServiceContribution>();
  private families = new Map<Family, FamilyState>();
  /** Parse problems per object ("Kind/ref"), and Service-level diagnostics per Service key. */
  private readonly parseDiags = new Map<string, Diagnostic[]>();
  private readonly svcDiags = new Map<string, Diagnostic[]>();
  private cfgDiags: Diagnostic[] = [];
  private conflictDiags: Diagnostic[] = [];
  private conflictsStale = true;
  private diagCache: Diagnostic[] | null = null;
  private readonly health = new Map<string, HealthCheckNodePort>();
  private healthCache: HealthCheckNodePort[] | null = null;
  /** Plans handed out so far; the virtual servers touched since the last one (null: all may have). */
  private generation = 0;
  private changedKeys: Set<string> | null = null;
  private readonly noteChange = (key: string): void => { this.changedKeys?.add(key); };

  constructor(cfg: NodeConfig, initial?: PlanInput) {
    this.cfg = cfg;
    if (initial) {
      for (const s of initial.services) this.services.set(s.key, s);
      for (const s of initial.endpointSlices) this.putSlice(s);
      for (const n of initial.nodes) this.nodes.set(n.name, n);
      if (initial.localAddresses) this.localAddresses = [...new Set(initial.localAddresses)].sort();
      if (initial.diagnostics && initial.diagnostics.length > 0) this.parseDiags.set('(initial)', [...initial.diagnostics]);
    }
    this.rebuild();
  }

  /**
   * The node's interface addresses except kube-ipvs0's, read by the agent before each plan: the
   * NodePort addresses are chosen among them. Everything is recomputed only when they changed.
   */
  setLocalAddresses(addresses: readonly string[] | undefined): void {
    const next = addresses ? [...new Set(addresses)].sort() : undefined;
    if (JSON.stringify(next) === JSON.stringify(this.localAddresses)) return;
    this.localAddresses = next;
    this.rebuild();
  }

  /** Change node settings: everything is recomputed. */
  reconfigure(cfg: NodeConfig): void {
    this.cfg = cfg;
    this.rebuild();
  }

  upsertService(raw: unknown): Diagnostic[] {
    const r = parseService(raw);
    const key = r.model?.key ?? objectRef(raw, true);
    this.setParseDiags(`Service/${key}`, r.diagnostics);
    if (r.model) this.services.set(key, r.model);
    else this.services.delete(key);
    this.recompute(key);
    return r.diagnostics;
  }

  deleteService(k: Keyish): void {
    const key = typeof k === 'string' ? k : objectRef(k, true);
    this.setParseDiags(`Service/${key}`, []);
    this.services.delete(key);
    this.recompute(key);
  }

  upsertEndpointSlice(raw: unknown): Diagnostic[] {
    const r = parseEndpointSlice(raw);
    const key = r.model?.key ?? objectRef(raw, true);
    this.setParseDiags(`EndpointSlice/${key}`, r.diagnostics);
    const old = this.slices.get(key);
    if (old) this.dropSlice(old);
    if (r.model) this.putSlice(r.model);
    if (old && old.serviceKey !== r.model?.serviceKey) this.recompute(old.serviceKey);
    if (r.model) this.recompute(r.model.serviceKey);
    return r.diagnostics;
  }

  deleteEndpointSlice(k: Keyish): void {
    const key = typeof k === 'string' ? k : objectRef(k, true);
    this.setParseDiags(`EndpointSlice/${key}`, []);
    const old = this.slices.get(key);
    if (!old) return;
    this.dropSlice(old);
    this.recompute(old.serviceKey);
  }

  upsertNode(raw: unknown): Diagnostic[] {
    const r = parseNode(raw);
    const name = r.model?.name ?? objectRef(raw, false);
    this.setParseDiags(`Node/${name}`, r.diagnostics);
    const before = this.nodes.get(name);
    if (r.model) this.nodes.set(name, r.model);
    else this.nodes.delete(name);
    // Node status updates are frequent; only the addresses and the zone change the plan.
    if (name === this.cfg.nodeName && nodeView(before) !== nodeView(r.model)) this.rebuild();
    return r.diagnostics;
  }

  deleteNode(k: Keyish): void {
    const name = typeof k === 'string' ? k : objectRef(k, false);
    this.setParseDiags(`Node/${name}`, []);
    this.nodes.delete(name);
    if (name === this.cfg.nodeName) this.rebuild();
  }

  plan(): Plan {
    // Address conflicts are a property of all Services together: recomputed when a contested key changed.
    if (this.conflictsStale) {
      const conflicts: Diagnostic[] = [];
      for (const f of this.families.values()) for (const claims of f.vs.contestedClaims()) conflictsOf(claims, conflicts);
      this.conflictDiags = conflicts;
      this.conflictsStale = false;
      this.diagCache = null;
    }
    if (this.diagCache === null) {
      const all: Diagnostic[] = [...this.cfgDiags, ...this.conflictDiags];
      for (const d of this.parseDiags.values()) all.push(...d);
      for (const d of this.svcDiags.values()) all.push(...d);
      this.diagCache = dedupeSorted(all.sort(compareDiagnostics));
    }
    if (this.healthCache === null) this.healthCache = [...this.health.values()].sort((a, b) => cmpStr(a.service, b.service));
    const since = this.generation++;
    const changed = this.changedKeys;
    this.changedKeys = new Set();
    const ipsets = new Map<string, IpsetMemberChanges>();
    const planned = new Map<string, VirtualServer>();
    for (const [f, st] of this.families) {
      st.takeMemberChanges(f, ipsets);
      st.takeTouched(planned);
    }
    return {
      node: this.ctx.nodeName,
      families: this.ctx.families.map((f) => this.families.get(f)!.plan(f, this.ctx)),
      healthCheckNodePorts: this.healthCache,
      diagnostics: this.diagCache,
      generation: this.generation,
      ...(changed ? { changed: { since, virtualServers: changed, planned, ipsets } } : {}),
    };
  }

  // Slices per Service: the one slice, or a small array kept sorted by key (a Service has one to a few).
  private putSlice(s: EndpointSliceModel): void {
    // The slice's Service key as the same string as the Service model's (or an earlier slice's) key:
    // one copy per Service instead of one per object that names it.
    const svc = this.services.get(s.serviceKey);
    if (svc && svc.key !== s.serviceKey) s.serviceKey = svc.key;
    this.slices.set(s.key, s);
    const next = this.slicesOf(s.serviceKey).filter((x) => x.key !== s.key);
    next.push(s);
    next.sort((a, b) => cmpStr(a.key, b.key));
    this.slicesByService.set(s.serviceKey, next.length === 1 ? s : next);
  }

  private dropSlice(s: EndpointSliceModel): void {
    this.slices.delete(s.key);
    if (!this.slicesByService.has(s.serviceKey)) return;
    const next = this.slicesOf(s.serviceKey).filter((x) => x.key !== s.key);
    if (next.length === 0) this.slicesByService.delete(s.serviceKey);
    else this.slicesByService.set(s.serviceKey, next.length === 1 ? next[0]! : next);
  }

  private setParseDiags(id: string, d: Diagnostic[]): void {
    const had = this.parseDiags.has(id);
    if (d.length > 0) this.parseDiags.set(id, d);
    else this.parseDiags.delete(id);
    if (had || d.length > 0) this.diagCache = null;
  }

  private slicesOf(key: string): EndpointSliceModel[] {
    const v = this.slicesByService.get(key);
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  }

  private recompute(key: string): void {
    const old = this.contributions.get(key);
    if (old) this.applyContribution(old, -1);
    const svc = this.services.get(key);
    const slices = this.slicesOf(key);
    if (!svc && slices.length === 0) {
      this.contributions.delete(key);
      return;
    }
    const c = computeService(svc, slices, this.ctx, key);
    this.contributions.set(key, c);
    this.applyContribution(c, 1);
  }

  private applyContribution(c: ServiceContribution, sign: 1 | -1): void {
    for (const fc of c.families) {
      const f = this.families.get(fc.family);
      if (!f) continue;
      const v = f.vs.contestedVersion;
      f.apply(fc, sign);
      if (f.vs.contestedVersion !== v) this.conflictsStale = true;
    }
    if (sign > 0) {
      if (c.healthCheck) { this.health.set(c.key, c.healthCheck); this.healthCache = null; }
      if (c.diagnostics.length > 0) { this.svcDiags.set(c.key, c.diagnostics); this.diagCache = null; }
    } else {
      if (this.health.delete(c.key)) this.healthCache = null;
      if (this.svcDiags.delete(c.key)) this.diagCache = null;
    }
  }

  private rebuild(): void {
    const node = localNode(this.nodes.values(), this.cfg);
    this.ctx = buildContext(this.cfg, node, this.localAddresses);
    this.cfgDiags = configDiagnostics(this.cfg, node);
    this.families = new Map(this.ctx.families.map((f) => [f, new FamilyState(this.noteChange)]));
    this.changedKeys = null; // every virtual server may have changed
    this.conflictsStale = true;
    this.contributions.clear();
    this.health.clear();
    this.svcDiags.clear();
    this.diagCache = null;
    this.healthCache = null;
    const keys = new Set<string>([...this.services.keys(), ...this.slicesByService.keys()]);
    for (const k of keys) this.recompute(k);
  }
}
