// Where the agent's memory goes, without a kernel: the agent's module graph, its informers (ClusterSources)
// listing and watching the benchmark cluster's apiserver (read-only) and the IncrementalPlanner fed from
// their events, as the agent wires them; after the first plan, a full collection, then RSS (anonymous and
// file-backed), peak, V8 heap and CPU to the first plan. Optionally writes a heap snapshot and prints the
// largest object shapes and strings in it.
//   node --expose-gc [the launcher's agent flags] scripts/agent/memory.mjs [--root DIR] [--kubeconfig F] [--snapshot FILE] [--breakdown]
// --breakdown: after the modules load and again after the first plan, where the RSS is: the process's
// mappings from /proc/self/smaps grouped (the node binary, other files, [heap], the other anonymous
// mappings, thread stacks), V8's spaces (v8.getHeapSpaceStatistics) and malloc'd memory.
// --root: a checkout whose dist/ is built (default this one), to compare two builds; --kubeconfig:
// default build/cluster/admin.kubeconfig (scripts/cluster/up.sh, e.g. left filled by bench:vs-kube-proxy).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';

const here = new URL('../..', import.meta.url).pathname;
const { values } = parseArgs({ options: { root: { type: 'string' }, kubeconfig: { type: 'string' }, snapshot: { type: 'string' }, breakdown: { type: 'boolean' } } });
const root = resolve(values.root ?? here);
const gc = globalThis.gc;
if (!gc) throw new Error('run with --expose-gc');
await import(join(root, 'dist/sources/client-node-lite.js'));
await import(join(root, 'dist/cli/agent.js'));
if (values.breakdown) {
  await new Promise((r) => setTimeout(r, 500));
  gc();
  process.stdout.write(`after the modules load, no Service:\n${breakdown()}\n`);
}
const { loadKubeConfig } = await import(join(root, 'dist/sources/kube.js'));
const { ClusterSources } = await import(join(root, 'dist/sources/index.js'));
const { IncrementalPlanner } = await import(join(root, 'dist/plan/index.js'));
const { defaultNodeConfig } = await import(join(root, 'dist/plan/config.js'));

const kc = loadKubeConfig({ kubeconfig: values.kubeconfig ?? join(here, 'build/cluster/admin.kubeconfig') });
const planner = new IncrementalPlanner(defaultNodeConfig({ nodeName: 'bench-node', clusterCIDRs: ['10.244.0.0/16'] }));
const sources = new ClusterSources(kc, { nodeName: 'bench-node' });
sources.events$.subscribe((e) => {
  const del = e.type === 'delete';
  if (e.kind === 'Service') del ? planner.deleteService(e.key) : planner.upsertService(e.raw);
  else if (e.kind === 'EndpointSlice') del ? planner.deleteEndpointSlice(e.key) : planner.upsertEndpointSlice(e.raw);
  else del ? planner.deleteNode(e.key) : planner.upsertNode(e.raw);
});
const cpu0 = process.cpuUsage();
await sources.start();
const plan = planner.plan();
const cpu = process.cpuUsage(cpu0);
await new Promise((r) => setTimeout(r, 3000));
gc();
await new Promise((r) => setTimeout(r, 1000));
const status = readFileSync('/proc/self/status', 'utf8');
const mb = (field) => Math.round(Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024);
const services = plan.families.reduce((n, f) => n + f.virtualServers.length, 0);
process.stdout.write(`${JSON.stringify({ root, flags: process.execArgv.join(' '), virtualServers: services, rssMB: mb('VmRSS'), anonMB: mb('RssAnon'), fileMB: mb('RssFile'), peakMB: mb('VmHWM'), heapMB: +(process.memoryUsage().heapUsed / 1048576).toFixed(1), cpuToFirstPlanS: +((cpu.user + cpu.system) / 1e6).toFixed(2) })}\n`);
if (values.breakdown) process.stdout.write(`after the first plan:\n${breakdown()}\n`);
if (values.snapshot) {
  v8.writeHeapSnapshot(values.snapshot);
  await sources.stop();
  summarize(values.snapshot);
}
await sources.stop();
process.exit(0);

