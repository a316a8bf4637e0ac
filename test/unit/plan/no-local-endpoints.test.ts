// kube-proxy's sync_proxy_rules_no_local_endpoints_total, as the plan carries it per family:
// a Service counts under "internal" when internalTrafficPolicy is Local, under "external" when
// externalTrafficPolicy is Local on an externally reachable Service, in both cases only while it has
// endpoints elsewhere and none on this node (kube-proxy's syncEndpoint). The incremental planner
// keeps the same counts as a full plan through changes.
import { describe, expect, it } from 'vitest';
import { NODE_A, fam, load, planOf, slice, svc } from './fixtures.ts';
import { IncrementalPlanner } from '../../../src/plan/incremental.ts';
import { defaultNodeConfig } from '../../../src/plan/config.ts';

const remote = [{ ip: '10.244.2.1', node: 'node-b' }];
const local = [{ ip: '10.244.1.1', node: 'node-a' }];
const lb = (name: string, ip: string, spec: Record<string, unknown>) =>
  svc(name, { type: 'LoadBalancer', clusterIP: ip, ports: [{ name: 'http', port: 80, nodePort: 30000 + Number(ip.split('.')[3]) }], spec: { healthCheckNodePort: 32000 + Number(ip.split('.')[3]), ...spec } });

describe('FamilyPlan.noLocalEndpoints', () => {
  it('counts Services by policy, only when endpoints exist elsewhere and none here', () => {
    const objs = [
      NODE_A,
      svc('itp-remote', { clusterIP: '10.96.0.1', spec: { internalTrafficPolicy: 'Local' } }), slice('itp-remote-1', 'itp-remote', remote),
      svc('itp-local', { clusterIP: '10.96.0.2', spec: { internalTrafficPolicy: 'Local' } }), slice('itp-local-1', 'itp-local', local),
      svc('itp-none', { clusterIP: '10.96.0.3', spec: { internalTrafficPolicy: 'Local' } }),
      lb('etp-remote', '10.96.0.4', { externalTrafficPolicy: 'Local' }), slice('etp-remote-1', 'etp-remote', remote),
      lb('etp-local', '10.96.0.5', { externalTrafficPolicy: 'Local' }), slice('etp-local-1', 'etp-local', local),
      lb('both-remote', '10.96.0.6', { externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Local' }), slice('both-remote-1', 'both-remote', remote),
      // externalTrafficPolicy Local on a ClusterIP Service means nothing
      svc('etp-clusterip', { clusterIP: '10.96.0.7', spec: { externalTrafficPolicy: 'Local' } }), slice('etp-clusterip-1', 'etp-clusterip', remote),
    ];
    const p = planOf(objs);
    expect(fam(p).noLocalEndpoints).toEqual({ internal: 2, external: 2 });

    // the incremental planner agrees, and follows a local endpoint appearing and leaving
    const inc = new IncrementalPlanner(defaultNodeConfig({ nodeName: 'node-a' }), { ...load(objs) });
    expect(fam(inc.plan()).noLocalEndpoints).toEqual({ internal: 2, external: 2 });
    inc.upsertEndpointSlice(slice('both-remote-1', 'both-remote', [...remote, ...local]));
    expect(fam(inc.plan()).noLocalEndpoints).toEqual({ internal: 1, external: 1 });
    inc.deleteService('default/etp-remote');
    expect(fam(inc.plan()).noLocalEndpoints).toEqual({ internal: 1, external: 0 });
    inc.upsertEndpointSlice(slice('both-remote-1', 'both-remote', remote));
    expect(fam(inc.plan()).noLocalEndpoints).toEqual({ internal: 2, external: 1 });
  });

  it('is per family: a dual-stack Service counts in the family whose endpoints are all remote', () => {
    const dual = svc('dual', { clusterIP: '10.96.0.9', clusterIPs: ['10.96.0.9', 'fd00::9'], spec: { internalTrafficPolicy: 'Local', ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' } });
    const p = planOf([NODE_A, dual, slice('dual-4', 'dual', local), slice('dual-6', 'dual', [{ ip: 'fd00:244::2', node: 'node-b' }])], { families: [4, 6] });
    expect(fam(p, 4).noLocalEndpoints).toEqual({ internal: 0, external: 0 });
    expect(fam(p, 6).noLocalEndpoints).toEqual({ internal: 1, external: 0 });
  });
});
