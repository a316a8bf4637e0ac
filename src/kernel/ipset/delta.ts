// A member delta against the kernel's sets as known (pure): the members a caller says were added to
// and removed from some sets, as the add and del lines that make the kernel's sets follow, looking
// at those members only. Its cost is the delta's, whatever the sets hold (a full diff, ./restore.ts,
// walks every member of every set). A set the delta cannot be written for is named in `full`, for a
// full diff: one absent from `kernel`, of another type or family, or whose maxelem the members would
// pass (a bigger set is built and swapped in by the full diff).

import type { Family, IpsetType } from '../types.ts';
import type { IpsetError } from './errors.ts';
import { invalidMember, normalizeMember, validateMember } from './members.ts';
import { MemberLine, type IpsetPlanned, type PayloadLine } from './restore.ts';
import { maxelemOf } from './sizing.ts';
import { compatibleSet, SortedMembers, type KernelSet } from './types.ts';

/** One set's members added and removed, in `ipset add` syntax. */
export interface SetMemberDelta {
  name: string;
  type: IpsetType;
  family: Family;
  added: readonly string[];
  removed: readonly string[];
}

export interface DeltaPlanned extends IpsetPlanned {
  /**
   * Per set: the members (normalised) the lines add and delete, to apply to the caller's view of the
   * kernel once written; asIs: every member the delta named was valid and already normalised.
   */
  changes: Map<string, { add: string[]; del: string[]; asIs: boolean }>;
  /** Sets the delta cannot be written for: diff them in full. */
  full: string[];
}

/** The add and del lines of `deltas` against `kernel` (the members it holds that the delta names). */
export function diffMemberDeltas(deltas: readonly SetMemberDelta[], kernel: ReadonlyMap<string, KernelSet>): DeltaPlanned {
  const lines: PayloadLine[] = [];
  const invalid: IpsetError[] = [];
  const changes = new Map<string, { add: string[]; del: string[]; asIs: boolean }>();
  const full: string[] = [];
  let adds = 0, dels = 0;
  for (const d of deltas) {
    const have = kernel.get(d.name);
    if (!compatibleSet(have, d.type, d.family)) { full.push(d.name); continue; }
    const del = new Set<string>();
    let asIs = true;
    for (const raw of d.removed) {
      const m = normalizeMember(raw);
      if (m !== raw) asIs = false;
      if (have.members.has(m)) del.add(m);
    }
    const add: string[] = [];
    for (const raw of d.added) {
      const why = validateMember(d.type, d.family, raw);
      if (why) { invalid.push(invalidMember(d.name, raw, why)); asIs = false; continue; }
      const m = normalizeMember(raw);
      if (m !== raw) asIs = false;
      if (del.delete(m)) continue; // removed in one spelling, added in another: it stays
      if (!have.members.has(m)) add.push(m);
    }
    if (add.length === 0 && del.size === 0) continue;
    if (have.members.size - del.size + add.length > (maxelemOf(have.createLine) ?? Infinity)) { full.push(d.name); continue; }
    const { name, type, family } = d;
    for (const m of del) lines.push(new MemberLine('del', name, m, type, family));
    for (const m of add) lines.push(new MemberLine('add', name, m, type, family));
    changes.set(name, { add, del: [...del], asIs });
    adds += add.length;
    dels += del.size;
  }
  return { lines, invalid, adds, dels, swaps: 0, creates: 0, changes, full };
}

/**
 * `kernel` after `changes` were written. A set whose view is a planned list (SortedMembers) and whose
 * delta took every member as it is now holds exactly the set's new planned list, `planned` (when the
 * caller has it, and the counts agree): that list becomes its view. Any other set's members become (or stay) a Set, changed.
 */
export function applyMemberChanges(kernel: ReadonlyMap<string, KernelSet>, changes: DeltaPlanned['changes'], planned?: ReadonlyMap<string, readonly string[]>): void {
  for (const [name, c] of changes) {
    const set = kernel.get(name)!;
    const list = planned?.get(name);
    // (The size check: a list view can lag the plan by members the kernel refused as invalid.)
    if (c.asIs && list && set.members instanceof SortedMembers && set.members.size - c.del.length + c.add.length === list.length) {
      set.members = new SortedMembers(list);
      continue;
    }
    const members = set.members instanceof Set ? (set.members as Set<string>) : new Set(set.members);
    for (const m of c.del) members.delete(m);
    for (const m of c.add) members.add(m);
    set.members = members;
  }
}
