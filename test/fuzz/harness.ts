// Property-based fuzzing of the manifest loader and the planner (issue 10, "make the project find
// these itself"). Shared by the brief run in the unit lane (test/unit/fuzz/plan.fuzz.test.ts) and the
// long run (scripts/fuzz/plan.ts). Each case puts hostile input beside a fixed healthy cluster and
// checks:
//   - nothing throws (a crash is a thrown error; the long run also catches hangs with a watchdog);
//   - every object the model refuses has at least one error diagnostic naming it, in the plan;
//   - every diagnostic is about an object or a file of the input, and prints as one line;
//   - the healthy objects beside it are planned exactly as they are without the hostile input;
//   - the incremental planner, fed the same objects, plans the same virtual servers.

import fc from 'fast-check';
import { collectObjects, type LoadedManifests } from '../../src/model/load.ts';
import { documentsOf } from '../../src/model/documents.ts';
import { objectRef } from '../../src/model/common.ts';
import { formatDiagnostic } from '../../src/model/diagnostics.ts';
import { parseObject } from '../../src/model/parse.ts';
import { buildPlan } from '../../src/plan/full.ts';
import { IncrementalPlanner } from '../../src/plan/incremental.ts';
import { defaultNodeConfig } from '../../src/plan/config.ts';
import type { Diagnostic } from '../../src/net/index.ts';
import type { Plan } from '../../src/plan/types.ts';

type Obj = Record<string, unknown>;

// --- the healthy cluster (namespace "base", ClusterIPs 10.96.0.0/24, node-a) ---

export const BASE: Obj[] = [
  { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.11' }] } },
  {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'base', creationTimestamp: '2000-01-01T00:00:00Z', uid: 'base-web' },
    spec: { type: 'NodePort', clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, nodePort: 30080 }] },
  },
  {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'dns', namespace: 'base', creationTimestamp: '2000-01-01T00:00:00Z', uid: 'base-dns' },
    spec: { clusterIP: '10.96.0.53', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] },
  },
  {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-1', namespace: 'base', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4', ports: [{ name: 'http', port: 8080 }], endpoints: [{ addresses: ['10.244.1.1'], nodeName: 'node-a' }, { addresses: ['10.244.2.1'] }],
  },
];

const cfg = () => defaultNodeConfig({ nodeName: 'node-a' });

/** The healthy cluster's virtual servers ("TCP/10.96.0.10/80 -> 10.244.1.1:8080,…"), as planned alone. */
function vsLines(p: Plan): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of p.families) for (const v of f.virtualServers) out.set(`${v.protocol}/${v.address}/${v.port}`, `${v.service} ${v.realServers.map((r) => `${r.address}:${r.port}`).join(',')}`);
  return out;
}
const BASE_VS = vsLines(buildPlan(load(BASE), cfg()));

function load(raws: unknown[]): LoadedManifests {
  const m: LoadedManifests = { services: [], endpointSlices: [], nodes: [], diagnostics: [] };
  collectObjects(raws, m);
  return m;
}

// --- hostile values ---

const NASTY = [
  '', ' ', 'None', 'default', '0', '-1', '65536', '1e400', 'NaN', 'true', 'null', '\n', '\r\n-A -t 10.0.0.1:80 -s rr', '\u001b[2J', '\u0000', '\u2028', '\u202e',
  '0.0.0.0', '127.0.0.1', '255.255.255.255', '169.254.169.254', '224.0.0.1', '::', '::1', 'fe80::1', '::ffff:10.96.0.10', '10.96.0.10', '10.96.0.53', '192.168.0.11',
  '10.200.0.1', '10.200.0.1/8', '10.200.0.0/16', '300.1.1.1', '1.2.3', 'fd00::1%eth0', 'a'.repeat(64), 'a'.repeat(254), 'Web', 'x.y', '-x', 'TCP', 'udp', 'SCTP', 'ICMP',
  'ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName', 'Local', 'Cluster', 'ClientIP', 'IPv4', 'IPv6', 'FQDN', 'Service', 'service', 'List', 'EndpointSlice', 'Node',
  'kubernetes.io/service-name', '2020-01-01T00:00:00Z', 'yesterday', '{{', '*a', '&a', '[', '---',
];

