// The netlink transport's pure parts: request framing, datagram splitting, generic netlink family
// replies and error naming (src/kernel/netlink/{message,genl,errors}.ts). The transport itself runs
// against the host kernel in test/netns/kernel/netlink.test.ts.
import { describe, expect, it } from 'vitest';
import { encodeNlmsg, splitNlmsgs } from '../../../src/kernel/netlink/message.ts';
import { familyIdOf, genlHeader, genlPayload, getFamilyRequest } from '../../../src/kernel/netlink/genl.ts';
import { NlError, NlTransportError } from '../../../src/kernel/netlink/errors.ts';
import { attr, str, u16 } from '../../../src/kernel/netlink/attrs.ts';
import { CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, GENL_ID_CTRL, NLMSG_DONE, NLM_F_ACK, NLM_F_MULTI, NLM_F_REQUEST } from '../../../src/kernel/netlink/constants.ts';

/** A reply message as the kernel frames it: header with `len` (default: the true length) and padding to 4. */
function framed(type: number, seq: number, payload: Buffer, flags = 0, len = 16 + payload.length): Buffer {
  const b = Buffer.alloc((16 + payload.length + 3) & ~3);
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq, 8);
  b.writeUInt32LE(4242, 12);
  payload.copy(b, 16);
  return b;
}

describe('netlink message framing', () => {
  it('encodes the header (length, type, flags with NLM_F_REQUEST, seq, port 0) and the payload parts in order', () => {
    const m = encodeNlmsg(18, NLM_F_ACK, 0xfffffffe, [Buffer.from([1, 2, 3]), Buffer.from([4, 5])]);
    expect(m.length).toBe(21);
    expect(m.readUInt32LE(0)).toBe(21);
    expect(m.readUInt16LE(4)).toBe(18);
    expect(m.readUInt16LE(6)).toBe(NLM_F_ACK | NLM_F_REQUEST);
    expect(m.readUInt32LE(8)).toBe(0xfffffffe);
    expect(m.readUInt32LE(12)).toBe(0);
    expect([...m.subarray(16)]).toEqual([1, 2, 3, 4, 5]);
  });

  it('splits a datagram of several messages, skipping each one\'s alignment padding', () => {
    const dg = Buffer.concat([framed(16, 7, Buffer.from('abcde'), NLM_F_MULTI), framed(16, 7, Buffer.from('xy'), NLM_F_MULTI), framed(NLMSG_DONE, 7, Buffer.alloc(4))]);
    const msgs = splitNlmsgs(dg);
    expect(msgs.map((m) => [m.type, m.flags, m.seq, m.pid, m.data.toString('latin1')])).toEqual([
      [16, NLM_F_MULTI, 7, 4242, 'abcde'],
      [16, NLM_F_MULTI, 7, 4242, 'xy'],
      [NLMSG_DONE, 0, 7, 4242, '\0\0\0\0'],
    ]);
  });

  it('a length below the header size or past the datagram is EDECODE, not a loop or a crash', () => {
    for (const bad of [framed(16, 1, Buffer.alloc(4), 0, 8), framed(16, 1, Buffer.alloc(4), 0, 200), framed(16, 1, Buffer.alloc(4), 0, 0)]) {
      let err: unknown;
      try { splitNlmsgs(Buffer.concat([framed(16, 1, Buffer.alloc(8)), bad])); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(NlTransportError);
      expect((err as NlTransportError).code).toBe('EDECODE');
    }
    expect(splitNlmsgs(Buffer.alloc(0))).toEqual([]);
    expect(splitNlmsgs(Buffer.alloc(12))).toEqual([]); // shorter than a header: padding
  });
});

describe('generic netlink family resolution', () => {
  it('asks the controller by NUL-terminated name with CTRL_CMD_GETFAMILY version 1', () => {
    const [hdr, name] = getFamilyRequest('IPVS');
    expect([...hdr!]).toEqual([3, 1, 0, 0]);
    expect(name!.equals(str(CTRL_ATTR_FAMILY_NAME, 'IPVS'))).toBe(true);
  });

  it('reads the family id of the reply that names the family', () => {
    const reply = (n: string, id: number) => ({ type: GENL_ID_CTRL, flags: 0, data: Buffer.concat([genlHeader(1, 2), str(CTRL_ATTR_FAMILY_NAME, n), u16(CTRL_ATTR_FAMILY_ID, id)]) });
    expect(familyIdOf([reply('other', 30), reply('IPVS', 37)], 'IPVS')).toBe(37);
    expect(() => familyIdOf([reply('other', 30)], 'IPVS')).toThrow(/without a family id/);
    expect(() => familyIdOf([{ type: GENL_ID_CTRL, flags: 0, data: Buffer.concat([genlHeader(1, 2), str(CTRL_ATTR_FAMILY_NAME, 'IPVS'), attr(CTRL_ATTR_FAMILY_ID, Buffer.from([1]))]) }], 'IPVS')).toThrow(NlTransportError);
    expect(() => genlPayload({ type: 37, flags: 0, data: Buffer.alloc(3) })).toThrow(/no header/);
  });
});

describe('netlink errors', () => {
  it('names errno from either sign, a family\'s private numbers by its own names, and unknown numbers by value', () => {
    expect(new NlError(-17)).toMatchObject({ errno: 17, code: 'EEXIST', message: 'Request rejected: EEXIST' });
    expect(new NlError(2).code).toBe('ENOENT');
    expect(new NlError(-4097, (n) => (n === 4097 ? 'IPSET_ERR_PROTOCOL' : undefined)).code).toBe('IPSET_ERR_PROTOCOL');
    expect(new NlError(-4097).code).toBe('E4097');
  });
});
