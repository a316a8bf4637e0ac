// Wiring between the IP-pool claimer (src/pools) and the pod-network controller (src/podnet): the
// pools the claimer lists (at the claim, then every conditions round) decide the egress chain
// (every pool inside the cluster; natOutgoing of the node's pool). A list made before the controller
// exists is kept for it, and a list that differs from the last one asks the agent for a sync at once,
// so a new claim or a natOutgoing change does not wait for the next periodic sync.
import type { EgressPool } from '../podnet/plan/egress.ts';
import type { IPPoolModel } from '../pools/model/ippool.ts';

export class PoolFeed {
  #pools: EgressPool[] | undefined;
  #target: { setPools(p: readonly EgressPool[]): void } | undefined;
  #sync: () => void = () => {};

  /** The claimer's onPools. */
  readonly onPools = (pools: IPPoolModel[]): void => {
    const next = pools.map((p) => ({ name: p.name, cidr: p.cidrText, natOutgoing: p.natOutgoing }));
    if (this.#pools && JSON.stringify(next) === JSON.stringify(this.#pools)) return;
    this.#pools = next;
    this.#target?.setPools(next);
    this.#sync();
  };

  /** The pod-network controller, once made: handed the pools listed so far. */
  feed(target: { setPools(p: readonly EgressPool[]): void }): void {
    this.#target = target;
    if (this.#pools) target.setPools(this.#pools);
  }

  /** How to ask the agent for a sync, once it exists. */
  syncWith(run: () => void): void {
    this.#sync = run;
  }
}