const hostileString = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...NASTY) }, { weight: 1, arbitrary: fc.string({ maxLength: 20 }) });
const hostileNumber = fc.oneof(fc.constantFrom(0, -1, 1, 22, 80, 30080, 32767, 32768, 65535, 65536, 2 ** 31, 2 ** 53, 0.5, -0, Number.MAX_VALUE), fc.integer(), fc.double());

export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: hostileString },
    { weight: 2, arbitrary: hostileNumber },
    { weight: 1, arbitrary: fc.boolean() },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.array(tie('v'), { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.dictionary(hostileString, tie('v'), { maxKeys: 3 }) },
  ),
})).v;

/** Paths worth breaking in each kind (plus a random key anywhere). */
const PATHS: Record<string, Array<Array<string | number>>> = {
  Service: [
    ['kind'], ['metadata'], ['metadata', 'name'], ['metadata', 'namespace'], ['metadata', 'uid'], ['metadata', 'creationTimestamp'], ['metadata', 'labels'], ['metadata', 'annotations'],
    ['metadata', 'labels', 'service.kubernetes.io/headless'], ['metadata', 'annotations', 'ipvsnet.io/scheduler'], ['spec'], ['spec', 'type'], ['spec', 'clusterIP'], ['spec', 'clusterIPs'],
    ['spec', 'clusterIPs', 1], ['spec', 'ports'], ['spec', 'ports', 0], ['spec', 'ports', 0, 'port'], ['spec', 'ports', 0, 'nodePort'], ['spec', 'ports', 0, 'protocol'], ['spec', 'ports', 0, 'name'],
    ['spec', 'ports', 1], ['spec', 'externalIPs'], ['spec', 'externalIPs', 0], ['spec', 'loadBalancerSourceRanges', 0], ['spec', 'sessionAffinity'], ['spec', 'sessionAffinityConfig', 'clientIP', 'timeoutSeconds'],
    ['spec', 'externalTrafficPolicy'], ['spec', 'internalTrafficPolicy'], ['spec', 'healthCheckNodePort'], ['spec', 'trafficDistribution'], ['status', 'loadBalancer', 'ingress'],
    ['status', 'loadBalancer', 'ingress', 0, 'ip'], ['status', 'loadBalancer', 'ingress', 0, 'ipMode'],
  ],
  EndpointSlice: [
    ['kind'], ['metadata', 'name'], ['metadata', 'namespace'], ['metadata', 'labels'], ['metadata', 'labels', 'kubernetes.io/service-name'], ['addressType'], ['ports'], ['ports', 0, 'port'],
    ['ports', 0, 'name'], ['ports', 0, 'protocol'], ['endpoints'], ['endpoints', 0], ['endpoints', 0, 'addresses'], ['endpoints', 0, 'addresses', 0], ['endpoints', 0, 'conditions'],
    ['endpoints', 0, 'conditions', 'ready'], ['endpoints', 0, 'nodeName'], ['endpoints', 0, 'zone'], ['endpoints', 0, 'hints', 'forZones'], ['endpoints', 1],
  ],
  Node: [['kind'], ['metadata', 'name'], ['metadata', 'labels'], ['spec', 'podCIDR'], ['spec', 'podCIDRs', 0], ['status', 'addresses'], ['status', 'addresses', 0, 'address'], ['status', 'addresses', 0, 'type']],
};

/** A well-formed object of the fuzz namespace (its own address range, so it never collides with BASE by rule). */
const template = (kind: string, i: number): Obj => {
  if (kind === 'Service') {
    return {
      apiVersion: 'v1', kind, metadata: { name: `s${i}`, namespace: 'fuzz' },
      spec: { type: 'LoadBalancer', clusterIP: `10.200.0.${i + 1}`, externalIPs: [`10.201.0.${i + 1}`], ports: [{ name: 'http', port: 80, nodePort: 31000 + i }, { name: 'https', port: 443 }] },
      status: { loadBalancer: { ingress: [{ ip: `10.202.0.${i + 1}` }] } },
    };
  }
  if (kind === 'EndpointSlice') {
    return {
      apiVersion: 'discovery.k8s.io/v1', kind, metadata: { name: `e${i}`, namespace: 'fuzz', labels: { 'kubernetes.io/service-name': `s${i % 3}` } },
      addressType: 'IPv4', ports: [{ name: 'http', port: 8080 }], endpoints: [{ addresses: [`10.244.9.${i + 1}`], conditions: { ready: true } }, { addresses: ['10.244.9.200'] }],
    };
  }
  return { apiVersion: 'v1', kind, metadata: { name: `n${i}` }, spec: { podCIDR: `10.245.${i}.0/24` }, status: { addresses: [{ type: 'InternalIP', address: `192.168.9.${i + 1}` }] } };
};

