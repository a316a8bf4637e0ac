// The ipset adapter's types: the kernel's sets as read back, and how a read went.

import type { Family } from '../types.ts';
import { sortedHas } from '../../net/index.ts';

/** A set's members as a diff looks at them: a Set, or SortedMembers over a sorted list. */
export interface MemberSet extends Iterable<string> {
  readonly size: number;
  has(member: string): boolean;
}

/**
 * The members of a sorted (code-unit order), duplicate-free list, looked up by binary search: the
 * reconciler's view of a set whose kernel members are exactly a plan's list, which it keeps instead
 * of a Set of the same strings (KUBE-LOOP-BACK's 250,000 members at 50,000 Services were a 7 MB hash
 * table). The list must never change afterwards (the planner's lists do not).
 */
export class SortedMembers implements MemberSet {
  readonly list: readonly string[];
  constructor(list: readonly string[]) { this.list = list; }
  get size(): number { return this.list.length; }
  has(member: string): boolean { return sortedHas(this.list, member); }
  [Symbol.iterator](): Iterator<string> { return this.list[Symbol.iterator](); }

  /** Whether `list` is sorted in code-unit order without duplicates (what SortedMembers needs). */
  static fits(list: readonly string[]): boolean {
    for (let i = 1; i < list.length; i++) if (!(list[i - 1]! < list[i]!)) return false;
    return true;
  }
}

export interface KernelSet {
  name: string;
  type: string;
  /** The kernel's own `create` line (reused verbatim with -exist). */
  createLine: string;
  family: Family | undefined;
  members: MemberSet;
}

/** A set as a read builds it (members added as they are decoded). */
export interface ReadSet extends KernelSet {
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
  sets: Map<string, ReadSet>;
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
