// The manifests' side of the image tests: the DaemonSet and ConfigMap as the tests read them
// (manifests/base/), a container's hostPath and $(VAR) expansion, and RFC 6902 JSON patch for
// manifests/proxy-only.json (the Service-proxy-only variant).
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './image.ts';

// ---------------------------------------------------------------------------------------------
// Manifests

export interface VolumeMount { name: string; mountPath: string; readOnly?: boolean; mountPropagation?: string }
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  volumeMounts?: VolumeMount[];
}
export interface Volume { name: string; hostPath?: { path: string; type?: string }; configMap?: { name: string } }
export interface PodSpec { hostPID?: boolean; initContainers?: Container[]; containers: Container[]; volumes?: Volume[] }
export interface DaemonSet { kind: 'DaemonSet'; metadata: { name: string }; spec: { template: { spec: PodSpec } } }
export interface ConfigMap { kind: 'ConfigMap'; metadata: { name: string }; data: Record<string, string> }

export function manifest<T>(file: string, kind: string): T {
  const docs = parseAllDocuments(readFileSync(join(repoRoot, 'manifests', file), 'utf8')).map((d) => d.toJS() as { kind?: string });
  const found = docs.filter((d) => d?.kind === kind);
  if (found.length !== 1) throw new Error(`manifests/${file}: expected one ${kind}, found ${found.length}`);
  return found[0] as T;
}

/** The hostPath behind a container path, through the container's mounts (longest mount prefix). */
export function hostPathOf(pod: PodSpec, c: Container, path: string): string | undefined {
  const mounts = (c.volumeMounts ?? []).filter((m) => path === m.mountPath || path.startsWith(m.mountPath.replace(/\/$/, '') + '/'));
  mounts.sort((a, b) => b.mountPath.length - a.mountPath.length);
  const m = mounts[0];
  if (!m) return undefined;
  const v = (pod.volumes ?? []).find((x) => x.name === m.name);
  if (!v?.hostPath) return undefined;
  return posix.join(v.hostPath.path, path.slice(m.mountPath.length));
}

/** Kubernetes $(VAR) expansion of a container's args with its plain env and the given values. */
export function expandArgs(c: Container, values: Record<string, string>): string[] {
  const env: Record<string, string> = { ...values };
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return (c.args ?? []).map((a) =>
    a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, n: string) => {
      if (env[n] === undefined) throw new Error(`container ${c.name}: arg ${a} uses $(${n}), which has no value`);
      return env[n]!;
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// RFC 6902 JSON patch (add, remove, replace, test), for manifests/proxy-only.json

export interface PatchOp { op: 'add' | 'remove' | 'replace' | 'test'; path: string; value?: unknown }

export function applyJsonPatch<T>(doc: T, ops: PatchOp[]): T {
  const root = structuredClone(doc) as unknown;
  for (const [i, op] of ops.entries()) {
    const at = `patch op ${i} (${op.op} ${op.path})`;
    const toks = op.path.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (!op.path.startsWith('/') || toks.length === 0) throw new Error(`${at}: path must be a JSON pointer below the root`);
    let parent: unknown = root;
    for (const t of toks.slice(0, -1)) {
      if (parent === null || typeof parent !== 'object') throw new Error(`${at}: ${t}: no such member`);
      parent = (parent as Record<string, unknown>)[t];
    }
    const last = toks[toks.length - 1]!;
    if (parent === null || typeof parent !== 'object') throw new Error(`${at}: parent is not an object or array`);
    const isArr = Array.isArray(parent);
    const idx = isArr ? (last === '-' ? (parent as unknown[]).length : Number(last)) : -1;
    if (isArr && (!/^(\d+|-)$/.test(last) || idx > (parent as unknown[]).length)) throw new Error(`${at}: bad array index ${last}`);
    const has = isArr ? idx < (parent as unknown[]).length : Object.hasOwn(parent, last);
    const get = () => (isArr ? (parent as unknown[])[idx] : (parent as Record<string, unknown>)[last]);
    switch (op.op) {
      case 'test':
        if (!has || !isDeepStrictEqual(get(), op.value)) throw new Error(`${at}: test failed: found ${JSON.stringify(has ? get() : undefined)}, expected ${JSON.stringify(op.value)}`);
        break;
      case 'remove':
        if (!has) throw new Error(`${at}: nothing to remove`);
        if (isArr) (parent as unknown[]).splice(idx, 1);
        else delete (parent as Record<string, unknown>)[last];
        break;
      case 'replace':
        if (!has) throw new Error(`${at}: nothing to replace`);
        if (isArr) (parent as unknown[])[idx] = structuredClone(op.value);
        else (parent as Record<string, unknown>)[last] = structuredClone(op.value);
        break;
      case 'add':
        if (isArr) (parent as unknown[]).splice(idx, 0, structuredClone(op.value));
        else (parent as Record<string, unknown>)[last] = structuredClone(op.value);
        break;
      default:
        throw new Error(`${at}: op unknown`);
    }
  }
  return root as T;
}

/** manifests/base/daemonset.yaml with manifests/proxy-only.json applied (the Service-proxy-only variant). */
export function proxyOnlyDaemonSet(): DaemonSet {
  const ops = JSON.parse(readFileSync(join(repoRoot, 'manifests', 'proxy-only.json'), 'utf8')) as PatchOp[];
  return applyJsonPatch(manifest<DaemonSet>('base/daemonset.yaml', 'DaemonSet'), ops);
}
