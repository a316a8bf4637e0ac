// The `ipset restore` side: `ipset save` text parsed, and a diff of desired sets against the kernel's
// written as the lines of ONE `ipset restore -exist` payload:
//   - `create … -exist` for every planned set (an existing set's own create line
//     is reused verbatim, so its options never conflict);
//   - member adds / deletes as deltas only;
//   - a set whose contents are fully replaced is built under a temporary name
//     and `swap`ped in, then the temporary set is destroyed, so no reader ever
//     sees it half-built.

import { createHash } from 'node:crypto';
import type { Family, IpsetType, SetSpec } from '../types.ts';
import type { KernelSet } from './types.ts';
import { IpsetError } from './errors.ts';
import { normalizeMember, prepareMembers } from './members.ts';

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
export function parseSave(text: string): Map<string, KernelSet> {
  const sets = new Map<string, KernelSet>();
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

function createLine(name: string, type: IpsetType, family: Family): string {
  if (type === 'bitmap:port') return `create ${name} bitmap:port range 0-65535`;
  return `create ${name} ${type} family ${family === 6 ? 'inet6' : 'inet'} hashsize 1024 maxelem 65536`;
}

/** One line of the restore payload and what it is about. */
export interface PayloadLine {
  text: string;
  set: string;
  member?: string;
  op: 'create' | 'add' | 'del' | 'swap' | 'destroy' | 'flush';
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

/** Diff desired sets against the kernel's; the lines for one `ipset restore`. */
export function diffSets(desired: readonly SetSpec[], kernel: Map<string, KernelSet>): IpsetPlanned {
  const lines: PayloadLine[] = [];
  const invalid: IpsetError[] = [];
  let adds = 0, dels = 0, swaps = 0, creates = 0;
  // Leftover temporary sets from an interrupted sync.
  for (const k of kernel.keys()) if (k.startsWith(TEMP_PREFIX)) lines.push({ text: `destroy ${k}`, set: k, op: 'destroy' });
  for (const spec of desired) {
    const prep = prepareMembers(spec);
    invalid.push(...prep.invalid);
    const want = prep.want;
    const have = kernel.get(spec.name);
    if (!have) {
      lines.push({ text: createLine(spec.name, spec.type, spec.family) + ' -exist', set: spec.name, op: 'create' });
      creates++;
      for (const m of want) { lines.push({ text: `add ${spec.name} ${m}`, set: spec.name, member: m, op: 'add' }); adds++; }
      continue;
    }
    if (have.type !== spec.type || (have.family !== undefined && have.family !== spec.family)) {
      // Incompatible kernel set: it cannot be swapped; destroy and recreate.
      lines.push({ text: `destroy ${spec.name}`, set: spec.name, op: 'destroy' });
      lines.push({ text: createLine(spec.name, spec.type, spec.family), set: spec.name, op: 'create' });
      creates++;
      for (const m of want) { lines.push({ text: `add ${spec.name} ${m}`, set: spec.name, member: m, op: 'add' }); adds++; }
      continue;
    }
    lines.push({ text: `${have.createLine} -exist`, set: spec.name, op: 'create' });
    // The kernel's set is known to hold exactly these members (a cache entry built from them).
    if (have.members === want) continue;
    const toAdd = [...want].filter((m) => !have.members.has(m));
    const toDel = [...have.members].filter((m) => !want.has(m));
    if (toAdd.length === 0 && toDel.length === 0) continue;
    const fullyReplaced = have.members.size > 0 && want.size > 0 && toDel.length === have.members.size;
    if (fullyReplaced) {
      const tmp = tempName(spec.name);
      const tmpCreate = have.createLine.replace(/^create \S+/, `create ${tmp}`).replace(/ initval \S+/, '');
      lines.push({ text: tmpCreate, set: spec.name, op: 'create' });
      for (const m of want) { lines.push({ text: `add ${tmp} ${m}`, set: spec.name, member: m, op: 'add' }); adds++; }
      lines.push({ text: `swap ${tmp} ${spec.name}`, set: spec.name, op: 'swap' });
      lines.push({ text: `destroy ${tmp}`, set: spec.name, op: 'destroy' });
      swaps++;
      continue;
    }
    for (const m of toDel) { lines.push({ text: `del ${spec.name} ${m}`, set: spec.name, member: m, op: 'del' }); dels++; }
    for (const m of toAdd) { lines.push({ text: `add ${spec.name} ${m}`, set: spec.name, member: m, op: 'add' }); adds++; }
  }
  return { lines, invalid, adds, dels, swaps, creates };
}

