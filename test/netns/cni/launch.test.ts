// The standalone plugins' loader (src/cni/launch.ts, build/cni/ipvsnet-cni-launch.cjs): it runs a
// CommonJS bundle as `node BUNDLE MODE` would, and keeps a V8 code cache per CNI command only where it
// is safe. Each case runs the loader as a process on a small bundle of its own (the real plugin's
// runs are in spec/thick/fuzz, through the launchers).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execa } from 'execa';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, prerequisites } from './helpers.ts';

const node = join(ROOT, 'node_modules/.bin/node');
const loader = join(BIN, 'ipvsnet-cni-launch.cjs');
let dir = '';
let bundle = '';

// prints what a plugin sees (argv, its module's names) and exits as CNI_COMMAND asks
const BUNDLE = `"use strict";
const f = () => JSON.stringify({ argv: process.argv.slice(1), file: __filename, dir: __dirname, req: typeof require('node:path').join });
process.stdout.write(f() + '\\n');
process.exit(process.env.CNI_COMMAND === 'ADD' ? 1 : 0);
`;

async function run(cmd: string, cache: string, direct = false, flags: string[] = []) {
  const env = { CNI_COMMAND: cmd, IPVSNET_COMPILE_CACHE: cache, PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
  const r = await execa(node, [...flags, ...(direct ? [bundle, 'bridge', 'x'] : [loader, bundle, 'bridge', 'x'])], { env, extendEnv: false, reject: false });
  return { code: r.exitCode, out: String(r.stdout), err: String(r.stderr) };
}

const files = (d: string) => { try { return readdirSync(d); } catch { return []; } };

describe('standalone loader (ipvsnet-cni-launch.cjs)', () => {
  beforeAll(async () => {
    await prerequisites();
    dir = mkdtempSync(join(tmpdir(), 'ivlaunch-'));
    bundle = join(dir, 'bundle.cjs');
    writeFileSync(bundle, BUNDLE);
  }, 300_000); // builds the plugins (scripts/setup.d/10-native.sh) when they are stale
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('runs the bundle as `node BUNDLE MODE` does: same argv, __filename, __dirname, require, stdout and exit code', async () => {
    const cache = join(dir, 'c1');
    for (const cmd of ['VERSION', 'ADD']) {
      const viaLoader = await run(cmd, cache);
      const direct = await run(cmd, cache, true);
      expect(viaLoader).toEqual(direct);
    }
    expect(JSON.parse((await run('DEL', cache)).out)).toEqual({ argv: [bundle, 'bridge', 'x'], file: bundle, dir, req: 'function' });
  });

  it('writes one cache file per command after a success only, 0600 in a 0700 directory, and uses it on the next run', async () => {
    const cache = join(dir, 'c2');
    expect((await run('ADD', cache)).code).toBe(1);
    expect(files(cache)).toEqual([]);
    expect((await run('DEL', cache)).code).toBe(0);
    const written = files(cache);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^DEL-[0-9a-f]{8}-\d+-\d+-\d+-v\d+\.\d+\.\d+-\w+\.v8cache$/);
    expect(statSync(cache).mode & 0o777).toBe(0o700);
    expect(statSync(join(cache, written[0]!)).mode & 0o777).toBe(0o600);
    const mtime = statSync(join(cache, written[0]!)).mtimeMs;
    expect((await run('DEL', cache)).code).toBe(0);
    // accepted, so not written again
    expect(statSync(join(cache, written[0]!)).mtimeMs).toBe(mtime);
    // an unknown command gets no cache
    await run('NOPE', cache);
    expect(files(cache)).toEqual(written);
  });

  it('replaces a command\'s file when the bundle changes', async () => {
    const cache = join(dir, 'c3');
    await run('GC', cache);
    const before = files(cache);
    const t = new Date(Date.now() + 5000);
    utimesSync(bundle, t, t);
    await run('GC', cache);
    const after = files(cache);
    expect(after).toHaveLength(1);
    expect(after).not.toEqual(before);
  });

  it('keeps one file per set of Node flags, so runs with other flags do not rewrite each other\'s', async () => {
    const cache = join(dir, 'c5');
    const flags = ['--no-rehash-snapshot', '--jitless'];
    expect((await run('DEL', cache)).code).toBe(0);
    expect((await run('DEL', cache, false, flags)).code).toBe(0);
    const both = files(cache).sort();
    expect(both).toHaveLength(2);
    const mtimes = both.map((f) => statSync(join(cache, f)).mtimeMs);
    // each accepted by a run with its own flags, neither written again nor removed
    expect((await run('DEL', cache)).code).toBe(0);
    expect((await run('DEL', cache, false, flags)).code).toBe(0);
    expect(files(cache).sort()).toEqual(both);
    expect(both.map((f) => statSync(join(cache, f)).mtimeMs)).toEqual(mtimes);
  });

  it('uses no cache in a directory others may write to, and still runs the plugin', async () => {
    const cache = join(dir, 'c4');
    await run('STATUS', cache);
    for (const f of files(cache)) rmSync(join(cache, f));
    chmodSync(cache, 0o777);
    const r = await run('STATUS', cache);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).argv).toEqual([bundle, 'bridge', 'x']);
    expect(files(cache)).toEqual([]);
  });
});
