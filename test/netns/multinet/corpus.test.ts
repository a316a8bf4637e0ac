// The bad-input corpus through the real path: each malformed annotation or NAD is applied on a node
// (manifests of the multi-network CNI server in a node netns), the pod's ADD goes through the shim,
// and the answer is one error with the corpus's code naming the object and the field; the agent gets
// the failure as a report (it becomes a Warning Event on the Pod); and nothing is left on the node:
// no interface in the pod, no default-network address, no cache or lock file, no port on the NAD's
// bridge, no host-local reservation. A good pod still works after all of them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { BAD_CASES, GOOD, GOOD_CONFIG, RUN_CASES } from '../../unit/multinet/corpus.ts';
import type { BadCase } from '../../unit/multinet/corpus.ts';
import { Node, addrs, ipJson, prerequisites } from './harness.ts';

const node = new Node();
let pod = '';
let seq = 0;

// host-local's store of the corpus's NADs (their configs have no dataDir): made by this test only
const STORES = ['good', 'n1'].map((n) => `/var/lib/cni/networks/${n}`);

beforeAll(async () => {
  await prerequisites();
  for (const s of STORES) if (existsSync(s)) throw new Error(`${s} exists before the test: another run's leftovers (remove them first)`);
  await node.start('10.244.9.0/24');
  pod = await node.addPodNetns();
});
afterAll(async () => {
  await node.stop();
  for (const s of STORES) rmSync(s, { recursive: true, force: true });
});

function ipamFiles(): string[] {
  const dir = join(node.dir, 'ipam', 'ipvsnet');
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^\d/.test(f)) : [];
}

async function nothingLeft(): Promise<void> {
  expect((await ipJson(pod, ['link', 'show'])).map((l) => l['ifname'])).toEqual(['lo']);
  expect(existsSync(node.cacheDir) ? readdirSync(node.cacheDir) : []).toEqual([]);
  expect(ipamFiles()).toEqual([]);
  expect(await ipJson(node.ns, ['link', 'show', 'master', 'ivbad0'])).toEqual([]);
  for (const s of STORES) expect(existsSync(s) ? readdirSync(s).filter((f) => /^\d/.test(f)) : []).toEqual([]);
}

async function run(c: BadCase): Promise<void> {
  for (const f of readdirSync(node.manifests)) node.remove(f);
  (c.nads ?? [GOOD]).forEach((n, i) => node.apply(`nad${i}.json`, JSON.stringify(n)));
  node.apply('pod.yaml', stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bad-pod', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/networks': c.annotation } } }));
  const id = `bad${++seq}`;
  const top = c.top ? { ...(node.conflist['plugins'] as Array<Record<string, unknown>>)[0]!, ...c.top, cniVersion: node.conflist['cniVersion'], name: node.conflist['name'] } : undefined;
  const r = await node.cni('ADD', { id, podNetns: pod, pod: 'bad-pod', ...(top ? { conf: top } : {}) });
  expect(r.exitCode, r.stdout).toBe(1);
  const msg = String(r.json?.['msg']);
  expect(msg.startsWith(`${c.object}: ${c.field}`), msg).toBe(true);
  expect(r.json?.['code'], msg).toBe(c.code);
  expect(msg).not.toMatch(/\n/);
  const [rep] = await node.reports(id);
  expect(rep?.['error']).toEqual({ code: c.code, msg });
  await nothingLeft();
}

describe('bad-input corpus through the CNI server', () => {
  it(`answers each of the ${BAD_CASES.length + RUN_CASES.length} cases with its one error and leaves nothing`, async () => {
    const failures: string[] = [];
    for (const c of [...BAD_CASES, ...RUN_CASES]) {
      try {
        await run(c);
      } catch (e) {
        failures.push(`${c.label}: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('still attaches a good pod afterwards', async () => {
    for (const f of readdirSync(node.manifests)) node.remove(f);
    node.apply('nad.json', JSON.stringify(GOOD));
    node.apply('pod.yaml', stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'good-pod', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/networks': 'good' } } }));
    const r = await node.cni('ADD', { id: 'good1', podNetns: pod, pod: 'good-pod' });
    expect(r.exitCode, r.stdout).toBe(0);
    expect((await addrs(pod, 'net1'))[0]).toMatch(/^10\.231\.0\.\d+\/24$/); // host-local goes round after the corpus's own
    expect((await node.cni('DEL', { id: 'good1', podNetns: pod })).exitCode).toBe(0);
    await nothingLeft();
    expect(GOOD_CONFIG.bridge).toBe('ivbad0');
  });
});
