import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Reconciler } from '../../../src/reconcile/index.ts';
import { MemoryIpvs } from '../../../src/kernel/ipvs/memory.ts';
import { plan, vs } from './plans.ts';

const quiet = pino({ level: 'silent' });

function make(ipvs: MemoryIpvs, over: Partial<ConstructorParameters<typeof Reconciler>[0]> = {}): Reconciler {
  return new Reconciler({ ipvs, link: null, ipset: null, iptables: null, logger: quiet, conntrack: false, stateFile: null, ...over });
}

const A = vs('10.96.0.10', 80, ['10.244.0.2:8080', '10.244.0.3:8080', '10.244.0.4:8080']);
const B = vs('10.96.0.11', 53, ['10.244.0.5:53'], { protocol: 'UDP' });

describe('Reconciler over a stateful in-memory IPVS', () => {
  it('builds from empty, then a second sync of the same plan does nothing', async () => {
    const k = new MemoryIpvs();
    const r = make(k);
    const first = await r.sync(plan([A, B]));
    expect(first.operations.addService).toBe(2);
    expect(first.operations.addDest).toBe(4);
    expect(first.failures).toEqual([]);
    expect(Object.keys(k.snapshot())).toHaveLength(2);
    const again = await r.sync(plan([A, B]));
    expect(again.totalOperations).toBe(0);
  });

  it('edits a changed service instead of deleting and re-adding it, and touches only changed dests', async () => {
    const k = new MemoryIpvs();
    const r = make(k);
    await r.sync(plan([A]));
    const changed = { ...A, scheduler: 'wrr', realServers: A.realServers.map((x, i) => (i === 1 ? { ...x, weight: 5 } : x)) };
    const res = await r.sync(plan([changed]));
    expect(res.operations).toMatchObject({ updateService: 1, updateDest: 1, addService: 0, deleteService: 0, addDest: 0, deleteDest: 0 });
    const snap = k.snapshot();
    expect(Object.keys(snap)[0]).toContain(' wrr ');
    expect(Object.values(snap)[0]).toContain('10.244.0.3:8080 w5 masq');
  });

  it('a single added endpoint is one operation', async () => {
    const k = new MemoryIpvs();
    const r = make(k);
    await r.sync(plan([A]));
    const more = vs('10.96.0.10', 80, ['10.244.0.2:8080', '10.244.0.3:8080', '10.244.0.4:8080', '10.244.0.9:8080']);
    const res = await r.sync(plan([more]));
    expect(res.totalOperations).toBe(1);
    expect(res.operations.addDest).toBe(1);
  });

  it('TCP dest with connections goes to weight 0, then is deleted when drained', async () => {
    const k = new MemoryIpvs();
    const r = make(k);
    await r.sync(plan([A]));
    k.setConns(A, { address: '10.244.0.4', port: 8080 }, 2, 1);
    const two = vs('10.96.0.10', 80, ['10.244.0.2:8080', '10.244.0.3:8080']);
    const res = await r.sync(plan([two]));
    expect(res.operations).toMatchObject({ updateDest: 1, deleteDest: 0 });
    expect(res.terminating).toBe(1);
    expect(Object.values(k.snapshot())[0]).toContain('10.244.0.4:8080 w0 masq');
    // still draining: nothing happens
    expect((await r.sync(plan([two]))).totalOperations).toBe(0);
    k.setConns(A, { address: '10.244.0.4', port: 8080 }, 0, 0);
    const done = await r.sync(plan([two]));
    expect(done.operations.deleteDest).toBe(1);
    expect(done.terminating).toBe(0);
    expect(Object.values(k.snapshot())[0]).toEqual(['10.244.0.2:8080 w1 masq', '10.244.0.3:8080 w1 masq']);
  });

  it('TCP dest with no connections is deleted at once; a draining dest is deleted after the bound', async () => {
    let now = 1_000;
    const k = new MemoryIpvs();
    const r = make(k, { gracefulTimeoutMs: 30_000, now: () => now });
    await r.sync(plan([A]));
    k.setConns(A, { address: '10.244.0.3', port: 8080 }, 1, 0);
    const one = vs('10.96.0.10', 80, ['10.244.0.2:8080']);
    const res = await r.sync(plan([one]));
    expect(res.operations).toMatchObject({ deleteDest: 1, updateDest: 1 }); // .4 deleted (0 conns), .3 quiesced
    now += 29_000;
    expect((await r.sync(plan([one]))).operations.deleteDest).toBe(0);
    now += 2_000;
    expect((await r.sync(plan([one]))).operations.deleteDest).toBe(1);
    expect(Object.values(k.snapshot())[0]).toEqual(['10.244.0.2:8080 w1 masq']);
  });

  it('UDP dest is deleted at once', async () => {
    const k = new MemoryIpvs();
    const r = make(k);
    await r.sync(plan([B]));
    k.setConns(B, { address: '10.244.0.5', port: 53 }, 0, 4);
    const replaced = vs('10.96.0.11', 53, ['10.244.0.6:53'], { protocol: 'UDP' });
    const res = await r.sync(plan([replaced]));
    expect(res.operations).toMatchObject({ addDest: 1, deleteDest: 1, updateDest: 0 });
    expect(Object.values(k.snapshot())[0]).toEqual(['10.244.0.6:53 w1 masq']);
  });

  it('an endpoint that returns while draining is restored', async () => {
    const k = new MemoryIpvs();
    const r = make(k);
    await r.sync(plan([A]));
    k.setConns(A, { address: '10.244.0.4', port: 8080 }, 1, 0);
    await r.sync(plan([vs('10.96.0.10', 80, ['10.244.0.2:8080', '10.244.0.3:8080'])]));
    expect(r.graceful.size).toBe(1);
    const back = await r.sync(plan([A]));
    expect(back.operations).toMatchObject({ updateDest: 1, addDest: 0, deleteDest: 0 });
    expect(r.graceful.size).toBe(0);
    expect(Object.values(k.snapshot())[0]).toContain('10.244.0.4:8080 w1 masq');
  });

  it('on start, weights are reset from the plan and nothing is flushed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipvsnet-rec-'));
    try {
      const k = new MemoryIpvs();
      const stateFile = join(dir, 'state.json');
      await make(k, { stateFile }).sync(plan([A, B]));
      // A crashed predecessor left a planned dest at weight 0.
      await k.updateDest(A, { address: '10.244.0.2', port: 8080, weight: 0, forward: 'masq', upperThreshold: 0, lowerThreshold: 0 });
      const restarted = make(k, { stateFile });
      const res = await restarted.sync(plan([A, B]));
      expect(res.operations).toMatchObject({ updateDest: 1, addService: 0, deleteService: 0, addDest: 0, deleteDest: 0 });
      expect(Object.values(k.snapshot()).flat().every((d) => d.includes(' w1 '))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('touches only what it owns: a foreign virtual server survives sync and cleanup', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipvsnet-rec-'));
    try {
      const k = new MemoryIpvs();
      await k.addService({ family: 4, protocol: 'TCP', address: '192.0.2.1', port: 80, scheduler: 'wlc', flags: 0, timeout: 0, netmask: 32 });
      const stateFile = join(dir, 'state.json');
      const r = make(k, { stateFile });
      await r.sync(plan([A, B]));
      // The plan drops B: ipvsnet deletes its own B, never the foreign one.
      const res = await r.sync(plan([A]));
      expect(res.operations.deleteService).toBe(1);
      expect(Object.keys(k.snapshot()).some((x) => x.includes('192.0.2.1'))).toBe(true);
      // A fresh process (state from file) cleans up exactly its own.
      const c = await make(k, { stateFile }).cleanup();
      expect(c.operations.deleteService).toBe(1);
      expect(Object.keys(k.snapshot())).toEqual(['4/TCP/192.0.2.1/80 wlc f0 t0']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a foreign virtual server on the node address a NodePort uses survives; a NodePort one already there is adopted', async () => {
    const k = new MemoryIpvs();
    await k.addService({ family: 4, protocol: 'TCP', address: '192.168.10.11', port: 9999, scheduler: 'wlc', flags: 0, timeout: 0, netmask: 32 });
    // The planned NodePort virtual server exists (left by a crashed run that never wrote its state file).
    await k.addService({ family: 4, protocol: 'TCP', address: '192.168.10.11', port: 30080, scheduler: 'rr', flags: 0, timeout: 0, netmask: 32 });
    const np = vs('192.168.10.11', 30080, ['10.244.0.2:8080'], { kind: 'nodePort' });
    const res = await make(k).sync(plan([A, np]));
    expect(res.failures).toEqual([]);
    expect(res.operations).toMatchObject({ addService: 1, addDest: 4, deleteService: 0 });
    expect(Object.keys(k.snapshot()).filter((x) => x.includes('192.168.10.11')).sort()).toEqual(['4/TCP/192.168.10.11/30080 rr f0 t0', '4/TCP/192.168.10.11/9999 wlc f0 t0']);
  });

  it('a NodePort virtual server is in the state file before it is created (a crash in between leaves nothing cleanup cannot find)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipvsnet-rec-'));
    try {
      const stateFile = join(dir, 'state.json');
      const seen: { key: string; recorded: boolean }[] = [];
      const k = new MemoryIpvs();
      const add = k.addService.bind(k);
      k.addService = async (svc) => {
        const key = `${svc.protocol}/${svc.address}/${svc.port}`;
        const rec = JSON.parse(await readFile(stateFile, 'utf8').catch(() => '{}')) as { virtualServers?: string[] };
        seen.push({ key, recorded: rec.virtualServers?.includes(key) ?? false });
        return add(svc);
      };
      const np = vs('192.168.10.11', 30080, ['10.244.0.2:8080'], { kind: 'nodePort' });
      expect((await make(k, { stateFile }).sync(plan([A, np]))).failures).toEqual([]);
      expect(seen).toContainEqual({ key: 'TCP/192.168.10.11/30080', recorded: true });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('never touches virtual servers inside --ipvs-exclude-cidrs', async () => {
    const k = new MemoryIpvs();
    const r = make(k, { excludeCIDRs: ['10.96.0.11/32'] });
    await k.addService({ family: 4, protocol: 'UDP', address: '10.96.0.11', port: 53, scheduler: 'sh', flags: 0, timeout: 0, netmask: 32 });
    const res = await r.sync(plan([A, B]));
    expect(res.operations.addService).toBe(1);
    expect(Object.keys(k.snapshot()).find((x) => x.includes('10.96.0.11'))).toContain(' sh ');
  });

  it('a failing operation is reported with its object and operation; the rest is applied and only it is retried', async () => {
    const k = new MemoryIpvs();
    const r = make(k);
    const bad = vs('10.96.0.12', 443, ['10.244.0.7:443'], { scheduler: 'nosuch', service: 'default/broken:https' });
    const res = await r.sync(plan([A, bad, B]));
    expect(res.failures).toHaveLength(1);
    expect(res.failures[0]!.object).toBe('default/broken:https');
    expect(res.failures[0]!.operation).toContain('addService TCP/10.96.0.12/443 scheduler nosuch');
    expect(res.failures[0]!.error).toContain('ENOENT');
    expect(res.operations.addService).toBe(2);
    const again = await r.sync(plan([A, bad, B]));
    expect(again.failures).toHaveLength(1);
    expect(again.totalOperations).toBe(0);
    const fixed = await r.sync(plan([A, { ...bad, scheduler: 'rr' }, B]));
    expect(fixed.failures).toEqual([]);
    expect(fixed.operations).toMatchObject({ addService: 1, addDest: 1 });
  });

  it('a repair pass restores a virtual server and a dest deleted behind its back', async () => {
    let now = 0;
    const k = new MemoryIpvs();
    const r = make(k, { repairIntervalMs: 10_000, now: () => now });
    await r.sync(plan([A, B]));
    await k.deleteService(B);
    await k.deleteDest(A, { address: '10.244.0.3', port: 8080 });
    now += 1_000;
    const cached = await r.sync(plan([A, B]));
    expect(cached.fullRead).toBe(false);
    expect(cached.totalOperations).toBe(0);
    now += 10_000;
    const repair = await r.sync(plan([A, B]));
    expect(repair.fullRead).toBe(true);
    expect(repair.operations).toMatchObject({ addService: 1, addDest: 2 });
    expect(Object.values(k.snapshot()).flat()).toHaveLength(4);
  });
});
