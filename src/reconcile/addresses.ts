// The kube-ipvs0 reconciler: the dummy link exists (created DOWN, like kube-proxy) and holds exactly
// the plan's service addresses, less those another interface holds (an externalIP or LB IP on a NIC).
// New addresses are bound before IPVS is programmed, leaving ones unbound after (`bind`, `unbind`).
//
// kube-ipvs0's addresses and those held elsewhere are cached: one rtnetlink address dump on the
// first sync, each repair pass, a re-created link, or after a failed bind/unbind; none in between.

import type { FamilyPlan } from '../plan/types.ts';
import type { LinkAdapter } from '../kernel/link.ts';
import { formatIP, hostOf, ipFamily, requireIP } from '../net/index.ts';
import { diffAddresses } from './address-diff.ts';
import type { SyncContext } from './result.ts';

export const DEFAULT_DUMMY = 'kube-ipvs0';

// Canonical forms of a plan's bound addresses, remembered per array (the planner keeps the array
// while the addresses do not change; plan output is never mutated).
const canonicalByArray = new WeakMap<readonly string[], string[]>();
function canonicalBound(addrs: readonly string[]): string[] {
  let c = canonicalByArray.get(addrs);
  if (!c) canonicalByArray.set(addrs, (c = addrs.map((a) => formatIP(hostOf(a) ?? requireIP(a)))));
  return c;
}

export interface BindResult {
  /** kube-ipvs0's addresses before this sync's binds (what ownership of virtual servers starts from). */
  bound: string[];
}

export class AddressReconciler {
  readonly #link: LinkAdapter;
  readonly #dummy: string;
  #cache: { bound: Set<string>; elsewhere: Set<string> } | undefined;
  #index: number | undefined;
  #toUnbind: string[] = [];

  constructor(link: LinkAdapter, dummy: string = DEFAULT_DUMMY) {
    this.#link = link;
    this.#dummy = dummy;
  }

  get dummy(): string { return this.#dummy; }

  /** Step 1 of a sync: the link exists and the plan's new addresses are bound. */
  async bind(families: readonly Pick<FamilyPlan, 'boundAddresses'>[], ctx: SyncContext): Promise<BindResult> {
    const ops = ctx.result.operations;
    this.#index = undefined;
    this.#toUnbind = [];
    const want = [...new Set(families.flatMap((f) => canonicalBound(f.boundAddresses)))];
    try {
      const d = await this.#link.ensureDummy(this.#dummy);
      this.#index = d.index;
      if (d.created) ops.createLink++;
      if (ctx.full || d.created || !this.#cache) {
        this.#cache = undefined;
        const r = await this.#link.addressesOn(this.#dummy);
        this.#cache = { bound: new Set(r.on), elsewhere: r.elsewhere };
      }
      const cache = this.#cache;
      const bound = [...cache.bound];
      const ad = diffAddresses(want, cache.bound, cache.elsewhere);
      for (const a of ad.bind) {
        try {
          if (await this.#link.bindAddress(this.#dummy, a, d.index)) ops.bindAddress++;
          cache.bound.add(a);
        } catch (err) {
          this.#cache = undefined;
          ctx.fail(a, `bind ${a}/${ipFamily(a) === 6 ? 128 : 32} on ${this.#dummy}`, err);
        }
      }
      this.#toUnbind = ad.unbind;
      return { bound };
    } catch (err) {
      this.#cache = undefined;
      ctx.fail(this.#dummy, `ensure dummy link ${this.#dummy}`, err);
      return { bound: [] };
    }
  }

  /** Step 3 of a sync: addresses that left the plan are unbound (after their virtual servers went). */
  async unbind(ctx: SyncContext): Promise<void> {
    if (this.#index === undefined) return;
    for (const a of this.#toUnbind) {
      try {
        if (await this.#link.unbindAddress(this.#dummy, a, this.#index)) ctx.result.operations.unbindAddress++;
        this.#cache?.bound.delete(a);
      } catch (err) {
        this.#cache = undefined;
        ctx.fail(a, `unbind ${a} from ${this.#dummy}`, err);
      }
    }
    this.#toUnbind = [];
  }

  /** kube-ipvs0's addresses now (for cleanup's ownership), [] when the link is absent. */
  async current(ctx: SyncContext): Promise<string[]> {
    try {
      return (await this.#link.getLink(this.#dummy)) ? await this.#link.listAddresses(this.#dummy) : [];
    } catch (err) {
      ctx.fail(this.#dummy, `list addresses on ${this.#dummy}`, err);
      return [];
    }
  }

  /** Delete kube-ipvs0 (its addresses go with it; they count as unbound). */
  async cleanup(bound: readonly string[], ctx: SyncContext): Promise<void> {
    try {
      if (await this.#link.deleteLink(this.#dummy)) ctx.result.operations.unbindAddress += bound.length;
    } catch (err) { ctx.fail(this.#dummy, `delete link ${this.#dummy}`, err); }
    this.#cache = undefined;
  }
}
