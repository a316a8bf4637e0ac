// Errors of the IPVS adapter. Every error names the operation and the object, e.g.
//   IPVS NEW_DEST TCP/10.96.0.10:53 -> 10.244.1.5:53: EEXIST (destination already exists)
// and carries the errno code name (`code`), the errno number, the command and the object, so callers
// (the reconciler) can log, count and retry per object.

import { constants as osConstants } from 'node:os';

const ERRNO_NAMES = new Map<number, string>();
for (const [name, num] of Object.entries(osConstants.errno)) if (!ERRNO_NAMES.has(num)) ERRNO_NAMES.set(num, name);

/** "EEXIST" for 17 (a positive errno); "E<n>" when unknown. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

export function errnoNumber(code: string): number | undefined {
  return (osConstants.errno as Record<string, number>)[code];
}

/** What the kernel means by an errno for a given IPVS command (from net/netfilter/ipvs/ip_vs_ctl.c). */
export function explainIpvsErrno(op: string, code: string, scheduler?: string): string | undefined {
  switch (code) {
    case 'EEXIST':
      return op.endsWith('_DEST') ? 'destination already exists' : 'service already exists';
    case 'ESRCH':
      return 'no such service';
    case 'ENOENT':
      if (op === 'NEW_SERVICE' || op === 'SET_SERVICE') {
        return scheduler !== undefined ? `scheduler "${scheduler}" not found (no kernel module ip_vs_${scheduler})` : 'scheduler or persistence engine not found';
      }
      return op.endsWith('_DEST') ? 'no such destination' : undefined;
    case 'EINVAL':
      return op === 'NEW_DEST' || op === 'SET_DEST'
        ? 'invalid destination (the kernel refuses addresses it cannot route as unicast, and bad weights/thresholds)'
        : 'invalid argument';
    case 'EPERM':
      return 'needs CAP_NET_ADMIN';
    case 'EBUSY':
      return 'busy';
    default:
      return undefined;
  }
}

export interface IpvsErrorInit {
  /** IPVS command name, e.g. "NEW_DEST". */
  op: string;
  /** The object, e.g. "TCP/10.96.0.10:53 -> 10.244.1.5:53", or "" for global commands. */
  object: string;
  /** errno code name, e.g. "EEXIST". */
  code: string;
  errno: number;
  detail?: string;
  cause?: unknown;
}

export class IpvsError extends Error {
  readonly op: string;
  readonly object: string;
  readonly code: string;
  readonly errno: number;

  constructor(init: IpvsErrorInit) {
    const what = init.object ? `IPVS ${init.op} ${init.object}` : `IPVS ${init.op}`;
    super(`${what}: ${init.code}${init.detail ? ` (${init.detail})` : ''}`, init.cause !== undefined ? { cause: init.cause } : undefined);
    this.name = 'IpvsError';
    this.op = init.op;
    this.object = init.object;
    this.code = init.code;
    this.errno = init.errno;
  }
}
