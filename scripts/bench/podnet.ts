// Pod-network planning cost: N Nodes through the edge (PodNodes: zod validation + models) and the
// pure planner (routes to every peer, egress chain, conflist), then the route reconciler's diff
// against an already-converged table (no kernel: the in-memory table stands for the rtnetlink dump).
// Usage: node scripts/bench/podnet.ts [nodes=100,1000,5000] [rounds=20]
// Prints per N: median ms of model (all Nodes), plan, and the no-change route diff.
import { PodNodes, RouteReconciler, planPodNetwork } from '../../src/podnet/index.ts';
import type { OwnedRoute } from '../../src/podnet/index.ts';

const sizes = (process.argv[2] ?? '100,1000,5000').split(',').map(Number);
const rounds = Number(process.argv[3] ?? 20);

function nodes(n: number): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const a = Math.floor(i / 250), b = i % 250;
    out.push({
      metadata: { name: `node-${i}`, labels: { 'kubernetes.io/hostname': `node-${i}` }, resourceVersion: String(i) },
      spec: { podCIDR: `10.${64 + a}.${b}.0/24`, podCIDRs: [`10.${64 + a}.${b}.0/24`] },
      status: { addresses: [{ type: 'InternalIP', address: `172.16.${a}.${b + 1}` }, { type: 'Hostname', address: `node-${i}` }] },
    });
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

for (const n of sizes) {
  const raws = nodes(n);
  const facts = { connected: ['172.16.0.0/12'], portmap: false };
  const opts = { nodeName: 'node-0', routes: true, egress: { enabled: true, clusterCIDRs: ['10.64.0.0/10'] }, conflist: {} };
  const model: number[] = [], plan: number[] = [], diff: number[] = [];
  let routes = 0;
  for (let r = 0; r < rounds; r++) {
    const store = new PodNodes();
    let t = performance.now();
    store.replaceAll(raws);
    model.push(performance.now() - t);
    t = performance.now();
    const p = planPodNetwork(store.list(), store.diagnostics(), facts, opts);
    plan.push(performance.now() - t);
    routes = p.routes!.routes.length;
    const have: OwnedRoute[] = p.routes!.routes.map((x) => ({ dst: x.dst, via: x.via }));
    const rc = new RouteReconciler({ list: async () => have, replace: async () => { throw new Error('no change expected'); }, delete: async () => { throw new Error('no change expected'); } });
    t = performance.now();
    const res = await rc.sync(p.routes!.routes);
    diff.push(performance.now() - t);
    if (res.unchanged !== routes) throw new Error(`expected ${routes} unchanged, got ${res.unchanged}`);
  }
  console.log(`nodes ${n}: routes ${routes}; model ${median(model).toFixed(2)} ms, plan ${median(plan).toFixed(2)} ms, no-change route diff ${median(diff).toFixed(2)} ms (median of ${rounds})`);
}
