// kube-proxy merges a Service's EndpointSlices in Go map order (pkg/proxy/endpointslicecache.go,
// endpointInfoByServicePort), so which copy of an address wins across slices can change from run to
// run ("the result is undefined"); within one slice it cannot. The generator keeps every cluster
// free of such a race, so that kube-proxy's answer is one answer: see orderIndependent.

type Obj = Record<string, unknown>;

/** kube-proxy's usable port keys of a slice: name set, port set and not 0 → "name/PROTO/port". */
function portKeys(slice: Obj): string[] {
  const out: string[] = [];
  for (const p of (slice.ports as Obj[] | null | undefined) ?? []) {
    if (p.name === undefined || p.name === null || !p.port) continue;
    out.push(`${String(p.name)}/${String(p.protocol ?? 'TCP')}/${String(p.port)}`);
  }
  return out;
}

/**
 * The copy of `ip` kube-proxy keeps for one port key when it walks the slices in `order`
 * (addEndpoints: a copy is written when none exists or when it is not terminating), as JSON, or
 * undefined when no slice of the key holds the address.
 */
export function winner(slices: readonly Obj[], order: readonly number[], ip: string, key: string): string | undefined {
  let kept: Obj | undefined;
  for (const i of order) {
    const s = slices[i]!;
    if (!portKeys(s).includes(key)) continue;
    for (const ep of (s.endpoints as Obj[] | null | undefined) ?? []) {
      if ((ep.addresses as string[])[0] !== ip) continue;
      if (kept === undefined || (ep.conditions as Obj | undefined)?.terminating !== true) kept = ep;
    }
  }
  return kept === undefined ? undefined : JSON.stringify(kept);
}

export function permutations(n: number): number[][] {
  if (n <= 1) return [[...Array(n).keys()]];
  const out: number[][] = [];
  for (const rest of permutations(n - 1)) for (let at = 0; at <= rest.length; at++) out.push([...rest.slice(0, at), n - 1, ...rest.slice(at)]);
  return out;
}

/** Is the winner of every (address, port key) the same whatever order the slices are merged in? */
export function raceFree(slices: readonly Obj[], ip: string): boolean {
  const keys = new Set(slices.flatMap(portKeys));
  const orders = permutations(slices.length);
  for (const key of keys) {
    const first = winner(slices, orders[0]!, ip, key);
    if (orders.some((o) => winner(slices, o, ip, key) !== first)) return false;
  }
  return true;
}

/**
 * Make one Service's slices race-free. First the common real case is made likely: non-terminating
 * copies of an address stay in one slice, the others become terminating (a new Pod next to an old
 * one with the same IP). Then every address whose winner still depends on the order (copies only
 * terminating, or slices with different ports) keeps its copies in the first slice holding it only.
 */
export function orderIndependent(slices: Obj[]): void {
  const byIP = new Map<string, Array<{ slice: number; ep: Obj }>>();
  slices.forEach((s, i) => {
    for (const ep of (s.endpoints as Obj[] | null | undefined) ?? []) {
      const ip = (ep.addresses as string[])[0]!;
      byIP.set(ip, [...(byIP.get(ip) ?? []), { slice: i, ep }]);
    }
  });
  for (const [ip, copies] of byIP) {
    if (new Set(copies.map((c) => c.slice)).size < 2) continue;
    const live = copies.filter((c) => (c.ep.conditions as Obj).terminating !== true);
    for (const c of live) if (c.slice !== live[0]!.slice) (c.ep.conditions as Obj).terminating = true;
    if (raceFree(slices, ip)) continue;
    const keep = copies[0]!.slice;
    slices.forEach((s, i) => {
      if (i !== keep) s.endpoints = ((s.endpoints as Obj[] | null | undefined) ?? []).filter((ep) => (ep.addresses as string[])[0] !== ip);
    });
  }
}
