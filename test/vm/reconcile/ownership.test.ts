// Ownership: everything `ipvsnet apply` creates is listed from the kernel (the difference of two
// snapshots read with ipvsadm, ip, ipset and iptables-save), and `ipvsnet cleanup` removes exactly
// that list — whatever the families and the name lengths (two of kube-proxy's IPv6 set names are 32
// characters and the kernel takes 31) — while foreign objects of every kind, many named to look like
// ipvsnet's, survive both apply and cleanup.
//
// It runs the real bin/ipvsnet in a fresh network namespace of the guest (IPVS, links, ipsets and
// iptables are all per namespace), so nothing else in the lane shows up in the snapshots, and the
// namespace gets its own state file.
import '../lane/guard.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runRetryingCrashes } from '../lane/rerun.ts';
import { KINDS, count, minus, setNames, snapshot, type Snapshot } from './kernel-snapshot.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'bin/ipvsnet');
const NS = `ipvsnet-own-${process.pid}`;
const dir = mkdtempSync('/tmp/ipvsnet-own-');
const STATE = join(dir, 'state.json');
const NODE_FLAGS = ['--node', 'node-1', '--cluster-cidr', '10.244.0.0/16,fd00:10:244::/56'];

async function sh(cmd: string, ...args: string[]): Promise<string> {
  const r = await execa(cmd, args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}
const ns = (cmd: string, ...args: string[]) => sh('ip', 'netns', 'exec', NS, cmd, ...args);
const restore = (bin: string, text: string) => execa('ip', ['netns', 'exec', NS, bin, '--noflush'], { input: text });

// Set names that differ from ipvsnet's by one character, or are a prefix of them, at 30 and 31 characters.
const FOREIGN_SETS = [
  'create FOREIGN-SET hash:ip family inet hashsize 1024 maxelem 65536', 'add FOREIGN-SET 192.0.2.1',
  'create FOREIGN-SET-OF-31-CHARACTERS-XY hash:ip family inet hashsize 1024 maxelem 65536',
  'create KUBE-6-LOAD-BALANCER-SOURCE-CI hash:ip family inet6 hashsize 1024 maxelem 65536', 'add KUBE-6-LOAD-BALANCER-SOURCE-CI 2001:db8::1',
  'create KUBE-6-NODE-PORT-LOCAL-SCTP-HAX hash:ip family inet6 hashsize 1024 maxelem 65536',
  'create KUBE-CLUSTER-IPX hash:ip,port family inet hashsize 1024 maxelem 65536', 'add KUBE-CLUSTER-IPX 192.0.2.2,tcp:80',
];

// Chains named like kube-proxy's (a longer name; kubelet's KUBE-MARK-DROP and filter KUBE-FIREWALL),
// a 28-character name (iptables' limit), rules in built-in chains, and a comment naming an owned chain.
const FOREIGN_RULES = `*nat
:KUBE-SERVICES-X - [0:0]
:KUBE-MARK-DROP - [0:0]
-A KUBE-SERVICES-X -j RETURN
-A KUBE-MARK-DROP -j MARK --or-mark 0x8000
-A PREROUTING -m comment --comment "foreign portal" -j KUBE-SERVICES-X
-A POSTROUTING -m comment --comment "not KUBE-POSTROUTING" -j RETURN
COMMIT
*filter
:KUBE-FIREWALL - [0:0]
:FOREIGN-CHAIN-OF-28-CHARS-XY - [0:0]
-A KUBE-FIREWALL -m mark --mark 0x8000/0x8000 -j DROP
-A FOREIGN-CHAIN-OF-28-CHARS-XY -j RETURN
-A INPUT -j KUBE-FIREWALL
-A INPUT -j FOREIGN-CHAIN-OF-28-CHARS-XY
-A INPUT -m comment --comment "foreign accept" -j ACCEPT
-A FORWARD -m comment --comment KUBE-FORWARD -j ACCEPT
COMMIT
`;

async function foreignObjects(): Promise<void> {
  // A link with addresses of both families and the routes the planned real servers need (IPVS refuses
  // a real server it has no route to), and a dummy named like ipvsnet's.
  await ns('ip', 'link', 'set', 'lo', 'up');
  await ns('ip', 'link', 'add', 'fgn0', 'type', 'dummy');
  await ns('ip', 'link', 'set', 'fgn0', 'up');
  await ns('ip', 'addr', 'add', '192.0.2.10/32', 'dev', 'fgn0');
  await ns('ip', 'addr', 'add', '2001:db8::10/128', 'dev', 'fgn0', 'nodad');
  await ns('ip', 'route', 'add', '10.0.0.0/8', 'dev', 'fgn0');
  await ns('ip', '-6', 'route', 'add', 'fd00::/8', 'dev', 'fgn0');
  await ns('ip', 'link', 'add', 'kube-ipvs1', 'type', 'dummy');
  await ns('ip', 'addr', 'add', '10.96.250.1/32', 'dev', 'kube-ipvs1');
  // IPVS: a TCP and an IPv6 UDP virtual server, a firewall-mark service, and one on a node address
  // (where ipvsnet's NodePorts live) at a port ipvsnet does not plan.
  await ns('ipvsadm', '-A', '-t', '192.0.2.77:80', '-s', 'wlc');
  await ns('ipvsadm', '-a', '-t', '192.0.2.77:80', '-r', '10.1.0.5:80', '-m');
  await ns('ipvsadm', '-A', '-u', '[2001:db8::77]:53', '-s', 'rr');
  await ns('ipvsadm', '-A', '-f', '42', '-s', 'rr');
  await ns('ipvsadm', '-A', '-t', '192.168.10.11:9999', '-s', 'rr');
  await execa('ip', ['netns', 'exec', NS, 'ipset', 'restore'], { input: FOREIGN_SETS.join('\n') + '\n' });
  for (const bin of ['iptables-nft-restore', 'ip6tables-nft-restore']) await restore(bin, FOREIGN_RULES);
  // The other backend holds a chain too; ipvsnet (nft here) never touches it.
  await restore('iptables-legacy-restore', '*filter\n:LEGACY-FOREIGN - [0:0]\n-A LEGACY-FOREIGN -j RETURN\nCOMMIT\n');
}

function describeDiff(title: string, s: Snapshot): string {
  return KINDS.filter((k) => s[k].length).map((k) => `${title} ${k}:\n  ${s[k].join('\n  ')}`).join('\n');
}

let before: Snapshot;
let applied: Snapshot;

beforeAll(async () => {
  cpSync(join(ROOT, 'examples'), join(dir, 'm'), { recursive: true });
  await sh('ip', 'netns', 'add', NS);
  await foreignObjects();
  await snapshot(NS); // a first read may load table modules; the second is the baseline
  before = await snapshot(NS);
});
afterAll(async () => {
  await execa('ip', ['netns', 'del', NS], { reject: false });
  rmSync(dir, { recursive: true, force: true });
});

describe('ownership: cleanup removes exactly what apply created (dual-stack, 31-character set names)', () => {
  it('apply creates virtual servers, kube-ipvs0 with addresses, every planned set, chains and jumps of both families, and removes nothing', async () => {
    const r = await runRetryingCrashes('ip', ['netns', 'exec', NS, BIN, 'apply', '-f', join(dir, 'm'), ...NODE_FLAGS, '--iptables-backend', 'nft', '--state-file', STATE]);
    expect([0, 3], r.stderr as string).toContain(r.exitCode);
    expect(r.stderr as string).not.toMatch(/^failed:/m);
    applied = await snapshot(NS);
    const created = minus(applied, before);
    expect(minus(before, applied), 'apply removed or changed foreign objects').toEqual(Object.fromEntries(KINDS.map((k) => [k, []])));

    // What the plan says the kernel should hold, by ipvsnet's own dry run.
    const planned = await execa(BIN, ['plan', '-f', join(dir, 'm'), ...NODE_FLAGS, '--format', 'ipset'], { reject: false });
    const plannedSets = setNames(String(planned.stdout).split('\n')).sort();
    expect(plannedSets).toHaveLength(34); // kube-proxy's 17 sets per family
    expect(plannedSets.filter((n) => n.length === 31)).toEqual(['KUBE-6-LOAD-BALANCER-SOURCE-CID', 'KUBE-6-NODE-PORT-LOCAL-SCTP-HAS']);
    expect(setNames(created.ipsets).sort()).toEqual(plannedSets);

    expect(created.links).toEqual(['kube-ipvs0 dummy DOWN']);
    expect(created.addresses.some((a) => /^kube-ipvs0 10\.96\./.test(a))).toBe(true);
    expect(created.addresses.some((a) => /^kube-ipvs0 fd00:10:96:/.test(a))).toBe(true);
    expect(created.ipvs.filter((l) => l.startsWith('-A ')).some((l) => l.includes('[fd00:10:96::80:10]:80'))).toBe(true);
    expect(created.ipvs.filter((l) => l.startsWith('-A ')).some((l) => l.includes('10.96.80.10:80'))).toBe(true);
    for (const fam of ['iptables-nft', 'ip6tables-nft']) {
      for (const chain of ['nat :KUBE-SERVICES', 'nat :KUBE-POSTROUTING', 'filter :KUBE-FORWARD', 'filter :KUBE-IPVS-FILTER']) {
        expect(created.iptables.some((l) => l.startsWith(`${fam} ${chain} `)), `${fam} ${chain}`).toBe(true);
      }
      expect(created.iptables.filter((l) => l.startsWith(`${fam} nat -A PREROUTING `) && l.endsWith('-j KUBE-SERVICES'))).toHaveLength(1);
    }
    process.stdout.write(`ownership: apply created ${count(created)} kernel objects (${KINDS.map((k) => `${k} ${created[k].length}`).join(', ')}); ${count(before)} foreign objects present\n`);
  }, 1_200_000); // bin/ipvsnet twice and two snapshots under TCG, on a loaded host

  it('cleanup removes exactly that list: the namespace is as it was before apply, foreign objects included', async () => {
    const r = await runRetryingCrashes('ip', ['netns', 'exec', NS, BIN, 'cleanup', '--iptables-backend', 'nft', '--state-file', STATE]);
    expect(r.exitCode, r.stderr as string).toBe(0);
    expect(r.stdout as string).toMatch(/, 0 failed$/m);
    const after = await snapshot(NS);
    const created = minus(applied, before);
    const left = minus(after, before);
    const lost = minus(before, after);
    expect(describeDiff('left behind', left) + describeDiff('foreign lost', lost), `of ${count(created)} objects apply created`).toBe('');
    expect(after).toEqual(before);
  }, 1_200_000);
});
