// Seeded random clusters for the conformance lane: one node's view (its Node object and proxy
// settings), Services of every type and policy, EndpointSlices with every condition combination.
// Objects are what the API server would store: valid and defaulted (kube-proxy reads them as they
// are; ipvsnet validates them). Deterministic by seed: generateCluster(s) is always the same cluster.
//
// Address pools keep different Services from claiming one ip:port (kube-proxy's result is then
// undefined, ipvsnet's is deliberate, docs/kube-proxy-differences.md): ports below 30000 for
// Service ports, 30000-32767 for NodePorts and health checks, separate ranges for external and
// load-balancer IPs. An external IP equal to a node address is generated on purpose.

import { orderIndependent } from './slice-order.ts';

type Obj = Record<string, unknown>;

export interface ClusterConfig {
  nodeName: string;
  clusterCIDRs: string[];
  masqueradeAll: boolean;
  masqueradeBit: number;
  scheduler: string;
  nodePortAddresses: string[];
}

export interface GeneratedCluster {
  seed: number;
  config: ClusterConfig;
  services: Obj[];
  endpointSlices: Obj[];
  node: Obj | null;
}

/** mulberry32: small, fast, good enough for test inputs; the same seed gives the same stream. */
export class Rng {
  #s: number;
  constructor(seed: number) { this.#s = seed >>> 0; }
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** true with probability p */
  chance(p: number): boolean { return this.next() < p; }
  int(min: number, max: number): number { return min + Math.floor(this.next() * (max - min + 1)); }
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.next() * xs.length)]!; }
  /** One of the keys, by weight. */
  weighted<T extends string>(w: Record<T, number>): T {
    const entries = Object.entries(w) as Array<[T, number]>;
    let r = this.next() * entries.reduce((a, [, n]) => a + n, 0);
    for (const [k, n] of entries) { if ((r -= n) < 0) return k; }
    return entries[entries.length - 1]![0];
  }
}

const NODE = 'node-a';
const ZONES = ['zone-a', 'zone-b'];
/** Unset, true or false: every value a condition can have. */
const TRI = [undefined, true, false] as const;

