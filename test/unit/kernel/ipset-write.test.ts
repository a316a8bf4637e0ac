// The ipset write path's pure parts: the request encoder (bytes as ip_set_core.c parses them), the
// sizes sets are created with, the diff's structured lines (rebuild of a set too small for its
// members), and the choice between netlink and `ipset restore`. The writes themselves run against
// the kernel in test/netns/kernel/ipset-write.test.ts.
import { describe, expect, it } from 'vitest';
import { BatchWriter, writeCreate, writeElement } from '../../../src/kernel/ipset/encode.ts';
import { chooseWritePath } from '../../../src/kernel/ipset/path.ts';
import { diffSets } from '../../../src/kernel/ipset/restore.ts';
import type { PayloadLine } from '../../../src/kernel/ipset/restore.ts';
import { createLineOf, createOptions, maxelemOf, optionsOfCreateLine } from '../../../src/kernel/ipset/sizing.ts';
import { ipsetErrorCode, ipsetReason } from '../../../src/kernel/ipset/errors.ts';
import type { KernelSet } from '../../../src/kernel/ipset/types.ts';

/** Attributes of a buffer: [type with flags, payload]. */
function tlvs(b: Buffer): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  for (let off = 0; off + 4 <= b.length;) {
    const len = b.readUInt16LE(off);
    out.push([b.readUInt16LE(off + 2), b.subarray(off + 4, off + len)]);
    off += (len + 3) & ~3;
  }
  return out;
}

describe('ipset request encoder', () => {
  it('writes an ADD of hash:ip,port,ip as the kernel parses it: nested DATA, nested addresses and a port in network order, the ACK asked on the last message only', () => {
    const w = new BatchWriter(64);
    expect(writeElement(w, 7, 7, 'add', 'KUBE-LOOP-BACK', 'hash:ip,port,ip', 4, '10.244.0.5,tcp:8080,10.244.0.5')).toBe(true);
    expect(writeElement(w, 8, 7, 'del', 'KUBE-LOOP-BACK', 'hash:ip,port,ip', 4, '10.244.0.6,udp:53,10.244.0.6')).toBe(true);
    const buf = w.finish();
    const len1 = buf.readUInt32LE(0);
    expect(buf.readUInt16LE(4)).toBe((6 << 8) | 9); // NFNL_SUBSYS_IPSET, IPSET_CMD_ADD
    expect(buf.readUInt16LE(6)).toBe(0x1); // NLM_F_REQUEST only
    expect(buf.readUInt32LE(8)).toBe(7);
    const second = buf.subarray((len1 + 3) & ~3);
    expect(second.readUInt16LE(4)).toBe((6 << 8) | 10); // IPSET_CMD_DEL
    expect(second.readUInt16LE(6)).toBe(0x1 | 0x4); // NLM_F_REQUEST | NLM_F_ACK
    const top = tlvs(buf.subarray(20, len1));
    expect(top.map(([t]) => t)).toEqual([1, 2, 7 | 0x8000]); // PROTOCOL, SETNAME, DATA (nested)
    expect(top[0]![1][0]).toBe(7);
    expect(top[1]![1].toString()).toBe('KUBE-LOOP-BACK\0');
    const data = tlvs(top[2]![1]);
    expect(data.map(([t]) => t)).toEqual([1 | 0x8000, 4 | 0x4000, 7, 20 | 0x8000]); // IP, PORT (net order), PROTO, IP2
    expect(tlvs(data[0]![1])).toEqual([[1 | 0x4000, Buffer.from([10, 244, 0, 5])]]);
    expect(data[1]![1].readUInt16BE(0)).toBe(8080);
    expect(data[2]![1][0]).toBe(6);
  });

  it('writes IPv6 addresses, a prefix as CIDR2, bitmap ports, and CREATE options in network order', () => {
    const w = new BatchWriter(16);
    expect(writeElement(w, 1, 7, 'add', 'S', 'hash:ip,port,net', 6, 'fd00::1,sctp:80,fd00:50::/64')).toBe(true);
    const data = tlvs(tlvs(w.finish().subarray(20))[2]![1]);
    expect(tlvs(data[0]![1])[0]).toEqual([2 | 0x4000, Buffer.from('fd000000000000000000000000000001', 'hex')]);
    expect(data.find(([t]) => t === 21)![1][0]).toBe(64); // CIDR2
    const b = new BatchWriter();
    expect(writeElement(b, 1, 7, 'add', 'P', 'bitmap:port', 4, '30080')).toBe(true);
    expect(tlvs(tlvs(b.finish().subarray(20))[2]![1])).toEqual([[4 | 0x4000, Buffer.from([0x75, 0x80])]]);
    const c = new BatchWriter();
    writeCreate(c, 1, 7, 'BIG', 3, { ...createOptions('hash:ip,port', 6, 100_000), comment: true });
    const top = tlvs(c.finish().subarray(20));
    expect(top.map(([t]) => t)).toEqual([1, 2, 3, 4, 5, 7 | 0x8000]); // PROTOCOL, SETNAME, TYPENAME, REVISION, FAMILY, DATA
    expect(top[4]![1][0]).toBe(10); // NFPROTO_IPV6
    const opts = new Map(tlvs(top[5]![1]).map(([t, v]) => [t, v]));
    expect(opts.get(18 | 0x4000)!.readUInt32BE(0)).toBe(32768); // hashsize
    expect(opts.get(19 | 0x4000)!.readUInt32BE(0)).toBe(262144); // maxelem
    expect(opts.get(8 | 0x4000)!.readUInt32BE(0)).toBe(1 << 4); // CADT flags: with comment
  });

  it('refuses what it cannot encode (nothing is left in the batch): ICMP names, a foreign protocol name, a wrong family, a bad prefix', () => {
    const w = new BatchWriter();
    for (const [type, family, m] of [
      ['hash:ip,port', 4, '10.0.0.1,icmp:echo-request'], ['hash:ip,port', 4, '10.0.0.1,gre:0'], ['hash:ip', 4, 'fd00::1'],
      ['hash:ip', 6, '10.0.0.1'], ['hash:net', 4, '10.0.0.0/33'], ['hash:ip,port', 4, '10.0.0.1'], ['bitmap:port', 4, '70000'], ['hash:mac', 4, '00:11:22:33:44:55'],
    ] as const) expect(writeElement(w, 1, 7, 'add', 'S', type, family, m), `${type} ${m}`).toBe(false);
    expect(w.count).toBe(0);
    expect(w.length).toBe(0);
    expect(writeElement(w, 2, 7, 'add', 'S', 'hash:ip,port', 4, '10.0.0.1,47:0')).toBe(true); // a protocol by number
  });

  it('names type-specific kernel errors by the set type, in the ipset tool\'s words', () => {
    expect(ipsetErrorCode(4352, 'hash:ip,port')).toBe('IPSET_ERR_HASH_FULL');
    expect(ipsetErrorCode(4352, 'bitmap:port')).toBe('IPSET_ERR_BITMAP_RANGE');
    expect(ipsetReason('IPSET_ERR_HASH_FULL', 'add')).toBe('Hash is full, cannot add more elements (IPSET_ERR_HASH_FULL)');
    expect(ipsetReason('IPSET_ERR_EXIST', 'del')).toBe("Element cannot be deleted from the set: it's not added (IPSET_ERR_EXIST)");
    expect(ipsetReason('EPERM', 'add')).toBe('EPERM');
  });
});

