// What the agent's per-sync read of the node's interface addresses costs (the NodePort address
// source, LinkAdapter.addressesExcept('kube-ipvs0')), with N service addresses bound on kube-ipvs0 as
// at N Services. A benchmark, not a test: it prints wall-time percentiles and the CPU time per read.
// The host has no dummy links, so a bridge named kube-ipvs0 holds the addresses (the dumps are the same).
//   node scripts/bench/local-addresses.ts [N ...] [--pods P] [--unfiltered]   (default N: 1000 10000)
// --pods P adds P veth pairs, up, their pod ends in a second namespace (with P pods a node has P
// host-side veths, each with an IPv6 link-local address): the read is one address dump per link.
// --unfiltered reads as on a kernel without strict netlink checking (before 4.20): one dump of every
// address per read, kube-ipvs0's skipped unparsed.
// A second line per N: the repair pass's read (LinkAdapter.addressesOn: kube-ipvs0's N addresses and
// the others'), which has to read all N.
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { LinkAdapter } from '../../src/kernel/link.ts';
import { createNetns, deleteNetns } from '../../test/netns/kernel/netns.ts';

const flagAt = process.argv.indexOf('--pods');
const pods = flagAt > 0 ? Number(process.argv[flagAt + 1]) : 0;
if (!Number.isInteger(pods) || pods < 0) throw new Error('--pods needs a whole number');
const unfiltered = process.argv.includes('--unfiltered');
const sizes = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--pods').map(Number).filter((n) => n > 0);
const READS = 50;
const WARM = 5;
for (const n of sizes.length ? sizes : [1000, 10000]) {
  const ns = await createNetns('bench-addrs');
  const podNs = pods ? await createNetns('bench-pods') : undefined;
  const link = new LinkAdapter(`/run/netns/${ns}`, { kernelFiltered: !unfiltered });
  try {
    const cmds = ['link set lo up', 'link add kube-ipvs0 type bridge', 'link add eth9 type bridge', 'addr add 192.168.7.2/24 dev eth9', 'addr add 10.20.0.5/16 dev eth9'];
    for (let p = 0; p < pods; p++) {
      cmds.push(`link add veth${p} type veth peer name eth0-${p} netns ${podNs}`, `link set veth${p} up`);
    }
    for (let i = 0; i < n; i++) cmds.push(`addr add 10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32 dev kube-ipvs0`);
    await execa('ip', ['-n', ns, '-batch', '-'], { input: cmds.join('\n') + '\n' });
    if (podNs) {
      const up: string[] = [];
      for (let p = 0; p < pods; p++) up.push(`link set eth0-${p} up`, `addr add 10.244.${p >> 8}.${p & 255}/24 dev eth0-${p}`);
      await execa('ip', ['-n', podNs, '-batch', '-'], { input: up.join('\n') + '\n' });
    }
    const times: number[] = [];
    let found = 0;
    for (let i = 0; i < WARM; i++) await link.addressesExcept('kube-ipvs0');
    const before = link.received;
    const cpu = process.cpuUsage();
    for (let i = 0; i < READS; i++) {
      const t = performance.now();
      found = (await link.addressesExcept('kube-ipvs0')).length;
      times.push(performance.now() - t);
    }
    const used = process.cpuUsage(cpu);
    const after = link.received;
    times.sort((a, b) => a - b);
    const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(2);
    const per = (k: 'datagrams' | 'bytes') => Math.round((after[k] - before[k]) / READS);
    const repair: number[] = [];
    const repairCpu = process.cpuUsage();
    let bound = 0;
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      bound = (await link.addressesOn('kube-ipvs0')).on.length;
      repair.push(performance.now() - t);
    }
    const repairUsed = process.cpuUsage(repairCpu);
    repair.sort((a, b) => a - b);
    console.log(`${n} addresses on kube-ipvs0, ${pods} veth pairs, ${link.kernelFiltered ? 'kernel-filtered per link' : 'one dump of every address'}: `
      + `read of the node's addresses p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${q(1)} ms; CPU (user + system) ${((used.user + used.system) / 1000 / READS).toFixed(2)} ms a read on average; `
      + `${per('datagrams')} datagrams, ${per('bytes')} bytes a read (${READS} reads after ${WARM} unmeasured; ${found} node addresses kept)`);
    console.log(`  repair pass's read of kube-ipvs0's ${bound} and the others' addresses: p50 ${repair[5]!.toFixed(1)} ms, max ${repair[9]!.toFixed(1)} ms; `
      + `CPU ${((repairUsed.user + repairUsed.system) / 1000 / 10).toFixed(1)} ms a read on average (10 reads)`);
  } finally {
    link.close();
    await deleteNetns(ns);
    if (podNs) await deleteNetns(podNs);
  }
}