/** Unique values drawn from a pool (ports, IPs), so that no two Services claim one address. */
class Pool {
  #used = new Set<string>();
  readonly #rng: Rng;
  readonly #make: (r: Rng) => string;
  constructor(rng: Rng, make: (r: Rng) => string) { this.#rng = rng; this.#make = make; }
  take(): string {
    for (;;) {
      const v = this.#make(this.#rng);
      if (!this.#used.has(v)) { this.#used.add(v); return v; }
    }
  }
  /** Now and then a value already taken (an IP two Services share on different ports), else a new one. */
  takeOrShare(p: number): string {
    return this.#used.size > 0 && this.#rng.chance(p) ? this.#rng.pick([...this.#used]) : this.take();
  }
}

const v4 = (a: number, b: number, c: number, d: number): string => `${a}.${b}.${c}.${d}`;

export function generateCluster(seed: number): GeneratedCluster {
  const rng = new Rng(seed);
  const nodeFamilies = rng.weighted({ v4: 45, v6: 15, dual: 35, none: 5 });
  const internal4 = v4(192, 168, 1, rng.int(2, 250));
  const internal6 = `2001:db8:1::${rng.int(2, 0xfff).toString(16)}`;
  const external4 = v4(198, 18, 0, rng.int(2, 250));
  const external6 = `2001:db8:2::${rng.int(2, 0xfff).toString(16)}`;
  const nodeIPs: string[] = [];
  let node: Obj | null = null;
  if (rng.chance(0.96)) {
    const addrs: Array<{ type: string; address: string }> = [];
    const has4 = nodeFamilies === 'v4' || nodeFamilies === 'dual';
    const has6 = nodeFamilies === 'v6' || nodeFamilies === 'dual';
    // An ExternalIP listed before the InternalIP (kube-proxy's primary IP is still the InternalIP).
    if (rng.chance(0.15)) {
      if (has4) addrs.push({ type: 'ExternalIP', address: external4 });
      if (has6) addrs.push({ type: 'ExternalIP', address: external6 });
    }
    const v6first = has6 && rng.chance(0.3);
    if (v6first) addrs.push({ type: 'InternalIP', address: internal6 });
    if (has4) addrs.push({ type: 'InternalIP', address: internal4 });
    if (has6 && !v6first) addrs.push({ type: 'InternalIP', address: internal6 });
    if (has4 && rng.chance(0.1)) addrs.push({ type: 'InternalIP', address: v4(10, 0, 0, rng.int(2, 250)) });
    // A Node that lists only ExternalIPs: kube-proxy's primary IP is then its first ExternalIP.
    if (rng.chance(0.05)) addrs.splice(0, addrs.length, ...addrs.filter((a) => a.type !== 'InternalIP'));
    addrs.push({ type: 'Hostname', address: NODE });
    for (const a of addrs) if (a.type !== 'Hostname') nodeIPs.push(a.address);
    const labels: Record<string, string> = { 'kubernetes.io/hostname': NODE };
    if (rng.chance(0.7)) labels['topology.kubernetes.io/zone'] = rng.pick(ZONES);
    node = { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels }, spec: {}, status: { addresses: addrs } };
  }

  const clusterCIDRs: string[] = [];
  if (rng.chance(0.6)) clusterCIDRs.push('10.244.0.0/16');
  if (rng.chance(0.4)) clusterCIDRs.push('fd00:244::/56');
  const nodePortAddresses = rng.weighted({ all: 80, primary: 8, cidr: 12 }) === 'all'
    ? []
    // CIDRs off the Service address pools: kube-proxy would serve NodePorts on kube-ipvs0 addresses
    // inside them (docs/kube-proxy-differences.md, NodePort addresses).
    : rng.chance(0.4) ? ['primary'] : [rng.pick(['192.168.1.0/24', '2001:db8:1::/64', '198.18.0.0/24', '10.0.0.0/24'])];
  const config: ClusterConfig = {
    nodeName: NODE,
    clusterCIDRs,
    masqueradeAll: rng.chance(0.1),
    masqueradeBit: rng.chance(0.9) ? 14 : rng.int(0, 31),
    scheduler: rng.weighted({ rr: 85, mh: 8, wlc: 4, sh: 3 }),
    nodePortAddresses,
  };

  const pools = {
    svcPort: new Pool(rng, (r) => String(r.int(1, 29999))),
    nodePort: new Pool(rng, (r) => String(r.int(30000, 32767))),
    clusterIP4: new Pool(rng, (r) => v4(10, 96, r.int(0, 3), r.int(1, 254))),
    clusterIP6: new Pool(rng, (r) => `fd00:96::${r.int(1, 0xffff).toString(16)}`),
    ext4: new Pool(rng, (r) => v4(203, 0, 113, r.int(1, 254))),
    ext6: new Pool(rng, (r) => `2001:db8:e::${r.int(1, 0xffff).toString(16)}`),
    lb4: new Pool(rng, (r) => v4(198, 51, 100, r.int(1, 254))),
    lb6: new Pool(rng, (r) => `2001:db8:b::${r.int(1, 0xffff).toString(16)}`),
  };
  const services: Obj[] = [];
  const endpointSlices: Obj[] = [];
  // Mostly small clusters; now and then a bigger one, where Services share more addresses.
  const nServices = rng.chance(0.05) ? rng.int(20, 40) : rng.int(1, 8);
  let prev: { name: string; namespace: string } | undefined;
  const ids = new Set<string>();
  for (let i = 0; i < nServices; i++) {
    // Now and then the name of the previous Service, in the other namespace.
    let id = prev && rng.chance(0.1)
      ? { name: prev.name, namespace: prev.namespace === 'default' ? 'ns-b' : 'default' }
      : { name: `svc-${i}`, namespace: rng.pick(['default', 'ns-b']) };
    if (ids.has(`${id.namespace}/${id.name}`)) id = { name: `svc-${i}`, namespace: id.namespace };
    ids.add(`${id.namespace}/${id.name}`);
    prev = id;
    const { svc, families, ports } = generateService(rng, i, id, pools, nodeIPs);
    const slices = generateSlices(rng, svc, families, ports);
    // Now and then the Service is missing and only its slices are there.
    const orphanSlices = rng.chance(0.03);
    if (!orphanSlices) services.push(svc);
    endpointSlices.push(...slices);
  }
  return { seed, config, services, endpointSlices, node };
}

type Pools = Record<'svcPort' | 'nodePort' | 'clusterIP4' | 'clusterIP6' | 'ext4' | 'ext6' | 'lb4' | 'lb6', Pool>;
interface GenPort { name: string; protocol: string; port: number; targetPort: number }

function generateService(rng: Rng, i: number, id: { name: string; namespace: string }, pools: Pools, nodeIPs: string[]): { svc: Obj; families: Array<4 | 6>; ports: GenPort[] } {
  const kind = rng.weighted({ ClusterIP: 33, NodePort: 24, LoadBalancer: 28, ExternalName: 5, headless: 10 });
  const type = kind === 'headless' ? 'ClusterIP' : kind;
  const { name, namespace } = id;
  const metadata: Obj = { name, namespace, uid: `uid-${i}`, creationTimestamp: `2026-01-01T00:${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}Z`, labels: {} };
  const labels = metadata.labels as Record<string, string>;
  if (rng.chance(0.03)) labels['service.kubernetes.io/service-proxy-name'] = 'other-proxy';
  if (rng.chance(0.03)) labels['service.kubernetes.io/headless'] = '';
  if (kind === 'ExternalName') {
    return { svc: { apiVersion: 'v1', kind: 'Service', metadata, spec: { type, externalName: 'db.example.com', sessionAffinity: 'None' }, status: { loadBalancer: {} } }, families: [], ports: [] };
  }
  const policy = rng.weighted({ SingleStack4: 40, SingleStack6: 15, PreferDualStack: 30, RequireDualStack: 15 });
  const primary6 = policy === 'SingleStack6' || (policy !== 'SingleStack4' && rng.chance(0.3));
  let families: Array<4 | 6> = policy === 'SingleStack4' ? [4] : policy === 'SingleStack6' ? [6] : primary6 ? [6, 4] : [4, 6];
  // PreferDualStack on a single-stack cluster gets one family.
  if (policy === 'PreferDualStack' && rng.chance(0.3)) families = [families[0]!];
  const spec: Obj = {
    type,
    ipFamilyPolicy: policy.startsWith('SingleStack') ? 'SingleStack' : policy,
    ipFamilies: families.map((f) => (f === 4 ? 'IPv4' : 'IPv6')),
    sessionAffinity: 'None',
  };
  if (kind === 'headless') {
    spec.clusterIP = 'None';
    spec.clusterIPs = ['None'];
  } else {
    const ips = families.map((f) => (f === 4 ? pools.clusterIP4 : pools.clusterIP6).take());
    spec.clusterIP = ips[0];
    spec.clusterIPs = ips;
  }
  const external = type === 'NodePort' || type === 'LoadBalancer';
  const nPorts = rng.weighted({ one: 60, two: 30, three: 10 }) === 'one' ? 1 : rng.chance(0.75) ? 2 : 3;
  const ports: GenPort[] = [];
  const specPorts: Obj[] = [];
  const lbNodePorts = !(type === 'LoadBalancer' && rng.chance(0.1));
  for (let p = 0; p < nPorts; p++) {
    let protocol = rng.weighted({ TCP: 60, UDP: 25, SCTP: 15 });
    let port = Number(pools.svcPort.take());
    let nodePort = external && lbNodePorts ? Number(pools.nodePort.take()) : 0;
    // The previous port's number with another protocol (DNS: 53/TCP and 53/UDP), maybe its NodePort too.
    const last = specPorts.at(-1);
    const free = last ? (['TCP', 'UDP', 'SCTP'] as const).filter((x) => !specPorts.some((o) => o.port === last.port && o.protocol === x)) : [];
    if (last && free.length > 0 && rng.chance(0.25)) {
      protocol = rng.pick(free);
      port = last.port as number;
      if (nodePort && rng.chance(0.5)) nodePort = last.nodePort as number;
    }
    const targetPort = rng.chance(0.5) ? port : rng.int(1, 65535);
    const portName = nPorts === 1 && rng.chance(0.5) ? '' : `p${p}`;
    const sp: Obj = { ...(portName ? { name: portName } : {}), protocol, port, targetPort };
    if (nodePort) sp.nodePort = nodePort;
    specPorts.push(sp);
    ports.push({ name: portName, protocol, port, targetPort });
  }
  spec.ports = specPorts;
  if (type === 'LoadBalancer' && !lbNodePorts) spec.allocateLoadBalancerNodePorts = false;
  const externalIPs: string[] = [];
  if (kind !== 'headless' && rng.chance(0.2)) {
    for (let k = rng.int(1, 2); k > 0; k--) externalIPs.push(rng.chance(0.7) ? pools.ext4.takeOrShare(0.2) : pools.ext6.takeOrShare(0.2));
    if (nodeIPs.length > 0 && rng.chance(0.15)) externalIPs.push(rng.pick(nodeIPs));
    // The API does not refuse an address listed twice.
    spec.externalIPs = rng.chance(0.1) ? [...externalIPs, externalIPs[0]!] : [...new Set(externalIPs)];
  }
  if (external || externalIPs.length > 0) spec.externalTrafficPolicy = rng.chance(0.4) ? 'Local' : 'Cluster';
  spec.internalTrafficPolicy = rng.chance(0.25) ? 'Local' : 'Cluster';
  if (rng.chance(0.25)) {
    spec.sessionAffinity = 'ClientIP';
    spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: rng.chance(0.5) ? 10800 : rng.int(1, 86400) } };
  }
  if (rng.chance(0.1)) spec.trafficDistribution = rng.pick(['PreferClose', 'PreferSameZone', 'PreferSameNode']);
  const status: Obj = { loadBalancer: {} };
  if (type === 'LoadBalancer') {
    if (spec.externalTrafficPolicy === 'Local') spec.healthCheckNodePort = Number(pools.nodePort.take());
    if (rng.chance(0.4)) {
      const ranges = ['0.0.0.0/0', '::/0', '192.168.0.0/16', '192.168.1.0/24', '10.0.0.0/8', '172.16.0.0/12', '2001:db8:1::/64', '2001:db8::/32', 'fd00::/8', '203.0.113.7/32', '2001:db8:9::1/128', '198.18.0.0/15'];
      // Space-padded ranges pass the API's validation (a legacy of the annotation); kube-proxy trims them.
      spec.loadBalancerSourceRanges = [...new Set(Array.from({ length: rng.int(1, 3) }, () => rng.pick(ranges)))].map((r) => (rng.chance(0.1) ? ` ${r} ` : r));
    }
    if (rng.chance(0.85)) {
      const ingress: Obj[] = [];
      for (let k = rng.int(1, 2); k > 0; k--) {
        const fam = rng.chance(0.2) ? rng.pick([4, 6]) : rng.pick(families);
        const ing: Obj = { ip: (fam === 4 ? pools.lb4 : pools.lb6).takeOrShare(0.2) };
        // An ingress IP that is also one of the Service's external IPs, or one of the node's addresses.
        if (externalIPs.length > 0 && rng.chance(0.1)) ing.ip = externalIPs[0];
        else if (nodeIPs.length > 0 && rng.chance(0.05)) ing.ip = rng.pick(nodeIPs);
        if (rng.chance(0.1)) ing.ipMode = 'Proxy';
        else if (rng.chance(0.5)) ing.ipMode = 'VIP';
        ingress.push(ing);
      }
      if (rng.chance(0.05)) ingress.push({ hostname: 'lb.example.com' });
      status.loadBalancer = { ingress };
    }
  }
  return { svc: { apiVersion: 'v1', kind: 'Service', metadata, spec, status }, families, ports };
}