/** The largest object shapes (by own properties) and string patterns (digits as #) of a heap snapshot. */
function summarize(file) {
  const s = JSON.parse(readFileSync(file, 'utf8'));
  const m = s.snapshot.meta;
  const W = m.node_fields.length, EW = m.edge_fields.length;
  const [it, iname, isz, iec] = ['type', 'name', 'self_size', 'edge_count'].map((f) => m.node_fields.indexOf(f));
  const [et, en] = ['type', 'name_or_index'].map((f) => m.edge_fields.indexOf(f));
  const types = m.node_types[0], etypes = m.edge_types[0];
  const shapes = new Map(), strings = new Map();
  const add = (map, k, sz) => { const v = map.get(k) ?? [0, 0]; v[0] += sz; v[1]++; map.set(k, v); };
  let e = 0;
  for (let i = 0; i < s.nodes.length; i += W) {
    const t = types[s.nodes[i + it]], ec = s.nodes[i + iec], sz = s.nodes[i + isz];
    if (t === 'object') {
      const props = [];
      for (let k = 0; k < ec && props.length < 8; k++) if (etypes[s.edges[e + k * EW + et]] === 'property') props.push(s.strings[s.edges[e + k * EW + en]]);
      add(shapes, `${s.strings[s.nodes[i + iname]]}{${props.join(',')}}`, sz);
    } else if (t === 'string' || t === 'concatenated string' || t === 'sliced string') {
      const text = s.strings[s.nodes[i + iname]];
      if (sz < 4096) add(strings, text.slice(0, 40).replace(/\d+/g, '#'), sz);
    }
    e += ec * EW;
  }
  const top = (map, n) => [...map].sort((a, b) => b[1][0] - a[1][0]).slice(0, n).map(([k, [sz, c]]) => `${(sz / 1048576).toFixed(2).padStart(7)} MB ${String(c).padStart(7)}  ${k.slice(0, 110)}`).join('\n');
  process.stdout.write(`\nlargest object shapes (own size, count):\n${top(shapes, 15)}\n\nlargest string patterns (size, count):\n${top(strings, 12)}\n`);
}

/** RSS by kind of mapping (smaps) and V8's heap by space, in MB, as text. */
function breakdown() {
  const kb = new Map();
  const add = (k, v) => kb.set(k, (kb.get(k) ?? 0) + v);
  let name = '';
  let anon = false;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const path = head[1];
      name = path === process.execPath || path.endsWith('/bin/node') ? 'file: node binary' : path.startsWith('/') ? (path.endsWith('.node') ? 'file: native addons' : 'file: other (libc, libstdc++, ...)') : path === '[heap]' ? 'anon: [heap] (brk: malloc main arena)' : path.startsWith('[stack') ? 'anon: [stack]' : path ? `anon: ${path}` : 'anon: unnamed mmaps (V8 heap, malloc arenas, thread stacks)';
      anon = !path.startsWith('/');
      continue;
    }
    const m = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (m && m[1] === 'Rss') add(name, Number(m[2]));
    if (m && m[1] === 'Anonymous' && !anon) add('anon: in file mappings (written data pages)', Number(m[2]));
  }
  const mbs = (k) => (k / 1024).toFixed(1);
  const st = readFileSync('/proc/self/status', 'utf8');
  const f = (x) => Number(new RegExp(`^${x}:\\s+(\\d+)`, 'm').exec(st)?.[1] ?? NaN);
  let out = `  VmRSS ${mbs(f('VmRSS'))} = RssAnon ${mbs(f('RssAnon'))} + RssFile ${mbs(f('RssFile'))} + RssShmem ${mbs(f('RssShmem'))} MB; threads ${f('Threads')}\n`;
  for (const [k, v] of [...kb].sort((a, b) => b[1] - a[1])) if (v >= 512) out += `  ${mbs(v).padStart(6)} MB  ${k}\n`;
  const h = v8.getHeapStatistics();
  const mu = process.memoryUsage();
  out += `  V8: committed ${mbs(h.total_heap_size / 1024)}, physical ${mbs(h.total_physical_size / 1024)}, used ${mbs(h.used_heap_size / 1024)}, malloced ${mbs(h.malloced_memory / 1024)} (peak ${mbs(h.peak_malloced_memory / 1024)}), external ${mbs(mu.external / 1024)} (array buffers ${mbs(mu.arrayBuffers / 1024)}) MB\n`;
  for (const sp of v8.getHeapSpaceStatistics()) if (sp.space_size > 0) out += `    ${sp.space_name.padEnd(24)} size ${mbs(sp.space_size / 1024).padStart(6)}  physical ${mbs(sp.physical_space_size / 1024).padStart(6)}  used ${mbs(sp.space_used_size / 1024).padStart(6)} MB\n`;
  return out;
}
