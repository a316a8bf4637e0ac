// The netlink transport (src/kernel/netlink/socket.ts over the ipvsnet addon's socket calls) against
// the host kernel in a fresh netns: requests and dumps act on the namespace the socket was opened
// in, the kernel's refusals arrive as NlError with their errno name, a dump many times larger than
// the receive buffer arrives whole, and every wait ends: a reply that never comes and a dump that does
// not end within the timeout are ETIMEDOUT. Generic netlink family resolution and the IPVS adapter's
// error for a kernel without IPVS (the host has none; the VM lane tests the adapter itself).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { MIN_RECV_BUFFER, NlError, NlSocket, NlTransportError } from '../../../src/kernel/netlink/socket.ts';
import { resolveGenlFamily } from '../../../src/kernel/netlink/genl.ts';
import { AF_INET, GENL_ID_CTRL, NETLINK_GENERIC, NETLINK_ROUTE, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL } from '../../../src/kernel/netlink/constants.ts';
import { attr, parseAttrs, str } from '../../../src/kernel/netlink/attrs.ts';
import { ifaddrmsg, ifinfomsg, parseLink } from '../../../src/kernel/rtnl/codec.ts';
import { IFA_LOCAL, IFLA_IFNAME, RTM_GETADDR, RTM_GETLINK, RTM_NEWADDR, RTM_NEWLINK } from '../../../src/kernel/rtnl/constants.ts';
import { openIpvs } from '../../../src/kernel/ipvs/genl.ts';
import { IpvsError } from '../../../src/kernel/ipvs/errors.ts';
import { createNetns, deleteNetns, inNs } from './netns.ts';

let ns = '';
const socks: NlSocket[] = [];
beforeEach(async () => {
  ns = await createNetns('ipvsnet-nl');
  await inNs(ns, 'ip', 'link', 'add', 'brnl0', 'type', 'bridge');
});
afterEach(async () => {
  for (const s of socks.splice(0)) s.close();
  await deleteNetns(ns);
});

function open(protocol = NETLINK_ROUTE, opts: ConstructorParameters<typeof NlSocket>[1] = {}): NlSocket {
  const s = NlSocket.open(protocol, `/run/netns/${ns}`, opts);
  socks.push(s);
  return s;
}

const getLink = (name: string): Uint8Array[] => [ifinfomsg({}), str(IFLA_IFNAME, name)];

async function caught(p: Promise<unknown> | (() => unknown)): Promise<Error & { code?: string; errno?: number }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
}

