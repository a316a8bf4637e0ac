// Bad input: a corpus of >= 200 broken stdin configs and env sets (hand-made
// field mutations plus fast-check generated ones with a fixed seed). Every
// answer must be valid CNI error JSON on stdout with a non-zero exit, no stack
// trace, and nothing may leak: no reservation file, no link in the pod netns,
// no veth on the host.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { OURS, OURS_IPAM, Scratch, ipJson, isCniError, nsPath, prerequisites, runPlugin, uniq } from './helpers.ts';
import type { RunOpts } from './helpers.ts';

// Bounds for a shared 2-core machine under heavy load (many plugin processes per test); not speed assertions.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

const s = new Scratch();
let dataDir = '';
let podNs = '';
let bridge = '';
const network = uniq('fz');

interface Case { label: string; bin?: string; conf: unknown; opts: Partial<RunOpts> }

function base(): Record<string, unknown> {
  return {
    cniVersion: '1.0.0', name: network, type: 'ipvsnet-bridge', bridge, isGateway: true,
    ipam: { type: 'ipvsnet-ipam', subnet: '10.207.0.0/24', dataDir, routes: [{ dst: '0.0.0.0/0' }] },
  };
}

function withField(path: string[], value: unknown): Record<string, unknown> {
  const c = base();
  let o: Record<string, unknown> = c;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
  if (value === undefined) delete o[path[path.length - 1]!];
  else o[path[path.length - 1]!] = value;
  return c;
}

