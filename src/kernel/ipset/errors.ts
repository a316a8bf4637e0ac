// Errors of the ipset adapter: IpsetError names the set, the member and the `ipset restore` line
// that failed; IpsetNetlinkError is a failed netlink read, with the kernel's error name.

import { getSystemErrorName } from 'node:util';
import { BITMAP_ERRORS, HASH_ERRORS, IPSET_ERRORS, IPSET_ERR_PRIVATE, IPSET_ERR_TYPE_SPECIFIC } from './constants.ts';

export class IpsetError extends Error {
  readonly set: string | undefined;
  readonly member: string | undefined;
  readonly line: number | undefined;
  readonly operation: string | undefined;
  constructor(message: string, ctx: { set?: string; member?: string; line?: number; operation?: string } = {}) {
    super(message);
    this.name = 'IpsetError';
    this.set = ctx.set;
    this.member = ctx.member;
    this.line = ctx.line;
    this.operation = ctx.operation;
  }
}

export class IpsetNetlinkError extends Error {
  /** errno name ("EPROTONOSUPPORT"), ipset error name ("IPSET_ERR_PROTOCOL"), or a reader code ("EDECODE", "ETIMEDOUT", "ETRUNC"). */
  readonly code: string;
  /** The positive errno / ipset error number when the kernel sent one. */
  readonly errno: number | undefined;
  constructor(message: string, code: string, errno?: number) {
    super(message);
    this.name = 'IpsetNetlinkError';
    this.code = code;
    this.errno = errno;
  }
}

/** The name of an errno the kernel sent for an ipset request: ipset's own (IPSET_ERR_*) or the system's. */
export function ipsetErrnoName(errno: number): string {
  if (IPSET_ERRORS[errno]) return IPSET_ERRORS[errno]!;
  if (errno > IPSET_ERR_PRIVATE) return `IPSET_ERR_${errno}`;
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
}

/** The kernel's error name for an errno answered to an ipset request on a set of `type` (type-specific numbers need it). */
export function ipsetErrorCode(errno: number, type: string | undefined): string {
  if (errno >= IPSET_ERR_TYPE_SPECIFIC && type !== undefined) {
    const table = type.startsWith('hash:') ? HASH_ERRORS : type.startsWith('bitmap:') ? BITMAP_ERRORS : [];
    const name = table[errno - IPSET_ERR_TYPE_SPECIFIC];
    if (name) return name;
  }
  return ipsetErrnoName(errno);
}

// What the ipset tool prints for these errors (libipset's errcode.c), so that a failure over netlink
// reads as the same failure through `ipset restore`.
const REASONS: Record<string, string | Partial<Record<string, string>>> = {
  ENOENT: 'The set with the given name does not exist',
  EEXIST: { create: 'Set cannot be created: set with the same name already exists' },
  IPSET_ERR_PROTOCOL: 'Kernel error received: ipset protocol error',
  IPSET_ERR_FIND_TYPE: 'Kernel error received: set type not supported',
  IPSET_ERR_MAX_SETS: 'Kernel error received: maximal number of sets reached, cannot create more.',
  IPSET_ERR_BUSY: 'Set cannot be destroyed: it is in use by a kernel component',
  IPSET_ERR_REFERENCED: 'Set cannot be destroyed: it is in use by a kernel component',
  IPSET_ERR_EXIST_SETNAME2: { create: 'Set cannot be created: set with the same name already exists', swap: 'The second set does not exist' },
  IPSET_ERR_TYPE_MISMATCH: 'The sets cannot be swapped: their type does not match',
  IPSET_ERR_EXIST: { add: "Element cannot be added to the set: it's already added", del: "Element cannot be deleted from the set: it's not added", create: 'Set cannot be created: set with the same name already exists' },
  IPSET_ERR_INVALID_CIDR: 'The value of the CIDR parameter of the IP address is invalid',
  IPSET_ERR_INVALID_FAMILY: 'Protocol family not supported by the set type',
  IPSET_ERR_IPADDR_IPV4: 'An IPv4 address is expected, but not received',
  IPSET_ERR_IPADDR_IPV6: 'An IPv6 address is expected, but not received',
  IPSET_ERR_HASH_FULL: 'Hash is full, cannot add more elements',
  IPSET_ERR_HASH_ELEM: 'Null-valued element, cannot be stored in a hash type of set',
  IPSET_ERR_INVALID_PROTO: 'Invalid protocol specified',
  IPSET_ERR_MISSING_PROTO: 'Protocol missing, but must be specified',
  IPSET_ERR_BITMAP_RANGE: 'Element is out of the range of the set',
  IPSET_ERR_BITMAP_RANGE_SIZE: 'The range you specified exceeds the size limit of the set type',
};

/** The ipset tool's sentence for an error code of operation `op` ("add", "create", …), or the code itself. */
export function ipsetReason(code: string, op: string): string {
  const r = REASONS[code];
  const text = typeof r === 'string' ? r : r?.[op];
  return text ? `${text} (${code})` : code;
}