function setPath(o: Obj, path: Array<string | number>, v: unknown): Obj {
  const root = structuredClone(o);
  let cur: Record<string | number, unknown> = root;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]!;
    const next = cur[k];
    if (next === null || typeof next !== 'object') cur[k] = typeof path[i + 1] === 'number' ? [] : {};
    cur = cur[k] as Record<string | number, unknown>;
  }
  cur[path[path.length - 1]!] = v;
  return root;
}

/** A fuzz-namespace object with zero to three fields broken. */
export const hostileObject: fc.Arbitrary<unknown> = fc
  .record({
    kind: fc.constantFrom('Service', 'EndpointSlice', 'Node'),
    i: fc.nat(5),
    // The name reaches every diagnostic about the object: break it often.
    name: fc.option(hostileString, { nil: undefined, freq: 4 }),
    edits: fc.array(fc.tuple(fc.nat(), hostileValue, fc.option(hostileString, { nil: undefined })), { maxLength: 3 }),
  })
  .map(({ kind, i, name, edits }) => {
    let o = template(kind, i);
    if (name !== undefined) o = setPath(o, ['metadata', 'name'], name);
    for (const [p, v, extraKey] of edits) {
      const paths = PATHS[kind]!;
      const path = extraKey !== undefined && p % 5 === 0 ? [...paths[p % paths.length]!.slice(0, -1), extraKey] : paths[p % paths.length]!;
      o = setPath(o, path, v);
    }
    return o;
  });

/** Whole values that are not objects at all, or Lists of anything. */
export const hostileDocument: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileObject },
  { weight: 1, arbitrary: hostileValue },
  { weight: 1, arbitrary: fc.array(fc.oneof(hostileObject, hostileValue), { maxLength: 3 }).map((items) => ({ kind: 'List', items })) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('ServiceList', 'EndpointSliceList', 'NodeList'), items: fc.oneof(hostileValue, fc.array(hostileObject, { maxLength: 2 })) }) },
);

/** Manifest text: JSON or YAML of hostile documents, cut, spliced with YAML syntax, or random. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  fc.array(hostileDocument, { maxLength: 3 }).map((ds) => ds.map((d) => JSON.stringify(d) ?? 'null').join('\n---\n')),
  fc.tuple(fc.array(hostileDocument, { minLength: 1, maxLength: 2 }), fc.nat(), fc.constantFrom('[', '{', '&a ', '*a', '*b', '\n---\n', ': ', '\t', '!!binary ', '<<: *a\n', '"', "'", '- ', '\u0000', '%YAML 1.2\n'))
    .map(([ds, at, ins]) => {
      const t = ds.map((d) => JSON.stringify(d) ?? 'null').join('\n---\n');
      const k = at % (t.length + 1);
      return t.slice(0, k) + ins + t.slice(k);
    }),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('a: &a [1,2]\nb: [*a,*a,*a]\n', '---\n---\n', '- 1\n- 2\n', 'kind: Service\nmetadata: !!map { name: x }\n', '? [a]\n: b\n', 'kind: &k Service\nmetadata: { name: *k }\n'),
);

// --- the checks ---

function fail(msg: string, detail: unknown): never {
  throw new Error(`${msg}: ${JSON.stringify(detail, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 2000)}`);
}

/** Cases where the ownership rule rightly gave a healthy address to a hostile ClusterIP (say, one equal to the node's IP). */
export const stats = { cases: 0, healthyLostByRule: 0 };

