// manifests/ip-pools/: the kustomization lists its files, the DaemonSet patch is the base's args
// plus --ip-pools (so the two cannot drift apart), and the flag is one the agent knows.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { FLAG_BY_NAME } from '../../../src/config/flags.ts';

const root = join(import.meta.dirname, '../../..');
interface DaemonSet { kind?: string; spec: { template: { spec: { containers: Array<{ name: string; args: string[] }> } } } }
interface Doc { kind?: string; resources?: string[]; patches?: unknown[]; rules?: unknown[] }
const yaml = <T = Doc>(f: string): T => parse(readFileSync(join(root, f), 'utf8')) as T;
const docs = <T = Doc>(f: string): T[] => parseAllDocuments(readFileSync(join(root, f), 'utf8')).map((d) => d.toJS() as T);
const argsOf = (ds: DaemonSet | undefined): string[] => ds!.spec.template.spec.containers.find((c) => c.name === 'ipvsnet')!.args;

describe('manifests/ip-pools', () => {
  it('the kustomization builds on the base with the CRD, the RBAC and the DaemonSet patch', () => {
    const k = yaml('manifests/ip-pools/kustomization.yaml');
    expect(k.resources).toEqual(['../base', 'crd.yaml', 'rbac.yaml', 'loadbalancer-rbac.yaml']);
    expect(k.patches).toEqual([{ path: 'daemonset-patch.yaml' }]);
  });

  it('the DaemonSet patch is the base args plus --ip-pools and --loadbalancer-addresses, flags the agent knows', () => {
    const base = docs<DaemonSet>('manifests/base/daemonset.yaml').find((o) => o?.kind === 'DaemonSet');
    expect(argsOf(yaml<DaemonSet>('manifests/ip-pools/daemonset-patch.yaml'))).toEqual([...argsOf(base), '--ip-pools', '--loadbalancer-addresses']);
    expect(FLAG_BY_NAME.get('ip-pools')?.type).toBe('bool');
    expect(FLAG_BY_NAME.get('loadbalancer-addresses')?.type).toBe('bool');
  });

  it('the ClusterRole grants what the claimer uses and no more', () => {
    const role = docs('manifests/ip-pools/rbac.yaml').find((o) => o.kind === 'ClusterRole');
    expect(role?.rules).toEqual([
      { apiGroups: ['ipvsnet.io'], resources: ['ippools'], verbs: ['get', 'list'] },
      { apiGroups: ['ipvsnet.io'], resources: ['ippools/status'], verbs: ['update'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['patch'] },
    ]);
  });

  it('the LoadBalancer allocator\'s roles grant the Service status update, the IPPool watch and the Lease in kube-system, no more', () => {
    const lb = docs('manifests/ip-pools/loadbalancer-rbac.yaml') as Array<Doc & { metadata?: { namespace?: string } }>;
    expect(lb.find((d) => d.kind === 'ClusterRole')?.rules).toEqual([
      { apiGroups: [''], resources: ['services/status'], verbs: ['update'] },
      { apiGroups: ['ipvsnet.io'], resources: ['ippools'], verbs: ['watch'] },
    ]);
    const role = lb.find((d) => d.kind === 'Role');
    expect(role?.metadata?.namespace).toBe('kube-system');
    expect(role?.rules).toEqual([{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }]);
  });
});
