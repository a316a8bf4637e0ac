// Errors of the ipset adapter: IpsetError names the set, the member and the `ipset restore` line
// that failed; IpsetNetlinkError is a failed netlink read, with the kernel's error name.

import { getSystemErrorName } from 'node:util';
import { IPSET_ERRORS, IPSET_ERR_PRIVATE } from './constants.ts';

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