function checkPlan(p: Plan, sources: Set<string>, refused: Array<{ ref: string; kind: string }>): void {
  stats.cases++;
  // The healthy cluster is planned exactly as alone, unless the ownership rule gave one of its addresses away.
  const got = vsLines(p);
  if (p.diagnostics.some((d) => d.code === 'AddressConflict' && d.object.startsWith('base/'))) stats.healthyLostByRule++;
  else for (const [k, v] of BASE_VS) if (got.get(k) !== v) fail('a healthy virtual server changed', { key: k, want: v, got: got.get(k) });
  // Every refused object is named by an error diagnostic.
  for (const r of refused) {
    if (!p.diagnostics.some((d) => d.severity === 'error' && d.kind === r.kind && d.object === r.ref)) fail('an object was refused without a diagnostic', r);
  }
  for (const d of p.diagnostics) {
    if (formatDiagnostic(d).includes('\n') || formatDiagnostic(d).includes('\r')) fail('a diagnostic prints as more than one line', d);
    if (d.kind === 'Config' && d.object !== 'node-a' && !sources.has(d.object)) fail('a Config diagnostic names no input file', d);
  }
}

/** Objects the model refuses, by their diagnostic reference. */
function refusedOf(raws: unknown[]): Array<{ ref: string; kind: string }> {
  const out: Array<{ ref: string; kind: string }> = [];
  for (const raw of raws) {
    const r = parseObject(raw);
    if (r.kind && !r.model) {
      if (r.diagnostics.length === 0) fail('the model refused an object without a diagnostic', raw);
      out.push({ ref: r.diagnostics[0]!.object, kind: r.kind });
    }
  }
  return out;
}

/** One planner case: hostile objects beside the healthy cluster. */
export function planCase(hostile: unknown[]): void {
  const raws = [...BASE, ...hostile];
  // A hostile object may claim a healthy one's name (namespace "base"): then the healthy plan may rightly change.
  const clobbers = hostile.some((h) => objectRef(h, true).startsWith('base/') || objectRef(h, false) === 'node-a');
  const p = buildPlan(load(raws), cfg());
  if (!clobbers) checkPlan(p, new Set(), refusedOf(hostile));
  // The incremental planner agrees on the virtual servers.
  const inc = new IncrementalPlanner(cfg());
  for (const raw of raws) {
    const kind = raw && typeof raw === 'object' ? (raw as { kind?: unknown }).kind : undefined;
    if (kind === 'Service') inc.upsertService(raw);
    else if (kind === 'EndpointSlice') inc.upsertEndpointSlice(raw);
    else if (kind === 'Node') inc.upsertNode(raw);
  }
  if (!clobbers && new Set(raws.map((r) => `${String((r as Obj)?.['kind'])}/${objectRef(r, true)}`)).size === raws.length) {
    const a = [...vsLines(inc.plan())].sort();
    const b = [...vsLines(p)].sort();
    if (JSON.stringify(a) !== JSON.stringify(b)) fail('the incremental planner disagrees with the full one', { a, b });
  }
}

/** One loader case: hostile files beside the healthy cluster's file. */
export function textCase(texts: string[]): void {
  const diagnostics: Diagnostic[] = [];
  const sources = new Set<string>();
  const raws: unknown[] = [];
  for (const o of documentsOf(BASE.map((o) => JSON.stringify(o)).join('\n---\n'), 'base.yaml', diagnostics)) raws.push(o);
  if (diagnostics.length > 0) fail('the healthy file gave diagnostics', diagnostics);
  texts.forEach((t, i) => {
    const source = `fuzz-${i}.${i % 2 ? 'json' : 'yaml'}`;
    sources.add(source);
    const before = diagnostics.length;
    for (const o of documentsOf(t, source, diagnostics)) raws.push(o);
    for (const d of diagnostics.slice(before)) if (d.object !== source || d.severity !== 'error') fail('a file diagnostic names another file', { d, source });
  });
  const hostile = raws.slice(BASE.length);
  const clobbers = hostile.some((h) => objectRef(h, true).startsWith('base/') || objectRef(h, false) === 'node-a');
  const m = load(raws);
  m.diagnostics.unshift(...diagnostics);
  const p = buildPlan(m, cfg());
  if (!clobbers) checkPlan(p, sources, refusedOf(hostile));
}

export const planProperty = fc.property(fc.array(hostileDocument, { maxLength: 6 }), (docs) => {
  // Documents as the loader would hand them over: Lists expanded, non-objects reported.
  const diagnostics: Diagnostic[] = [];
  const raws = documentsOf(JSON.stringify(docs), 'fuzz.json', diagnostics);
  planCase(raws);
});

export const textProperty = fc.property(fc.array(hostileText, { minLength: 1, maxLength: 3 }), (texts) => textCase(texts));
