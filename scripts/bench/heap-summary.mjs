// Where a heap snapshot's bytes are, by holder: every object is charged to the nearest object above it
// on its shortest path from the roots whose constructor is a class of its own (IncrementalPlanner,
// IpsetReconciler, Informer, …, not Object/Array/Map/Set/strings), with the property of that holder
// the path leaves it by; so "IpsetReconciler.#cache 31.2 MB" is what hangs off that field and is not
// reached sooner from elsewhere. Also the self sizes by node type and constructor.
//   node --max-old-space-size=8000 scripts/bench/heap-summary.mjs FILE.heapsnapshot [--top 40]
// (scripts/bench/agent.ts with IPVSNET_BENCH_HEAP_SNAPSHOT=DIR writes the agent child's snapshot.)
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) throw new Error('usage: heap-summary.mjs FILE.heapsnapshot [--top N]');
const ti = process.argv.indexOf('--top');
const TOP = ti > 0 ? Number(process.argv[ti + 1]) : 40;
const DETAIL = 12; // holders broken down by constructor
const s = JSON.parse(readFileSync(file, 'utf8'));
const m = s.snapshot.meta;
const W = m.node_fields.length, EW = m.edge_fields.length;
const [it, iname, isz, iec] = ['type', 'name', 'self_size', 'edge_count'].map((f) => m.node_fields.indexOf(f));
const [et, en, eto] = ['type', 'name_or_index', 'to_node'].map((f) => m.edge_fields.indexOf(f));
const types = m.node_types[0], etypes = m.edge_types[0];
const nodes = s.nodes, edges = s.edges, strings = s.strings;
const count = nodes.length / W;
const firstEdge = new Uint32Array(count + 1);
for (let n = 0, e = 0; n < count; n++) { firstEdge[n] = e; e += nodes[n * W + iec] * EW; firstEdge[n + 1] = e; }

const GENERIC = new Set(['Object', 'Array', 'Map', 'Set', 'WeakMap', 'WeakSet', 'Promise', 'Function', 'Uint8Array', 'Uint32Array', 'Int32Array', 'Float64Array', 'ArrayBuffer', 'Buffer', 'Error', '(object elements)', '(object properties)']);
const typeOf = (n) => types[nodes[n * W + it]];
const nameOf = (n) => strings[nodes[n * W + iname]];
const isHolder = (n) => typeOf(n) === 'object' && /^[A-Z_#]/.test(nameOf(n)) && !GENERIC.has(nameOf(n)) && !nameOf(n).startsWith('system');
const edgeName = (e) => {
  const t = etypes[edges[e + et]];
  return t === 'element' || t === 'hidden' ? `[${t}]` : String(strings[edges[e + en]]);
};

// Shortest-path tree from the root (node 0), weak edges left out: the holder and its field for each node.
const holder = new Int32Array(count).fill(-1);
const via = new Int32Array(count).fill(-1); // an edge offset: the field of the holder the path left by
const seen = new Uint8Array(count);
const queue = new Int32Array(count + 64);
let head = 0, tail = 0;
queue[tail++] = 0; seen[0] = 1;
// V8's string table reaches every internalized string at depth 2: it is walked last, so that a string
// is charged to whoever else holds it.
const deferred = [];
const isTable = (n) => typeOf(n) === 'synthetic' && /Internalized strings|String table|string table/i.test(nameOf(n));
for (;;) {
  if (head === tail) {
    if (deferred.length === 0) break;
    const n = deferred.pop();
    holder[n] = -1;
    queue[tail++] = n;
  }
  const n = queue[head++];
  if (isTable(n) && !deferred.done?.has(n)) { (deferred.done ??= new Set()).add(n); deferred.push(n); continue; }
  const hn = isHolder(n) ? n : holder[n];
  for (let e = firstEdge[n]; e < firstEdge[n + 1]; e += EW) {
    if (etypes[edges[e + et]] === 'weak') continue;
    const to = edges[e + eto] / W;
    if (seen[to]) continue;
    seen[to] = 1;
    queue[tail++] = to;
    holder[to] = hn;
    via[to] = hn === n ? e : via[n];
  }
}

const byHolder = new Map(), byType = new Map(), byCtor = new Map(), detail = new Map();
const add = (map, k, sz) => { const v = map.get(k) ?? [0, 0]; v[0] += sz; v[1]++; map.set(k, v); };
let total = 0;
for (let n = 0; n < count; n++) {
  const sz = nodes[n * W + isz];
  total += sz;
  const t = typeOf(n);
  add(byType, t, sz);
  add(byCtor, t === 'object' || t === 'closure' ? `${t} ${nameOf(n)}` : t === 'string' || t === 'concatenated string' || t === 'sliced string' ? 'strings' : `${t} ${String(nameOf(n)).slice(0, 40)}`, sz);
  const h = seen[n] ? holder[n] : -2;
  const key = h === -2 ? '(unreachable)' : h < 0 ? '(roots, no holder)' : `${nameOf(h)}.${via[n] >= 0 ? edgeName(via[n]) : '(self)'}`;
  const hk = isHolder(n) ? `${nameOf(n)}.(self)` : key;
  add(byHolder, hk, sz);
  let d = detail.get(hk);
  if (!d) detail.set(hk, (d = new Map()));
  add(d, t === 'object' || t === 'closure' || t === 'hidden' || t === 'array' ? `${t} ${nameOf(n)}` : t, sz);
}
const top = (map, k) => [...map].sort((a, b) => b[1][0] - a[1][0]).slice(0, k).map(([key, [sz, c]]) => `${(sz / 1048576).toFixed(2).padStart(8)} MB ${String(c).padStart(9)}  ${key.slice(0, 120)}`).join('\n');
process.stdout.write(`${file}: ${count} nodes, ${(total / 1048576).toFixed(1)} MB\n\nby holder.field (self sizes of what hangs there, count):\n${top(byHolder, TOP)}\n\nby node type:\n${top(byType, 15)}\n\nby constructor:\n${top(byCtor, TOP)}\n`);
// The largest holders' bytes by node type and constructor.
for (const [hk] of [...byHolder].sort((a, b) => b[1][0] - a[1][0]).slice(0, DETAIL)) process.stdout.write(`\n${hk}:\n${top(detail.get(hk), 8)}\n`);
