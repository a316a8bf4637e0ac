// Inside the VM guest (real IPVS): `ipvsadm -R` accepts `ipvsnet plan --format
// ipvsadm`, and what the kernel then holds (`ipvsadm -Sn`) is the plan: every
// virtual server with its scheduler, flags and persistence, every real server
// masqueraded with weight 1. Runs in a private network namespace (IPVS tables
// are per namespace) with a dummy uplink, since IPVS only accepts real servers
// it can route to.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import type { Plan } from '../../../src/plan/types.ts';
import { runRetryingCrashes } from '../lane/rerun.ts';

const root = new URL('../../../', import.meta.url).pathname;
const ns = `ipvsnet-plan-${process.pid}-${randomBytes(3).toString('hex')}`;
const tmp = mkdtempSync(join(tmpdir(), 'ipvsnet-plan-vm-'));

async function must(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await runRetryingCrashes(cmd, args, { input: input ?? '' });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.exitCode}${r.exitCode === undefined ? ` (${r.signal ?? r.message}; earlier: ${r.crashes.join('; ')})` : ''}: ${r.stderr}`);
  return String(r.stdout);
}
const inNs = (cmd: string, args: string[], input?: string) => must('ip', ['netns', 'exec', ns, cmd, ...args], input);

async function plan(args: string[]): Promise<string> {
  return must(join(root, 'bin/ipvsnet'), ['plan', ...args]);
}

// Extra cases beyond examples/cluster.yaml: SCTP, sh with flags, wrr, IPv6 affinity.
const EXTRA = `apiVersion: v1
kind: Node
metadata: { name: node-a, labels: { topology.kubernetes.io/zone: zone-a } }
status: { addresses: [{ type: InternalIP, address: 10.1.0.11 }, { type: InternalIP, address: "fd00:1::11" }] }
---
apiVersion: v1
kind: Service
metadata: { name: sig, annotations: { ipvsnet.io/scheduler: sh, ipvsnet.io/scheduler-flags: "sh-fallback,sh-port" } }
spec:
  type: NodePort
  clusterIP: 10.96.200.1
  ports: [{ name: sctp, port: 3868, protocol: SCTP, nodePort: 30868 }, { name: udp, port: 5060, protocol: UDP, nodePort: 30860 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: sig-1, labels: { kubernetes.io/service-name: sig } }
addressType: IPv4
ports: [{ name: sctp, port: 3868, protocol: SCTP }, { name: udp, port: 5060, protocol: UDP }]
endpoints: [{ addresses: [10.2.0.5], nodeName: node-a }, { addresses: [10.2.0.6], nodeName: node-b }]
---
apiVersion: v1
kind: Service
metadata: { name: v6, annotations: { ipvsnet.io/scheduler: wrr } }
spec:
  clusterIP: "fd00:96::7"
  sessionAffinity: ClientIP
  sessionAffinityConfig: { clientIP: { timeoutSeconds: 300 } }
  ports: [{ name: http, port: 80 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: v6-1, labels: { kubernetes.io/service-name: v6 } }
addressType: IPv6
ports: [{ name: http, port: 8080 }]
endpoints: [{ addresses: ["fd00:2::5"] }, { addresses: ["fd00:2::6"] }]
`;

interface Vs {
  key: string;
  sched: string;
  persistent: number;
  flagBits: number[];
  reals: string[];
}

/** Parse `ipvsadm -S`/`-R` lines into comparable virtual servers. */
function parseRules(text: string): Map<string, Vs> {
  const out = new Map<string, Vs>();
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const w = line.split(/\s+/);
    const proto = w[1] === '-t' ? 'TCP' : w[1] === '-u' ? 'UDP' : w[1] === '--sctp-service' ? 'SCTP' : `?${w[1]}`;
    const key = `${proto} ${w[2]}`;
    const opt = (flag: string): string | undefined => {
      const i = w.indexOf(flag);
      return i === -1 ? undefined : w[i + 1];
    };
    if (w[0] === '-A') {
      const bits = (opt('-b') ?? '')
        .split(',')
        .filter(Boolean)
        .map((f) => (/fallback|flag-1/.test(f) ? 1 : /port|flag-2/.test(f) ? 2 : /flag-3/.test(f) ? 3 : 0))
        .sort();
      out.set(key, { key, sched: opt('-s') ?? '', persistent: Number(opt('-p') ?? 0), flagBits: bits, reals: [] });
    } else if (w[0] === '-a') {
      const fwd = w.includes('-m') ? 'masq' : w.includes('-i') ? 'tunnel' : 'route';
      out.get(key)!.reals.push(`${opt('-r')} ${fwd} ${opt('-w')}`);
    }
  }
  for (const v of out.values()) v.reals.sort();
  return out;
}

beforeAll(async () => {
  for (const m of ['ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_sh', 'ip_vs_mh', 'dummy']) await must('modprobe', [m]);
  await must('ip', ['netns', 'add', ns]);
  await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  await must('ip', ['-n', ns, 'link', 'add', 'up0', 'type', 'dummy']);
  await must('ip', ['-n', ns, 'link', 'set', 'up0', 'up']);
  await must('ip', ['-n', ns, 'addr', 'add', '10.0.0.1/8', 'dev', 'up0']);
  await must('ip', ['-n', ns, '-6', 'addr', 'add', 'fd00::1/8', 'dev', 'up0', 'nodad']);
  await must('ip', ['-n', ns, 'route', 'add', 'default', 'dev', 'up0']);
  await must('ip', ['-n', ns, '-6', 'route', 'add', 'default', 'dev', 'up0']);
  writeFileSync(join(tmp, 'extra.yaml'), EXTRA);
}, 120_000);

afterAll(async () => {
  await execa('ip', ['netns', 'del', ns], { reject: false });
  rmSync(tmp, { recursive: true, force: true });
});

describe('ipvsadm -R accepts the plan, and the kernel holds exactly the plan', { timeout: 180_000 }, () => {
  const cases: Array<[string, string[]]> = [
    ['examples/cluster.yaml (dual-stack, mh, affinity, NodePorts, LBs, Local policies)', ['-f', join(root, 'examples/cluster.yaml'), '--node', 'node-1', '--cluster-cidr', '10.244.0.0/16,fd00:10:244::/56']],
    ['SCTP, UDP, sh with flags, wrr, IPv6 persistence', ['-f', join(tmp, 'extra.yaml'), '--node', 'node-a']],
  ];

  it.each(cases)('%s', async (_name, args) => {
    await inNs('ipvsadm', ['-C']);
    const rules = await plan([...args, '-o', 'ipvsadm']);
    const planJson = JSON.parse(await plan([...args, '-o', 'json'])) as Plan;
    const vsCount = planJson.families.reduce((n, f) => n + f.virtualServers.length, 0);
    expect(vsCount).toBeGreaterThanOrEqual(5);

    await inNs('ipvsadm', ['-R'], rules);
    const saved = parseRules(await inNs('ipvsadm', ['-Sn']));
    const wanted = parseRules(rules);
    expect(saved.size).toBe(vsCount);
    expect([...saved.keys()].sort()).toEqual([...wanted.keys()].sort());
    for (const [k, v] of wanted) expect(saved.get(k), k).toEqual(v);

    // And straight from the JSON plan, independent of the ipvsadm renderer.
    for (const fp of planJson.families) {
      for (const vs of fp.virtualServers) {
        const addr = vs.address.includes(':') ? `[${vs.address}]:${vs.port}` : `${vs.address}:${vs.port}`;
        const got = saved.get(`${vs.protocol} ${addr}`);
        expect(got, `${vs.protocol} ${addr}`).toBeDefined();
        expect(got!.sched).toBe(vs.scheduler);
        expect(got!.persistent).toBe(vs.flags.includes('persistent') ? vs.timeout : 0);
        expect(got!.flagBits).toEqual(vs.flags.filter((f) => f === 'sh-fallback' || f === 'sh-port').map((f) => (f === 'sh-fallback' ? 1 : 2)).sort());
        expect(got!.reals).toEqual(vs.realServers.map((r) => `${r.address.includes(':') ? `[${r.address}]` : r.address}:${r.port} masq ${r.weight}`).sort());
      }
    }
    await inNs('ipvsadm', ['-C']);
  });
});
