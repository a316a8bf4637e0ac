// IPAM operations over the host-local-compatible store. Synchronous (the store
// lock is a blocking flock), usable in-process from the bridge plugin or from
// the standalone `ipvsnet-ipam` plugin.
import { CniError, ErrInvalidNetworkConfig, ErrPluginNotAvailable, ErrUnknownContainer } from '../cniproto/errors.ts';
import type { DNS, IPConfig, Result } from '../cniproto/types.ts';
import type { Obj } from '../cniproto/validate.ts';
import { isObj } from '../cniproto/validate.ts';
import { allocate, freeCount } from './allocator.ts';
import { loadIpamConfig, rangeSetContains, rangeSetString } from './config.ts';
import type { IpamConfig } from './config.ts';
import { DiskStore } from './store.ts';
import { eq, formatIP, parseCIDR, parseIP } from '../net/index.ts';
import type { IP } from '../net/index.ts';
import { readConfigFile } from './paths.ts';

export interface IpamRequest {
  conf: Obj;
  containerId: string;
  ifname: string;
  /** CNI_ARGS IP= */
  envIP?: string | undefined;
}

export function parseResolvConf(path: string): DNS {
  const text = readConfigFile(path, 'ipam.resolvConf');
  const dns: DNS = {};
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (!line) continue;
    const [k, ...rest] = line.split(/\s+/);
    if (k === 'nameserver' && rest[0]) (dns.nameservers ??= []).push(rest[0]);
    else if (k === 'domain' && rest[0]) dns.domain = rest[0];
    else if (k === 'search') dns.search = rest;
    else if (k === 'options') (dns.options ??= []).push(...rest);
  }
  return dns;
}

function openStore(cfg: IpamConfig): DiskStore {
  return new DiskStore(cfg.name, cfg.dataDir);
}

export function ipamAdd(req: IpamRequest): Result {
  const cfg = loadIpamConfig(req.conf, req.envIP);
  const dns = cfg.resolvConf ? parseResolvConf(cfg.resolvConf) : undefined;
  const store = openStore(cfg);
  try {
    return store.withLock(() => {
      const pending: IP[] = [...cfg.requestedIPs];
      const ips: IPConfig[] = [];
      // what this ADD reserved: on failure exactly these go, never a reservation an earlier ADD of
      // the same container made (a repeated ADD fails on that one, and it stays live)
      const mine: IP[] = [];
      try {
        cfg.ranges.forEach((set, idx) => {
          const k = pending.findIndex((ip) => rangeSetContains(set, ip));
          const requested = k >= 0 ? pending.splice(k, 1)[0] : undefined;
          const got = allocate(store, set, idx, req.containerId, req.ifname, requested);
          mine.push(got.ip);
          ips.push({ address: `${formatIP(got.ip)}/${got.range.subnet.prefix}`, gateway: formatIP(got.range.gateway) });
        });
        if (pending.length) {
          throw new CniError(ErrInvalidNetworkConfig, `failed to allocate all requested IPs: ${pending.map(formatIP).join(' ')}`);
        }
      } catch (e) {
        for (const ip of mine) store.releaseIP(ip, req.containerId, req.ifname);
        throw e;
      }
      const r: Result = { cniVersion: '1.1.0', ips };
      if (cfg.routes.length) r.routes = cfg.routes;
      if (dns) r.dns = dns;
      return r;
    });
  } finally {
    store.close();
  }
}

export function ipamDel(req: IpamRequest): IP[] {
  const cfg = loadIpamConfig(req.conf, undefined);
  const store = openStore(cfg);
  try {
    return store.withLock(() => store.releaseByID(req.containerId, req.ifname));
  } finally {
    store.close();
  }
}

/**
 * Undo one ADD: release exactly the addresses that ADD returned, each only while it is still held by
 * containerId/ifname. An earlier live ADD of the same container keeps its reservations.
 */
export function ipamRelease(req: IpamRequest, addresses: string[]): void {
  const cfg = loadIpamConfig(req.conf, undefined);
  const store = openStore(cfg);
  try {
    store.withLock(() => {
      for (const a of addresses) {
        const ip = parseCIDR(a)?.ip ?? parseIP(a);
        if (ip) store.releaseIP(ip, req.containerId, req.ifname);
      }
    });
  } finally {
    store.close();
  }
}

export function ipamCheck(req: IpamRequest): void {
  const cfg = loadIpamConfig(req.conf, undefined);
  const store = openStore(cfg);
  try {
    const found = store.withLock(() => store.getByID(req.containerId, req.ifname));
    if (found.length === 0) throw new CniError(ErrUnknownContainer, `ipvsnet-ipam: failed to find address added by container ${req.containerId}`);
  } finally {
    store.close();
  }
}

export interface Attachment {
  containerID: string;
  ifname: string;
}

/** Parse `cni.dev/valid-attachments` (GC, spec 1.1). */
export function validAttachments(conf: Obj): Attachment[] {
  const raw = conf['cni.dev/valid-attachments'] ?? conf['cni.dev/attachments'];
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new CniError(ErrInvalidNetworkConfig, 'cni.dev/valid-attachments must be an array');
  return raw.map((a, i) => {
    if (!isObj(a) || typeof a['containerID'] !== 'string' || typeof a['ifname'] !== 'string') {
      throw new CniError(ErrInvalidNetworkConfig, `cni.dev/valid-attachments[${i}] must hold string containerID and ifname`);
    }
    return { containerID: a['containerID'], ifname: a['ifname'] };
  });
}

/** GC: free every reservation not held by a valid attachment. Returns the freed IPs. */
export function ipamGc(conf: Obj): string[] {
  const cfg = loadIpamConfig(conf, undefined);
  const keep = validAttachments(conf);
  const store = openStore(cfg);
  try {
    return store.withLock(() => {
      const freed: string[] = [];
      for (const a of store.allocations()) {
        const valid = keep.some((k) => k.containerID.trim() === a.containerId && (a.ifname === undefined || a.ifname === k.ifname));
        if (!valid) {
          store.releaseFile(a.file);
          freed.push(a.file);
        }
      }
      return freed;
    });
  } finally {
    store.close();
  }
}

/** STATUS: ready unless some range set has no free address (code 50). */
export function ipamStatus(conf: Obj): void {
  const cfg = loadIpamConfig(conf, undefined);
  const store = openStore(cfg);
  try {
    store.withLock(() => {
      cfg.ranges.forEach((set) => {
        if (freeCount(store, set, 1) === 0) {
          throw new CniError(ErrPluginNotAvailable, `ipvsnet-ipam: no free addresses left in range set ${rangeSetString(set)} of network ${cfg.name}`);
        }
      });
    });
  } finally {
    store.close();
  }
}

export { eq as ipEq };
