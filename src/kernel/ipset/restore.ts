// `ipset save` text parsed, and a diff of desired sets against the kernel's as the lines of ONE
// `ipset restore -exist` payload, each line also in structured form for the netlink writer
// (./write.ts), which sends the same operations without the text:
//   - `create … -exist` for every planned set (an existing set's own create line
//     is reused verbatim, so its options never conflict; the netlink writer skips these);
//   - member adds / deletes as deltas only;
//   - a set whose contents are fully replaced is built under a temporary name
//     and `swap`ped in, then the temporary set is destroyed, so no reader ever
//     sees it half-built; so is a set whose maxelem is too small for its members (./sizing.ts).

import { createHash } from 'node:crypto';
import type { Family, IpsetType, SetSpec } from '../types.ts';
import { compatibleSet, SortedMembers, type KernelSet, type ReadSet } from './types.ts';
import { IpsetError } from './errors.ts';
import { normalizeMember, prepareMembers } from './members.ts';
import type { CreateOptions } from './encode.ts';
import { createLineOf, createOptions, maxelemOf, optionsOfCreateLine } from './sizing.ts';

/** Prefix of ipvsnet's temporary sets (build-then-swap). */
export const TEMP_PREFIX = 'IPVSNET-TMP-';

/** Split a save-format line into words, honouring double quotes. */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2]!);
  return out;
}

/** Parse `ipset save` output. */
export function parseSave(text: string): Map<string, ReadSet> {
  const sets = new Map<string, ReadSet>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const w = words(line);
    if (w[0] === 'create' && w[1] && w[2]) {
      const fi = w.indexOf('family');
      const fam = fi >= 0 ? w[fi + 1] : undefined;
      sets.set(w[1], {
        name: w[1], type: w[2], createLine: line,
        family: fam === 'inet6' ? 6 : fam === 'inet' ? 4 : undefined,
        members: new Set(),
      });
    } else if (w[0] === 'add' && w[1] && w[2]) {
      sets.get(w[1])?.members.add(normalizeMember(w[2]));
    }
  }
  return sets;
}

export function tempName(name: string): string {
  return TEMP_PREFIX + createHash('sha256').update(name).digest('hex').slice(0, 16);
}

/** One line of the restore payload and what it is about. */
export interface PayloadLine {
  text: string;
  /** The planned set the line is about. */
  set: string;
  member?: string;
  op: 'create' | 'add' | 'del' | 'swap' | 'destroy' | 'flush';
  /** The set the command acts on when it is not `set` (a temporary set being built). */
  target?: string;
  /** add/del: the type and family of the set the member goes into. */
  type?: IpsetType;
  family?: Family;
  /** create: the options; absent for an existing set's own line sent with `-exist` (no change). */
  create?: CreateOptions;
  /** swap: the set exchanged with `target`. */
  with?: string;
}

/**
 * An add or del line: its text is made when asked for (the restore fallback, an error), not kept
 * per line (a first sync at 50,000 Services writes 350,000 members over netlink, which never needs it).
 */
export class MemberLine implements PayloadLine {
  readonly set: string;
  readonly member: string;
  readonly op: 'add' | 'del';
  readonly type: IpsetType;
  readonly family: Family;
  readonly target?: string;
  constructor(op: 'add' | 'del', set: string, member: string, type: IpsetType, family: Family, target?: string) {
    this.op = op;
    this.set = set;
    this.member = member;
    this.type = type;
    this.family = family;
    if (target !== undefined) this.target = target;
  }
  get text(): string { return `${this.op} ${this.target ?? this.set} ${this.member}`; }
}

export interface IpsetPlanned {
  lines: PayloadLine[];
  /** Members rejected before reaching the kernel. */
  invalid: IpsetError[];
  adds: number;
  dels: number;
  swaps: number;
  creates: number;
}

