// Address diff for kube-ipvs0: bind what the plan wants and is not held by
// another interface (an externalIP or LB IP already on a NIC stays there);
// unbind what is on kube-ipvs0 and no longer planned.

import { formatIP, hostOf, requireIP } from '../net/index.ts';

export interface AddressDiff {
  bind: string[];
  unbind: string[];
  /** Planned addresses left unbound because another interface holds them. */
  heldElsewhere: string[];
}

export function diffAddresses(want: Iterable<string>, bound: Iterable<string>, elsewhere: ReadonlySet<string>): AddressDiff {
  const w = new Set([...want].map((a) => formatIP(hostOf(a) ?? requireIP(a))));
  const b = new Set([...bound].map((a) => formatIP(requireIP(a))));
  const bind: string[] = [];
  const heldElsewhere: string[] = [];
  for (const a of w) {
    if (b.has(a)) continue;
    if (elsewhere.has(a)) heldElsewhere.push(a);
    else bind.push(a);
  }
  const unbind = [...b].filter((a) => !w.has(a) || elsewhere.has(a));
  return { bind: bind.sort(), unbind: unbind.sort(), heldElsewhere: heldElsewhere.sort() };
}
