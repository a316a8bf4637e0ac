// src/net's canonical text is the text the kernel's read-back yields: addresses written in any
// form are bound over rtnetlink, dumped back as bytes and formatted by src/net, and printed by
// iproute2 (glibc inet_ntop). Includes IPv4-mapped addresses, which the kernel holds as IPv6.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execa } from 'execa';
import { join } from 'node:path';
import { createNetns, deleteNetns, inNs } from './netns.ts';
import { canonicalIP, formatIP, type IP } from '../../../src/net/index.ts';

const NODE = join(import.meta.dirname, '../../../node_modules/.bin/node');
const OPS = join(import.meta.dirname, 'fixtures/link-ops.ts');

/** IPv6 values with many zero groups, in a non-canonical input form (upper case, full length). */
function sampleV6(n: number): string[] {
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 0xffff }));
  const values = fc.sample(fc.array(group, { minLength: 8, maxLength: 8 }), { numRuns: n, seed: 5952 });
  return values
    .filter((g) => g[0] !== 0 || g.slice(1, 6).some((x) => x !== 0)) // not ::/80 (::1, IPv4-compatible: see below)
    .filter((g) => g[0]! < 0xff00) // multicast cannot be bound
    .map((g) => g.map((x) => x.toString(16).padStart(4, '0').toUpperCase()).join(':'));
}

let ns = '';
beforeAll(async () => {
  ns = await createNetns('ipvsnet-addrtext');
  await inNs(ns, 'ip', 'link', 'add', 'svc0', 'type', 'bridge');
});
afterAll(async () => { await deleteNetns(ns); });

describe('address text: plan = kernel read-back = iproute2', () => {
  it('bound in any form, read back as bytes, formats to canonicalIP of the input, as `ip` prints it', async () => {
    const mapped = ['::FFFF:10.96.0.1', '0:0:0:0:0:ffff:c0a8:1', '::ffff:0.0.0.1'];
    const inputs = [...sampleV6(60), ...mapped, '2001:DB8:0:0:1:0:0:1', '10.96.0.7'];
    const steps = inputs.map((a) => ({ op: 'bindAddress', args: ['svc0', a] }));
    const r = await execa('ip', ['netns', 'exec', ns, NODE, OPS, JSON.stringify([...steps, { op: 'listAddresses', args: ['svc0'] }])], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Array<{ ok: boolean; value?: unknown; error?: string }>;
    expect(out.filter((s) => !s.ok)).toEqual([]);
    const want = [...new Set(inputs.map((a) => canonicalIP(a)!))].sort();
    expect(out.at(-1)!.value).toEqual(want);
    expect(want).toContain('::ffff:10.96.0.1');
    expect(want).toContain('::ffff:192.168.0.1');

    const shown = await inNs(ns, 'ip', '-o', 'addr', 'show', 'dev', 'svc0');
    const printed = [...shown.matchAll(/inet6? (\S+)\/\d+ /g)].map((m) => m[1]!).filter((a) => !a.startsWith('fe80:')).sort();
    expect(printed).toEqual(want);
  });

  it('the one difference from glibc, stated in src/net/ip.ts: IPv4-compatible ::a.b.c.d is written in hex', async () => {
    const ip: IP = { family: 6, value: 0x0a600001n };
    expect(formatIP(ip)).toBe('::a60:1');
    await inNs(ns, 'ip', 'addr', 'add', '::a60:1/128', 'dev', 'svc0', 'nodad');
    expect(await inNs(ns, 'ip', '-o', 'addr', 'show', 'dev', 'svc0')).toContain('inet6 ::10.96.0.1/128');
  });
});
