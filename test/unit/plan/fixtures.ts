// Builders for raw Kubernetes objects (as they arrive from YAML or the API).

import { collectObjects, type LoadedManifests } from '../../../src/model/load.ts';
import { buildPlan } from '../../../src/plan/full.ts';
import { defaultNodeConfig, type NodeConfig } from '../../../src/plan/config.ts';
import type { Family } from '../../../src/net/index.ts';
import type { FamilyPlan, Plan, VirtualServer } from '../../../src/plan/types.ts';

type Obj = Record<string, unknown>;

export function node(name: string, addresses: string[], labels: Record<string, string> = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels },
    status: { addresses: addresses.map((a) => ({ type: 'InternalIP', address: a })) },
  };
}

export interface SvcOpts {
  ns?: string;
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ports?: Obj[];
  spec?: Obj;
  status?: Obj;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function svc(name: string, o: SvcOpts = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: o.ns ?? 'default', ...(o.labels ? { labels: o.labels } : {}), ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      type: o.type ?? 'ClusterIP',
      clusterIP: o.clusterIP ?? '10.96.0.10',
      ...(o.clusterIPs ? { clusterIPs: o.clusterIPs } : {}),
      ports: o.ports ?? [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
      ...o.spec,
    },
    ...(o.status ? { status: o.status } : {}),
  };
}

export interface Ep {
  ip: string;
  node?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  zone?: string;
  forZones?: string[];
  forNodes?: string[];
}

export function slice(name: string, service: string, eps: Ep[], o: { ns?: string; ports?: Obj[]; addressType?: string; labels?: Record<string, string> } = {}): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: o.ns ?? 'default', labels: { 'kubernetes.io/service-name': service, ...o.labels } },
    addressType: o.addressType ?? (eps[0]?.ip.includes(':') ? 'IPv6' : 'IPv4'),
    ports: o.ports ?? [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      conditions: {
        ...(e.ready !== undefined ? { ready: e.ready } : {}),
        ...(e.serving !== undefined ? { serving: e.serving } : {}),
        ...(e.terminating !== undefined ? { terminating: e.terminating } : {}),
      },
      ...(e.node ? { nodeName: e.node } : {}),
      ...(e.zone ? { zone: e.zone } : {}),
      ...(e.forZones || e.forNodes
        ? { hints: { ...(e.forZones ? { forZones: e.forZones.map((name) => ({ name })) } : {}), ...(e.forNodes ? { forNodes: e.forNodes.map((name) => ({ name })) } : {}) } }
        : {}),
    })),
  };
}

export function load(raws: unknown[]): LoadedManifests {
  const m: LoadedManifests = { services: [], endpointSlices: [], nodes: [], diagnostics: [] };
  collectObjects(raws, m);
  return m;
}

export const NODE_A = node('node-a', ['192.168.0.11'], { 'topology.kubernetes.io/zone': 'zone-a' });

export function planOf(raws: unknown[], cfg: Partial<NodeConfig> = {}): Plan {
  return buildPlan(load(raws), defaultNodeConfig({ nodeName: 'node-a', ...cfg }));
}

export function fam(plan: Plan, f: Family = 4): FamilyPlan {
  const fp = plan.families.find((x) => x.family === f);
  if (!fp) throw new Error(`no IPv${f} plan`);
  return fp;
}

export function vsAt(plan: Plan, address: string, port: number, protocol = 'TCP'): VirtualServer | undefined {
  for (const fp of plan.families) {
    const v = fp.virtualServers.find((x) => x.address === address && x.port === port && x.protocol === protocol);
    if (v) return v;
  }
  return undefined;
}

export function rsOf(plan: Plan, address: string, port: number, protocol = 'TCP'): string[] {
  const v = vsAt(plan, address, port, protocol);
  if (!v) throw new Error(`no virtual server ${protocol} ${address}:${port}`);
  return v.realServers.map((r) => `${r.address}:${r.port}`);
}

export function members(plan: Plan, set: string, f: Family = 4): string[] {
  const s = fam(plan, f).ipsets.find((x) => x.name === set);
  if (!s) throw new Error(`no set ${set}`);
  return s.members;
}
