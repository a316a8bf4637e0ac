// ipset adapter. Reads the kernel's sets over netfilter netlink (./ipset-netlink.ts,
// no process; `ipset save` when that read fails, see IpsetAdapter.read) and
// applies a sync with ONE `ipset restore -exist` process:
//   - `create … -exist` for every planned set (an existing set's own create line
//     is reused verbatim, so its options never conflict);
//   - member adds / deletes as deltas only;
//   - a set whose contents are fully replaced is built under a temporary name
//     and `swap`ped in, then the temporary set is destroyed, so no reader ever
//     sees it half-built.
// Only the sets named by the caller (the planner's names) and ipvsnet's own
// temporary sets are ever touched; this module knows no set names of its own.
//
// When a line fails, ipset restore stops there: everything before it has been
// applied. The failing line is recorded (set, member, line) and the rest of the
// payload is re-run, so one bad member never blocks the others.

import { createHash } from 'node:crypto';
import type { Family, IpsetType, SetSpec } from './types.ts';
import type { CommandRunner } from './exec.ts';
import { canonicalIp } from './link.ts';
import { IpsetNetlinkError, readSetsNetlink } from './ipset-netlink.ts';
import type { UnsupportedSet } from './ipset-netlink.ts';

/** Prefix of ipvsnet's temporary sets (build-then-swap). */
export const TEMP_PREFIX = 'IPVSNET-TMP-';

export interface KernelSet {
  name: string;
  type: string;
  /** The kernel's own `create` line (reused verbatim with -exist). */
  createLine: string;
  family: Family | undefined;
  members: Set<string>;
}

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

/** Split a save-format line into words, honouring double quotes. */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2]!);
  return out;
}

/**
 * Normalise a member to the kernel's save form: lower-case protocol, canonical
 * IPs, no "/32" or "/128" on a host net.
 */
export function normalizeMember(member: string): string {
  const n = normalizeParts(member);
  // The same string object when nothing changed: the plan's members are usually canonical already, and
  // a second copy of every member (50,000 at 10,000 Services) would be kept by the prepared sets.
  return n === member ? member : n;
}

