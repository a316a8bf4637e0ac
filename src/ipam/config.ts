// host-local-compatible IPAM configuration: `ranges` (range sets) or the
// legacy single `subnet`, with rangeStart/rangeEnd/gateway, `routes`,
// `dataDir`, `resolvConf`; requested IPs from CNI_ARGS IP=, args.cni.ips and
// runtimeConfig.ips; runtimeConfig.ipRanges. Semantics follow the reference
// host-local (defaults: gateway = network+1, rangeStart = network+1,
// rangeEnd = last address, minus one for IPv4).
import { CniError, ErrInvalidNetworkConfig } from '../cniproto/errors.ts';
import { parseRoutes } from '../cniproto/types.ts';
import type { Route } from '../cniproto/types.ts';
import { isObj } from '../cniproto/validate.ts';
import type { Obj } from '../cniproto/validate.ts';
import { bits, cmp, contains, eq, formatIP, lastAddress, network, next, parseCIDR, parseIP } from '../net/index.ts';
import type { CIDR, IP } from '../net/index.ts';
import { checkConfigPath } from './paths.ts';

export const DEFAULT_DATA_DIR = '/var/lib/cni/networks';
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export interface Range {
  subnet: CIDR;
  rangeStart: IP;
  rangeEnd: IP;
  gateway: IP;
}

export type RangeSet = Range[];

export interface IpamConfig {
  /** network name (the store's directory under dataDir) */
  name: string;
  type: string;
  ranges: RangeSet[];
  routes: Route[];
  dataDir: string;
  resolvConf: string | undefined;
  /** requested IPs (CNI_ARGS IP=, args.cni.ips, runtimeConfig.ips) */
  requestedIPs: IP[];
}

function bad(msg: string): never {
  throw new CniError(ErrInvalidNetworkConfig, msg);
}

export function rangeContains(r: Range, ip: IP): boolean {
  return contains(r.subnet, ip) && cmp(ip, r.rangeStart) >= 0 && cmp(ip, r.rangeEnd) <= 0;
}

export function rangeSetContains(s: RangeSet, ip: IP): Range | undefined {
  return s.find((r) => rangeContains(r, ip));
}

export function rangeString(r: Range): string {
  return `${formatIP(r.rangeStart)}-${formatIP(r.rangeEnd)}`;
}

export function rangeSetString(s: RangeSet): string {
  return s.map(rangeString).join(',');
}

function rangesOverlap(a: Range, b: Range): boolean {
  if (a.subnet.ip.family !== b.subnet.ip.family) return false;
  return rangeContains(a, b.rangeStart) || rangeContains(a, b.rangeEnd) || rangeContains(b, a.rangeStart) || rangeContains(b, a.rangeEnd);
}

function parseIPField(v: unknown, field: string): IP | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') bad(`${field} must be a string`);
  const ip = parseIP(v);
  if (!ip) bad(`${field}: ${JSON.stringify(v).slice(0, 60)} is not an IP address`);
  return ip;
}

export function parseRange(raw: unknown, field: string): Range {
  if (!isObj(raw)) bad(`${field} must be an object`);
  const s = raw['subnet'];
  if (typeof s !== 'string') bad(`${field}.subnet must be a CIDR string`);
  const subnet = parseCIDR(s);
  if (!subnet) bad(`${field}.subnet: ${JSON.stringify(s).slice(0, 60)} is not a CIDR`);
  const b = bits(subnet.ip.family);
  if (subnet.prefix > b - 2) bad(`${field}.subnet: network ${s} too small to allocate from`);
  const net = network(subnet);
  if (!eq(net, subnet.ip)) bad(`${field}.subnet: network has host bits set; for a prefix length of ${subnet.prefix} the network address is ${formatIP(net)}`);
  const inNet = (ip: IP | undefined, f: string) => {
    if (ip && !contains(subnet, ip)) bad(`${field}.${f} ${formatIP(ip)} not in network ${s}`);
    return ip;
  };
  const gateway = inNet(parseIPField(raw['gateway'], `${field}.gateway`), 'gateway') ?? next(net);
  const rangeStart = inNet(parseIPField(raw['rangeStart'], `${field}.rangeStart`), 'rangeStart') ?? next(net);
  let rangeEnd = inNet(parseIPField(raw['rangeEnd'], `${field}.rangeEnd`), 'rangeEnd');
  if (!rangeEnd) {
    const last = lastAddress(subnet);
    rangeEnd = subnet.ip.family === 4 ? { family: 4, value: last.value - 1n } : last;
  }
  if (cmp(rangeStart, rangeEnd) > 0) bad(`${field}: rangeStart ${formatIP(rangeStart)} is after rangeEnd ${formatIP(rangeEnd)}`);
  return { subnet, rangeStart, rangeEnd, gateway };
}

