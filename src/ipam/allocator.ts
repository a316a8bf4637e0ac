// Round-robin allocation over a range set, split from the store (as in the
// reference host-local's backend/allocator vs backend/disk).
import { CniError, ErrInvalidNetworkConfig, ErrTryAgainLater } from '../cniproto/errors.ts';
import { eq, formatIP, next } from '../net/index.ts';
import type { IP } from '../net/index.ts';
import { rangeSetContains, rangeSetString } from './config.ts';
import type { Range, RangeSet } from './config.ts';
import type { Store } from './store.ts';

export interface Allocated {
  ip: IP;
  range: Range;
}

/**
 * The candidate order, as in host-local: start right after `last` when it lies
 * in the set (round-robin), otherwise at the first range's start; walk each
 * range to its end, wrap to the next range, skip gateways, stop after one lap.
 */
export function* candidates(set: RangeSet, last: IP | undefined): Generator<Allocated> {
  if (set.length === 0) return;
  let idx = 0;
  let cur: IP | undefined;
  if (last) {
    const i = set.findIndex((r) => rangeSetContains([r], last) !== undefined);
    if (i >= 0) { idx = i; cur = last; }
  }
  let start: IP | undefined = cur ? undefined : set[0]!.rangeStart;
  // first step
  const step = (): Allocated | undefined => {
    let r = set[idx]!;
    if (cur === undefined) {
      cur = r.rangeStart;
    } else if (eq(cur, r.rangeEnd)) {
      idx = (idx + 1) % set.length;
      r = set[idx]!;
      cur = r.rangeStart;
    } else {
      cur = next(cur);
    }
    return { ip: cur, range: r };
  };
  let first = true;
  for (;;) {
    const c = step();
    if (!c) return;
    if (first) {
      first = false;
      if (start === undefined) start = c.ip;
    } else if (eq(c.ip, start)) {
      return;
    }
    if (eq(c.ip, c.range.gateway)) continue;
    yield c;
  }
}

/** Pick and reserve one address from `set` (index `setIndex`) for id/ifname. The caller holds the store lock. */
export function allocate(store: Store, set: RangeSet, setIndex: number, id: string, ifname: string, requested: IP | undefined): Allocated {
  const rangeId = String(setIndex);
  if (requested) {
    const r = rangeSetContains(set, requested);
    if (!r) throw new CniError(ErrInvalidNetworkConfig, `requested IP ${formatIP(requested)} is not in range set ${rangeSetString(set)}`);
    if (eq(requested, r.gateway)) throw new CniError(ErrInvalidNetworkConfig, `requested ip ${formatIP(requested)} is subnet's gateway`);
    if (!store.reserve(id, ifname, requested, rangeId)) {
      throw new CniError(ErrTryAgainLater, `requested IP address ${formatIP(requested)} is not available in range set ${rangeSetString(set)}`);
    }
    return { ip: requested, range: r };
  }
  for (const ip of store.getByID(id, ifname)) {
    if (rangeSetContains(set, ip)) {
      throw new CniError(ErrInvalidNetworkConfig, `${formatIP(ip)} has been allocated to ${id}, duplicate allocation is not allowed`);
    }
  }
  const taken = store.reservedSet();
  for (const c of candidates(set, store.lastReservedIP(rangeId))) {
    if (taken.has(formatIP(c.ip))) continue;
    if (store.reserve(id, ifname, c.ip, rangeId)) return c;
  }
  throw new NoFreeAddress(set);
}

export class NoFreeAddress extends CniError {
  constructor(set: RangeSet) {
    super(ErrTryAgainLater, `no IP addresses available in range set: ${rangeSetString(set)}`);
  }
}

/** Count free addresses in a set (for STATUS); stops counting at `limit`. */
export function freeCount(store: Store, set: RangeSet, limit = 1): number {
  const taken = store.reservedSet();
  let n = 0;
  for (const c of candidates(set, undefined)) {
    if (!taken.has(formatIP(c.ip))) {
      n++;
      if (n >= limit) break;
    }
  }
  return n;
}
