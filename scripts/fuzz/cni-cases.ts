// The CNI fuzzer's cases and oracle, shared by the unit lane (test/unit/cni/fuzz.test.ts, a short
// run) and scripts/fuzz/cni.ts (a long one). Each case is one CNI invocation — environment and
// stdin — through the real protocol layer (runSkel) into a plugin that runs the real configuration
// parsers (bridge, IPAM, GC attachments, prevResult) and stops before any kernel operation. Checked:
// no exception escapes, every failure is one CNI error JSON with a known code and a message without
// a stack trace, and no parser failure is an internal error (code 999: a TypeError and the like).
import fc from 'fast-check';
import { runSkel } from '../../src/cniproto/skel.ts';
import type { CmdContext, Plugin } from '../../src/cniproto/skel.ts';
import type { Result } from '../../src/cniproto/types.ts';
import { loadBridgeConf } from '../../src/cni/bridge/config.ts';
import { loadIpamConfig } from '../../src/ipam/config.ts';
import { validAttachments } from '../../src/ipam/index.ts';

export interface Case {
  env: Record<string, string>;
  stdin: string;
}

function parseAll(ctx: CmdContext): void {
  const c = loadBridgeConf(ctx.conf, ctx.args);
  if (c.ipamType) loadIpamConfig(ctx.conf, ctx.args.get('IP'));
  if (ctx.command === 'GC') validAttachments(ctx.conf);
}

/** The plugin under test: every parser of ipvsnet-bridge + ipvsnet-ipam, no kernel. */
export const parsersOnly: Plugin = {
  argKeys: ['IP', 'MAC'],
  async add(ctx): Promise<Result> {
    parseAll(ctx);
    return { cniVersion: ctx.cniVersion, ips: [{ address: '10.0.0.2/24', gateway: '10.0.0.1' }], interfaces: [{ name: 'eth0', sandbox: ctx.netns }] };
  },
  async del(ctx) { parseAll(ctx); },
  async check(ctx) { parseAll(ctx); },
  async gc(ctx) { parseAll(ctx); },
  async status(ctx) { parseAll(ctx); },
};

const KNOWN_CODES = new Set([1, 2, 3, 4, 5, 6, 7, 11, 50, 51]);

/** undefined when the outcome is acceptable, else why not. */
export function judge(out: { exitCode: number; stdout: string }): string | undefined {
  if (/\n\s+at .+:\d+/.test(out.stdout)) return 'stack trace in stdout';
  if (out.exitCode === 0) {
    if (out.stdout === '') return undefined;
    try {
      const j = JSON.parse(out.stdout) as Record<string, unknown>;
      return typeof j['cniVersion'] === 'string' ? undefined : 'success output without cniVersion';
    } catch {
      return 'success output is not JSON';
    }
  }
  if (out.exitCode !== 1) return `exit code ${out.exitCode}`;
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(out.stdout) as Record<string, unknown>;
  } catch {
    return 'error output is not JSON';
  }
  const extra = Object.keys(j).filter((k) => !['cniVersion', 'code', 'msg', 'details'].includes(k));
  if (extra.length) return `unexpected error fields ${extra.join(',')}`;
  if (typeof j['cniVersion'] !== 'string') return 'error without cniVersion';
  if (typeof j['code'] !== 'number' || !KNOWN_CODES.has(j['code'])) return `error code ${String(j['code'])} (999 = an internal error: a parser crashed)`;
  if (typeof j['msg'] !== 'string' || j['msg'] === '') return 'error without msg';
  return undefined;
}

