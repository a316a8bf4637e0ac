// The Reconciler against the guest kernel's real IPVS (generic netlink) and a
// real dummy link, with hand-built plans. ipsets/iptables are covered by the
// netns lane and the e2e scenarios; here they are left out (null adapters).
import '../lane/guard.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import pino from 'pino';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { Reconciler } from '../../../src/reconcile/index.ts';
import { LinkAdapter } from '../../../src/kernel/link.ts';
import { openIpvs } from '../../../src/kernel/ipvs/genl.ts';
import type { Plan, VirtualServer } from '../../../src/plan/types.ts';

const DUMMY = 'ipvsnet-t0';
const STATE = join(mkdtempSync('/tmp/ipvsnet-vmrec-'), 'state.json');
const quiet = pino({ level: 'silent' });

function vs(address: string, port: number, backends: string[], over: Partial<VirtualServer> = {}): VirtualServer {
  return {
    family: 4, address, protocol: 'TCP', port, scheduler: 'rr', flags: [], timeout: 0, netmask: 32,
    realServers: backends.map((b) => ({ address: b.split(':')[0]!, port: Number(b.split(':')[1]), weight: 1, forward: 'masq' as const })),
    service: `default/s-${port}:`, kind: 'clusterIP', ...over,
  };
}
function plan(v: VirtualServer[]): Plan {
  return { node: 'n', families: [{ family: 4, virtualServers: v, boundAddresses: [...new Set(v.map((x) => x.address))].sort(), ipsets: [], iptables: { restore: '' } }], healthCheckNodePorts: [], diagnostics: [] };
}
async function make(): Promise<Reconciler> {
  return new Reconciler({ ipvs: await openIpvs(), link: new LinkAdapter(), ipset: null, iptables: null, dummy: DUMMY, stateFile: STATE, logger: quiet, conntrack: false });
}
async function saved(): Promise<string[]> {
  return (await execa('ipvsadm', ['-Sn'])).stdout.split('\n').filter((l) => l.includes('10.97.')).sort();
}

const A = vs('10.97.0.1', 80, ['10.0.2.50:8080', '10.0.2.51:8080']);
const U = vs('10.97.0.2', 53, ['10.0.2.52:53'], { protocol: 'UDP' });

let r: Reconciler;
beforeAll(async () => {
  await execa('ipvsadm', ['-A', '-t', '192.0.2.77:80', '-s', 'wlc']);
  r = await make();
});
afterAll(async () => {
  await r.cleanup();
  r.close();
  await execa('ipvsadm', ['-D', '-t', '192.0.2.77:80'], { reject: false });
});

