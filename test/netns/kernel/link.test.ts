// kube-ipvs0 address handling over rtnetlink, on the host kernel inside a fresh
// netns. The host kernel has no dummy driver, so addresses are exercised on a
// bridge here; the dummy link itself is tested in the VM lane.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { join } from 'node:path';
import { createNetns, deleteNetns, inNs } from './netns.ts';

const NODE = join(import.meta.dirname, '../../../node_modules/.bin/node');
const OPS = join(import.meta.dirname, 'fixtures/link-ops.ts');

let ns = '';
beforeEach(async () => {
  ns = await createNetns('ipvsnet-link');
  await inNs(ns, 'ip', 'link', 'add', 'svc0', 'type', 'bridge');
  await inNs(ns, 'ip', 'link', 'add', 'eth9', 'type', 'bridge');
  await inNs(ns, 'ip', 'addr', 'add', '192.168.60.10/24', 'dev', 'eth9');
});
afterEach(async () => { await deleteNetns(ns); });

type Step = { ok: boolean; value?: unknown; error?: string };
async function ops(steps: { op: string; args: unknown[] }[]): Promise<Step[]> {
  const r = await execa('ip', ['netns', 'exec', ns, NODE, OPS, JSON.stringify(steps)], { reject: false });
  if (r.exitCode !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Step[];
}

describe('link adapter (rtnetlink, host kernel, fresh netns)', () => {
  it('binds /32 and /128 addresses, lists them, and unbinds them; repeated binds and unbinds are no-ops', async () => {
    const r = await ops([
      { op: 'bindAddress', args: ['svc0', '10.96.0.10'] },
      { op: 'bindAddress', args: ['svc0', '10.96.0.10'] },
      { op: 'bindAddress', args: ['svc0', 'fd00:0:0::a'] },
      { op: 'listAddresses', args: ['svc0'] },
      { op: 'unbindAddress', args: ['svc0', '10.96.0.10'] },
      { op: 'unbindAddress', args: ['svc0', '10.96.0.10'] },
      { op: 'listAddresses', args: ['svc0'] },
    ]);
    expect(r.map((s) => s.value)).toEqual([true, false, true, ['10.96.0.10', 'fd00::a'], true, false, ['fd00::a']]);
    const shown = await inNs(ns, 'ip', '-o', 'addr', 'show', 'dev', 'svc0');
    expect(shown).toContain('inet6 fd00::a/128');
    expect(shown).not.toContain('10.96.0.10');
  });

  it('the kernel holds what was bound: /32 host addresses', async () => {
    await ops([{ op: 'bindAddress', args: ['svc0', '10.96.0.11'] }]);
    expect(await inNs(ns, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'svc0')).toMatch(/inet 10\.96\.0\.11\/32 /);
  });

  it('lists addresses held by other interfaces (an LB IP already on a NIC is not bound again)', async () => {
    const r = await ops([
      { op: 'bindAddress', args: ['svc0', '10.96.0.10'] },
      { op: 'addressesElsewhere', args: ['svc0'] },
    ]);
    expect(r[1]!.value).toEqual(['192.168.60.10']);
  });

  it('binding on a missing link and creating a dummy without the driver fail with the object named', async () => {
    const r = await ops([
      { op: 'bindAddress', args: ['nope0', '10.96.0.10'] },
      { op: 'ensureDummy', args: ['kube-ipvs0'] },
      { op: 'ensureDummy', args: ['svc0'] },
    ]);
    expect(r[0]!.error).toMatch(/nope0.*no such link/);
    // The host kernel is built without CONFIG_DUMMY: the error says what to do.
    expect(r[1]!.error).toMatch(/kube-ipvs0.*modprobe dummy/);
    expect(r[2]!.error).toMatch(/svc0.*kind "bridge", expected "dummy"/);
  });
});
