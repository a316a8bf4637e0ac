// The protocol layer on its own: a tiny in-memory plugin (no kernel) behind runSkel.
import { describe, expect, it } from 'vitest';
import { runSkel } from '../../../src/cniproto/skel.ts';
import type { CmdContext, Plugin } from '../../../src/cniproto/skel.ts';
import { convertResult, parseResult } from '../../../src/cniproto/types.ts';
import { parseCniArgs } from '../../../src/cniproto/args.ts';
import { CniError } from '../../../src/cniproto/errors.ts';

function plugin(): Plugin & { seen: CmdContext[] } {
  const seen: CmdContext[] = [];
  const rec = async (ctx: CmdContext) => { seen.push(ctx); };
  return {
    seen, argKeys: ['IP'],
    add: async (ctx) => { seen.push(ctx); if (ctx.conf['fail']) throw new Error('boom\n    at fake (x.ts:1:1)'); return { cniVersion: ctx.cniVersion, interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', mtu: 1400, sandbox: '/ns' }], ips: [{ address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 0 }], routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1', mtu: 1400, priority: 5 }] }; },
    del: rec, check: rec, status: rec, gc: rec,
  };
}
const env = (o: Record<string, string>) => ({ CNI_CONTAINERID: 'c1', CNI_NETNS: '/ns', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin', ...o });
const conf = (o: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: '1.1.0', name: 'n', type: 't', ...o });

describe('runSkel', () => {
  it('converts the result to the config version', async () => {
    const p = plugin();
    const v11 = JSON.parse((await runSkel(p, env({ CNI_COMMAND: 'ADD' }), conf())).stdout);
    expect(v11.routes[0]).toEqual({ dst: '0.0.0.0/0', gw: '10.0.0.1', mtu: 1400, priority: 5 });
    expect(v11.interfaces[0].mtu).toBe(1400);
    const v10 = JSON.parse((await runSkel(p, env({ CNI_COMMAND: 'ADD' }), conf({ cniVersion: '1.0.0' }))).stdout);
    expect(v10.routes[0]).toEqual({ dst: '0.0.0.0/0', gw: '10.0.0.1' });
    expect(v10.interfaces[0].mtu).toBeUndefined();
    const v04 = JSON.parse((await runSkel(p, env({ CNI_COMMAND: 'ADD' }), conf({ cniVersion: '0.4.0' }))).stdout);
    expect(v04.ips[0]).toEqual({ version: '4', interface: 0, address: '10.0.0.2/24', gateway: '10.0.0.1' });
  });

  it('errors are JSON with the spec codes and never a stack trace', async () => {
    const p = plugin();
    const cases: Array<[Record<string, string>, string, number]> = [
      [{}, conf(), 4],
      [{ CNI_COMMAND: 'NOPE' }, conf(), 4],
      [{ CNI_COMMAND: 'ADD', CNI_CONTAINERID: '' }, conf(), 4],
      [{ CNI_COMMAND: 'ADD', CNI_IFNAME: 'x'.repeat(16) }, conf(), 4],
      [{ CNI_COMMAND: 'ADD' }, '{', 6],
      [{ CNI_COMMAND: 'ADD' }, conf({ cniVersion: '0.2.0' }), 1],
      [{ CNI_COMMAND: 'ADD', CNI_ARGS: 'X=1' }, conf(), 4],
      [{ CNI_COMMAND: 'ADD' }, conf({ fail: true }), 999],
      [{ CNI_COMMAND: 'CHECK' }, conf({ cniVersion: '0.3.1' }), 1],
      [{ CNI_COMMAND: 'GC' }, conf({ cniVersion: '1.0.0' }), 1],
    ];
    for (const [e, stdin, code] of cases) {
      const out = await runSkel(p, env(e), stdin);
      expect(out.exitCode).toBe(1);
      const j = JSON.parse(out.stdout);
      expect(j.code, JSON.stringify(e)).toBe(code);
      expect(typeof j.msg).toBe('string');
      expect(out.stdout).not.toMatch(/\n\s+at /);
    }
  });

  it('DEL needs no netns; VERSION needs nothing', async () => {
    const p = plugin();
    expect((await runSkel(p, { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c', CNI_IFNAME: 'eth0' }, conf())).exitCode).toBe(0);
    const v = await runSkel(p, { CNI_COMMAND: 'VERSION' }, '');
    expect(JSON.parse(v.stdout).supportedVersions).toEqual(['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
  });
});

describe('CNI_ARGS and results', () => {
  it('parses K8S_POD_* and honours IgnoreUnknown', () => {
    const a = parseCniArgs('IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=c;K8S_POD_UID=u;OTHER=x', []);
    expect([a.k8sPodNamespace, a.k8sPodName, a.k8sPodInfraContainerId, a.k8sPodUid, a.get('OTHER')]).toEqual(['ns', 'p', 'c', 'u', 'x']);
    expect(() => parseCniArgs('OTHER=x', [])).toThrow(CniError);
    expect(() => parseCniArgs('IgnoreUnknown=0;OTHER=x', [])).toThrow(/unknown key/);
    expect(parseCniArgs('IP=1.2.3.4', ['IP']).get('IP')).toBe('1.2.3.4');
  });

  it('reads results of every version back (prevResult)', () => {
    const r = parseResult({ cniVersion: '0.3.1', interfaces: [{ name: 'a' }], ips: [{ version: '4', address: '10.0.0.2/24', interface: 0 }], routes: [{ dst: '0.0.0.0/0' }], dns: { nameservers: ['1.1.1.1'] } });
    expect(convertResult(r, '1.1.0')).toEqual({ cniVersion: '1.1.0', interfaces: [{ name: 'a' }], ips: [{ interface: 0, address: '10.0.0.2/24' }], routes: [{ dst: '0.0.0.0/0' }], dns: { nameservers: ['1.1.1.1'] } });
    expect(() => parseResult({ ips: [{ address: 'x' }] })).toThrow(/address/);
  });
});
