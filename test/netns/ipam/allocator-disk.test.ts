// The allocator over the real disk store in a temporary directory: the store locks its files with
// flock(2) through the native addon (build/native), so these run in the netns lane.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocate } from '../../../src/ipam/allocator.ts';
import { loadIpamConfig } from '../../../src/ipam/config.ts';
import { DiskStore } from '../../../src/ipam/store.ts';
import { ipamAdd, ipamDel, ipamGc, ipamStatus } from '../../../src/ipam/index.ts';
import { formatIP, parseIP } from '../../../src/net/index.ts';
import { CniError } from '../../../src/cniproto/errors.ts';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ivu-ipam-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const conf = (dataDir: string, ipam: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  ({ cniVersion: '1.0.0', name: 'net1', type: 'x', ipam: { type: 'ipvsnet-ipam', dataDir, ...ipam }, ...extra });

describe('allocation over the disk store', () => {
  it('round-robin: a released address is not reused before the pool wraps', () => {
    const d = tmp();
    const c = conf(d, { subnet: '10.9.0.0/29' });
    const got: string[] = [];
    for (let i = 0; i < 3; i++) got.push(ipamAdd({ conf: c, containerId: `c${i}`, ifname: 'eth0' }).ips![0]!.address);
    expect(got).toEqual(['10.9.0.2/29', '10.9.0.3/29', '10.9.0.4/29']);
    ipamDel({ conf: c, containerId: 'c0', ifname: 'eth0' });
    expect(ipamAdd({ conf: c, containerId: 'c3', ifname: 'eth0' }).ips![0]!.address).toBe('10.9.0.5/29');
    expect(readFileSync(join(d, 'net1', '10.9.0.5'), 'utf8')).toBe('c3\r\neth0');
    expect(readFileSync(join(d, 'net1', 'last_reserved_ip.0'), 'utf8')).toBe('10.9.0.5');
  });

  it('exhaustion: ADD fails with code 11 and STATUS with code 50; duplicates are refused; old one-line files are released by ID', () => {
    const d = tmp();
    const c = conf(d, { subnet: '10.9.0.0/30' }); // one usable address besides the gateway
    ipamAdd({ conf: c, containerId: 'a', ifname: 'eth0' });
    expect(() => ipamAdd({ conf: c, containerId: 'b', ifname: 'eth0' })).toThrow(expect.objectContaining({ code: 11 }));
    expect(() => ipamStatus(c)).toThrow(expect.objectContaining({ code: 50 }));
    expect(() => ipamAdd({ conf: c, containerId: 'a', ifname: 'eth0' })).toThrow(/duplicate allocation/);
    ipamDel({ conf: c, containerId: 'a', ifname: 'eth0' });
    writeFileSync(join(d, 'net1', '10.9.0.2'), 'oldstyle');
    ipamDel({ conf: c, containerId: 'oldstyle', ifname: 'eth0' });
    expect(readdirSync(join(d, 'net1')).filter((f) => f.startsWith('10.'))).toEqual([]);
    expect(() => ipamStatus(c)).not.toThrow();
  });

  it('GC keeps valid attachments only', () => {
    const d = tmp();
    const c = conf(d, { subnet: '10.9.0.0/24' });
    for (const id of ['a', 'b', 'c']) ipamAdd({ conf: c, containerId: id, ifname: 'eth0' });
    ipamAdd({ conf: c, containerId: 'a', ifname: 'net1' });
    const freed = ipamGc({ ...c, 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }, { containerID: 'c', ifname: 'eth0' }] });
    expect(freed.sort()).toEqual(['10.9.0.3', '10.9.0.5']);
    expect(() => ipamGc({ ...c, 'cni.dev/valid-attachments': 'x' })).toThrow(CniError);
  });

  it('a requested address must be in the set, not the gateway, and free', () => {
    const d = tmp();
    const c = conf(d, { subnet: '10.9.0.0/24' });
    const store = new DiskStore('net1', d);
    const cfg = loadIpamConfig(c, undefined);
    expect(() => allocate(store, cfg.ranges[0]!, 0, 'x', 'eth0', parseIP('10.9.0.1'))).toThrow(/gateway/);
    expect(() => allocate(store, cfg.ranges[0]!, 0, 'x', 'eth0', parseIP('10.8.0.1'))).toThrow(/not in range set/);
    expect(formatIP(allocate(store, cfg.ranges[0]!, 0, 'x', 'eth0', parseIP('10.9.0.50')).ip)).toBe('10.9.0.50');
    expect(() => allocate(store, cfg.ranges[0]!, 0, 'y', 'eth0', parseIP('10.9.0.50'))).toThrow(/not available/);
    store.close();
  });
});
