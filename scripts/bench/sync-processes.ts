// Processes exec'd per Reconciler sync (ipset + iptables parts; IPVS and kube-ipvs0 go over netlink
// and exec nothing), single-stack and dual-stack, on the host kernel in a network namespace of its
// own (created, used and deleted here). Runs as root:
//
//   node scripts/bench/sync-processes.ts [--services 2000] [--backend nft|legacy] [--reader netlink|exec]
//
// (--reader exec: ipsets read with `ipset save`, as before the netlink reader.)
// For each stack it prints the processes (per binary) of: the first sync (full read), a sync with
// one member changed between repair passes, a sync with nothing changed, a repair pass with nothing
// changed, and a repair pass after a set member and a chain were deleted behind the agent's back.

import { execa } from 'execa';
import pino from 'pino';
import { Reconciler } from '../../src/reconcile/index.ts';
import { createRunner } from '../../src/kernel/exec.ts';
import { IpsetAdapter } from '../../src/kernel/ipset/index.ts';
import { IptablesAdapter } from '../../src/kernel/iptables.ts';
import type { Family } from '../../src/net/index.ts';
import type { Plan } from '../../src/plan/types.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? def : (process.argv[i + 1] ?? def);
}
const SERVICES = Number(arg('services', '2000'));
const BACKEND = arg('backend', 'nft') as 'nft' | 'legacy';
const READER = arg('reader', 'netlink') as 'netlink' | 'exec';

function familyPlan(family: Family, extra: number): Plan['families'][number] {
  const p = family === 6 ? 'KUBE-6-' : 'KUBE-';
  const ip = (i: number): string => (family === 4 ? `10.96.${(i >> 8) & 255}.${i & 255}` : `fd00:96::${i.toString(16)}`);
  const members = Array.from({ length: SERVICES + extra }, (_, i) => `${ip(i)},tcp:${80 + (i % 3)}`);
  return {
    family,
    virtualServers: [],
    boundAddresses: [],
    ipsets: [
      { name: `${p}CLUSTER-IP`, type: 'hash:ip,port', family, comment: '', members },
      { name: `${p}LOOP-BACK`, type: 'hash:ip,port,ip', family, comment: '', members: [] },
      { name: `${p}NODE-PORT-TCP`, type: 'bitmap:port', family, comment: '', members: ['30080'] },
    ],
    iptables: {
      restore: `*nat
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-SERVICES -m set --match-set ${p}CLUSTER-IP dst,dst -j ACCEPT
-A KUBE-POSTROUTING -m set --match-set ${p}LOOP-BACK dst,dst,src -j MASQUERADE
COMMIT
*filter
:KUBE-FORWARD - [0:0]
-A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT
COMMIT
`,
    },
  };
}

function plan(families: Family[], extra = 0): Plan {
  return { node: 'n1', families: families.map((f) => familyPlan(f, extra)), healthCheckNodePorts: [], diagnostics: [] };
}

async function inside(): Promise<void> {
  for (const families of [[4], [4, 6]] as Family[][]) {
    // Start from an empty namespace for each stack.
    await execa('ipset', ['destroy'], { reject: false });
    for (const t of ['nat', 'filter']) for (const bin of ['iptables', 'ip6tables']) await execa(`${bin}-${BACKEND}`, ['-t', t, '-F'], { reject: false }).then(() => execa(`${bin}-${BACKEND}`, ['-t', t, '-X'], { reject: false }));
    const runner = createRunner();
    let now = 0;
    const rec = new Reconciler({
      ipvs: null, link: null, runner, stateFile: null, logger: pino({ level: 'silent' }), repairIntervalMs: 60_000, now: () => now,
      ipset: new IpsetAdapter({ run: runner.run, reader: READER }),
      iptables: Object.fromEntries(families.map((f) => [f, new IptablesAdapter({ family: f, backend: BACKEND, run: runner.run })])),
    });
    const rows: string[] = [];
    const step = async (label: string, p: Plan): Promise<void> => {
      const before = runner.byCommand();
      const r = await rec.sync(p);
      if (r.failures.length) throw new Error(`${label}: ${JSON.stringify(r.failures)}`);
      const after = runner.byCommand();
      const per = Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)] as const).filter(([, v]) => v > 0);
      rows.push(`  ${label.padEnd(44)} ${String(r.processes).padStart(2)} processes  ${per.map(([k, v]) => `${k} ${v}`).join(', ')}${r.fullRead ? '  (full read)' : ''}`);
    };
    await step('first sync', plan(families));
    now += 1000;
    await step('one member more (between repair passes)', plan(families, 1));
    now += 1000;
    await step('nothing changed', plan(families, 1));
    now += 60_000;
    await step('repair pass, nothing changed', plan(families, 1));
    await execa('ipset', ['del', 'KUBE-CLUSTER-IP', '10.96.0.1,tcp:81']);
    await execa(`iptables-${BACKEND}`, ['-t', 'filter', '-F', 'KUBE-FORWARD']);
    now += 60_000;
    await step('repair pass after drift (a member, a rule)', plan(families, 1));
    process.stdout.write(`${families.length === 1 ? 'single-stack (IPv4)' : 'dual-stack (IPv4 + IPv6)'}, ${SERVICES} cluster-IP members per family, iptables-${BACKEND}, ipset reader ${READER}:\n${rows.join('\n')}\n`);
  }
}

if (process.argv.includes('--inside')) {
  await inside();
} else {
  const ns = `ipvsnet-procs-${process.pid}`;
  await execa('ip', ['netns', 'add', ns]);
  try {
    await execa('ip', ['netns', 'exec', ns, process.execPath, new URL(import.meta.url).pathname, '--inside', ...process.argv.slice(2)], { stdio: 'inherit' });
  } finally {
    await execa('ip', ['netns', 'del', ns], { reject: false });
  }
}