describe('Reconciler on real IPVS (VM guest)', () => {
  it('programs a plan from empty: dummy link DOWN, /32 addresses, services and dests as ipvsadm -S shows them', async () => {
    const res = await r.sync(plan([A, U]));
    expect(res.failures).toEqual([]);
    expect(res.operations).toMatchObject({ createLink: 1, bindAddress: 2, addService: 2, addDest: 3 });
    const link = (await execa('ip', ['-d', '-o', 'link', 'show', DUMMY])).stdout;
    expect(link).toContain('dummy');
    expect(link).not.toMatch(/[<,]UP[,>]/);
    expect((await execa('ip', ['-o', 'addr', 'show', 'dev', DUMMY])).stdout).toMatch(/inet 10\.97\.0\.1\/32/);
    expect(await saved()).toEqual([
      '-A -t 10.97.0.1:80 -s rr',
      '-A -u 10.97.0.2:53 -s rr',
      '-a -t 10.97.0.1:80 -r 10.0.2.50:8080 -m -w 1',
      '-a -t 10.97.0.1:80 -r 10.0.2.51:8080 -m -w 1',
      '-a -u 10.97.0.2:53 -r 10.0.2.52:53 -m -w 1',
    ].sort());
    expect((await r.sync(plan([A, U]))).totalOperations).toBe(0);
  });

  it('edits a service in place (scheduler, persistence) and touches only the changed dest', async () => {
    const edited = { ...A, scheduler: 'wrr', flags: ['persistent' as const], timeout: 600, realServers: A.realServers.map((d, i) => (i === 0 ? { ...d, weight: 3 } : d)) };
    const res = await r.sync(plan([edited, U]));
    expect(res.operations).toMatchObject({ updateService: 1, updateDest: 1, addService: 0, deleteService: 0, addDest: 0, deleteDest: 0 });
    const s = await saved();
    expect(s).toContain('-A -t 10.97.0.1:80 -s wrr -p 600');
    expect(s).toContain('-a -t 10.97.0.1:80 -r 10.0.2.50:8080 -m -w 3');
    await r.sync(plan([A, U]));
  });

  it('a UDP dest leaving the plan is deleted at once; a TCP dest without connections too', async () => {
    const res = await r.sync(plan([vs('10.97.0.1', 80, ['10.0.2.50:8080']), vs('10.97.0.2', 53, ['10.0.2.53:53'], { protocol: 'UDP' })]));
    expect(res.operations).toMatchObject({ deleteDest: 2, addDest: 1, updateDest: 0 });
    expect(await saved()).toEqual([
      '-A -t 10.97.0.1:80 -s rr', '-A -u 10.97.0.2:53 -s rr',
      '-a -t 10.97.0.1:80 -r 10.0.2.50:8080 -m -w 1', '-a -u 10.97.0.2:53 -r 10.0.2.53:53 -m -w 1',
    ].sort());
    await r.sync(plan([A, U]));
  });

  it('after a restart, weights come from the plan and nothing is deleted or re-created', async () => {
    await execa('ipvsadm', ['-e', '-t', '10.97.0.1:80', '-r', '10.0.2.51:8080', '-m', '-w', '0']);
    const fresh = await make();
    const res = await fresh.sync(plan([A, U]));
    fresh.close();
    expect(res.operations).toMatchObject({ updateDest: 1, addService: 0, deleteService: 0, addDest: 0, deleteDest: 0, bindAddress: 0, createLink: 0 });
    expect(await saved()).toContain('-a -t 10.97.0.1:80 -r 10.0.2.51:8080 -m -w 1');
  });

  it('a repair pass restores a virtual server, a dest and an address deleted behind its back', async () => {
    await execa('ipvsadm', ['-D', '-u', '10.97.0.2:53']);
    await execa('ipvsadm', ['-d', '-t', '10.97.0.1:80', '-r', '10.0.2.50:8080']);
    await execa('ip', ['addr', 'del', '10.97.0.2/32', 'dev', DUMMY]);
    const res = await r.sync(plan([A, U]));
    expect(res.operations).toMatchObject({ addService: 1, addDest: 2, bindAddress: 1 });
    expect(await saved()).toHaveLength(5);
  });

  it('a kernel error (unknown scheduler) names the object and operation; the rest is applied', async () => {
    const bad = vs('10.97.0.3', 443, ['10.0.2.54:443'], { scheduler: 'nosuchsched', service: 'default/broken:https' });
    const extra = vs('10.97.0.4', 80, ['10.0.2.55:80']);
    const res = await r.sync(plan([A, U, bad, extra]));
    expect(res.failures).toHaveLength(1);
    expect(res.failures[0]!.object).toBe('default/broken:https');
    expect(res.failures[0]!.operation).toContain('addService TCP/10.97.0.3/443 scheduler nosuchsched');
    expect(res.operations).toMatchObject({ addService: 1, addDest: 1 });
    expect(await saved()).toContain('-A -t 10.97.0.4:80 -s rr');
    await r.sync(plan([A, U]));
  });

  it('a foreign virtual server survives sync and cleanup; cleanup removes exactly its own', async () => {
    await r.sync(plan([A]));
    expect((await execa('ipvsadm', ['-Ln'])).stdout).toContain('192.0.2.77:80');
    const c = await r.cleanup();
    expect(c.failures).toEqual([]);
    const left = (await execa('ipvsadm', ['-Sn'])).stdout;
    expect(left).toContain('-A -t 192.0.2.77:80 -s wlc');
    expect(left).not.toContain('10.97.');
    expect((await execa('ip', ['link', 'show', DUMMY], { reject: false })).exitCode).not.toBe(0);
  });
});