function generateSlices(rng: Rng, svc: Obj, families: Array<4 | 6>, ports: GenPort[]): Obj[] {
  const meta = svc.metadata as { name: string; namespace: string };
  const spec = svc.spec as Obj;
  if (families.length === 0) return [];
  const headless = spec.clusterIP === 'None';
  const out: Obj[] = [];
  // Addresses already used in this Service: re-used to make duplicates within and across slices.
  const used: Record<4 | 6, string[]> = { 4: [], 6: [] };
  const addr = (f: 4 | 6): string => {
    if (used[f].length > 0 && rng.chance(0.25)) return rng.pick(used[f]);
    const a = f === 4 ? v4(10, 244, rng.int(0, 3), rng.int(2, 60)) : `fd00:244::${rng.int(2, 0x3f).toString(16)}`;
    used[f].push(a);
    return a;
  };
  // Occasionally a slice of a family the Service does not have.
  const sliceFamilies: Array<4 | 6> = rng.chance(0.05) ? [...families, families[0] === 4 ? 6 : 4] : families;
  let n = 0;
  for (const f of sliceFamilies) {
    const zoneHints = rng.chance(0.2);
    const nodeHints = rng.chance(0.1);
    for (let s = rng.weighted({ one: 70, two: 25, zero: 5 }) === 'one' ? 1 : rng.chance(0.8) ? 2 : 0; s > 0; s--) {
      const endpoints: Obj[] = [];
      for (let e = rng.int(0, 5); e > 0; e--) {
        const ep: Obj = { addresses: rng.chance(0.05) ? [addr(f), addr(f)] : [addr(f)] };
        const conditions: Obj = {};
        const [ready, serving, terminating] = [rng.pick(TRI), rng.pick(TRI), rng.pick(TRI)];
        // Mostly the combinations the EndpointSlice controller writes; now and then any combination.
        if (rng.chance(0.6)) {
          const state = rng.weighted({ ready: 60, terminatingServing: 20, terminating: 10, notReady: 10 });
          conditions.ready = state === 'ready';
          conditions.serving = state === 'ready' || state === 'terminatingServing';
          conditions.terminating = state === 'terminatingServing' || state === 'terminating';
        } else {
          if (ready !== undefined) conditions.ready = ready;
          if (serving !== undefined) conditions.serving = serving;
          if (terminating !== undefined) conditions.terminating = terminating;
        }
        ep.conditions = conditions;
        const where = rng.weighted({ local: 40, other: 45, unset: 15 });
        if (where !== 'unset') ep.nodeName = where === 'local' ? NODE : 'node-b';
        if (rng.chance(0.7)) ep.zone = rng.pick(ZONES);
        if (zoneHints || nodeHints) {
          const hints: Obj = {};
          if (zoneHints && rng.chance(0.9)) hints.forZones = [{ name: rng.pick(ZONES) }];
          if (nodeHints && rng.chance(0.9)) hints.forNodes = [{ name: rng.chance(0.5) ? NODE : 'node-b' }];
          ep.hints = hints;
        }
        endpoints.push(ep);
      }
      // An unnamed port is "" as the EndpointSlice controller writes it, or now and then no name at all.
      const slicePorts: Obj[] = ports.map((p) => (p.name === '' && rng.chance(0.3) ? { protocol: p.protocol, port: p.targetPort } : { name: p.name, protocol: p.protocol, port: p.targetPort }));
      if (rng.chance(0.03)) slicePorts.length = 0;
      if (rng.chance(0.05)) slicePorts.push({ name: 'extra', protocol: 'TCP', port: rng.int(1, 65535) });
      if (rng.chance(0.03) && slicePorts.length > 0) delete slicePorts[0]!.port;
      const labels: Record<string, string> = { 'kubernetes.io/service-name': meta.name, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' };
      if (headless || rng.chance(0.03)) labels['service.kubernetes.io/headless'] = '';
      out.push({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: `${meta.name}-${f === 4 ? 'v4' : 'v6'}-${n++}`, namespace: meta.namespace, labels },
        addressType: f === 4 ? 'IPv4' : 'IPv6',
        endpoints,
        ports: slicePorts,
      });
    }
  }
  orderIndependent(out);
  if (rng.chance(0.02)) {
    out.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${meta.name}-fqdn`, namespace: meta.namespace, labels: { 'kubernetes.io/service-name': meta.name } },
      addressType: 'FQDN',
      endpoints: [{ addresses: ['pod-1.example.com'], conditions: { ready: true } }],
      ports: ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.targetPort })),
    });
  }
  return out;
}
