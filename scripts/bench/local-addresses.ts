// What the agent's per-sync read of the node's interface addresses costs (the NodePort address
// source: one rtnetlink dump of links and addresses, kube-ipvs0's filtered out), with N service
// addresses bound on kube-ipvs0 as at N Services. A benchmark, not a test: it prints figures.
// The host has no dummy links, so a bridge named kube-ipvs0 holds the addresses (the dump is the same).
//   node scripts/bench/local-addresses.ts [N ...]   (default 1000 10000)
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { LinkAdapter } from '../../src/kernel/link.ts';
import { createNetns, deleteNetns } from '../../test/netns/kernel/netns.ts';

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
for (const n of sizes.length ? sizes : [1000, 10000]) {
  const ns = await createNetns('bench-addrs');
  const link = new LinkAdapter(`/run/netns/${ns}`);
  try {
    const cmds = ['link add kube-ipvs0 type bridge', 'link add eth9 type bridge', 'addr add 192.168.7.2/24 dev eth9', 'addr add 10.20.0.5/16 dev eth9'];
    for (let i = 0; i < n; i++) cmds.push(`addr add 10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32 dev kube-ipvs0`);
    await execa('ip', ['-n', ns, '-batch', '-'], { input: cmds.join('\n') + '\n' });
    const times: number[] = [];
    let found = 0;
    for (let i = 0; i < 25; i++) {
      const t = performance.now();
      found = (await link.addressesExcept('kube-ipvs0')).length;
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(1);
    console.log(`${n} addresses on kube-ipvs0: read of the node's addresses p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${q(1)} ms (25 reads; ${found} node addresses kept)`);
  } finally {
    link.close();
    await deleteNetns(ns);
  }
}
