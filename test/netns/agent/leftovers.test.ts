// kube-proxy's iptables-mode and nftables-mode leftovers on a real kernel (iptables-nft, nft) in a
// fresh network namespace: a hand-written dump in kube-proxy v1.37's layout (fixtures/), loaded beside
// the IPVS mode's chains and foreign ones, then the agent's start cleanup (removeKubeProxyLeftoversHere,
// what src/cli/agent.ts runs right after its first sync) and `agent --cleanup`. Only the other modes'
// chains, jumps and tables go; the IPVS mode's chains and every foreign rule and table stay as they were.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, deleteNetns, nsRunner } from '../kernel/netns.ts';
import { removeKubeProxyLeftoversHere } from '../../../src/reconcile/leftovers.ts';

const ROOT = join(import.meta.dirname, '../../..');
const FIX = join(import.meta.dirname, 'fixtures');
let ns = '';

async function save(): Promise<string[]> {
  const r = await execa('ip', ['netns', 'exec', ns, 'iptables-nft-save']);
  return String(r.stdout).split('\n').filter((l) => l.startsWith('-A ') || l.startsWith(':') || l.startsWith('*'));
}
/** "table chain" of every user chain. */
const chainsOf = (lines: string[]) => {
  let table = '';
  const out: string[] = [];
  for (const l of lines) {
    if (l.startsWith('*')) table = l.slice(1);
    else if (l.startsWith(':') && !/^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) /.test(l)) out.push(`${table} ${l.slice(1).split(' ')[0]}`);
  }
  return out.sort();
};
/** "table -A …" of every rule. */
const rulesOf = (lines: string[]) => {
  let table = '';
  const out: string[] = [];
  for (const l of lines) {
    if (l.startsWith('*')) table = l.slice(1);
    else if (l.startsWith('-A ')) out.push(`${table} ${l}`);
  }
  return out;
};
async function nftTables(): Promise<string[]> {
  return String((await execa('ip', ['netns', 'exec', ns, 'nft', 'list', 'tables'])).stdout).split('\n').filter(Boolean).sort();
}

beforeEach(async () => {
  ns = await createNetns('ivt-leftovers');
  await execa('ip', ['netns', 'exec', ns, 'iptables-nft-restore'], { input: readFileSync(join(FIX, 'kube-proxy-iptables-mode.rules'), 'utf8') });
  await execa('ip', ['netns', 'exec', ns, 'nft', '-f', join(FIX, 'kube-proxy-nftables-mode.nft')]);
});
afterEach(async () => { await deleteNetns(ns); });

const IPTABLES_MODE_CHAINS = [
  'filter KUBE-EXTERNAL-SERVICES', 'filter KUBE-NODEPORTS', 'filter KUBE-PROXY-CANARY', 'filter KUBE-SERVICES',
  'mangle KUBE-PROXY-CANARY',
  'nat KUBE-EXT-LB', 'nat KUBE-FW-LB', 'nat KUBE-NODEPORTS', 'nat KUBE-PROXY-CANARY', 'nat KUBE-SEP-LB1', 'nat KUBE-SEP-WEB1', 'nat KUBE-SVC-LB', 'nat KUBE-SVL-LB',
];
// The jumps into those (and the iptables mode's own jumps into the shared KUBE-PROXY-FIREWALL).
const IPTABLES_MODE_JUMPS = [
  'filter -A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
  'filter -A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
  'filter -A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
  'filter -A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
  'filter -A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
  'filter -A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
  'filter -A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
  'filter -A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
  'nat -A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-WEB',
  'nat -A KUBE-SERVICES -d 10.96.0.30/32 -p tcp -m comment --comment "default/lb:https cluster IP" -m tcp --dport 443 -j KUBE-SVC-LB',
  'nat -A KUBE-SERVICES -d 203.0.113.7/32 -p tcp -m comment --comment "default/lb:https loadbalancer IP" -m tcp --dport 443 -j KUBE-FW-LB',
  'nat -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
];