describe('netlink transport (host kernel, fresh netns)', () => {
  it('acts on the namespace it was opened in: a dump lists exactly its links, a request gets its reply and ACK', async () => {
    const sock = open();
    const links = (await sock.request(RTM_GETLINK, [ifinfomsg({})], NLM_F_DUMP)).filter((m) => m.type === RTM_NEWLINK).map((m) => parseLink(m.data).name);
    expect(links.sort()).toEqual(['brnl0', 'lo']);
    const [one, ...rest] = await sock.request(RTM_GETLINK, getLink('brnl0'));
    expect(rest).toEqual([]);
    expect(parseLink(one!.data)).toMatchObject({ name: 'brnl0', kind: 'bridge' });
  });

  it('the kernel\'s refusals are NlError with errno and name: EEXIST, ENODEV, ENOENT (generic netlink)', async () => {
    const sock = open();
    const index = parseLink((await sock.request(RTM_GETLINK, getLink('brnl0')))[0]!.data).index;
    const add = () => sock.request(RTM_NEWADDR, [ifaddrmsg(AF_INET, 24, 0, 0, index), attr(IFA_LOCAL, Buffer.from([10, 9, 8, 7]))], NLM_F_CREATE | NLM_F_EXCL);
    expect(await add()).toEqual([]);
    expect(await caught(add())).toMatchObject({ constructor: NlError, code: 'EEXIST', errno: 17 });
    expect(await inNs(ns, 'ip', '-o', 'addr', 'show', 'dev', 'brnl0')).toContain('10.9.8.7/24');
    expect(await caught(sock.request(RTM_GETLINK, getLink('nosuch0')))).toMatchObject({ constructor: NlError, code: 'ENODEV' });
    const genl = open(NETLINK_GENERIC);
    expect(await resolveGenlFamily(genl, 'nlctrl')).toBe(GENL_ID_CTRL);
    expect(await caught(resolveGenlFamily(genl, 'ipvsnet-nope'))).toMatchObject({ constructor: NlError, code: 'ENOENT' });
    // the socket goes on after refusals
    expect((await sock.request(RTM_GETLINK, getLink('lo'))).length).toBe(1);
  });

  it('the IPVS adapter on a kernel without IPVS: ENOENT with what to load', async () => {
    expect(existsSync('/proc/net/ip_vs'), 'this test needs a host kernel without IPVS').toBe(false);
    const err = await caught(openIpvs({ netns: `/run/netns/${ns}` }));
    expect(err).toBeInstanceOf(IpvsError);
    expect(err).toMatchObject({ code: 'ENOENT', op: 'RESOLVE_FAMILY', object: 'IPVS' });
    expect(err.message).toMatch(/modprobe ip_vs/);
  });

  it('a dump many times larger than the receive buffer arrives whole', async () => {
    const N = 6000;
    const lines = Array.from({ length: N }, (_, i) => `addr add 10.77.${i >> 8}.${i & 0xff}/32 dev brnl0`);
    await execa('ip', ['-n', ns, '-batch', '-'], { input: lines.join('\n') + '\n' });
    const sock = open(NETLINK_ROUTE, { recvBufferSize: 1 }); // raised to MIN_RECV_BUFFER, which the kernel doubles
    const seen = new Set<string>();
    let bytes = 0;
    await sock.dump(RTM_GETADDR, [ifaddrmsg(AF_INET, 0, 0, 0, 0)], {
      onMessage: (type, data) => {
        bytes += data.length + 16;
        if (type !== RTM_NEWADDR) return;
        const local = parseAttrs(data.subarray(8), true).get(IFA_LOCAL);
        if (local) seen.add([...local].join('.'));
      },
    });
    expect(seen.size).toBe(N);
    expect(seen.has('10.77.23.111')).toBe(true);
    expect(bytes).toBeGreaterThan(3 * 2 * MIN_RECV_BUFFER);
    // and the socket takes the next request
    expect((await sock.request(RTM_GETLINK, getLink('brnl0'))).length).toBe(1);
  });

  it('a reply that never comes is ETIMEDOUT after the timeout; late replies to it are dropped, the socket goes on', async () => {
    const sock = open();
    // RTM_GETLINK without NLM_F_ACK: the kernel sends the link and nothing more
    const seq = sock.send(RTM_GETLINK, getLink('lo'), 0);
    const t0 = Date.now();
    const err = await caught(() => sock.receive(seq, { timeoutMs: 300 }));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(299);
    expect(err).toMatchObject({ constructor: NlTransportError, code: 'ETIMEDOUT' });
    expect(err.message).toMatch(/no reply within 300 ms/);
    // a reply left queued for an earlier request is skipped by its sequence number
    sock.send(RTM_GETLINK, getLink('lo'), 0);
    const msgs = await sock.request(RTM_GETLINK, getLink('brnl0'));
    expect(msgs.map((m) => parseLink(m.data).name)).toEqual(['brnl0']);
  });

  it('a dump that does not end within the timeout is ETIMEDOUT and retires the socket; a throwing decoder ends its dump', async () => {
    const lines = Array.from({ length: 500 }, (_, i) => `addr add 10.78.${i >> 8}.${i & 0xff}/32 dev brnl0`);
    await execa('ip', ['-n', ns, '-batch', '-'], { input: lines.join('\n') + '\n' });
    const slow = open();
    let got = 0;
    const err = await caught(slow.dump(RTM_GETADDR, [ifaddrmsg(AF_INET, 0, 0, 0, 0)], {
      timeoutMs: 200,
      onMessage: () => {
        got++;
        const until = Date.now() + 20;
        while (Date.now() < until); // a decoder slower than the timeout allows
      },
    }));
    expect(err).toMatchObject({ constructor: NlTransportError, code: 'ETIMEDOUT' });
    expect(err.message).toMatch(/dump did not end within 200 ms/);
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThan(500);
    const after = await caught(slow.request(RTM_GETLINK, getLink('lo')));
    expect(after).toMatchObject({ constructor: NlTransportError, code: 'ETIMEDOUT' });
    expect(after.message).toMatch(/unusable after an earlier failure/);

    const picky = open();
    const boom = await caught(picky.dump(RTM_GETADDR, [ifaddrmsg(AF_INET, 0, 0, 0, 0)], { onMessage: () => { throw new Error('decoder says no'); } }));
    expect(boom.message).toBe('decoder says no');
    expect(await caught(picky.request(RTM_GETLINK, getLink('lo')))).toMatchObject({ code: 'EABANDONED' });
  });

  it('a closed socket and a missing namespace fail with a code, nothing hangs', async () => {
    const sock = open();
    sock.close();
    expect(await caught(sock.request(RTM_GETLINK, getLink('lo')))).toMatchObject({ constructor: NlTransportError, code: 'ECLOSED' });
    sock.close(); // twice is harmless
    expect(await caught(() => NlSocket.open(NETLINK_ROUTE, '/run/netns/ipvsnet-nl-missing'))).toMatchObject({ code: 'ENOENT' });
  });
});
