// CNI result types (the 1.x shape is the internal form) and conversion
// between spec versions 0.3.0, 0.3.1, 0.4.0, 1.0.0 and 1.1.0.
import { CniError, ErrDecodingFailure, ErrIncompatibleCNIVersion } from './errors.ts';
import { parseCIDR, parseIP } from '../net/index.ts';
import { isObj } from './validate.ts';
import type { Obj } from './validate.ts';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const LATEST_VERSION = '1.1.0';

export interface Interface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

export interface IPConfig {
  address: string;
  gateway?: string;
  interface?: number;
}

export interface Route {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface DNS {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface Result {
  cniVersion: string;
  interfaces?: Interface[];
  ips?: IPConfig[];
  routes?: Route[];
  dns?: DNS;
}

/** Compare dotted versions: <0, 0, >0. Non-numeric parts compare as 0. */
export function cmpVersion(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number(x) || 0);
  const pb = b.split('.').map((x) => Number(x) || 0);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function isSupported(v: string): boolean {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

export function requireSupported(v: unknown): string {
  if (v === undefined || v === null || v === '') {
    throw new CniError(ErrIncompatibleCNIVersion, `incompatible CNI versions; config is "0.1.0" (cniVersion missing), plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`);
  }
  if (typeof v !== 'string') throw new CniError(ErrDecodingFailure, `cniVersion must be a string`);
  if (!isSupported(v)) {
    throw new CniError(ErrIncompatibleCNIVersion, `incompatible CNI versions; config is "${v}", plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`, v);
  }
  return v;
}

function familyOfAddress(cidr: string): '4' | '6' {
  const c = parseCIDR(cidr);
  return c?.ip.family === 6 ? '6' : '4';
}

/** Render an internal (1.x-shaped) result in the requested spec version. */
export function convertResult(r: Result, version: string): Obj {
  const v = version;
  const is11 = cmpVersion(v, '1.1.0') >= 0;
  const is1 = cmpVersion(v, '1.0.0') >= 0;
  const out: Obj = { cniVersion: v };
  if (r.interfaces && r.interfaces.length) {
    out['interfaces'] = r.interfaces.map((i) => {
      const o: Obj = { name: i.name };
      if (i.mac) o['mac'] = i.mac;
      if (is11 && i.mtu) o['mtu'] = i.mtu;
      if (i.sandbox) o['sandbox'] = i.sandbox;
      if (is11 && i.socketPath) o['socketPath'] = i.socketPath;
      if (is11 && i.pciID) o['pciID'] = i.pciID;
      return o;
    });
  }
  if (r.ips && r.ips.length) {
    out['ips'] = r.ips.map((ip) => {
      const o: Obj = {};
      if (!is1) o['version'] = familyOfAddress(ip.address);
      if (ip.interface !== undefined) o['interface'] = ip.interface;
      o['address'] = ip.address;
      if (ip.gateway) o['gateway'] = ip.gateway;
      return o;
    });
  }
  if (r.routes && r.routes.length) {
    out['routes'] = r.routes.map((rt) => {
      const o: Obj = { dst: rt.dst };
      if (rt.gw) o['gw'] = rt.gw;
      if (is11) {
        for (const k of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const) if (rt[k] !== undefined) o[k] = rt[k];
      }
      return o;
    });
  }
  if (r.dns && Object.keys(r.dns).length) out['dns'] = r.dns;
  else out['dns'] = {};
  return out;
}

function strOrUndef(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Parse a result of any supported version (e.g. prevResult) into the internal form. */
export function parseResult(raw: unknown, field = 'prevResult'): Result {
  if (!isObj(raw)) throw new CniError(ErrDecodingFailure, `${field} must be an object`);
  const version = typeof raw['cniVersion'] === 'string' ? raw['cniVersion'] : '';
  const res: Result = { cniVersion: version };
  const ifs = raw['interfaces'];
  if (ifs !== undefined && ifs !== null) {
    if (!Array.isArray(ifs)) throw new CniError(ErrDecodingFailure, `${field}.interfaces must be an array`);
    res.interfaces = ifs.map((x, i) => {
      if (!isObj(x) || typeof x['name'] !== 'string') throw new CniError(ErrDecodingFailure, `${field}.interfaces[${i}].name must be a string`);
      const o: Interface = { name: x['name'] };
      const mac = strOrUndef(x['mac']);
      if (mac) o.mac = mac;
      const sb = strOrUndef(x['sandbox']);
      if (sb) o.sandbox = sb;
      if (typeof x['mtu'] === 'number') o.mtu = x['mtu'];
      const sp = strOrUndef(x['socketPath']);
      if (sp) o.socketPath = sp;
      const pci = strOrUndef(x['pciID']);
      if (pci) o.pciID = pci;
      return o;
    });
  }
  const ips = raw['ips'];
  if (ips !== undefined && ips !== null) {
    if (!Array.isArray(ips)) throw new CniError(ErrDecodingFailure, `${field}.ips must be an array`);
    res.ips = ips.map((x, i) => {
      if (!isObj(x) || typeof x['address'] !== 'string' || !parseCIDR(x['address'])) {
        throw new CniError(ErrDecodingFailure, `${field}.ips[${i}].address must be an address in CIDR form`);
      }
      const o: IPConfig = { address: x['address'] };
      const gw = x['gateway'];
      if (gw !== undefined && gw !== null && gw !== '') {
        if (typeof gw !== 'string' || !parseIP(gw)) throw new CniError(ErrDecodingFailure, `${field}.ips[${i}].gateway must be an IP address`);
        o.gateway = gw;
      }
      if (x['interface'] !== undefined && x['interface'] !== null) {
        if (typeof x['interface'] !== 'number' || !Number.isInteger(x['interface']) || x['interface'] < 0) {
          throw new CniError(ErrDecodingFailure, `${field}.ips[${i}].interface must be a non-negative integer`);
        }
        o.interface = x['interface'];
      }
      return o;
    });
  }
  const routes = raw['routes'];
  if (routes !== undefined && routes !== null) res.routes = parseRoutes(routes, `${field}.routes`, ErrDecodingFailure);
  const dns = raw['dns'];
  if (isObj(dns)) res.dns = parseDns(dns);
  return res;
}

export function parseRoutes(routes: unknown, field: string, code: number): Route[] {
  if (!Array.isArray(routes)) throw new CniError(code, `${field} must be an array`);
  return routes.map((x, i) => {
    if (!isObj(x) || typeof x['dst'] !== 'string' || !parseCIDR(x['dst'])) {
      throw new CniError(code, `${field}[${i}].dst must be a CIDR`);
    }
    const o: Route = { dst: x['dst'] };
    const gw = x['gw'];
    if (gw !== undefined && gw !== null && gw !== '') {
      if (typeof gw !== 'string' || !parseIP(gw)) throw new CniError(code, `${field}[${i}].gw must be an IP address`);
      if (parseIP(gw)!.family !== parseCIDR(x['dst'])!.ip.family) throw new CniError(code, `${field}[${i}].gw is not of the same family as dst`);
      o.gw = gw;
    }
    for (const k of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const) {
      const v = x[k];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new CniError(code, `${field}[${i}].${k} must be a non-negative integer`);
      o[k] = v;
    }
    return o;
  });
}

export function parseDns(d: Obj): DNS {
  const o: DNS = {};
  const list = (k: string) => (Array.isArray(d[k]) ? (d[k] as unknown[]).filter((x): x is string => typeof x === 'string') : undefined);
  const ns = list('nameservers');
  if (ns && ns.length) o.nameservers = ns;
  if (typeof d['domain'] === 'string' && d['domain']) o.domain = d['domain'];
  const s = list('search');
  if (s && s.length) o.search = s;
  const op = list('options');
  if (op && op.length) o.options = op;
  return o;
}