describe("kube-proxy's other modes' leftovers", () => {
  it('the start cleanup removes exactly the iptables-mode chains and jumps and the nftables-mode tables', async () => {
    const before = await save();
    const nftBefore = await nftTables();
    expect(nftBefore).toEqual(['table inet mine', 'table ip filter', 'table ip kube-proxy', 'table ip mangle', 'table ip nat', 'table ip6 kube-proxy']);
    for (const c of [...IPTABLES_MODE_CHAINS, 'nat KUBE-SVC-WEB']) expect(chainsOf(before)).toContain(c);
    for (const j of IPTABLES_MODE_JUMPS) expect(rulesOf(before)).toContain(j);

    const r = await removeKubeProxyLeftoversHere([4, 6], nsRunner(ns).run);
    expect(r.errors).toEqual([]);
    expect(r.nftTables.sort()).toEqual(['ip kube-proxy', 'ip6 kube-proxy']);
    expect(r.iptables.map((f) => [f.family, f.rules, f.kept])).toEqual([[4, IPTABLES_MODE_JUMPS.length, ['nat/KUBE-SVC-WEB']]]);

    const after = await save();
    // chains: the iptables mode's are gone, except KUBE-SVC-WEB, which the foreign MY-NAT still jumps to (flushed, kept)
    expect(chainsOf(after)).toEqual(chainsOf(before).filter((c) => !IPTABLES_MODE_CHAINS.includes(c)));
    // rules: every rule of a chain that stays, less the jumps into leftovers and KUBE-SVC-WEB's own, is as it was
    const gone = new Set(IPTABLES_MODE_JUMPS);
    const stayingRule = (r: string) => {
      const [table, , chain] = r.split(' ');
      return !gone.has(r) && !IPTABLES_MODE_CHAINS.includes(`${table} ${chain}`) && !(table === 'nat' && chain === 'KUBE-SVC-WEB');
    };
    expect(rulesOf(after)).toEqual(rulesOf(before).filter(stayingRule));
    // the IPVS mode's chains and jumps are there with their rules
    expect(rulesOf(after)).toEqual(expect.arrayContaining([
      'filter -A INPUT -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
      'filter -A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
      'nat -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      'nat -A KUBE-SERVICES ! -s 10.244.0.0/16 -d 10.96.0.0/12 -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -j KUBE-MARK-MASQ',
      'nat -A MY-NAT -s 10.99.0.0/16 -j KUBE-SVC-WEB',
    ]));
    expect(await nftTables()).toEqual(['table inet mine', 'table ip filter', 'table ip mangle', 'table ip nat']);

    // nothing is left to do the second time
    const again = await removeKubeProxyLeftoversHere([4, 6], nsRunner(ns).run);
    expect(again).toEqual({ iptables: [{ family: 4, chains: [], rules: 0, kept: ['nat/KUBE-SVC-WEB'] }], nftTables: [], errors: [] });
    expect(await save()).toEqual(after);
  });

  it('`agent --cleanup` removes them too, with the IPVS mode\'s own chains, and leaves the foreign ones', async () => {
    const conf = mkdtempSync(join(tmpdir(), 'ivt-leftovers-cni-'));
    try {
      const r = await execa('ip', ['netns', 'exec', ns, join(ROOT, 'bin/ipvsnet'), 'agent', '--cleanup', `--cni-conf-dir=${conf}`, '--hostname-override=node-a'], { reject: false });
      expect(r.stderr).toContain('removed kube-proxy iptables-mode leftovers');
      expect(r.stderr).toContain('removed kube-proxy nftables-mode tables');
      const left = chainsOf(await save()).filter((c) => c.split(' ')[1]!.startsWith('KUBE-'));
      // kubelet's chains, and the chain the foreign MY-NAT still jumps to (flushed)
      expect(left).toEqual(['filter KUBE-FIREWALL', 'filter KUBE-KUBELET-CANARY', 'mangle KUBE-IPTABLES-HINT', 'mangle KUBE-KUBELET-CANARY', 'nat KUBE-SVC-WEB']);
      expect(chainsOf(await save())).toEqual(expect.arrayContaining(['filter MY-FILTER', 'nat DOCKER', 'nat MY-NAT']));
      expect(await nftTables()).toEqual(['table inet mine', 'table ip filter', 'table ip mangle', 'table ip nat']);
    } finally {
      rmSync(conf, { recursive: true, force: true });
    }
  });
});
