// The base layer: IP addresses and CIDRs (ip.ts, cidr.ts), binary search over sorted strings
// (sorted.ts) and the vocabulary every layer shares (types.ts). It imports nothing of the project.

export type { Diagnostic, Family, Protocol } from './types.ts';
export type { IP } from './ip.ts';
export {
  add,
  bits,
  canonicalIP,
  cmp,
  eq,
  formatIP,
  formatIPBytes,
  fromBuffer,
  ipFamily,
  ipFromBigInt,
  ipSortKey,
  isIPv4Mapped,
  isLoopback,
  isUnspecified,
  joinHostPort,
  next,
  parseIP,
  requireIP,
  toBuffer,
} from './ip.ts';
export { lowerBound, sortedHas } from './sorted.ts';
export type { CheckedCIDR, CIDR, HostBits } from './cidr.ts';
export {
  canonicalNetwork,
  checkCIDR,
  cidrSize,
  cidrString,
  contains,
  formatCIDR,
  hasHostBits,
  hostOf,
  lastAddress,
  mask,
  network,
  overlaps,
  parseCIDR,
} from './cidr.ts';
