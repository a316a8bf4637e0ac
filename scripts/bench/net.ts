// src/net benchmark (a benchmark, not a test): what the planner and the read-back pay per address.
// Prints the median over 9 runs of 100,000 IPv4 and 100,000 IPv6 addresses per operation.
//
//   node scripts/bench/net.ts

import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { canonicalIP, contains, formatIP, formatIPBytes, parseCIDR, parseIP, toBuffer } from '../../src/net/index.ts';

const N = 100_000;
const v4: string[] = [];
const v6: string[] = [];
for (let i = 0; i < N; i++) {
  v4.push(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  v6.push(`FD00:0244:${(i >> 8).toString(16)}:0:0:0:0:${(i & 255).toString(16)}`);
}
const bytes4 = v4.map((s) => toBuffer(parseIP(s)!));
const bytes6 = v6.map((s) => toBuffer(parseIP(s)!));
const ips6 = v6.map((s) => parseIP(s)!);
const net6 = parseCIDR('fd00:244::/48')!;

let sink = 0;
function bench(name: string, run: () => void): void {
  for (let w = 0; w < 3; w++) run();
  const t: number[] = [];
  for (let r = 0; r < 9; r++) {
    const s = performance.now();
    run();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  console.log(`${name.padEnd(44)} ${((t[4]! * 1e6) / N).toFixed(0).padStart(6)} ns/address`);
}

console.log(`src/net, ${N.toLocaleString('en')} addresses per run, load average ${os.loadavg()[0]!.toFixed(1)}`);
bench('canonicalIP (IPv4, already canonical)', () => { for (const s of v4) sink += canonicalIP(s)!.length; });
bench('canonicalIP (IPv6, upper case, uncompressed)', () => { for (const s of v6) sink += canonicalIP(s)!.length; });
bench('parseIP + formatIP (IPv4)', () => { for (const s of v4) sink += formatIP(parseIP(s)!).length; });
bench('parseIP + formatIP (IPv6)', () => { for (const s of v6) sink += formatIP(parseIP(s)!).length; });
bench('formatIPBytes (4 bytes, a netlink dump)', () => { for (const b of bytes4) sink += formatIPBytes(b).length; });
bench('formatIPBytes (16 bytes, a netlink dump)', () => { for (const b of bytes6) sink += formatIPBytes(b).length; });
bench('contains (IPv6 /48)', () => { for (const ip of ips6) sink += contains(net6, ip) ? 1 : 0; });
if (sink === 0) throw new Error('nothing measured');
