// Ownership of ipsets (issue 10, fault 4): every set the reconciler creates for a dual-stack plan —
// all of kube-proxy's set types in both families, including the IPv6 names the kernel's 31-character
// limit cuts (KUBE-6-LOAD-BALANCER-SOURCE-CID, KUBE-6-NODE-PORT-LOCAL-SCTP-HAS) — is removed by
// cleanup; foreign sets (one with a KUBE- prefix) survive. Host kernel, fresh netns, no IPVS.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Reconciler } from '../../../src/reconcile/index.ts';
import { IpsetAdapter } from '../../../src/kernel/ipset/index.ts';
import { node, planOf, slice, svc } from '../../unit/plan/fixtures.ts';
import { createNetns, deleteNetns, inNs, nsRunner } from '../kernel/netns.ts';

let ns = '';
beforeEach(async () => { ns = await createNetns('ipvsnet-own'); });
afterEach(async () => { await deleteNetns(ns); });

async function setNames(): Promise<string[]> {
  return (await inNs(ns, 'ipset', 'list', '-n')).split('\n').map((l) => l.trim()).filter(Boolean).sort();
}

describe('cleanup removes every set a dual-stack sync created', () => {
  it('all set types, both families, names cut at 31 characters; foreign sets spared', async () => {
    const plan = planOf([
      node('node-a', ['192.168.0.11', 'fd00:192:168::11']),
      svc('frontend', {
        type: 'LoadBalancer',
        clusterIPs: ['10.96.0.10', 'fd00:10:96::10'],
        ports: [{ name: 'http', port: 80, nodePort: 30080 }, { name: 'sctp', port: 90, protocol: 'SCTP', nodePort: 30090 }],
        spec: { ipFamilyPolicy: 'RequireDualStack', externalTrafficPolicy: 'Local', externalIPs: ['192.0.2.5', '2001:db8::5'], loadBalancerSourceRanges: ['203.0.113.0/24', '2001:db8:1::/48'] },
        status: { loadBalancer: { ingress: [{ ip: '198.51.100.5' }, { ip: '2001:db8:ffff::5' }] } },
      }),
      slice('f-v4', 'frontend', [{ ip: '10.244.1.5', node: 'node-a' }]),
      slice('f-v6', 'frontend', [{ ip: 'fd00:10:244:1::5', node: 'node-a' }], { addressType: 'IPv6' }),
    ], { nodeName: 'node-a' });
    expect(plan.families.map((f) => f.family)).toEqual([4, 6]);
    const planned = plan.families.flatMap((f) => f.ipsets.map((s) => s.name)).sort();
    expect(planned).toContain('KUBE-6-LOAD-BALANCER-SOURCE-CID');
    expect(planned).toContain('KUBE-6-NODE-PORT-LOCAL-SCTP-HAS');
    expect(new Set(plan.families.flatMap((f) => f.ipsets.map((s) => s.type)))).toEqual(new Set(['hash:ip', 'hash:ip,port', 'hash:ip,port,ip', 'hash:ip,port,net', 'bitmap:port']));

    const runner = nsRunner(ns);
    const r = new Reconciler({
      ipvs: null, link: null, runner, stateFile: null, logger: pino({ level: 'silent' }),
      ipset: new IpsetAdapter({ run: runner.run, netns: `/run/netns/${ns}` }),
      // No iptables here: the plan's filter rules use the ipvs match, which needs the IPVS module the host lacks.
      iptables: null,
    });
    const s = await r.sync(plan);
    expect(s.failures).toEqual([]);
    expect(await setNames()).toEqual(planned);

    await inNs(ns, 'ipset', 'create', 'FOREIGN-SET', 'hash:ip');
    await inNs(ns, 'ipset', 'create', 'KUBE-FOREIGN', 'hash:ip,port');
    const c = await r.cleanup();
    expect(c.failures).toEqual([]);
    expect(await setNames()).toEqual(['FOREIGN-SET', 'KUBE-FOREIGN']);
  });
});
