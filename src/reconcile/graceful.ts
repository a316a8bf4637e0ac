// Graceful termination of real servers, as kube-proxy's IPVS mode does it:
//   - a TCP dest that leaves the plan goes to weight 0 (no new connections) and
//     is deleted once ActiveConn + InactConn reaches 0, or after a bound;
//   - UDP and SCTP dests are deleted at once (their conntrack entries flushed by
//     the caller);
//   - a dest that returns to the plan while queued is restored (weight back,
//     dropped from the queue).
// The queue lives in memory. After a restart, dests at weight 0 that are not in
// the plan are simply queued again (their `since` restarts).

import type { Protocol } from '../net/index.ts';
import type { IpvsDest, IpvsServiceId } from '../kernel/ipvs/types.ts';
import { destKey, keyOf } from './ipvs-diff.ts';

export interface Terminating {
  id: IpvsServiceId;
  address: string;
  port: number;
  since: number;
}

export type GracefulDecision = 'delete-now' | 'quiesce' | 'wait' | 'delete-drained' | 'delete-expired';

export class GracefulQueue {
  readonly #items = new Map<string, Terminating>();
  readonly timeoutMs: number;
  readonly #now: () => number;

  constructor(opts: { timeoutMs?: number; now?: () => number } = {}) {
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.#now = opts.now ?? Date.now;
  }

  static key(id: IpvsServiceId, d: Pick<IpvsDest, 'address' | 'port'>): string {
    return `${keyOf(id)}|${destKey(d)}`;
  }

  get size(): number { return this.#items.size; }
  entries(): Terminating[] { return [...this.#items.values()]; }
  has(id: IpvsServiceId, d: Pick<IpvsDest, 'address' | 'port'>): boolean { return this.#items.has(GracefulQueue.key(id, d)); }

  /**
   * What to do with a dest that is in the kernel but not in the plan.
   * `quiesce`: set weight 0 now (and it is queued); `wait`: leave it;
   * `delete-*`: delete it (and it leaves the queue once the caller confirms with `remove`).
   */
  decide(id: IpvsServiceId, protocol: Protocol, d: IpvsDest): GracefulDecision {
    if (protocol !== 'TCP') return 'delete-now';
    const k = GracefulQueue.key(id, d);
    let item = this.#items.get(k);
    if (!item) {
      item = { id, address: d.address, port: d.port, since: this.#now() };
      this.#items.set(k, item);
    }
    const conns = (d.activeConns ?? 0) + (d.inactiveConns ?? 0);
    if (conns === 0) return 'delete-drained';
    if (this.#now() - item.since >= this.timeoutMs) return 'delete-expired';
    return d.weight !== 0 ? 'quiesce' : 'wait';
  }

  /** The dest was deleted, or it returned to the plan. */
  remove(id: IpvsServiceId, d: Pick<IpvsDest, 'address' | 'port'>): boolean {
    return this.#items.delete(GracefulQueue.key(id, d));
  }

  /** The whole virtual server went away. */
  dropService(id: IpvsServiceId): void {
    const prefix = `${keyOf(id)}|`;
    for (const k of [...this.#items.keys()]) if (k.startsWith(prefix)) this.#items.delete(k);
  }
}
