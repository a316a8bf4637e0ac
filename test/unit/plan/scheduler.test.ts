import { describe, expect, it } from 'vitest';
import { NODE_A, planOf, svc, vsAt } from './fixtures.ts';

const ann = (a: Record<string, string>) => svc('web', { annotations: a });

describe('per-Service scheduler annotation (beyond kube-proxy)', () => {
  it('ipvsnet.io/scheduler overrides the node default', () => {
    const p = planOf([NODE_A, ann({ 'ipvsnet.io/scheduler': 'wlc' })], { scheduler: 'rr' });
    expect(vsAt(p, '10.96.0.10', 80)).toMatchObject({ scheduler: 'wlc', flags: [] });
    expect(p.diagnostics).toEqual([]);
  });

  it('scheduler flags: sh-fallback,sh-port for sh; mh-* names map to the same bits', () => {
    const sh = planOf([NODE_A, ann({ 'ipvsnet.io/scheduler': 'sh', 'ipvsnet.io/scheduler-flags': 'sh-fallback,sh-port' })]);
    expect(vsAt(sh, '10.96.0.10', 80)).toMatchObject({ scheduler: 'sh', flags: ['sh-fallback', 'sh-port'] });
    const mh = planOf([NODE_A, ann({ 'ipvsnet.io/scheduler': 'mh', 'ipvsnet.io/scheduler-flags': 'mh-fallback' })]);
    expect(vsAt(mh, '10.96.0.10', 80)).toMatchObject({ scheduler: 'mh', flags: ['sh-fallback'] });
    const mhDefault = planOf([NODE_A, ann({ 'ipvsnet.io/scheduler': 'mh' })]);
    expect(vsAt(mhDefault, '10.96.0.10', 80)).toMatchObject({ scheduler: 'mh', flags: ['sh-port'] });
  });

  it('an unknown scheduler is reported and the node default used (not silently replaced)', () => {
    const p = planOf([NODE_A, ann({ 'ipvsnet.io/scheduler': 'fastest' })], { scheduler: 'lc' });
    expect(vsAt(p, '10.96.0.10', 80)?.scheduler).toBe('lc');
    expect(p.diagnostics).toEqual([
      expect.objectContaining({ kind: 'Service', object: 'default/web', field: 'metadata.annotations["ipvsnet.io/scheduler"]', severity: 'warning', reason: expect.stringContaining('unknown IPVS scheduler "fastest"') }),
    ]);
  });

  it('unknown or misplaced flags are reported and dropped', () => {
    const p = planOf([NODE_A, ann({ 'ipvsnet.io/scheduler': 'rr', 'ipvsnet.io/scheduler-flags': 'sh-port,turbo' })]);
    expect(vsAt(p, '10.96.0.10', 80)).toMatchObject({ scheduler: 'rr', flags: [] });
    expect(p.diagnostics.map((d) => [d.field, d.severity])).toEqual([
      ['metadata.annotations["ipvsnet.io/scheduler-flags"]', 'warning'],
      ['metadata.annotations["ipvsnet.io/scheduler-flags"]', 'warning'],
    ]);
  });

  it('an unknown node default scheduler is a Config error', () => {
    const p = planOf([NODE_A, svc('web')], { scheduler: 'nope' });
    expect(p.diagnostics).toEqual([expect.objectContaining({ kind: 'Config', field: 'scheduler', severity: 'error' })]);
  });
});
