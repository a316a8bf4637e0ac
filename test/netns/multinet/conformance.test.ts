// The delegate runner's libcni/Multus semantics, against fake delegates (shell scripts that record
// argv, env and stdin and answer as told): ADD order and rollback at every position, DEL in
// reverse past failures, CHECK, GC, cniVersion conversion for every version pair, name and
// cniVersion injection, prevResult chaining, capability args, CNI_ARGS, timeouts, an output bound,
// the delegate's error code, a crash between delegates, the agent down. (netns lane: it starts
// processes; the fakes touch no kernel state.)
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { runSkel } from '../../../src/cniproto/skel.ts';
import { multinetPlugin } from '../../../src/multinet/plugin.ts';
import type { PodContext } from '../../../src/multinet/plugin.ts';
import { SUPPORTED_VERSIONS } from '../../../src/cniproto/types.ts';
import { Fakes } from './fakes.ts';

const ROOT = new URL('../../..', import.meta.url).pathname;
let work = '';
let fakes: Fakes;
let cacheDir = '';

const nad = (name: string, config: object) => ({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name, namespace: 'default' }, spec: { config: JSON.stringify(config) } });
const NADS = {
  'default/fb': nad('fb', { cniVersion: '1.0.0', plugins: [{ type: 'fb1', capabilities: { ips: true } }, { type: 'fb2', capabilities: { portMappings: true, mac: true } }] }),
  'default/fc': nad('fc', { cniVersion: '0.4.0', type: 'fc', capabilities: { mac: true } }),
};

function top(over: Record<string, unknown> = {}, defVersion = '1.1.0') {
  return {
    cniVersion: '1.1.0', name: 'multi', type: 'ipvsnet-multinet', cacheDir, binDirs: [fakes.dir],
    capabilities: { portMappings: true },
    delegates: [{ cniVersion: defVersion, name: 'podnet', plugins: [{ type: 'fa', capabilities: { portMappings: true } }] }],
    ...over,
  };
}

function ctxFor(annotation: string, nads: Record<string, unknown> = NADS): PodContext {
  return { pod: { namespace: 'default', name: 'p1', uid: 'uid-1', annotations: { 'k8s.v1.cni.cncf.io/networks': annotation } }, nads };
}