function normalizeParts(member: string): string {
  return member
    .trim()
    .split(',')
    .map((part) => {
      const lower = part.toLowerCase();
      const pm = /^(tcp|udp|sctp|icmp|icmpv6):(\d+)$/.exec(lower);
      if (pm) return `${pm[1]}:${Number(pm[2])}`;
      const [ip, prefix] = lower.split('/');
      try {
        const c = canonicalIp(ip!);
        if (prefix === undefined) return c;
        const p = Number(prefix);
        if ((c.includes(':') && p === 128) || (!c.includes(':') && p === 32)) return c;
        return `${c}/${p}`;
      } catch {
        return lower;
      }
    })
    .join(',');
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

/** Why `member` cannot go into a set of `type`/`family`, or undefined when it can. */
export function validateMember(type: IpsetType, family: Family, member: string): string | undefined {
  const parts = member.split(',');
  const ip = (p: string | undefined, net: boolean): string | undefined => {
    if (p === undefined) return 'missing address';
    const [a, pre] = p.split('/');
    let c: string;
    try { c = canonicalIp(a!); } catch { return `"${p}" is not an IP address`; }
    if (c.includes(':') !== (family === 6)) return `"${p}" is not an IPv${family} address`;
    if (pre !== undefined) {
      if (!net) return `"${p}": a prefix is not allowed here`;
      const n = Number(pre);
      if (!/^\d+$/.test(pre) || n < 1 || n > (family === 6 ? 128 : 32)) return `"${p}": bad prefix length`;
    }
    return undefined;
  };
  const port = (p: string | undefined): string | undefined => {
    const m = /^(tcp|udp|sctp):(\d+)$/i.exec(p ?? '');
    if (!m) return `"${p ?? ''}" is not proto:port (tcp|udp|sctp)`;
    const n = Number(m[2]);
    return n < 0 || n > 65535 ? `port ${m[2]} is out of range 0-65535` : undefined;
  };
  const shape: Record<IpsetType, number> = { 'hash:ip': 1, 'hash:net': 1, 'hash:ip,port': 2, 'hash:ip,port,ip': 3, 'hash:ip,port,net': 3, 'bitmap:port': 1 };
  if (parts.length !== shape[type]) return `"${member}" does not have the shape of a ${type} entry`;
  switch (type) {
    case 'hash:ip': return ip(parts[0], false);
    case 'hash:net': return ip(parts[0], true);
    case 'hash:ip,port': return ip(parts[0], false) ?? port(parts[1]);
    case 'hash:ip,port,ip': return ip(parts[0], false) ?? port(parts[1]) ?? ip(parts[2], false);
    case 'hash:ip,port,net': return ip(parts[0], false) ?? port(parts[1]) ?? ip(parts[2], true);
    case 'bitmap:port': {
      const n = Number(parts[0]);
      return /^\d+$/.test(parts[0] ?? '') && n <= 65535 ? undefined : `"${member}" is not a port 0-65535`;
    }
  }
}

export function tempName(name: string): string {
  return TEMP_PREFIX + createHash('sha256').update(name).digest('hex').slice(0, 16);
}

function createLine(name: string, type: IpsetType, family: Family): string {
  if (type === 'bitmap:port') return `create ${name} bitmap:port range 0-65535`;
  return `create ${name} ${type} family ${family === 6 ? 'inet6' : 'inet'} hashsize 1024 maxelem 65536`;
}

/** One line of the restore payload and what it is about. */
interface PayloadLine {
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

/** A planned set's members, validated and normalised to the kernel's save form. */
export interface PreparedMembers {
  readonly name: string;
  readonly type: IpsetType;
  readonly family: Family;
  /** Valid members, normalised. Shared (also by the reconciler's cache of the kernel): never mutate it. */
  readonly want: Set<string>;
  readonly invalid: readonly IpsetError[];
}

// Validating and normalising every member (an IP parse each) dominated a delta sync at 10,000
// Services. The planner hands back the same `members` array for a set that did not change, and plan
// output is never mutated, so the work is remembered per array.
const preparedByArray = new WeakMap<readonly string[], PreparedMembers>();

/** `spec`'s members validated and normalised, computed once per members array. */
export function prepareMembers(spec: SetSpec): PreparedMembers {
  const hit = preparedByArray.get(spec.members);
  if (hit && hit.name === spec.name && hit.type === spec.type && hit.family === spec.family) return hit;
  const want = new Set<string>();
  const invalid: IpsetError[] = [];
  for (const raw of spec.members) {
    const why = validateMember(spec.type, spec.family, raw);
    if (why) invalid.push(new IpsetError(`ipset set ${spec.name} member "${raw}": ${why}`, { set: spec.name, member: raw, operation: `add ${spec.name} ${raw}` }));
    else want.add(normalizeMember(raw));
  }
  const p: PreparedMembers = { name: spec.name, type: spec.type, family: spec.family, want, invalid };
  preparedByArray.set(spec.members, p);
  return p;
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

export interface IpsetSyncResult {
  /** Member adds + deletes + creates + swaps (kernel operations). */
  operations: number;
  adds: number;
  dels: number;
  swaps: number;
  creates: number;
  /** Processes exec'd (restore runs; more than one only after a failing line). */
  restores: number;
  failures: IpsetError[];
}

export interface IpsetAdapterOptions {
  run: CommandRunner;
  binary?: string;
  /** How read() gets the kernel's sets: 'netlink' (default; `ipset save` when it fails) or 'exec' (`ipset save` always). */
  reader?: 'netlink' | 'exec';
  /**
   * Network namespace the netlink reader opens its socket in (a path such as
   * /run/netns/NAME); default: the process's own. `run` must act on the same
   * namespace (tests run `ip netns exec NAME ipset …`).
   */
  netns?: string;
  /** IPSET_ATTR_PROTOCOL the netlink reader sends (default 6; see ./ipset-netlink.ts). */
  netlinkProtocol?: number;
  /** Told why, each time a read falls back from netlink to `ipset save`. */
  onFallback?: (why: string) => void;
  /**
   * Whether a set name is one of the caller's: a set the netlink reader cannot decode makes read()
   * fall back to `ipset save` only when it is one of these (or a temporary set). Default: none.
   */
  owns?: (name: string) => boolean;
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

/** Netlink failures that will not go away: later reads go straight to `ipset save`. */
const PERMANENT_NETLINK_FAILURES = new Set(['IPSET_ERR_PROTOCOL', 'EPROTONOSUPPORT', 'EOPNOTSUPP', 'EAFNOSUPPORT', 'EOPEN']);

export class IpsetAdapter {
  readonly #run: CommandRunner;
  readonly #bin: string;
  #reader: 'netlink' | 'exec';
  readonly #netns: string | undefined;
  readonly #protocol: number | undefined;
  readonly #onFallback: ((why: string) => void) | undefined;
  readonly #owns: (name: string) => boolean;
  #lastRead: IpsetReadInfo | undefined;

  constructor(opts: IpsetAdapterOptions) {
    this.#run = opts.run;
    this.#bin = opts.binary ?? 'ipset';
    this.#reader = opts.reader ?? 'netlink';
    this.#netns = opts.netns;
    this.#protocol = opts.netlinkProtocol;
    this.#onFallback = opts.onFallback;
    this.#owns = opts.owns ?? (() => false);
  }

  /** The reader in use: 'exec' after a permanent netlink failure. */
  get reader(): 'netlink' | 'exec' { return this.#reader; }

  /** How the last read() got the sets. */
  get lastRead(): IpsetReadInfo | undefined { return this.#lastRead; }

  /** Kernel protocol version check; throws with what to install when missing or too old. */
  async version(): Promise<string> {
    const r = await this.#run(this.#bin, ['version']);
    if (r.missing) throw new IpsetError('ipset binary not found: install the "ipset" package (Debian: apt-get install ipset)');
    const m = /v(\d+)\.(\d+)/.exec(r.stdout + r.stderr);
    if (r.exitCode !== 0 || !m) throw new IpsetError(`"ipset version" failed: ${(r.stderr || r.stdout).trim()} (kernel lacks ip_set? load it with "modprobe ip_set")`);
    if (Number(m[1]) < 6) throw new IpsetError(`ipset ${m[0]} is too old (need ≥ 6.x with "restore -exist" and "swap"): upgrade the "ipset" package`);
    return m[0];
  }

  /**
   * All sets in the kernel: one netlink dump (no process), or one `ipset save`
   * when the netlink read fails, or when it could not decode the members of a set
   * the caller owns (`owns`) or a temporary set.
   * The fallback's reason goes to onFallback and lastRead.fallback; after a
   * failure that will not go away (a kernel refusing the protocol, no
   * NETLINK_NETFILTER) every later read uses `ipset save`.
   */
  async read(): Promise<Map<string, KernelSet>> {
    let fallback: string | undefined;
    if (this.#reader === 'netlink') {
      try {
        const r = await readSetsNetlink({
          ...(this.#netns !== undefined ? { netns: this.#netns } : {}),
          ...(this.#protocol !== undefined ? { protocol: this.#protocol } : {}),
        });
        const ours = r.unsupported.filter((u) => this.#owns(u.name) || u.name.startsWith(TEMP_PREFIX));
        if (ours.length === 0) {
          this.#lastRead = { via: 'netlink', messages: r.messages, unsupported: r.unsupported };
          return r.sets;
        }
        fallback = ours.map((u) => `set ${u.name}: ${u.reason}`).join('; ');
      } catch (err) {
        fallback = err instanceof Error ? err.message : String(err);
        if (err instanceof IpsetNetlinkError && PERMANENT_NETLINK_FAILURES.has(err.code)) {
          this.#reader = 'exec';
          fallback += '; every later read uses "ipset save"';
        }
      }
      this.#onFallback?.(fallback);
    }
    const sets = await this.#readExec();
    this.#lastRead = { via: 'exec', ...(fallback !== undefined ? { fallback } : {}) };
    return sets;
  }

  /** All sets in the kernel (one `ipset save`). */
  async #readExec(): Promise<Map<string, KernelSet>> {
    const r = await this.#run(this.#bin, ['save']);
    if (r.missing) throw new IpsetError('ipset binary not found: install the "ipset" package (Debian: apt-get install ipset)');
    if (r.exitCode !== 0) throw new IpsetError(`ipset save failed: ${r.stderr.trim()}`);
    return parseSave(r.stdout);
  }

  /** Apply payload lines with one `ipset restore -exist`, continuing past failing lines. */
  async restore(lines: readonly PayloadLine[]): Promise<{ restores: number; failures: IpsetError[] }> {
    const failures: IpsetError[] = [];
    let rest = [...lines];
    let restores = 0;
    while (rest.length > 0) {
      restores++;
      const r = await this.#run(this.#bin, ['restore', '-exist'], rest.map((l) => l.text).join('\n') + '\n');
      if (r.missing) throw new IpsetError('ipset binary not found: install the "ipset" package (Debian: apt-get install ipset)');
      if (r.exitCode === 0) break;
      const m = /Error in line (\d+)/.exec(r.stderr);
      if (!m && rest.length > 1) {
        // No line number (ipset reports some parse errors without one): apply set by set to isolate it.
        const groups = new Map<string, PayloadLine[]>();
        for (const l of rest) groups.set(l.set, [...(groups.get(l.set) ?? []), l]);
        if (groups.size > 1) {
          for (const g of groups.values()) {
            const sub = await this.restore(g);
            restores += sub.restores;
            failures.push(...sub.failures);
          }
          break;
        }
      }
      const n = m ? Number(m[1]) : 1;
      const bad = rest[n - 1];
      const reason = r.stderr.replace(/^ipset v[\d.]+:\s*/m, '').replace(/Error in line \d+:\s*/, '').trim();
      failures.push(new IpsetError(
        `ipset ${bad ? `set ${bad.set}${bad.member ? ` member ${bad.member}` : ''}: "${bad.text}"` : ''} (payload line ${n}): ${reason}`,
        { set: bad?.set, member: bad?.member, line: n, operation: bad?.text },
      ));
      if (!bad || failures.length > 50) break;
      // Skip the failing line; when a create failed, the set's other lines cannot succeed either.
      rest = rest.slice(n).filter((l) => !(bad.op === 'create' && l.set === bad.set));
    }
    return { restores, failures };
  }

  /** Read, diff and apply `desired`. `kernel` may be passed when already read. */
  async sync(desired: readonly SetSpec[], kernel?: Map<string, KernelSet>): Promise<IpsetSyncResult> {
    const have = kernel ?? (await this.read());
    const d = diffSets(desired, have);
    const changing = d.lines.filter((l) => !(l.op === 'create' && have.has(l.set) && l.text.startsWith(`create ${l.set} `)));
    if (changing.length === 0) return { operations: 0, adds: 0, dels: 0, swaps: 0, creates: 0, restores: 0, failures: d.invalid };
    const r = await this.restore(d.lines);
    return { operations: d.adds + d.dels + d.swaps + d.creates, adds: d.adds, dels: d.dels, swaps: d.swaps, creates: d.creates, restores: r.restores, failures: [...d.invalid, ...r.failures] };
  }

  /** Destroy the named sets (those that exist) and ipvsnet's temporaries, in one restore. */
  async destroy(names: readonly string[]): Promise<{ destroyed: string[]; failures: IpsetError[] }> {
    const have = await this.read();
    const targets = [...new Set([...names.filter((n) => have.has(n)), ...[...have.keys()].filter((k) => k.startsWith(TEMP_PREFIX))])];
    if (targets.length === 0) return { destroyed: [], failures: [] };
    const lines: PayloadLine[] = [
      ...targets.map((t) => ({ text: `flush ${t}`, set: t, op: 'flush' as const })),
      ...targets.map((t) => ({ text: `destroy ${t}`, set: t, op: 'destroy' as const })),
    ];
    const r = await this.restore(lines);
    const failed = new Set(r.failures.map((f) => f.set));
    return { destroyed: targets.filter((t) => !failed.has(t)), failures: r.failures };
  }
}