describe('ipset sizes', () => {
  it('keeps kube-proxy\'s hashsize 1024 maxelem 65536 while the members fit with room, and sizes a bigger set for twice its members', () => {
    expect(createLineOf('S', createOptions('hash:ip,port', 4, 49_152))).toBe('create S hash:ip,port family inet hashsize 1024 maxelem 65536');
    expect(createLineOf('S', createOptions('hash:ip,port,ip', 6, 250_000))).toBe('create S hash:ip,port,ip family inet6 hashsize 65536 maxelem 524288');
    expect(createLineOf('P', createOptions('bitmap:port', 4, 10))).toBe('create P bitmap:port range 0-65535');
    expect(maxelemOf('create S hash:ip family inet hashsize 1024 maxelem 70000 bucketsize 12')).toBe(70000);
    expect(maxelemOf('create S hash:ip family inet')).toBe(65536);
    expect(maxelemOf('create P bitmap:port range 0-65535')).toBeUndefined();
    expect(optionsOfCreateLine('create S hash:ip,port family inet hashsize 2048 maxelem 70000 timeout 3600 counters comment forceadd bucketsize 12 initval 0x1')).toEqual(
      { hashsize: 2048, maxelem: 70000, timeout: 3600, bucketsize: 12, counters: true, comment: true, forceadd: true });
  });

  it('a kernel set whose maxelem is below its planned members is rebuilt bigger under a temporary name and swapped in; options it had are kept', () => {
    const have = new Map<string, KernelSet>([['S', { name: 'S', type: 'hash:ip', family: 4, createLine: 'create S hash:ip family inet hashsize 1024 maxelem 2 timeout 600', members: new Set(['10.0.0.1']) }]]);
    const d = diffSets([{ name: 'S', type: 'hash:ip', family: 4, members: ['10.0.0.1', '10.0.0.2', '10.0.0.3'] }], have);
    const create = d.lines.find((l) => l.op === 'create' && l.create)!;
    expect(create.text).toMatch(/^create IPVSNET-TMP-\S+ hash:ip family inet hashsize 1024 maxelem 65536 timeout 600$/);
    expect(d.lines.filter((l) => l.op === 'add').every((l) => l.target === create.target && l.type === 'hash:ip' && l.family === 4)).toBe(true);
    expect(d.lines.find((l) => l.op === 'swap')).toMatchObject({ target: create.target, with: 'S' });
    expect(d).toMatchObject({ swaps: 1, adds: 3, dels: 0 });
  });
});

describe('netlink or ipset restore', () => {
  const line = (op: PayloadLine['op'], extra: Partial<PayloadLine> = {}): PayloadLine => ({ text: op, set: 'S', op, ...extra });
  it('writes over netlink unless told to use restore or above restoreAbove lines; nothing when only existing sets are ensured', () => {
    const delta = [line('create'), line('add', { member: '10.0.0.1', type: 'hash:ip', family: 4 })];
    expect(chooseWritePath([line('create')], { writer: 'netlink', restoreAbove: Infinity })).toBe('none');
    expect(chooseWritePath(delta, { writer: 'netlink', restoreAbove: Infinity })).toBe('netlink');
    expect(chooseWritePath(delta, { writer: 'netlink', restoreAbove: 1 })).toBe('restore');
    expect(chooseWritePath(delta, { writer: 'restore', restoreAbove: Infinity })).toBe('restore');
  });
});
