// One contract for every `Ipvs` implementation: the kernel's behaviour as GenlIpvs sees it
// (net/netfilter/ipvs/ip_vs_ctl.c). Run against MemoryIpvs in the unit lane
// (test/unit/kernel/ipvs-memory.test.ts) and against GenlIpvs on a real kernel in the VM lane
// (test/vm/ipvs/contract.test.ts), so the fake the reconciler's unit tests use cannot drift from
// the kernel unnoticed. Services live in 10.123.200.0/24 and fd00:123::c8:0/112, dests in 10.124.200.0/24;
// `cleanup` (given by the caller) removes them between tests.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Ipvs, IpvsDest, IpvsService } from '../../src/kernel/ipvs/types.ts';

export interface IpvsContractTarget {
  /** A fresh handle (the fake: a fresh instance; the kernel: a new socket). */
  open: () => Promise<Ipvs>;
  /** Remove every service in the contract's ranges (the VM lane uses ipvsadm, not the adapter under test). */
  cleanup: (ipvs: Ipvs) => Promise<void>;
}

const IN_RANGE = /^(10\.123\.200\.|fd00:123::c8:)/;

function svc(over: Partial<IpvsService> = {}): IpvsService {
  return { family: 4, protocol: 'TCP', address: '10.123.200.1', port: 80, scheduler: 'rr', flags: 0, timeout: 0, netmask: 32, ...over };
}

function dest(over: Partial<IpvsDest> = {}): IpvsDest {
  return { address: '10.124.200.1', port: 8080, weight: 1, forward: 'masq', upperThreshold: 0, lowerThreshold: 0, ...over };
}

async function ours(ipvs: Ipvs): Promise<string[]> {
  return (await ipvs.listServices()).filter((s) => IN_RANGE.test(s.address)).map((s) => `${s.protocol}/${s.address}:${s.port} ${s.scheduler} f${s.flags}`).sort();
}