export interface IpsetDiff extends IpsetPlanned {
  /** Each desired set's valid members, normalised (what the kernel holds once the lines are applied): new sets, the caller's. */
  want: Map<string, Set<string>>;
  /**
   * The desired sets whose planned list is itself what the kernel holds once the lines are applied:
   * every member valid and already normalised, the list sorted without duplicates (SortedMembers.fits).
   */
  asIs: Set<string>;
}

/** Diff desired sets against the kernel's; the lines for one `ipset restore`. */
export function diffSets(desired: readonly SetSpec[], kernel: ReadonlyMap<string, KernelSet>): IpsetDiff {
  const lines: PayloadLine[] = [];
  const invalid: IpsetError[] = [];
  const wanted = new Map<string, Set<string>>();
  const asIs = new Set<string>();
  let adds = 0, dels = 0, swaps = 0, creates = 0;
  // Leftover temporary sets from an interrupted sync.
  for (const k of kernel.keys()) if (k.startsWith(TEMP_PREFIX)) lines.push({ text: `destroy ${k}`, set: k, op: 'destroy' });
  for (const spec of desired) {
    const { type, family } = spec;
    const have = kernel.get(spec.name);
    const compatible = compatibleSet(have, type, family);
    // The kernel's members of a set of this type and family are valid and in its own form.
    const prep = prepareMembers(spec, compatible ? have.members : undefined);
    invalid.push(...prep.invalid);
    const want = prep.want;
    wanted.set(spec.name, want);
    if (prep.asIs && SortedMembers.fits(spec.members)) asIs.add(spec.name);
    const addAll = (into: string): void => {
      const target = into === spec.name ? undefined : into;
      for (const m of want) lines.push(new MemberLine('add', spec.name, m, type, family, target));
      adds += want.size;
    };
    const opts = createOptions(type, family, want.size);
    if (!have) {
      lines.push({ text: createLineOf(spec.name, opts) + ' -exist', set: spec.name, op: 'create', create: opts });
      creates++;
      addAll(spec.name);
      continue;
    }
    if (!compatible) {
      // Incompatible kernel set: it cannot be swapped; destroy and recreate.
      lines.push({ text: `destroy ${spec.name}`, set: spec.name, op: 'destroy' });
      lines.push({ text: createLineOf(spec.name, opts), set: spec.name, op: 'create', create: opts });
      creates++;
      addAll(spec.name);
      continue;
    }
    lines.push({ text: `${have.createLine} -exist`, set: spec.name, op: 'create' });
    const toAdd: string[] = [];
    for (const m of want) if (!have.members.has(m)) toAdd.push(m);
    const toDel: string[] = [];
    for (const m of have.members) if (!want.has(m)) toDel.push(m);
    if (toAdd.length === 0 && toDel.length === 0) continue;
    const fullyReplaced = have.members.size > 0 && want.size > 0 && toDel.length === have.members.size;
    const tooSmall = (maxelemOf(have.createLine) ?? Infinity) < want.size;
    if (fullyReplaced || tooSmall) {
      // Built whole under a temporary name and swapped in; a set too small for its members gets the size it needs.
      const tmp = tempName(spec.name);
      const kept = optionsOfCreateLine(have.createLine);
      const tmpOpts = tooSmall ? { ...kept, ...opts } : { ...opts, ...kept };
      lines.push({ text: createLineOf(tmp, tmpOpts), set: spec.name, op: 'create', target: tmp, create: tmpOpts });
      addAll(tmp);
      lines.push({ text: `swap ${tmp} ${spec.name}`, set: spec.name, op: 'swap', target: tmp, with: spec.name });
      lines.push({ text: `destroy ${tmp}`, set: spec.name, op: 'destroy', target: tmp });
      swaps++;
      continue;
    }
    for (const m of toDel) { lines.push(new MemberLine('del', spec.name, m, type, family)); dels++; }
    for (const m of toAdd) { lines.push(new MemberLine('add', spec.name, m, type, family)); adds++; }
  }
  return { lines, invalid, adds, dels, swaps, creates, want: wanted, asIs };
}
