// The pod network's reconcilers against state they read back: routes (a stateful table standing in
// for rtnetlink, which the unit lane cannot open; test/netns/podnet runs the real one) and the
// conflist (real files in a temporary directory).
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The podnet modules themselves, not src/podnet/index.ts, which also exports the kernel factory (its
// netlink binding is a native addon, not for the unit lane).
import { ConflistReconciler, RouteReconciler } from '../../../src/podnet/reconcile/index.ts';
import { planConflist } from '../../../src/podnet/plan/index.ts';
import { podNodeOf } from '../../../src/podnet/model.ts';
import type { OwnedRoute, RouteTable } from '../../../src/podnet/reconcile/index.ts';
import { AtomicFiles } from '../../../src/kernel/file.ts';

/** A main table of protocol-240 routes, keyed by destination like the kernel's (one route per dst). */
class Table implements RouteTable {
  readonly routes = new Map<string, string>();
  readonly ops: string[] = [];
  failOn: string | undefined;
  async list(): Promise<OwnedRoute[]> { return [...this.routes].map(([dst, via]) => ({ dst, via })); }
  async replace(r: OwnedRoute): Promise<void> {
    if (r.dst === this.failOn) throw new Error('ENETUNREACH');
    this.ops.push(`replace ${r.dst} ${r.via}`);
    this.routes.set(r.dst, r.via);
  }
  async delete(r: OwnedRoute): Promise<void> {
    if (this.routes.get(r.dst) !== r.via) throw new Error('ESRCH');
    this.ops.push(`delete ${r.dst}`);
    this.routes.delete(r.dst);
  }
}

describe('RouteReconciler', () => {
  it('adds, keeps, replaces a changed gateway in one operation, deletes the rest; a second sync does nothing', async () => {
    const t = new Table();
    t.routes.set('10.244.2.0/24', '192.168.43.112');
    t.routes.set('10.244.3.0/24', '192.168.43.113');
    t.routes.set('10.244.9.0/24', '192.168.43.119');
    const rc = new RouteReconciler(t);
    const want = [{ dst: '10.244.2.0/24', via: '192.168.43.112' }, { dst: '10.244.3.0/24', via: '192.168.43.103' }, { dst: '10.244.4.0/24', via: '192.168.43.114' }];
    const r = await rc.sync(want);
    expect(t.ops).toEqual(['delete 10.244.9.0/24', 'replace 10.244.3.0/24 192.168.43.103', 'replace 10.244.4.0/24 192.168.43.114']);
    expect(r).toEqual({
      added: [{ dst: '10.244.3.0/24', via: '192.168.43.103' }, { dst: '10.244.4.0/24', via: '192.168.43.114' }],
      removed: [{ dst: '10.244.9.0/24', via: '192.168.43.119' }, { dst: '10.244.3.0/24', via: '192.168.43.113' }],
      unchanged: 1, errors: [],
    });
    t.ops.length = 0;
    expect((await rc.sync(want)).unchanged).toBe(3);
    expect(t.ops).toEqual([]);
  });

  it('a failing operation is reported with its route; the others still apply; cleanup removes every route', async () => {
    const t = new Table();
    t.failOn = '10.244.5.0/24';
    const rc = new RouteReconciler(t);
    const r = await rc.sync([{ dst: '10.244.5.0/24', via: '192.168.43.115' }, { dst: '10.244.6.0/24', via: '192.168.43.116' }]);
    expect(r.errors).toEqual(['replace route 10.244.5.0/24 via 192.168.43.115: ENETUNREACH']);
    expect([...t.routes.keys()]).toEqual(['10.244.6.0/24']);
    expect((await rc.cleanup()).removed).toEqual([{ dst: '10.244.6.0/24', via: '192.168.43.116' }]);
    expect(t.routes.size).toBe(0);
  });
});

describe('ConflistReconciler (real files)', () => {
  let dir = '';
  afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('writes when missing or different, never when equal; cleanup removes only ipvsnet\'s file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ivu-netd-'));
    const self = podNodeOf({ metadata: { name: 'a' }, spec: { podCIDRs: ['10.244.1.0/24'] } }).node!;
    const want = planConflist(self, { confDir: join(dir, 'net.d'), portmap: false }).conflist!;
    const rc = new ConflistReconciler(new AtomicFiles());
    expect(await rc.sync(want)).toEqual({ path: want.path, action: 'written' });
    expect(readFileSync(want.path, 'utf8')).toBe(want.content);
    expect((await rc.sync(want)).action).toBe('unchanged');
    writeFileSync(want.path, '{}');
    expect((await rc.sync(want)).action).toBe('written');
    const foreign = join(dir, 'net.d', '10-flannel.conflist');
    writeFileSync(foreign, JSON.stringify({ name: 'cbr0', plugins: [{ type: 'flannel' }] }));
    expect(await rc.cleanup(foreign)).toEqual({ path: foreign, action: 'foreign' });
    expect(await rc.cleanup(want.path)).toEqual({ path: want.path, action: 'removed' });
    expect(await rc.cleanup(want.path)).toEqual({ path: want.path, action: 'absent' });
    expect(existsSync(foreign)).toBe(true);
    // a file at ipvsnet's path that is not ipvsnet's is left alone too
    writeFileSync(want.path, JSON.stringify({ name: 'other', plugins: [{ type: 'bridge' }] }));
    expect((await rc.cleanup(want.path)).action).toBe('foreign');
    expect(existsSync(want.path)).toBe(true);
  });
});