function parseRangeSet(raw: unknown, field: string): RangeSet {
  if (!Array.isArray(raw)) bad(`${field} must be an array of ranges`);
  if (raw.length === 0) bad(`${field}: empty range set`);
  const set = raw.map((r, i) => parseRange(r, `${field}[${i}]`));
  const fam = set[0]!.subnet.ip.family;
  if (set.some((r) => r.subnet.ip.family !== fam)) bad(`${field}: mixed address families`);
  for (let i = 0; i < set.length; i++) {
    for (let j = i + 1; j < set.length; j++) {
      if (rangesOverlap(set[i]!, set[j]!)) bad(`${field}: subnets ${rangeString(set[i]!)} and ${rangeString(set[j]!)} overlap`);
    }
  }
  return set;
}

function parseRequested(v: unknown, field: string): IP {
  if (typeof v !== 'string') bad(`${field} must be an IP address string`);
  const s = v.includes('/') ? v.slice(0, v.indexOf('/')) : v;
  const ip = parseIP(s);
  if (!ip) bad(`${field}: cannot understand ip ${JSON.stringify(v).slice(0, 60)}`);
  return ip;
}

/**
 * Parse the IPAM part of a network configuration. `envIP` is CNI_ARGS' IP=
 * value (comma-separated list allowed).
 */
export function loadIpamConfig(conf: Obj, envIP: string | undefined): IpamConfig {
  const ipam = conf['ipam'];
  if (!isObj(ipam)) bad(`IPAM config missing 'ipam' key`);
  const name = conf['name'];
  if (typeof name !== 'string' || !NETWORK_NAME.test(name)) {
    bad(`name: network name ${JSON.stringify(name ?? null).slice(0, 60)} must start with a letter or digit and hold only letters, digits, '_', '.' and '-'`);
  }
  const type = typeof ipam['type'] === 'string' ? ipam['type'] : '';
  const requestedIPs: IP[] = [];
  if (envIP !== undefined && envIP !== '') {
    for (const s of envIP.split(',')) requestedIPs.push(parseRequested(s.trim(), 'CNI_ARGS IP'));
  }
  const args = conf['args'];
  if (isObj(args) && isObj(args['cni']) && args['cni']['ips'] !== undefined) {
    const ips = args['cni']['ips'];
    if (!Array.isArray(ips)) bad('args.cni.ips must be an array');
    ips.forEach((v, i) => requestedIPs.push(parseRequested(v, `args.cni.ips[${i}]`)));
  }
  const rc = conf['runtimeConfig'];
  let rcRanges: RangeSet[] = [];
  if (isObj(rc)) {
    if (rc['ips'] !== undefined && rc['ips'] !== null) {
      if (!Array.isArray(rc['ips'])) bad('runtimeConfig.ips must be an array');
      rc['ips'].forEach((v, i) => requestedIPs.push(parseRequested(v, `runtimeConfig.ips[${i}]`)));
    }
    if (rc['ipRanges'] !== undefined && rc['ipRanges'] !== null) {
      if (!Array.isArray(rc['ipRanges'])) bad('runtimeConfig.ipRanges must be an array of range sets');
      rcRanges = rc['ipRanges'].map((s, i) => parseRangeSet(s, `runtimeConfig.ipRanges[${i}]`));
    }
  }
  let ranges: RangeSet[] = [];
  if (ipam['subnet'] !== undefined && ipam['subnet'] !== null && ipam['subnet'] !== '') {
    ranges.push([parseRange(ipam, 'ipam')]);
  }
  if (ipam['ranges'] !== undefined && ipam['ranges'] !== null) {
    if (!Array.isArray(ipam['ranges'])) bad('ipam.ranges must be an array of range sets');
    ipam['ranges'].forEach((s, i) => ranges.push(parseRangeSet(s, `ipam.ranges[${i}]`)));
  }
  ranges = [...rcRanges, ...ranges];
  if (ranges.length === 0) bad('ipam: no IP ranges specified');
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      if (ranges[i]!.some((a) => ranges[j]!.some((b) => rangesOverlap(a, b)))) bad(`ipam: range set ${i} overlaps with ${j}`);
    }
  }
  const routes = ipam['routes'] === undefined || ipam['routes'] === null ? [] : parseRoutes(ipam['routes'], 'ipam.routes', ErrInvalidNetworkConfig);
  const dataDir = ipam['dataDir'];
  if (dataDir !== undefined && dataDir !== null && dataDir !== '' && typeof dataDir !== 'string') bad('ipam.dataDir must be an absolute path');
  if (typeof dataDir === 'string' && dataDir !== '') checkConfigPath(dataDir, 'ipam.dataDir');
  const resolvConf = ipam['resolvConf'];
  if (resolvConf !== undefined && resolvConf !== null && typeof resolvConf !== 'string') bad('ipam.resolvConf must be a path string');
  if (typeof resolvConf === 'string' && resolvConf !== '') checkConfigPath(resolvConf, 'ipam.resolvConf');
  return {
    name,
    type,
    ranges,
    routes,
    dataDir: typeof dataDir === 'string' && dataDir ? checkConfigPath(dataDir, 'ipam.dataDir') : DEFAULT_DATA_DIR,
    resolvConf: typeof resolvConf === 'string' && resolvConf ? resolvConf : undefined,
    requestedIPs,
  };
}
