// The benchmark fill's Services, written into the benchmark cluster's etcd (the apiserver's storage)
// rather than POSTed, each with the IPAddress object that holds its ClusterIP.
//
// Why: kube-apiserver 1.37's ClusterIP allocator (pkg/registry/core/service/ipallocator, the IPAddress
// allocator that MultiCIDRServiceAllocator made the only one) lists every IPAddress in its informer cache
// twice after each allocation, to update its allocated/available metrics (Used() and Free(), evaluated
// even with the metrics off). A Service create therefore costs O(Services) of apiserver CPU: a CPU
// profile at ~6,000 Services had 62% of the apiserver in Used(), about 1.3 µs per IPAddress per list;
// extrapolated, ~130 ms for the 50,000th Service and ~55 CPU-minutes for 50,000 (a fill through the API
// had reached 4–10 objects/s at 13,000). The apiserver reads its
// storage back through a decoder that takes JSON as well as protobuf, and its watch cache follows etcd's
// watch, so objects put here are listed and watched through the apiserver like any other. They are the
// objects the apiserver itself stores for `kubectl create` of the same Service (defaults filled in, a
// managedFields entry, an IPAddress whose parentRef names the Service), so the apiserver's IPAddress
// repair loop finds nothing to fix. Only the benchmark's own cluster (scripts/cluster) is written to.
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** The Service object kube-apiserver stores for fill.ts's service(i) (port 80 → 8080) with ClusterIP `ip`. */
export function storedService(ns: string, name: string, ip: string, now: string) {
  return {
    kind: 'Service',
    apiVersion: 'v1',
    metadata: {
      name,
      namespace: ns,
      uid: randomUUID(),
      creationTimestamp: now,
      managedFields: [{
        manager: 'ipvsnet-bench', operation: 'Update', apiVersion: 'v1', time: now, fieldsType: 'FieldsV1',
        fieldsV1: { 'f:spec': { 'f:internalTrafficPolicy': {}, 'f:ports': { '.': {}, 'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:port': {}, 'f:protocol': {}, 'f:targetPort': {} } }, 'f:sessionAffinity': {}, 'f:type': {} } },
      }],
    },
    spec: {
      ports: [{ protocol: 'TCP', port: 80, targetPort: 8080 }],
      clusterIP: ip,
      clusterIPs: [ip],
      type: 'ClusterIP',
      sessionAffinity: 'None',
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      internalTrafficPolicy: 'Cluster',
    },
    status: { loadBalancer: {} },
  };
}

/** The IPAddress object the allocator stores for Service ns/name's ClusterIP `ip`. */
export function storedIPAddress(ns: string, name: string, ip: string, now: string) {
  return {
    kind: 'IPAddress',
    apiVersion: 'networking.k8s.io/v1',
    metadata: {
      name: ip,
      uid: randomUUID(),
      creationTimestamp: now,
      labels: { 'ipaddress.kubernetes.io/ip-family': 'IPv4', 'ipaddress.kubernetes.io/managed-by': 'ipallocator.k8s.io' },
      managedFields: [{
        manager: 'kube-apiserver', operation: 'Update', apiVersion: 'networking.k8s.io/v1', time: now, fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, 'f:ipaddress.kubernetes.io/ip-family': {}, 'f:ipaddress.kubernetes.io/managed-by': {} } }, 'f:spec': { 'f:parentRef': { '.': {}, 'f:name': {}, 'f:namespace': {}, 'f:resource': {} } } },
      }],
    },
    spec: { parentRef: { resource: 'services', namespace: ns, name } },
  };
}

/** Free IPv4 addresses of `cidr` (a /16 or longer) in order, skipping the network and broadcast addresses and `used`. */
export function* freeAddresses(cidr: string, used: Set<string>): Generator<string> {
  const [base, bits] = cidr.split('/') as [string, string];
  const o = base.split('.').map(Number);
  const start = ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
  const size = 2 ** (32 - Number(bits));
  for (let k = 1; k < size - 1; k++) {
    const a = start + k;
    const ip = `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
    if (!used.has(ip)) yield ip;
  }
}

/** One etcd transaction (its JSON gateway) putting `objects` at `keys` only if none of the keys exists; on failure, the keys that exist. */
async function putIfAbsent(etcdUrl: string, dispatcher: Agent, keys: string[], objects: unknown[]): Promise<{ succeeded: boolean; existing: Set<string> }> {
  const body = {
    compare: keys.map((k) => ({ key: b64(k), target: 'CREATE', result: 'EQUAL', create_revision: '0' })),
    success: keys.map((k, j) => ({ request_put: { key: b64(k), value: b64(JSON.stringify(objects[j])) } })),
    failure: keys.map((k) => ({ request_range: { key: b64(k), keys_only: true } })),
  };
  const res = await request(`${etcdUrl}/v3/kv/txn`, { method: 'POST', body: JSON.stringify(body), dispatcher });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`etcd txn: HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
  const r = JSON.parse(text) as { succeeded?: boolean; responses?: Array<{ response_range?: { kvs?: Array<{ key: string }> } }> };
  const existing = new Set<string>();
  for (const x of r.responses ?? []) for (const kv of x.response_range?.kvs ?? []) existing.add(Buffer.from(kv.key, 'base64').toString());
  return { succeeded: r.succeeded === true, existing };
}

/**
 * Puts Services `names` of namespace `ns` (each as service(i) would be created) and their IPAddresses
 * into etcd at `etcdUrl`, one object per transaction (as the apiserver writes: every object its own
 * revision), `width` transactions in flight, writing only keys that do not exist (`names`: Services that
 * do not exist; `usedIPs`: the IPAddress names that do). The IPAddresses go first and `settled` is awaited
 * before the Services follow (it should wait until the apiserver's cache holds the addresses): the
 * apiserver's repair loop, seeing a Service before its address, would "repair" it. Returns how many
 * Services were written.
 */
export async function putServices(etcdUrl: string, ns: string, names: string[], cidr: string, usedIPs: Set<string>, settled: () => Promise<void>, width = 16): Promise<number> {
  const dispatcher = new Agent({ connections: width });
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const ips = freeAddresses(cidr, usedIPs);
  const nextIp = () => {
    const r = ips.next();
    if (r.done) throw new Error(`Service CIDR ${cidr} is full: no ClusterIP left for the fill`);
    return r.value;
  };
  const ipOf = new Map<string, string>();
  const each = async (fn: (name: string) => Promise<void>) => {
    let i = 0;
    await Promise.all(Array.from({ length: width }, async () => {
      while (i < names.length) await fn(names[i++]!);
    }));
  };
  try {
    await each(async (name) => {
      // An address taken since it was listed: the next one.
      for (let attempt = 1; ; attempt++) {
        const ip = nextIp();
        if ((await putIfAbsent(etcdUrl, dispatcher, [`/registry/ipaddresses/${ip}`], [storedIPAddress(ns, name, ip, now)])).succeeded) {
          ipOf.set(name, ip);
          return;
        }
        if (attempt >= 20) throw new Error(`etcd: 20 addresses in a row were taken for Service ${ns}/${name}`);
      }
    });
    await settled();
    await each(async (name) => {
      const r = await putIfAbsent(etcdUrl, dispatcher, [`/registry/services/specs/${ns}/${name}`], [storedService(ns, name, ipOf.get(name)!, now)]);
      if (!r.succeeded) throw new Error(`etcd: Service ${ns}/${name} appeared while the fill ran (another fill of the namespace?)`);
    });
  } finally {
    await dispatcher.close();
  }
  return names.length;
}