const weird = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1e308, NaN, '', ' ', '\u0000', '..', '/', '/proc/self', '-', 'a'.repeat(300), '0.0.0.0/0', '::/0', '10.0.0.0/8', 'fe80::1', '1.2.3.4', '255.255.255.255/32', '1.0.0', '0.4.0'),
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.anything({ maxDepth: 1 }), { maxKeys: 3 }),
);
const ip4 = fc.ipV4();
const cidr = fc.oneof(
  fc.tuple(ip4, fc.integer({ min: 0, max: 33 })).map(([a, p]) => `${a}/${p}`),
  fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 129 })).map(([a, p]) => `${a}/${p}`),
  weird,
);
const range = fc.record({ subnet: cidr, rangeStart: fc.oneof(ip4, weird), rangeEnd: fc.oneof(ip4, weird), gateway: fc.oneof(ip4, weird) }, { requiredKeys: ['subnet'] });
const ipam = fc.record({
  type: fc.oneof(fc.constant('ipvsnet-ipam'), weird),
  subnet: cidr,
  rangeStart: fc.oneof(ip4, weird),
  ranges: fc.oneof(fc.array(fc.array(range, { maxLength: 3 }), { maxLength: 3 }), weird),
  routes: fc.oneof(fc.array(fc.record({ dst: cidr, gw: fc.oneof(ip4, weird) }, { requiredKeys: ['dst'] }), { maxLength: 3 }), weird),
  dataDir: fc.oneof(fc.constantFrom('/var/lib/cni/networks', '/proc/x', '/a/../b', 'rel', '/tmp//x/'), weird),
  resolvConf: fc.oneof(fc.constantFrom('/etc/resolv.conf', '/dev/zero'), weird),
}, { requiredKeys: [] });
const conf = fc.record({
  cniVersion: fc.oneof(fc.constantFrom('0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0', '2.0.0', ''), weird),
  name: fc.oneof(fc.constantFrom('net1', 'a.b-c_d'), weird),
  type: fc.oneof(fc.constant('ipvsnet-bridge'), weird),
  bridge: fc.oneof(fc.constantFrom('cni0', 'br-x'), weird),
  isGateway: fc.oneof(fc.boolean(), weird), isDefaultGateway: fc.oneof(fc.boolean(), weird), ipMasq: fc.oneof(fc.boolean(), weird),
  hairpinMode: fc.oneof(fc.boolean(), weird), promiscMode: fc.oneof(fc.boolean(), weird), forceAddress: fc.oneof(fc.boolean(), weird),
  mtu: fc.oneof(fc.integer({ min: -10, max: 70000 }), weird), vlan: fc.oneof(fc.integer({ min: -2, max: 5000 }), weird),
  ipam: fc.oneof(ipam, weird),
  dns: fc.oneof(fc.record({ nameservers: fc.oneof(fc.array(ip4, { maxLength: 2 }), weird), search: weird }, { requiredKeys: [] }), weird),
  args: fc.oneof(fc.record({ cni: fc.oneof(fc.record({ ips: fc.oneof(fc.array(fc.oneof(ip4, weird), { maxLength: 2 }), weird), mac: weird }, { requiredKeys: [] }), weird) }, { requiredKeys: [] }), weird),
  runtimeConfig: fc.oneof(fc.record({ ips: fc.oneof(fc.array(ip4, { maxLength: 2 }), weird), mac: weird, ipRanges: fc.oneof(fc.array(fc.array(range, { maxLength: 2 }), { maxLength: 2 }), weird) }, { requiredKeys: [] }), weird),
  prevResult: fc.oneof(fc.record({ cniVersion: fc.constant('1.0.0'), interfaces: fc.oneof(fc.array(fc.record({ name: weird, mac: weird, sandbox: weird }, { requiredKeys: [] }), { maxLength: 2 }), weird), ips: fc.oneof(fc.array(fc.record({ address: cidr, gateway: fc.oneof(ip4, weird), interface: weird }, { requiredKeys: [] }), { maxLength: 2 }), weird), routes: weird }, { requiredKeys: [] }), weird),
  'cni.dev/valid-attachments': fc.oneof(fc.array(fc.record({ containerID: weird, ifname: weird }, { requiredKeys: [] }), { maxLength: 3 }), weird),
}, { requiredKeys: [] });

const env = fc.record({
  CNI_COMMAND: fc.oneof(fc.constantFrom('ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'), fc.string({ maxLength: 8 })),
  CNI_CONTAINERID: fc.oneof(fc.constantFrom('c1', 'a'.repeat(400), '-x', 'a/b', ''), fc.string({ maxLength: 20 })),
  CNI_NETNS: fc.oneof(fc.constant('/var/run/netns/x'), fc.string({ maxLength: 20 })),
  CNI_IFNAME: fc.oneof(fc.constantFrom('eth0', 'a'.repeat(16), '.', '..', 'a b', 'x/y', ''), fc.string({ maxLength: 20 })),
  CNI_PATH: fc.oneof(fc.constant('/opt/cni/bin'), fc.string({ maxLength: 20 })),
  CNI_ARGS: fc.oneof(fc.constantFrom('IgnoreUnknown=1;IP=10.0.0.5', 'IP=::1', 'MAC=00:11:22:33:44:55', 'X=1', '=', ';;', 'IgnoreUnknown=maybe'), fc.string({ maxLength: 30 })),
}, { requiredKeys: ['CNI_COMMAND'] });

/** A configuration as JSON, or raw text (mutated JSON, any string). */
const stdin = fc.oneof(
  { weight: 6, arbitrary: conf.map((c) => JSON.stringify(c)) },
  { weight: 1, arbitrary: fc.tuple(conf.map((c) => JSON.stringify(c)), fc.nat(), fc.string({ maxLength: 3 })).map(([s, i, ins]) => s.slice(0, i % (s.length + 1)) + ins + s.slice(i % (s.length + 1))) },
  { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 50 }), fc.json({ maxDepth: 3 })) },
);

export const cases: fc.Arbitrary<Case> = fc.record({ env, stdin }).map(({ env: e, stdin: s }) => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(e)) if (v !== undefined) out[k] = v;
  return { env: out, stdin: s };
});

/** Run one case; throws with the case when the outcome is not acceptable or it took longer than deadlineMs. */
export async function check(c: Case, deadlineMs: number): Promise<void> {
  const t0 = performance.now();
  const out = await runSkel(parsersOnly, c.env, c.stdin);
  const ms = performance.now() - t0;
  const bad = judge(out);
  if (bad) throw new Error(`${bad}: ${out.stdout.slice(0, 300)}`);
  if (ms > deadlineMs) throw new Error(`took ${ms.toFixed(0)} ms (deadline ${deadlineMs} ms)`);
}
