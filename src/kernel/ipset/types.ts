// The ipset adapter's types: the kernel's sets as read back, and how a read went.

import type { Family } from '../types.ts';

export interface KernelSet {
  name: string;
  type: string;
  /** The kernel's own `create` line (reused verbatim with -exist). */
  createLine: string;
  family: Family | undefined;
  members: Set<string>;
}

/**
 * Whether the kernel's set `have` can hold members of `type` and `family` as it is (the same type, and
 * the same family when the kernel said one), so it is diffed or swapped, not destroyed and recreated.
 */
export function compatibleSet(have: KernelSet | undefined, type: string, family: Family): have is KernelSet {
  return have !== undefined && have.type === type && (have.family === undefined || have.family === family);
}

export interface UnsupportedSet {
  name: string;
  type: string;
  /** Why its members were not read. */
  reason: string;
}

export interface NetlinkReadResult {
  /** Every set, as parseSave(`ipset save`) gives it (unsupported ones without members). */
  sets: Map<string, KernelSet>;
  /** Sets whose members were not decoded: fall back to `ipset save` when they matter. */
  unsupported: UnsupportedSet[];
  /** Netlink messages in the dump (NLMSG_DONE excluded). */
  messages: number;
}

/** How the last read() got the kernel's sets. */
export interface IpsetReadInfo {
  via: 'netlink' | 'exec';
  /** Why netlink was not used (set when via is 'exec' under the netlink reader). */
  fallback?: string;
  /** Netlink messages in the dump. */
  messages?: number;
  /** Sets the netlink reader listed without members (types it does not decode). */
  unsupported?: UnsupportedSet[];
}
