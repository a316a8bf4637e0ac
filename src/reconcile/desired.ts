// The plan's virtual servers by key and its service addresses, kept from sync to sync, so that a delta
// costs what changed rather than the whole plan (at 50,000 Services, rebuilding them took about
// 40 ms of every delta; scripts/bench/delta-cpu.ts). A plan whose `changed.since` is the plan this
// index last took is applied by its changed keys, their virtual servers taken from `changed.planned`
// (without it, the plan's virtual servers are walked once, by object identity: each object's key
// is computed once, the planner handing back the same object while it does not change); any other
// plan (a full plan, a rebuilt planner) rebuilds it.

import type { Plan, VirtualServer } from '../plan/types.ts';
import { virtualServerKey } from '../plan/types.ts';

const keys = new WeakMap<VirtualServer, string>();

/** virtualServerKey, computed once per object. */
export function keyOf(vs: VirtualServer): string {
  let k = keys.get(vs);
  if (k === undefined) keys.set(vs, (k = virtualServerKey(vs)));
  return k;
}

export class DesiredIndex {
  /** Planned virtual servers by key. */
  readonly byKey = new Map<string, VirtualServer>();
  /** Planned virtual servers per service address (not NodePort's node addresses). */
  readonly #addrCount = new Map<string, number>();
  /** Service addresses (not NodePort's node addresses) of planned virtual servers: a view of the counts' keys, not a second table. */
  readonly serviceAddrs: { has(address: string): boolean; [Symbol.iterator](): Iterator<string> } = {
    has: (a) => this.#addrCount.has(a),
    [Symbol.iterator]: () => this.#addrCount.keys(),
  };
  #generation: number | undefined;

  /**
   * Take `plan`. Returns the keys that changed since the plan taken last, or undefined when the
   * index was rebuilt (every key may have changed).
   */
  update(plan: Pick<Plan, 'families' | 'generation' | 'changed'>): ReadonlySet<string> | undefined {
    const changed = plan.changed && this.#generation !== undefined && plan.changed.since === this.#generation ? plan.changed.virtualServers : undefined;
    this.#generation = plan.generation;
    if (!changed) {
      this.byKey.clear();
      this.#addrCount.clear();
      for (const f of plan.families) for (const vs of f.virtualServers) this.#add(keyOf(vs), vs);
      return undefined;
    }
    if (changed.size === 0) return changed;
    for (const k of changed) {
      const old = this.byKey.get(k);
      if (old) this.#remove(k, old);
    }
    const planned = plan.changed?.planned;
    if (planned) {
      for (const k of changed) {
        const vs = planned.get(k);
        if (vs) this.#add(k, vs);
      }
      return changed;
    }
    for (const f of plan.families) {
      for (const vs of f.virtualServers) {
        const k = keyOf(vs);
        if (changed.has(k)) this.#add(k, vs);
      }
    }
    return changed;
  }

  #add(k: string, vs: VirtualServer): void {
    const old = this.byKey.get(k);
    if (old) this.#remove(k, old);
    this.byKey.set(k, vs);
    if (vs.kind === 'nodePort') return;
    const n = this.#addrCount.get(vs.address) ?? 0;
    this.#addrCount.set(vs.address, n + 1);
  }

  #remove(k: string, vs: VirtualServer): void {
    this.byKey.delete(k);
    if (vs.kind === 'nodePort') return;
    const n = (this.#addrCount.get(vs.address) ?? 1) - 1;
    if (n > 0) this.#addrCount.set(vs.address, n);
    else this.#addrCount.delete(vs.address);
  }
}