export function ipvsContract(name: string, target: IpvsContractTarget): void {
  describe(`Ipvs contract: ${name}`, () => {
    let ipvs: Ipvs;
    beforeEach(async () => { ipvs = await target.open(); await target.cleanup(ipvs); });
    afterEach(async () => { await target.cleanup(ipvs); ipvs.close(); });

    it('a service added is listed with IP_VS_SVC_F_HASHED set, got by id, edited in place and deleted', async () => {
      const s = svc();
      await ipvs.addService(s);
      expect(await ours(ipvs)).toEqual(['TCP/10.123.200.1:80 rr f2']);
      expect(await ipvs.getService(s)).toMatchObject({ address: '10.123.200.1', port: 80, scheduler: 'rr' });
      await ipvs.addDest(s, dest());
      await ipvs.updateService({ ...s, scheduler: 'wrr', flags: 0x1, timeout: 60 });
      expect(await ours(ipvs)).toEqual(['TCP/10.123.200.1:80 wrr f3']);
      expect((await ipvs.listDests(s)).map((d) => `${d.address}:${d.port}`)).toEqual(['10.124.200.1:8080']);
      await ipvs.deleteService(s);
      expect(await ours(ipvs)).toEqual([]);
    });

    it('IPv6 and UDP/SCTP services are keyed by family, protocol, address and port', async () => {
      await ipvs.addService(svc());
      await ipvs.addService(svc({ protocol: 'UDP' }));
      await ipvs.addService(svc({ protocol: 'SCTP' }));
      await ipvs.addService(svc({ family: 6, address: 'fd00:123::c8:1', netmask: 128 }));
      expect(await ours(ipvs)).toEqual(['SCTP/10.123.200.1:80 rr f2', 'TCP/10.123.200.1:80 rr f2', 'TCP/fd00:123::c8:1:80 rr f2', 'UDP/10.123.200.1:80 rr f2']);
    });

    it('dests are added, edited (weight, forwarding) and deleted one by one', async () => {
      const s = svc();
      await ipvs.addService(s);
      await ipvs.addDest(s, dest());
      await ipvs.addDest(s, dest({ address: '10.124.200.2', weight: 3 }));
      await ipvs.updateDest(s, dest({ weight: 0 }));
      const list = (): Promise<string[]> => ipvs.listDests(s).then((ds) => ds.map((d) => `${d.address}:${d.port} w${d.weight} ${d.forward}`).sort());
      expect(await list()).toEqual(['10.124.200.1:8080 w0 masq', '10.124.200.2:8080 w3 masq']);
      await ipvs.deleteDest(s, { address: '10.124.200.1', port: 8080 });
      expect(await list()).toEqual(['10.124.200.2:8080 w3 masq']);
      const [d] = await ipvs.listDests(s);
      expect(d).toMatchObject({ activeConns: 0, inactiveConns: 0 });
    });

    it('a missing service: getService gives undefined and a dump of its dests is empty (no error)', async () => {
      const s = svc({ address: '10.123.200.9' });
      expect(await ipvs.getService(s)).toBeUndefined();
      expect(await ipvs.listDests(s)).toEqual([]);
    });

    it('ESRCH for every change to a missing service', async () => {
      const s = svc({ address: '10.123.200.9' });
      await expect(ipvs.updateService(s)).rejects.toMatchObject({ code: 'ESRCH', op: 'SET_SERVICE' });
      await expect(ipvs.deleteService(s)).rejects.toMatchObject({ code: 'ESRCH', op: 'DEL_SERVICE' });
      await expect(ipvs.addDest(s, dest())).rejects.toMatchObject({ code: 'ESRCH', op: 'NEW_DEST' });
      await expect(ipvs.updateDest(s, dest())).rejects.toMatchObject({ code: 'ESRCH', op: 'SET_DEST' });
      await expect(ipvs.deleteDest(s, dest())).rejects.toMatchObject({ code: 'ESRCH', op: 'DEL_DEST' });
    });

    it('ENOENT for a missing dest of an existing service; EEXIST for duplicates', async () => {
      const s = svc();
      await ipvs.addService(s);
      await expect(ipvs.addService(s)).rejects.toMatchObject({ code: 'EEXIST', op: 'NEW_SERVICE' });
      await expect(ipvs.updateDest(s, dest())).rejects.toMatchObject({ code: 'ENOENT', op: 'SET_DEST' });
      await expect(ipvs.deleteDest(s, dest())).rejects.toMatchObject({ code: 'ENOENT', op: 'DEL_DEST' });
      await ipvs.addDest(s, dest());
      await expect(ipvs.addDest(s, dest())).rejects.toMatchObject({ code: 'EEXIST', op: 'NEW_DEST' });
    });

    it('an unknown scheduler is ENOENT and creates nothing; a bad weight is EINVAL', async () => {
      const s = svc({ scheduler: 'nosuch' });
      await expect(ipvs.addService(s)).rejects.toMatchObject({ code: 'ENOENT', op: 'NEW_SERVICE' });
      expect(await ours(ipvs)).toEqual([]);
      await ipvs.addService(svc());
      await expect(ipvs.updateService(svc({ scheduler: 'nosuch' }))).rejects.toMatchObject({ code: 'ENOENT', op: 'SET_SERVICE' });
      await expect(ipvs.addDest(svc(), dest({ weight: -1 }))).rejects.toMatchObject({ code: 'EINVAL', op: 'NEW_DEST' });
      expect(await ours(ipvs)).toEqual(['TCP/10.123.200.1:80 rr f2']);
    });

    it('timeouts set are read back', async () => {
      const before = await ipvs.getTimeouts();
      try {
        await ipvs.setTimeouts({ tcp: 901, udp: 301 });
        expect(await ipvs.getTimeouts()).toEqual({ ...before, tcp: 901, udp: 301 });
      } finally {
        await ipvs.setTimeouts(before);
      }
    });
  });
}
