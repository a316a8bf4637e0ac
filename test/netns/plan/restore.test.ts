// The real tools accept `ipvsnet plan`'s output: `ipset restore` builds exactly
// the planned sets, and iptables-restore / ip6tables-restore accept the rules
// (which reference those sets), inside a scratch network namespace.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import type { Plan } from '../../../src/plan/types.ts';

const root = new URL('../../../', import.meta.url).pathname;
const ns = `ipvsnet-plan-${process.pid}-${randomBytes(3).toString('hex')}`;
const tmp = mkdtempSync(join(tmpdir(), 'ipvsnet-plan-netns-'));
const inNs = (cmd: string, args: string[], input?: string) => execa('ip', ['netns', 'exec', ns, cmd, ...args], { input: input ?? '', reject: false });

async function plan(args: string[]): Promise<{ stdout: string; exitCode: number | undefined; stderr: string }> {
  const r = await execa(join(root, 'bin/ipvsnet'), ['plan', ...args], { reject: false, cwd: root });
  return { stdout: String(r.stdout), exitCode: r.exitCode, stderr: String(r.stderr) };
}

const CLUSTER = ['-f', join(root, 'examples/cluster.yaml'), '--node', 'node-1', '--cluster-cidr', '10.244.0.0/16,fd00:10:244::/56'];

/** `ipset save` → { name: { type, family, members } } */
function parseSave(text: string): Map<string, { type: string; family: string; members: string[] }> {
  const sets = new Map<string, { type: string; family: string; members: string[] }>();
  for (const line of text.split('\n')) {
    const w = line.trim().split(/\s+/);
    if (w[0] === 'create') {
      const fi = w.indexOf('family');
      sets.set(w[1]!, { type: w[2]!, family: fi > 0 ? w[fi + 1]! : 'none', members: [] });
    } else if (w[0] === 'add') sets.get(w[1]!)!.members.push(w[2]!);
  }
  for (const s of sets.values()) s.members.sort();
  return sets;
}

beforeAll(async () => {
  await execa('ip', ['netns', 'add', ns]);
});

afterAll(async () => {
  await execa('ip', ['netns', 'del', ns], { reject: false });
  rmSync(tmp, { recursive: true, force: true });
});

describe('plan output accepted by the real tools', { timeout: 120_000 }, () => {
  let planJson: Plan;

  it('ipset restore builds exactly the planned sets (both families)', async () => {
    const js = await plan([...CLUSTER, '-o', 'json']);
    expect(js.exitCode, js.stderr).toBe(0);
    planJson = JSON.parse(js.stdout) as Plan;
    expect(planJson.families.map((f) => f.family)).toEqual([4, 6]);

    const script = await plan([...CLUSTER, '-o', 'ipset']);
    expect(script.exitCode).toBe(0);
    const r = await inNs('ipset', ['restore'], script.stdout);
    expect(r.exitCode, r.stderr).toBe(0);
    // Restoring again is harmless (-exist everywhere).
    expect((await inNs('ipset', ['restore'], script.stdout)).exitCode).toBe(0);

    const saved = parseSave((await inNs('ipset', ['save'])).stdout);
    const planned = planJson.families.flatMap((f) => f.ipsets);
    expect([...saved.keys()].sort()).toEqual(planned.map((s) => s.name).sort());
    for (const s of planned) {
      const k = saved.get(s.name)!;
      expect(k.type, s.name).toBe(s.type);
      expect(k.family, s.name).toBe(s.type === 'bitmap:port' ? 'none' : s.family === 6 ? 'inet6' : 'inet');
      // The planner writes members the way the kernel prints them back.
      expect(k.members, s.name).toEqual([...s.members].sort());
    }
    const nonEmpty = planned.filter((s) => s.members.length > 0).map((s) => s.name);
    for (const name of ['KUBE-CLUSTER-IP', 'KUBE-LOOP-BACK', 'KUBE-LOAD-BALANCER-SOURCE-CIDR', 'KUBE-NODE-PORT-TCP', 'KUBE-6-CLUSTER-IP', 'KUBE-IPVS-IPS', 'KUBE-HEALTH-CHECK-NODE-PORT']) {
      expect(nonEmpty).toContain(name);
    }
  });

  it('iptables-restore --noflush --test accepts the IPv4 rules', async () => {
    const v4 = await plan([...CLUSTER, '--family', '4']);
    expect(v4.exitCode).toBe(0);
    expect(v4.stdout).toContain('-m ipvs --vaddr'); // the LB that excludes the node is in there
    const r = await inNs('iptables-restore', ['--noflush', '--test'], v4.stdout);
    expect(r.exitCode, r.stderr).toBe(0);
    // The host kernel has no IPVS, so xt_ipvs is absent: the tool may only warn about it.
    expect(r.stderr.split('\n').filter((l) => l && !/Extension ipvs/.test(l))).toEqual([]);
  });

  it('ip6tables-restore --noflush --test accepts the IPv6 rules', async () => {
    const v6 = await plan([...CLUSTER, '--family', '6']);
    expect(v6.exitCode).toBe(0);
    expect(v6.stdout).toContain('KUBE-6-CLUSTER-IP');
    const r = await inNs('ip6tables-restore', ['--noflush', '--test'], v6.stdout);
    expect(r.exitCode, r.stderr).toBe(0);
  });

  it('a real --noflush restore installs the chains, and repeating it does not duplicate rules', async () => {
    // Without a LoadBalancer that excludes the node there is no -m ipvs rule, which this kernel could not load.
    const args = ['kube-dns', 'etp-local', 'affinity', 'nodeport'].flatMap((c) => ['-f', join(root, `examples/cases/${c}.yaml`)]);
    const v4 = await plan([...args, '--node', 'node-1', '--cluster-cidr', '10.244.0.0/16', '--family', '4']);
    expect(v4.exitCode).toBe(0);
    expect(v4.stdout).not.toContain('-m ipvs');
    const first = await inNs('iptables-restore', ['--noflush'], v4.stdout);
    expect(first.exitCode, first.stderr).toBe(0);
    const saved1 = (await inNs('iptables-save', [])).stdout;
    expect((await inNs('iptables-restore', ['--noflush'], v4.stdout)).exitCode).toBe(0);
    const saved2 = (await inNs('iptables-save', [])).stdout;
    const rules = (t: string) => t.split('\n').filter((l) => l.startsWith('-A ')).sort();
    expect(rules(saved2)).toEqual(rules(saved1));
    const expected = v4.stdout.split('\n').filter((l) => l.startsWith('-A ')).length;
    expect(rules(saved1)).toHaveLength(expected);
    for (const chain of ['KUBE-SERVICES', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ', 'KUBE-NODE-PORT', 'KUBE-LOAD-BALANCER', 'KUBE-FORWARD', 'KUBE-PROXY-FIREWALL', 'KUBE-SOURCE-RANGES-FIREWALL', 'KUBE-IPVS-FILTER', 'KUBE-IPVS-OUT-FILTER']) {
      expect(saved1).toContain(`:${chain} `);
    }
    expect(saved1).toContain('-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000'); // iptables-save's spelling of --or-mark 0x4000
    expect(saved1).toContain('-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN');
    expect(saved1).toContain('--random-fully');
  });
});
