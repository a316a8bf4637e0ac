import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The planner and the conflist writer themselves: src/routes/index.ts also exports the controller,
// whose rtnetlink socket loads the netlink binding (a native addon, not for the unit lane).
import { planRoutes } from '../../../src/routes/planner.ts';
import { buildConflist, writeConflist } from '../../../src/routes/conflist.ts';
import type { NodeLike } from '../../../src/routes/planner.ts';

const n = (name: string, cidrs: string[] | undefined, ips: Array<[string, string]>): NodeLike =>
  ({ metadata: { name }, spec: cidrs ? { podCIDR: cidrs[0], podCIDRs: cidrs } : {}, status: { addresses: ips.map(([type, address]) => ({ type, address })) } });

describe('planRoutes', () => {
  const connected = ['192.168.43.111/24', 'fd00:43::111/64', '10.244.1.1/24'];
  it('routes every other node podCIDR via its same-family InternalIP', () => {
    const p = planRoutes([
      n('a', ['10.244.1.0/24'], [['InternalIP', '192.168.43.111']]),
      n('b', ['10.244.2.0/24', 'fd00:244:2::/64'], [['ExternalIP', '203.0.113.5'], ['InternalIP', '192.168.43.112'], ['InternalIP', 'fd00:43::112']]),
    ], 'a', connected);
    expect(p.routes).toEqual([
      { dst: '10.244.2.0/24', via: '192.168.43.112', node: 'b' },
      { dst: 'fd00:244:2::/64', via: 'fd00:43::112', node: 'b' },
    ]);
    expect(p.diagnostics).toEqual([]);
  });

  it('reports peers off the connected subnets, missing InternalIPs, bad and duplicate podCIDRs; skips unallocated nodes', () => {
    const p = planRoutes([
      n('far', ['10.244.3.0/24'], [['InternalIP', '172.16.0.9']]),
      n('noip', ['10.244.4.0/24'], [['Hostname', 'noip']]),
      n('bad', ['10.244.5.0/33'], [['InternalIP', '192.168.43.113']]),
      n('dup1', ['10.244.6.0/24'], [['InternalIP', '192.168.43.114']]),
      n('dup2', ['10.244.6.0/24'], [['InternalIP', '192.168.43.115']]),
      n('fresh', undefined, [['InternalIP', '192.168.43.116']]),
      n('v6only', ['fd00:244:7::/64'], [['InternalIP', '192.168.43.117']]),
    ], 'a', connected);
    expect(p.routes).toEqual([{ dst: '10.244.6.0/24', via: '192.168.43.114', node: 'dup1' }]);
    expect(p.unreachablePeers).toEqual(['far']);
    const by = Object.fromEntries(p.diagnostics.map((d) => [d.object, d]));
    expect(by['far']!.reason).toMatch(/not on a directly connected subnet/);
    expect(by['noip']!.reason).toMatch(/no IPv4 InternalIP/);
    expect(by['bad']!.field).toBe('spec.podCIDRs[0]');
    expect(by['dup2']!.reason).toMatch(/also claimed by node dup1/);
    expect(by['v6only']!.reason).toMatch(/no IPv6 InternalIP/);
    expect(by['fresh']).toBeUndefined();
  });
});

describe('conflist', () => {
  it('ipvsnet-bridge + ipvsnet-ipam over the podCIDRs, one range set per family', () => {
    const { conflist } = buildConflist(n('a', ['10.244.1.0/24', 'fd00:244:1::/64'], []), { binDir: '/nonexistent' });
    expect(conflist).toEqual({
      cniVersion: '1.0.0', name: 'ipvsnet',
      plugins: [{ type: 'ipvsnet-bridge', bridge: 'cni0', isGateway: true, isDefaultGateway: true, hairpinMode: true, ipMasq: false,
        ipam: { type: 'ipvsnet-ipam', ranges: [[{ subnet: '10.244.1.0/24', gateway: '10.244.1.1' }], [{ subnet: 'fd00:244:1::/64', gateway: 'fd00:244:1::1' }]] } }],
    });
    const none = buildConflist(n('b', undefined, []));
    expect(none.conflist).toBeUndefined();
    expect(none.diagnostics[0]!.field).toBe('spec.podCIDR');
  });

  it('writes atomically and only when changed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ivu-netd-'));
    try {
      const a = writeConflist(n('a', ['10.244.1.0/24'], []), { confDir: dir, binDir: '/nonexistent' });
      expect(a.changed).toBe(true);
      expect(JSON.parse(readFileSync(join(dir, '10-ipvsnet.conflist'), 'utf8')).plugins[0].ipam.ranges).toEqual([[{ subnet: '10.244.1.0/24', gateway: '10.244.1.1' }]]);
      expect(writeConflist(n('a', ['10.244.1.0/24'], []), { confDir: dir, binDir: '/nonexistent' }).changed).toBe(false);
      expect(writeConflist(n('a', ['10.244.9.0/24'], []), { confDir: dir, binDir: '/nonexistent' }).changed).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
