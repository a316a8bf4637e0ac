// Benchmark of the generic netlink IPVS adapter (src/kernel/ipvs/genl.ts). Needs a kernel with IPVS,
// so it runs in the VM:
//
//   scripts/vm/run.sh --timeout 3000 -- node scripts/bench/ipvs.ts [--services 10000] [--dests 5] [--concurrency 32] [--ipvsadm]
//
// Prints: time to add N services and N×M dests through the adapter (ops/s), time to dump all services
// and every service's dests, single-operation latency (median, p99) on the full table, time to
// delete everything; with --ipvsadm also the time `ipvsadm -R` takes to restore the same table, as a
// reference. It creates its services in 10.200.0.0/16 (dests in 10.201.0.0/16) and deletes them
// at the end; it refuses to start when that range already holds services.
// The VM runs under TCG (emulated CPU), so absolute figures are far below a real node's.

import { execa } from 'execa';
import { performance } from 'node:perf_hooks';
import { openIpvs } from '../../src/kernel/ipvs/genl.ts';
import type { IpvsDest, IpvsService, IpvsServiceId } from '../../src/kernel/ipvs/types.ts';
import { intArg } from './args.ts';


const N = intArg('services', 10_000);
const M = intArg('dests', 5);
const C = intArg('concurrency', 32);
const withIpvsadm = process.argv.includes('--ipvsadm');
if (N > 65_000) throw new Error('--services at most 65000 (one /16)');

const svcAddr = (i: number): string => `10.200.${i >> 8}.${i & 0xff}`;
const destAddr = (i: number, j: number): string => `10.201.${(i * M + j) >> 8 & 0xff}.${(i * M + j) & 0xff}`;

const services: IpvsService[] = Array.from({ length: N }, (_, i) => ({
  family: 4,
  protocol: i % 10 === 9 ? 'UDP' : 'TCP',
  address: svcAddr(i),
  port: 80,
  scheduler: 'rr',
  flags: 0,
  timeout: 0,
  netmask: 32,
}));
const dests = (i: number): IpvsDest[] =>
  Array.from({ length: M }, (_, j) => ({ address: destAddr(i, j), port: 8080 + Math.floor((i * M + j) / 65536), weight: 1, forward: 'masq', upperThreshold: 0, lowerThreshold: 0 }));

async function pool<T>(items: readonly T[], fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(C, items.length) }, async () => {
      while (next < items.length) {
        const x = items[next++]!;
        await fn(x);
      }
    }),
  );
}

function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const ipvs = await openIpvs();
const ours = (s: IpvsServiceId): boolean => s.address.startsWith('10.200.');
if ((await ipvs.listServices()).some(ours)) throw new Error('10.200.0.0/16 already holds IPVS services: refusing to run');

console.log(`IPVS adapter benchmark: ${N} services × ${M} dests, ${C} requests in flight, kernel ${(await execa('uname', ['-r'])).stdout}`);
const info = await ipvs.info();
console.log(`IPVS ${info.version}, connection table ${info.connTableSize}`);

let t = performance.now();
await pool(services, (s) => ipvs.addService(s));
const tSvc = performance.now() - t;
console.log(`add services:        ${N} ops in ${fmt(tSvc)}  (${Math.round(N / (tSvc / 1000))} ops/s)`);

t = performance.now();
await pool(services.map((s, i) => [s, i] as const), async ([s, i]) => {
  for (const d of dests(i)) await ipvs.addDest(s, d);
});
const tDest = performance.now() - t;
console.log(`add dests:           ${N * M} ops in ${fmt(tDest)}  (${Math.round((N * M) / (tDest / 1000))} ops/s)`);
console.log(`total apply:         ${N + N * M} ops in ${fmt(tSvc + tDest)}  (${Math.round((N + N * M) / ((tSvc + tDest) / 1000))} ops/s)`);

t = performance.now();
const listed = (await ipvs.listServices()).filter(ours);
const tDump = performance.now() - t;
if (listed.length !== N) throw new Error(`dump found ${listed.length} services, expected ${N}`);
console.log(`dump services:       ${listed.length} services in ${fmt(tDump)}`);

t = performance.now();
let destCount = 0;
for (const s of listed) destCount += (await ipvs.listDests(s)).length;
const tDumpDests = performance.now() - t;
if (destCount !== N * M) throw new Error(`dest dumps found ${destCount} dests, expected ${N * M}`);
console.log(`dump all dests:      ${destCount} dests (${N} dumps) in ${fmt(tDumpDests)}`);
console.log(`full kernel read:    ${fmt(tDump + tDumpDests)}`);
{
  t = performance.now();
  const all = (await ipvs.listServicesWithDests()).filter((x) => ours(x.service));
  const n = all.reduce((acc, x) => acc + x.dests.length, 0);
  if (all.length !== N || n !== N * M) throw new Error(`listServicesWithDests() found ${all.length} services, ${n} dests`);
  console.log(`full read:           ${all.length} services + ${n} dests in ${fmt(performance.now() - t)} (listServicesWithDests)`);
}

// single-change latency on the full table: one weight edit at a time
const lat: number[] = [];
for (let k = 0; k < 500; k++) {
  const i = (k * 7919) % N;
  const d = dests(i)[k % M]!;
  const t0 = performance.now();
  await ipvs.updateDest(services[i]!, { ...d, weight: 1 + (k % 2) });
  lat.push(performance.now() - t0);
}
lat.sort((a, b) => a - b);
console.log(`single SET_DEST:     median ${fmt(pct(lat, 50))}, p99 ${fmt(pct(lat, 99))} (500 sequential ops)`);

t = performance.now();
await pool(services, (s) => ipvs.deleteService(s));
const tDel = performance.now() - t;
console.log(`delete services:     ${N} ops in ${fmt(tDel)}  (${Math.round(N / (tDel / 1000))} ops/s)`);
ipvs.close();

if (withIpvsadm) {
  const lines: string[] = [];
  services.forEach((s, i) => {
    const pf = s.protocol === 'TCP' ? '-t' : '-u';
    lines.push(`-A ${pf} ${s.address}:80 -s rr`);
    for (const d of dests(i)) lines.push(`-a ${pf} ${s.address}:80 -r ${d.address}:${d.port} -m -w 1`);
  });
  t = performance.now();
  await execa('ipvsadm', ['-R'], { input: lines.join('\n') + '\n' });
  const tR = performance.now() - t;
  console.log(`reference: ipvsadm -R of the same ${lines.length} commands in ${fmt(tR)}`);
  t = performance.now();
  const saved = (await execa('ipvsadm', ['-Sn'])).stdout;
  console.log(`reference: ipvsadm -Sn (${saved.split('\n').length} lines) in ${fmt(performance.now() - t)}`);
  await execa('ipvsadm', ['-R'], { input: services.map((s) => `-D ${s.protocol === 'TCP' ? '-t' : '-u'} ${s.address}:80`).join('\n') + '\n' });
}
