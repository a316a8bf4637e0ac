// The house's one rule, measured over the whole source tree: imports only go down, and no import
// circle exists (not between folders, not between files).
//
// Each top-level folder of src/ has a layer; a file may import its own folder or a folder of a
// LOWER layer, never one of its own layer or above. The table is the picture README.md's
// "How it is built" draws; a new folder must be placed here before it can be imported.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/** Layer of each folder under src/ (0 = the base). */
export const LAYERS: Record<string, number> = {
  net: 0,        // IP/CIDR maths, Family, Protocol, Diagnostic
  log: 0,        // the one logger (klog text / Kubernetes JSON)
  native: 1,     // the N-API addon loader (setns, flock, netlink sockets)
  kernel: 2,     // adapters: netlink core, rtnetlink, ipvs, ipset, iptables, sysctl
  model: 2,      // validated Kubernetes objects (pure)
  cniproto: 2,   // the CNI protocol: skel, args, errors, result types and versions, validation (no plugin logic)
  plan: 3,       // pure planners of the Service proxy
  ipam: 3,       // host-local-compatible IPAM (a CNI plugin on the protocol layer)
  config: 4,     // KubeProxyConfiguration and flags → the planner's NodeConfig
  reconcile: 4,  // the Service proxy's reconcilers (plan → kernel)
  cni: 4,        // the CNI plugins (bridge), the delegate runner and the thick-mode server
  podnet: 4,     // the pod network controller (Node models → routes, egress, conflist)
  sources: 4,    // informers (API server → streams)
  'multinet/model': 3, // multi-network: the networks annotation, NADs, delegate configs (pure, zod)
  'multinet/plan': 4,  // multi-network: a pod's delegate plan and its network-status (pure)
  'multinet/run': 5,   // multi-network: the delegate runner (libcni semantics), the per-container cache
  pools: 6,           // IP pools: claiming a Node's blocks through the API server
  multinet: 6,         // multi-network: the wrapper plugin, its worker, the Pod/NAD sources and controller
  'pools/model': 3,   // IP pools: Calico's selector language, the IPPool resource (pure, zod)
  'pools/plan': 4,    // IP pools: which block a node claims, or why none (pure)
  lease: 5,           // coordination.k8s.io Lease election (decide is pure; the elector writes)
  lbaddr: 6,          // LoadBalancer addresses: Service model, pure planner, the elected allocator
  l2announce: 7,      // layer-2 announcement: pure plan, frames, the addresses on the interface, per-Service Leases
  metrics: 5,
  health: 6,
  agent: 7,      // the node agent: sources → planner → reconcilers, controllers, health, CNI server
  cli: 8,        // wiring only
};

interface Edge { from: string; to: string }

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts)$/.test(e) && !e.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;

/** Relative imports of one file, resolved to files under src/ (type-only imports count too). */
export function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec || !spec.startsWith('.')) continue;
    out.push(resolve(dirname(file), spec));
  }
  return out;
}

/** The most specific key of LAYERS that holds `file` ("multinet/model" before "multinet"). */
function folderOf(file: string): string {
  const parts = relative(SRC, file).split('/');
  const two = parts.slice(0, 2).join('/');
  return LAYERS[two] !== undefined ? two : parts[0]!;
}

const files = sourceFiles(SRC);
const edges: Edge[] = files.flatMap((f) => importsOf(f, readFileSync(f, 'utf8')).map((to) => ({ from: f, to })));

describe('layers', () => {
  it('reads a real tree (the scan cannot pass by finding nothing)', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(edges.length).toBeGreaterThan(100);
  });

  it('places every folder of src/ in a layer', () => {
    const folders = [...new Set(files.map(folderOf))].filter((f) => !f.endsWith('.ts'));
    expect(folders).toContain('net');
    expect(folders.filter((f) => LAYERS[f] === undefined)).toEqual([]);
  });

  it('has no import from a folder to one of its own layer or above', () => {
    const bad = edges
      .filter((e) => folderOf(e.to) !== folderOf(e.from))
      .filter((e) => (LAYERS[folderOf(e.to)] ?? 99) >= (LAYERS[folderOf(e.from)] ?? -1))
      .map((e) => `${relative(ROOT, e.from)} -> ${relative(ROOT, e.to)}`)
      .filter((x, i, all) => all.indexOf(x) === i);
    expect(bad).toEqual([]);
  });

  it('has no import circle between files', () => {
    const graph = new Map<string, string[]>();
    for (const e of edges) graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
    const circles: string[] = [];
    const state = new Map<string, 1 | 2>(); // 1 = on the stack, 2 = done
    const stack: string[] = [];
    const visit = (n: string): void => {
      state.set(n, 1);
      stack.push(n);
      for (const m of graph.get(n) ?? []) {
        if (state.get(m) === 1) circles.push(stack.slice(stack.indexOf(m)).concat(m).map((x) => relative(ROOT, x)).join(' -> '));
        else if (!state.has(m)) visit(m);
      }
      stack.pop();
      state.set(n, 2);
    };
    for (const f of files) if (!state.has(f)) visit(f);
    expect([...new Set(circles)]).toEqual([]);
  });

  it('the check itself finds an upward import and a circle when there is one', () => {
    // The same predicates over a made-up tree, so the two checks above can fail.
    const up = { from: join(SRC, 'kernel/x.ts'), to: join(SRC, 'plan/types.ts') };
    expect(folderOf(join(SRC, 'multinet/model/nad.ts'))).toBe('multinet/model');
    expect(folderOf(join(SRC, 'cniproto/skel.ts'))).toBe('cniproto');
    expect(folderOf(join(SRC, 'cni/server.ts'))).toBe('cni');
    expect(folderOf(join(SRC, 'cni/server.ts'))).toBe('cni');
    expect((LAYERS[folderOf(up.to)] ?? 99) >= (LAYERS[folderOf(up.from)] ?? -1)).toBe(true);
    expect(importsOf(join(SRC, 'kernel/x.ts'), "import type { A } from '../plan/types.ts';\nexport { b } from './b.ts';"))
      .toEqual([join(SRC, 'plan/types.ts'), join(SRC, 'kernel/b.ts')]);
  });
});
