// The test cluster's secrets are its owner's only: the admin token (state.json, tokens.csv, the
// kubeconfigs) and the private keys. scripts/cluster/cluster.ts creates its directory 0700 and every
// file in it without group or other permissions — including files kube-apiserver and etcd write
// (their logs, the apiserver's cert dir) and the state file re-written on each apiserver restart.
import { describe, expect, it } from 'vitest';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { clusterState } from './helpers.ts';
import { startApiserver, stopApiserver } from '../../scripts/cluster/cluster.ts';

function modes(dir: string): { path: string; mode: number; dir: boolean }[] {
  const out = [{ path: dir, mode: statSync(dir).mode & 0o777, dir: true }];
  for (const rel of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const st = statSync(join(dir, rel));
    out.push({ path: join(dir, rel), mode: st.mode & 0o777, dir: st.isDirectory() });
  }
  return out;
}

describe('test cluster secrets', () => {
  it('the cluster directory is 0700 and no file in it is readable by group or others', async () => {
    const s = clusterState();
    expect(statSync(s.dir).mode & 0o777).toBe(0o700);
    const entries = modes(s.dir);
    for (const f of ['state.json', 'tokens.csv', 'admin.kubeconfig', 'guest-admin.kubeconfig', 'ca.key', 'apiserver.key', 'sa.key']) {
      expect(entries.find((e) => e.path === join(s.dir, f))?.mode, f).toBe(0o600);
    }
    expect(entries.filter((e) => (e.mode & 0o077) !== 0)).toEqual([]);
  });

  it('state.json keeps mode 0600 when an apiserver restart re-writes it', async () => {
    const s = clusterState();
    await stopApiserver(s);
    await startApiserver(s);
    expect(statSync(join(s.dir, 'state.json')).mode & 0o777).toBe(0o600);
    expect(modes(s.dir).filter((e) => (e.mode & 0o077) !== 0)).toEqual([]);
  });
});