function corpus(): Case[] {
  const cases: Case[] = [];
  const add = (label: string, conf: unknown, opts: Partial<RunOpts> = {}, bin?: string) => cases.push({ label, conf, opts, ...(bin ? { bin } : {}) });
  // not JSON / not an object
  for (const raw of ['', ' ', '{', '{"cniVersion":', 'null', '[]', '"str"', '42', 'true', '{"a":1}}', '\u0000\u0001\u0002', '{"cniVersion":"1.0.0",}', 'NaN', '{"cniVersion":"1.0.0","name":"x","type":"ipvsnet-bridge"', '\ufeff{}']) {
    add(`raw ${JSON.stringify(raw)}`, raw);
  }
  // versions
  for (const v of [null, 1, 1.0, [], {}, '', '1', '1.0', 'latest', '0.2.0', '0.1.0', '3.0.0', '1.0.0-rc1', ' 1.0.0', '1.0.0 ']) add(`cniVersion ${JSON.stringify(v)}`, withField(['cniVersion'], v));
  add('cniVersion missing', withField(['cniVersion'], undefined));
  // top-level fields
  const bad: Array<[string[], unknown[]]> = [
    [['type'], [undefined, '', 7, null, []]],
    [['name'], [undefined, '', '../x', 'a/b', '-x', 'a b', 12, {}, '.hidden']],
    [['bridge'], [7, '', 'a'.repeat(16), 'br/0', 'br 0', '.', '..', true]],
    [['isGateway'], ['yes', 1, [], {}]],
    [['isDefaultGateway'], ['true', 0]],
    [['forceAddress'], ['no']],
    [['ipMasq'], [1, 'on']],
    [['hairpinMode'], ['x']],
    [['promiscMode'], [2]],
    [['mtu'], ['1500', -1, 1.5, 70000, 10, true]],
    [['vlan'], [-1, 4095, 1.2, '10']],
    [['macspoofchk'], [true, 'x']],
    [['vlanTrunk'], [[{ id: 5 }]]],
    [['ipam'], ['x', 7, [], true]],
    [['ipam', 'type'], [7, 'bad/type', '../../bin/sh', 'no-such-ipam-plugin']],
    [['ipam', 'subnet'], ['x', '10.207.0.0', '10.207.0.0/33', '10.207.0.5/24', '10.207.0.0/31', '10.207.0.0/32', '300.1.1.0/24', 7, ['10.0.0.0/8'], '2001:db8::/127', 'fe80::1/64']],
    [['ipam', 'routes'], ['x', [{}], [{ dst: 'x' }], [{ dst: '0.0.0.0/0', gw: 'zz' }], [{ dst: '0.0.0.0/0', gw: '2001:db8::1' }], [{ dst: '10.0.0.0/8', mtu: -1 }], [7]]],
    // '' is not bad input: host-local (and ipvsnet-ipam) take it as the default /var/lib/cni/networks
    [['ipam', 'dataDir'], ['relative/dir', 7, '/proc/ivt-fuzz', '/sys/ivt-fuzz']],
    [['ipam', 'resolvConf'], [7, '/nonexistent/resolv.conf']],
    [['ipam', 'gateway'], ['10.99.0.1', 'x', 5]],
    [['ipam', 'rangeStart'], ['10.99.0.1', 'x', '10.207.0.300']],
    [['ipam', 'rangeEnd'], ['10.208.0.1', 'y']],
    [['ipam', 'ranges'], ['x', [[]], [['x']], [[{ subnet: '10.1.0.0/16' }, { subnet: '10.1.2.0/24' }]], [[{ subnet: '10.1.0.0/24' }, { subnet: '2001:db8::/64' }]], [[{}]], [[{ subnet: '10.1.0.0/24', rangeStart: '10.1.0.9', rangeEnd: '10.1.0.3' }]]]],
    [['prevResult'], ['x', 7, { ips: 'x' }, { ips: [{ address: 'bad' }] }, { interfaces: [{}] }, { routes: [{ dst: 1 }] }, { ips: [{ address: '10.1.1.1/24', gateway: 'nope' }] }]],
    [['runtimeConfig'], [{ ips: 'x' }, { ips: ['nope'] }, { ips: ['10.99.0.5'] }, { mac: 'zz:zz' }, { mac: '01:00:00:00:00:01' }, { ipRanges: 'x' }, { ipRanges: [[{ subnet: 'q' }]] }]],
    [['args'], [{ cni: { ips: 'x' } }, { cni: { ips: [7] } }, { cni: { ips: ['10.99.1.1'] } }, { cni: { mac: 'x' } }, 'str']],
    [['dns'], []],
  ];
  for (const [path, values] of bad) for (const v of values) add(`${path.join('.')}=${JSON.stringify(v) ?? 'undefined'}`, withField(path, v));
  add('hairpin+promisc', { ...base(), hairpinMode: true, promiscMode: true });
  add('ipam with no ranges', withField(['ipam', 'subnet'], undefined));
  add('requested gateway', base(), { args: 'IP=10.207.0.1' });
  add('requested outside', base(), { args: 'IP=10.99.0.9' });
  add('requested garbage', base(), { args: 'IP=banana' });
  // env sets
  const env = (label: string, o: Partial<RunOpts>) => add(label, base(), o);
  for (const cmd of ['', 'add', 'Add', 'FOO', 'ADD ', 'DELETE', 'version;rm']) env(`CNI_COMMAND=${JSON.stringify(cmd)}`, { command: cmd });
  for (const id of ['', '-abc', 'a b', 'a/b', '../x', 'x'.repeat(0) + '_x', '.x', 'a\tb', 'é']) env(`CNI_CONTAINERID=${JSON.stringify(id)}`, { containerId: id });
  for (const ifn of ['', 'a'.repeat(16), 'a/b', '.', '..', 'eth 0', 'eth:0', 'eth%0']) env(`CNI_IFNAME=${JSON.stringify(ifn)}`, { ifname: ifn });
  for (const a of ['x', '=y', 'IgnoreUnknown=maybe', 'FOO=1', 'K8S_POD_NAME', ';;=', 'IP=1.2.3.4.5', 'IgnoreUnknown=1;IP=nope', 'MAC=zz']) env(`CNI_ARGS=${JSON.stringify(a)}`, { args: a });
  for (const n of ['', '/nonexistent/netns', '/etc/hostname', '/proc/self/ns/mnt', 'relative/ns']) env(`CNI_NETNS=${JSON.stringify(n)}`, { netns: n });
  for (const cmd of ['DEL', 'CHECK', 'GC', 'STATUS']) {
    add(`${cmd} with broken ipam`, withField(['ipam', 'subnet'], 'nope'), { command: cmd, ...(cmd === 'GC' || cmd === 'STATUS' ? {} : {}) });
    add(`${cmd} with broken JSON`, '{"cniVersion":', { command: cmd });
  }
  add('CHECK without prevResult', base(), { command: 'CHECK' });
  add('CHECK with foreign prevResult', { ...base(), prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'x' }] } }, { command: 'CHECK' });
  add('GC bad attachments', { ...base(), cniVersion: '1.1.0', 'cni.dev/valid-attachments': 'x' }, { command: 'GC' });
  add('GC bad attachment item', { ...base(), cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 5 }] }, { command: 'GC' });
  // ipvsnet-ipam standalone
  for (const [path, v] of [[['ipam', 'subnet'], 'x'], [['ipam'], undefined], [['name'], '../etc'], [['cniVersion'], '0.0.1']] as Array<[string[], unknown]>) {
    add(`ipam plugin ${path.join('.')}=${JSON.stringify(v)}`, withField(path, v), {}, OURS_IPAM);
  }
  // generated: random values of the wrong type or random strings for validated fields (fixed seed)
  const fields: string[][] = [['mtu'], ['vlan'], ['bridge'], ['ipam', 'subnet'], ['ipam', 'rangeStart'], ['ipam', 'gateway'], ['ipam', 'routes'], ['cniVersion'], ['name'], ['isGateway']];
  const gen = fc.tuple(fc.constantFrom(...fields), fc.oneof(
    fc.string({ minLength: 1, maxLength: 12 }).map((x) => `~${x}`),
    fc.array(fc.integer(), { minLength: 1, maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { minKeys: 1, maxKeys: 2 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => Number.isFinite(d) && !Number.isInteger(d)),
  ));
  fc.sample(gen, { numRuns: 80, seed: 4242 }).forEach(([path, v], i) => add(`gen#${i} ${path.join('.')}=${JSON.stringify(v)}`, withField(path, v)));
  return cases;
}

beforeAll(async () => {
  await prerequisites();
  dataDir = s.tmpdir('ivt-fuzz-');
  podNs = await s.addNetns('ivf');
  bridge = s.link(uniq('ivfb'));
  await execa('ip', ['link', 'add', bridge, 'type', 'bridge']);
});
afterAll(async () => {
  await s.cleanup();
});

describe('bad-input corpus', () => {
  it('has at least 200 cases, each answered by CNI error JSON with a non-zero exit, no stack trace and no leak', async () => {
    const cs = corpus();
    expect(cs.length).toBeGreaterThanOrEqual(200);
    console.info(`bad-input corpus: ${cs.length} cases`);
    const failures: string[] = [];
    const codes = new Map<number, number>();
    for (let i = 0; i < cs.length; i += 6) {
      const batch = cs.slice(i, i + 6);
      const results = await Promise.all(batch.map((c) => runPlugin(c.bin ?? OURS, c.conf, {
        command: 'ADD', containerId: `fz${i}`, netns: nsPath(podNs), ifname: 'eth0', ...c.opts,
      })));
      results.forEach((r, k) => {
        const bad = isCniError(r);
        if (bad) failures.push(`${batch[k]!.label}: ${bad} (exit ${r.exitCode}) ${r.stdout.slice(0, 200)} ${r.stderr.slice(0, 200)}`);
        else codes.set(Number(r.json!['code']), (codes.get(Number(r.json!['code'])) ?? 0) + 1);
      });
    }
    expect(failures).toEqual([]);
    // the spread of codes (not a fixed list: each case must merely be an error)
    expect([...codes.keys()].every((c) => [1, 2, 3, 4, 5, 6, 7, 11, 50, 51, 999].includes(c))).toBe(true);
    // no leak
    const dir = join(dataDir, network);
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^\d/.test(f)) : [];
    expect(files).toEqual([]);
    expect((await ipJson(['link', 'show'], podNs)).map((l) => l['ifname'])).toEqual(['lo']);
    expect(await ipJson(['link', 'show', 'master', bridge])).toEqual([]);
    const veths = (await ipJson(['link', 'show', 'type', 'veth'])).filter((l) => String(l['ifalias'] ?? '').startsWith(`ipvsnet:${network}/`));
    expect(veths).toEqual([]);
  }, 600_000);
});