const ARGS = 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p1;K8S_POD_INFRA_CONTAINER_ID=c1;K8S_POD_UID=uid-1';
function env(command: string, id = 'c1') {
  return { CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: '/var/run/netns/fake-not-used', CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent', CNI_ARGS: ARGS };
}

async function call(command: string, conf: object, context?: PodContext, id = 'c1') {
  const out = await runSkel(multinetPlugin(context ? { context } : {}), env(command, id), JSON.stringify(conf));
  return { ...out, json: out.stdout ? (JSON.parse(out.stdout) as Record<string, unknown>) : undefined };
}

const cacheFiles = () => (existsSync(cacheDir) ? readdirSync(cacheDir).filter((n) => n.endsWith('.json')) : []);

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the netns lane runs as root');
  work = mkdtempSync(join(tmpdir(), 'ivt-mn-'));
  fakes = new Fakes(join(work, 'bin'), ['fa', 'fb1', 'fb2', 'fc']);
  cacheDir = join(work, 'cache');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeEach(() => {
  fakes.reset();
  rmSync(cacheDir, { recursive: true, force: true });
});

describe('ADD', () => {
  it('runs the default network, then each NAD in order, each plugin with libcni injection', async () => {
    // fb2 (the list's last plugin) answers what the pod asked for: the list's result must hold it
    fakes.behave('fb2', 'ADD', { out: { cniVersion: '1.0.0', interfaces: [{ name: 'net1', mac: '0a:0b:0c:0d:0e:0f', sandbox: '/x' }], ips: [{ address: '10.5.0.9/24', interface: 0 }] } });
    const r = await call('ADD', top({ runtimeConfig: { portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' }] } }),
      ctxFor(JSON.stringify([{ name: 'fb', ips: ['10.5.0.9/24'], mac: '0a:0b:0c:0d:0e:0f' }, { name: 'fc', interface: 'db0' }])));
    expect(r.exitCode, r.stdout).toBe(0);
    expect(fakes.trace()).toEqual(['fa ADD eth0', 'fb1 ADD net1', 'fb2 ADD net1', 'fc ADD db0']);
    const [fa, fb1, fb2, fc] = fakes.calls();
    // name and cniVersion injected into each plugin; runtimeConfig only with declared capabilities
    expect(fa!.conf).toEqual({ type: 'fa', capabilities: { portMappings: true }, cniVersion: '1.1.0', name: 'podnet', runtimeConfig: { portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' }] } });
    expect(fb1!.conf).toEqual({ type: 'fb1', capabilities: { ips: true }, cniVersion: '1.0.0', name: 'fb', runtimeConfig: { ips: ['10.5.0.9/24'] } });
    expect(fb2!.conf['runtimeConfig']).toEqual({ mac: '0a:0b:0c:0d:0e:0f' });
    // prevResult chained inside a conflist, not across networks and not into a single config
    expect(fb1!.conf['prevResult']).toBeUndefined();
    expect(fb2!.conf['prevResult']).toEqual(JSON.parse(readLast('fb1')));
    expect(fc!.conf['prevResult']).toBeUndefined();
    expect(fc!.conf).toMatchObject({ cniVersion: '0.4.0', name: 'fc', type: 'fc' });
    // a clean environment: CNI_* and PATH; CNI_ARGS from the runtime, plus IP/MAC with IgnoreUnknown
    expect(Object.keys(fa!.env).filter((k) => !['PWD', 'SHLVL', '_'].includes(k)).sort()).toEqual(['CNI_ARGS', 'CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_NETNS', 'CNI_PATH', 'PATH']);
    expect(fa!.env['CNI_ARGS']).toBe(ARGS);
    expect(fa!.env['CNI_PATH']).toBe(fakes.dir);
    expect(fb1!.env['CNI_ARGS']).toBe('K8S_POD_NAMESPACE=default;K8S_POD_NAME=p1;K8S_POD_INFRA_CONTAINER_ID=c1;K8S_POD_UID=uid-1;IgnoreUnknown=1;IP=10.5.0.9/24;MAC=0a:0b:0c:0d:0e:0f');
    // the caller gets the default network's result in its own version
    expect(r.json).toMatchObject({ cniVersion: '1.1.0', interfaces: [{ name: 'eth0' }], ips: [{ address: '10.99.0.7/24' }] });
    expect(cacheFiles()).toEqual(['c1-eth0.json']);
  });

  it.each([0, 1, 2, 3])('a failure of delegate #%i rolls back everything started, in reverse, and passes the code through', async (k) => {
    const order = ['fa', 'fb1', 'fb2', 'fc'];
    fakes.behave(order[k]!, 'ADD', { out: { cniVersion: '1.0.0', code: 142, msg: `boom in ${order[k]}` }, exit: 1 });
    const r = await call('ADD', top(), ctxFor('fb, fc'));
    expect(r.exitCode).toBe(1);
    expect(r.json).toMatchObject({ code: 142 });
    expect(String(r.json!['msg'])).toContain(`boom in ${order[k]}`);
    const adds = order.slice(0, k + 1).map((t) => `${t} ADD`);
    // DEL of every network started, the failing one included, in reverse; plugins of a list in reverse
    const lists: Record<string, string[]> = { fa: ['fa'], fb1: ['fb2', 'fb1'], fb2: ['fb2', 'fb1'], fc: ['fc'] };
    const nets = [...new Set(order.slice(0, k + 1).map((t) => (t.startsWith('fb') ? 'fb' : t)))].reverse();
    const dels = nets.flatMap((n) => lists[n === 'fb' ? 'fb1' : n]!).map((t) => `${t} DEL`);
    expect(fakes.trace().map((t) => t.split(' ').slice(0, 2).join(' '))).toEqual([...adds, ...dels]);
    expect(cacheFiles()).toEqual([]);
  });

  it('fails an attachment whose result lacks the requested ips or mac (code 7), rolling back', async () => {
    const r = await call('ADD', top(), ctxFor(JSON.stringify([{ name: 'fc', ips: ['10.5.0.9/24'] }])));
    expect(r.json).toMatchObject({ code: 7 });
    expect(String(r.json!['msg'])).toMatch(/NetworkAttachmentDefinition default\/fc \(net1\): requested address 10.5.0.9\/24 was not configured \(the result holds 10.99.0.7\/24\)/);
    expect(fakes.trace().slice(-2)).toEqual(['fc DEL net1', 'fa DEL eth0']);
    fakes.reset();
    const m = await call('ADD', top(), ctxFor(JSON.stringify([{ name: 'fc', mac: '0a:0b:0c:0d:0e:0f' }])));
    expect(String(m.json!['msg'])).toMatch(/requested MAC 0a:0b:0c:0d:0e:0f was not set on net1 \(it has 0a:00:00:00:00:01\)/);
    expect(cacheFiles()).toEqual([]);
  });

  it('gives a caller that is not a Kubernetes pod (no K8S_POD_* in CNI_ARGS) the default network alone', async () => {
    const out = await runSkel(multinetPlugin({}), { ...env('ADD'), CNI_ARGS: '' }, JSON.stringify(top({ defaultNetworks: ['fc'] })));
    expect(out.exitCode, out.stdout).toBe(0);
    expect(fakes.trace()).toEqual(['fa ADD eth0']);
    expect((await call('DEL', top())).exitCode).toBe(0);
  });

  it('answers code 11 and runs nothing when the agent could not look the pod up (agent down)', async () => {
    const r = await call('ADD', top(), undefined);
    expect(r.json).toMatchObject({ code: 11 });
    expect(fakes.calls()).toEqual([]);
    expect(cacheFiles()).toEqual([]);
    const p = await call('ADD', top(), { nads: {}, problem: { code: 11, msg: 'informers not synced' } });
    expect(p.json).toMatchObject({ code: 11, msg: 'informers not synced' });
  });

  it('kills a delegate at its deadline (code 11) and one that writes too much (code 999), rolling back', async () => {
    fakes.behave('fb2', 'ADD', { sleep: 60 });
    const t0 = Date.now();
    const r = await call('ADD', top({ execTimeoutMs: 3000 }), ctxFor('fb'));
    expect(r.json).toMatchObject({ code: 11 });
    expect(String(r.json!['msg'])).toMatch(/fb2 ADD did not finish within 3000 ms/);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(fakes.trace().slice(-3).map((t) => t.split(' ').slice(0, 2).join(' '))).toEqual(['fb2 DEL', 'fb1 DEL', 'fa DEL']);
    fakes.reset();
    fakes.behave('fc', 'ADD', { out: 'x'.repeat(10_000) });
    const big = await call('ADD', top({ maxOutputBytes: 4096 }), ctxFor('fc'));
    expect(big.json).toMatchObject({ code: 999 });
    expect(String(big.json!['msg'])).toMatch(/more than 4096 bytes/);
    expect(cacheFiles()).toEqual([]);
  });

  it('names a missing plugin (code 7) and a plugin answering garbage', async () => {
    const r = await call('ADD', top(), ctxFor('nx'), ); // NAD missing: code 11
    expect(r.json).toMatchObject({ code: 11 });
    const m = await call('ADD', top(), ctxFor('nx', { 'default/nx': nad('nx', { cniVersion: '1.0.0', type: 'not-installed' }) }));
    expect(m.json).toMatchObject({ code: 7 });
    expect(String(m.json!['msg'])).toMatch(/^NetworkAttachmentDefinition default\/nx \(net1\): spec.config.type: failed to find plugin "not-installed"/);
    fakes.reset();
    fakes.behave('fc', 'ADD', { out: 'not json at all' });
    const g = await call('ADD', top(), ctxFor('fc'));
    expect(g.json).toMatchObject({ code: 6 });
    expect(cacheFiles()).toEqual([]);
  });
});

function readLast(type: string): string {
  // the default ADD answer of a fake, as fb2 must have received it
  const c = fakes.calls().find((x) => x.type === type && x.command === 'ADD')!;
  return JSON.stringify({ cniVersion: c.conf['cniVersion'], interfaces: [{ name: c.env['CNI_IFNAME'], mac: '0a:00:00:00:00:01', sandbox: c.env['CNI_NETNS'] }], ips: [{ address: '10.99.0.7/24', gateway: '10.99.0.1', interface: 0 }], routes: [{ dst: '0.0.0.0/0', gw: '10.99.0.1' }], dns: {} });
}

describe('readinessIndicatorFile (P2)', () => {
  it('answers ADD with code 11 and STATUS with code 50 until the file exists, running nothing', async () => {
    const flag = join(work, 'ready');
    rmSync(flag, { force: true });
    const conf = top({ readinessIndicatorFile: flag });
    expect((await call('ADD', conf, ctxFor('fc'))).json).toMatchObject({ code: 11, msg: expect.stringMatching(/is not ready/) });
    expect((await call('STATUS', conf)).json).toMatchObject({ code: 50 });
    expect(fakes.calls()).toEqual([]);
    writeFileSync(flag, '');
    expect((await call('ADD', conf, ctxFor('fc'))).exitCode).toBe(0);
    expect((await call('STATUS', conf)).exitCode).toBe(0);
    expect(fakes.trace()).toEqual(['fa ADD eth0', 'fc ADD net1', 'fa STATUS -']);
    expect((await call('DEL', conf)).exitCode).toBe(0);
  });
});

describe('DEL, CHECK, GC', () => {
  it('DELs in reverse from the cache without the Pod or NADs, carrying on past failures', async () => {
    expect((await call('ADD', top(), ctxFor('fb, fc'))).exitCode).toBe(0);
    fakes.reset();
    fakes.behave('fb2', 'DEL', { out: { cniVersion: '1.0.0', code: 150, msg: 'fb2 cannot' }, exit: 1 });
    const d = await call('DEL', top(), undefined);
    expect(d.json).toMatchObject({ code: 150 });
    expect(fakes.trace()).toEqual(['fc DEL net2', 'fb2 DEL net1', 'fb1 DEL net1', 'fa DEL eth0']);
    // DEL gets the cached result as prevResult (0.4.0+), with the same runtimeConfig as ADD
    const fb1 = fakes.calls().find((c) => c.type === 'fb1')!;
    expect(fb1.conf['prevResult']).toMatchObject({ cniVersion: '1.0.0', ips: [{ address: '10.99.0.7/24' }] });
    expect(cacheFiles()).toEqual(['c1-eth0.json']); // kept for the retry
    fakes.reset();
    const again = await call('DEL', top(), undefined);
    expect(again.exitCode, again.stdout).toBe(0);
    expect(fakes.trace()).toEqual(['fb2 DEL net1', 'fb1 DEL net1']); // only the network that failed is left (a list DELs whole)
    expect(readdirSync(cacheDir)).toEqual([]); // cache and lock file gone
    fakes.reset();
    expect((await call('DEL', top(), undefined)).exitCode).toBe(0);
    expect(fakes.trace()).toEqual(['fa DEL eth0']); // no cache: the default network alone
  });

  it('CHECKs each network with its cached result, skipping 0.3.x lists and disableCheck', async () => {
    const nads = { ...NADS, 'default/old': nad('old', { cniVersion: '0.3.0', type: 'fc' }), 'default/off': nad('off', { cniVersion: '1.0.0', disableCheck: true, plugins: [{ type: 'fc' }] }) };
    expect((await call('ADD', top(), ctxFor('fb, old, off', nads))).exitCode).toBe(0);
    fakes.reset();
    const c = await call('CHECK', top(), undefined);
    expect(c.exitCode, c.stdout).toBe(0);
    expect(fakes.trace()).toEqual(['fa CHECK eth0', 'fb1 CHECK net1', 'fb2 CHECK net1']);
    expect(fakes.calls()[1]!.conf['prevResult']).toMatchObject({ ips: [{ address: '10.99.0.7/24' }] });
    fakes.behave('fb2', 'CHECK', { out: { cniVersion: '1.0.0', code: 160, msg: 'drift' }, exit: 1 });
    expect((await call('CHECK', top(), undefined)).json).toMatchObject({ code: 160 });
    expect((await call('CHECK', top(), undefined, 'unknown')).json).toMatchObject({ code: 3 });
  });

  it('GC DELs attachments the runtime no longer lists and GCs 1.1.0 networks with their valid attachments', async () => {
    const nads = { ...NADS, 'default/new': nad('new', { cniVersion: '1.1.0', type: 'fc' }) };
    expect((await call('ADD', top(), ctxFor('new', nads), 'keep1')).exitCode).toBe(0);
    expect((await call('ADD', top(), ctxFor('new', nads), 'gone1')).exitCode).toBe(0);
    fakes.reset();
    const g = await call('GC', { ...top(), 'cni.dev/valid-attachments': [{ containerID: 'keep1', ifname: 'eth0' }, { containerID: 'old-pod', ifname: 'eth0' }] }, undefined);
    expect(g.exitCode, g.stdout).toBe(0);
    expect(fakes.trace()).toEqual(['fc DEL net1', 'fa DEL eth0', 'fa GC -', 'fc GC -']);
    const gcs = fakes.calls().filter((c) => c.command === 'GC');
    expect(gcs[0]!.conf['cni.dev/valid-attachments']).toEqual([{ containerID: 'keep1', ifname: 'eth0' }, { containerID: 'old-pod', ifname: 'eth0' }]);
    expect(gcs[1]!.conf['cni.dev/valid-attachments']).toEqual([{ containerID: 'keep1', ifname: 'net1' }]);
    expect(cacheFiles()).toEqual(['keep1-eth0.json']);
  });
});

describe('cniVersion', () => {
  const pairs = SUPPORTED_VERSIONS.flatMap((d) => SUPPORTED_VERSIONS.map((c) => [d, c] as const));
  it.each(pairs)('a %s delegate answers a %s caller in the caller\'s version', async (dv, cv) => {
    const r = await call('ADD', top({ cniVersion: cv }, dv), ctxFor(''));
    expect(r.exitCode, r.stdout).toBe(0);
    expect(fakes.calls()[0]!.conf['cniVersion']).toBe(dv);
    expect(r.json!['cniVersion']).toBe(cv);
    const ip = (r.json!['ips'] as Array<Record<string, unknown>>)[0]!;
    expect(ip['address']).toBe('10.99.0.7/24');
    expect(ip['version']).toBe(cv.startsWith('0.') ? '4' : undefined);
    expect((await call('DEL', top({ cniVersion: cv }, dv), undefined)).exitCode).toBe(0);
  });
});

describe('a crash between delegates', () => {
  it('leaves a cache that DEL finishes: the delegate that was running is DELed too', async () => {
    fakes.behave('fb2', 'ADD', { sleep: 60 });
    const script = join(work, 'crash.ts');
    writeFileSync(script, `import { runSkel } from ${JSON.stringify(join(ROOT, 'src/cniproto/skel.ts'))};
import { multinetPlugin } from ${JSON.stringify(join(ROOT, 'src/multinet/plugin.ts'))};
const [env, conf, ctx] = JSON.parse(process.argv[2]);
await runSkel(multinetPlugin({ context: ctx }), env, JSON.stringify(conf));
`);
    const child = execa(join(ROOT, 'node_modules/.bin/node'), [script, JSON.stringify([env('ADD'), top(), ctxFor('fb, fc')])], { reject: false });
    for (let i = 0; i < 400 && !fakes.trace().includes('fb2 ADD net1'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(fakes.trace()).toEqual(['fa ADD eth0', 'fb1 ADD net1', 'fb2 ADD net1']);
    child.kill('SIGKILL');
    await child;
    const orphan = fakes.sleeper(); // the killed ADD's fake is still sleeping: end it by its pid
    try {
      if (orphan) process.kill(orphan, 'SIGKILL');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e; // it may have ended already (seen under load)
    }
    expect(cacheFiles()).toEqual(['c1-eth0.json']);
    fakes.reset();
    const d = await call('DEL', top(), undefined);
    expect(d.exitCode, d.stdout).toBe(0);
    expect(fakes.trace()).toEqual(['fb2 DEL net1', 'fb1 DEL net1', 'fa DEL eth0']);
    expect(readdirSync(cacheDir)).toEqual([]);
  });
});

describe('requests for one container are serialised, different containers are not', () => {
  it('a DEL waits for the ADD of its container; another container\'s ADD does not wait', async () => {
    fakes.behave('fb2', 'ADD', { sleep: 8 }); // long enough for c2's process to start and finish meanwhile, even under load
    const script = join(work, 'one.ts');
    writeFileSync(script, `import { runSkel } from ${JSON.stringify(join(ROOT, 'src/cniproto/skel.ts'))};
import { multinetPlugin } from ${JSON.stringify(join(ROOT, 'src/multinet/plugin.ts'))};
const [env, conf, ctx] = JSON.parse(process.argv[2]);
const out = await runSkel(multinetPlugin(ctx ? { context: ctx } : {}), env, JSON.stringify(conf));
process.stdout.write(JSON.stringify(out));
`);
    // each request in its own process, as the CNI server's workers run them
    const child = (e: Record<string, string>, ctx?: PodContext) => execa(join(ROOT, 'node_modules/.bin/node'), [script, JSON.stringify([e, top(), ctx ?? null])], { reject: false });
    const add1 = child(env('ADD', 'c1'), ctxFor('fb, fc'));
    for (let i = 0; i < 400 && !fakes.trace().includes('fb2 ADD net1'); i++) await new Promise((r) => setTimeout(r, 25));
    const del1 = child(env('DEL', 'c1'));
    const add2 = child(env('ADD', 'c2'), ctxFor(''));
    const [a1, d1, a2] = await Promise.all([add1, del1, add2]);
    for (const r of [a1, d1, a2]) expect(JSON.parse(String(r.stdout)).exitCode, String(r.stdout) + String(r.stderr)).toBe(0);
    const order = fakes.calls().map((c) => `${c.env['CNI_CONTAINERID']} ${c.type} ${c.command}`);
    // c2's ADD ran while c1's ADD was still in fb2; c1's DEL only after c1's ADD had finished
    expect(order.indexOf('c2 fa ADD')).toBeLessThan(order.indexOf('c1 fc ADD'));
    expect(order.indexOf('c1 fc DEL')).toBeGreaterThan(order.indexOf('c1 fc ADD'));
    expect(order.filter((o) => o.startsWith('c1 ') && o.endsWith(' DEL'))).toEqual(['c1 fc DEL', 'c1 fb2 DEL', 'c1 fb1 DEL', 'c1 fa DEL']);
    expect((await call('DEL', top(), undefined, 'c2')).exitCode).toBe(0);
    expect(readdirSync(cacheDir)).toEqual([]);
  });
});

describe('hostRoot (the DaemonSet runs delegates in the host\'s root)', () => {
  it('runs each delegate chrooted into hostRoot, finding it on the bin dirs inside it', async () => {
    // a root holding busybox (the fakes' shell and tools) and the fakes under /cni, which the host lacks
    const root = join(work, 'hostroot');
    mkdirSync(join(root, 'bin'), { recursive: true });
    copyFileSync('/usr/bin/busybox', join(root, 'bin', 'busybox'));
    chmodSync(join(root, 'bin', 'busybox'), 0o755);
    for (const a of ['sh', 'dirname', 'basename', 'ls', 'wc', 'printf', 'env', 'sort', 'cat', 'grep', 'cut', 'head', 'sleep']) symlinkSync('busybox', join(root, 'bin', a));
    expect(existsSync('/cni')).toBe(false);
    const inside = new Fakes(join(root, 'cni'), ['fa', 'fc']);
    const conf = top({ binDirs: ['/cni'], hostRoot: root });
    const r = await call('ADD', conf, ctxFor('fc'));
    expect(r.exitCode, r.stdout).toBe(0);
    expect(inside.trace()).toEqual(['fa ADD eth0', 'fc ADD net1']);
    const argv = readdirSync(join(root, 'cni', 'log')).find((f) => f.startsWith('0000-') && f.endsWith('-fa-ADD.argv'))!;
    expect(readFileSync(join(root, 'cni', 'log', argv), 'utf8').split('\n')[0]).toBe('/cni/fa');
    expect(inside.calls()[0]!.env['CNI_PATH']).toBe('/cni');
    expect((await call('DEL', conf, undefined)).exitCode).toBe(0);
    expect(inside.trace().slice(2)).toEqual(['fc DEL net1', 'fa DEL eth0']);
    expect(fakes.calls()).toEqual([]); // nothing ran from the host's copies
  });
});

