// The ipset adapter. Reads the kernel's sets over netfilter netlink (./transport.ts, no process;
// `ipset save` when that read fails, see IpsetAdapter.read) and applies a sync's diff (./restore.ts)
// over netlink too (./write.ts, no process), every diff from a single member change to a first
// sync: measured on the host (scripts/bench/ipset-write.ts), filling a set over netlink takes a
// third to a sixteenth of one `ipset restore`'s time at every size from 100 to 250,000 members.
// `ipset restore -exist` (ONE process) remains for what netlink does not do: the lines from the
// first member the encoder cannot write (a foreign member form read back from the kernel) on, every
// write once a netlink write failed in a way that will not go away (no socket, protocol refused),
// writer 'restore', and diffs above `restoreAbove` lines (default: none). Only the sets named by the
// caller (the planner's names) and ipvsnet's own temporary sets are ever touched; this module knows
// no set names of its own.
//
// When a line fails, ipset restore stops there: everything before it has been applied. The failing
// line is recorded (set, member, line) and the rest of the payload is re-run, so one bad member
// never blocks the others. Over netlink every line is sent; each failing one is reported alike.
//
//   ./constants.ts  netlink numbers       ./codec.ts      dump request and decoder (pure)
//   ./transport.ts  the netlink read      ./members.ts    member text: normalise, validate (pure)
//   ./encode.ts     write requests (pure) ./write.ts      the netlink write
//   ./restore.ts    save parser, diff → lines             ./sizing.ts  hashsize, maxelem (pure)
//   ./path.ts       netlink or restore (pure)             ./delta.ts   a member delta → lines (pure)
//   ./errors.ts, ./types.ts

import type { SetSpec } from '../types.ts';
import type { CommandRunner } from '../exec.ts';
import { IpsetError, IpsetNetlinkError } from './errors.ts';
import { TEMP_PREFIX, diffSets, parseSave } from './restore.ts';
import type { IpsetPlanned, PayloadLine } from './restore.ts';
import type { IpsetReadInfo, KernelSet } from './types.ts';
import type { IpsetKernelInfo } from './write.ts';
import { chooseWritePath } from './path.ts';

export { IpsetError, IpsetNetlinkError } from './errors.ts';
export { TEMP_PREFIX, diffSets, parseSave, tempName } from './restore.ts';
export type { IpsetDiff, IpsetPlanned, PayloadLine } from './restore.ts';
export { applyMemberChanges, diffMemberDeltas } from './delta.ts';
export type { DeltaPlanned, SetMemberDelta } from './delta.ts';
export { normalizeMember, prepareMembers, validateMember } from './members.ts';
export { createLineOf, createOptions, maxelemOf } from './sizing.ts';
export { chooseWritePath } from './path.ts';
export type { WritePath } from './path.ts';
export type { PreparedMembers } from './members.ts';
export { IpsetDumpDecoder, formatAddress, typeDims } from './codec.ts';
export type { ReadSetsOptions } from './transport.ts';
export type { IpsetReadInfo, KernelSet, NetlinkReadResult, UnsupportedSet } from './types.ts';

export interface IpsetSyncResult {
  /** Member adds + deletes + creates + swaps (kernel operations). */
  operations: number;
  adds: number;
  dels: number;
  swaps: number;
  creates: number;
  /** Processes exec'd (restore runs; more than one only after a failing line). */
  restores: number;
  /** How the diff was written: over netlink, with `ipset restore`, or not at all (nothing to change). */
  via: 'netlink' | 'restore' | 'none';
  failures: IpsetError[];
}

/** Diffs of more lines than this are written with `ipset restore`: none, netlink being faster at every size measured (see the header). */
export const DEFAULT_RESTORE_ABOVE = Infinity;

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
  /** How sync() and destroy() write: 'netlink' (default: see the header for when `ipset restore` is used instead) or 'restore' always. */
  writer?: 'netlink' | 'restore';
  /** Diffs of more lines than this go through `ipset restore` (default DEFAULT_RESTORE_ABOVE). */
  restoreAbove?: number;
  /** Told why, each time a write falls back from netlink to `ipset restore` for good. */
  onWriteFallback?: (why: string) => void;
  /** IPSET_ATTR_PROTOCOL the netlink reader sends (default 6; see ./transport.ts). */
  netlinkProtocol?: number;
  /** Told why, each time a read falls back from netlink to `ipset save`. */
  onFallback?: (why: string) => void;
  /**
   * Whether a set name is one of the caller's: a set the netlink reader cannot decode makes read()
   * fall back to `ipset save` only when it is one of these (or a temporary set). Default: none.
   */
  owns?: (name: string) => boolean;
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
  #writer: 'netlink' | 'restore';
  readonly #restoreAbove: number;
  readonly #onWriteFallback: ((why: string) => void) | undefined;
  #kernelInfo: IpsetKernelInfo | undefined;
  #lastRead: IpsetReadInfo | undefined;

  constructor(opts: IpsetAdapterOptions) {
    this.#run = opts.run;
    this.#bin = opts.binary ?? 'ipset';
    this.#reader = opts.reader ?? 'netlink';
    this.#netns = opts.netns;
    this.#protocol = opts.netlinkProtocol;
    this.#onFallback = opts.onFallback;
    this.#owns = opts.owns ?? (() => false);
    this.#writer = opts.writer ?? 'netlink';
    this.#restoreAbove = opts.restoreAbove ?? DEFAULT_RESTORE_ABOVE;
    this.#onWriteFallback = opts.onWriteFallback;
  }

  /** The writer in use: 'restore' after a permanent netlink write failure. */
  get writer(): 'netlink' | 'restore' { return this.#writer; }

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
        // The netlink reader is loaded on the first read, not at import: it loads the netlink binding
        // (a native addon), which the pure helpers here (used by the reconcilers) do not need.
        const { readSetsNetlink } = await import('./transport.ts');
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

  /**
   * Apply payload lines over netlink; `rest`: the lines from the first one it cannot encode on.
   * Undefined when they all go through `ipset restore` instead (writer 'restore', more than
   * `restoreAbove` lines, or a netlink failure that will not go away, after which every write does).
   */
  async #writeNetlink(lines: readonly PayloadLine[]): Promise<{ failures: IpsetError[]; rest: PayloadLine[] } | undefined> {
    if (chooseWritePath(lines, { writer: this.#writer, restoreAbove: this.#restoreAbove }) !== 'netlink') return undefined;
    // Loaded on the first write, as the reader is: it loads the netlink binding (a native addon).
    const { IpsetKernelInfo, writeSetsNetlink } = await import('./write.ts');
    this.#kernelInfo ??= new IpsetKernelInfo();
    try {
      return await writeSetsNetlink(lines, this.#kernelInfo, { ...(this.#netns !== undefined ? { netns: this.#netns } : {}) });
    } catch (err) {
      if (!(err instanceof IpsetNetlinkError) || !PERMANENT_NETLINK_FAILURES.has(err.code)) throw err;
      this.#writer = 'restore';
      this.#onWriteFallback?.(`${err.message}; every later write uses "ipset restore"`);
      return undefined;
    }
  }

  /** Read, diff and apply `desired`. `kernel` may be passed when already read. */
  async sync(desired: readonly SetSpec[], kernel?: ReadonlyMap<string, KernelSet>): Promise<IpsetSyncResult> {
    return this.write(diffSets(desired, kernel ?? (await this.read())));
  }

  /** Apply a diff's lines (diffSets, or diffMemberDeltas for a member delta); its invalid members come back as failures. */
  async write(d: IpsetPlanned): Promise<IpsetSyncResult> {
    const counts = { operations: d.adds + d.dels + d.swaps + d.creates, adds: d.adds, dels: d.dels, swaps: d.swaps, creates: d.creates };
    // Nothing to change: no line, or only existing sets' own `create -exist` lines.
    if (d.lines.every((l) => l.op === 'create' && !l.create)) return { operations: 0, adds: 0, dels: 0, swaps: 0, creates: 0, restores: 0, via: 'none', failures: [...d.invalid] };
    const nl = await this.#writeNetlink(d.lines);
    if (nl) {
      // Lines from the first one netlink cannot encode on (a foreign member form read back) go through restore.
      const r = nl.rest.length ? await this.restore(nl.rest) : { restores: 0, failures: [] };
      return { ...counts, restores: r.restores, via: r.restores ? 'restore' : 'netlink', failures: [...d.invalid, ...nl.failures, ...r.failures] };
    }
    const r = await this.restore(d.lines);
    return { ...counts, restores: r.restores, via: 'restore', failures: [...d.invalid, ...r.failures] };
  }

  /** Destroy the named sets (those that exist) and ipvsnet's temporaries, over netlink or in one restore. */
  async destroy(names: readonly string[]): Promise<{ destroyed: string[]; failures: IpsetError[] }> {
    const have = await this.read();
    const targets = [...new Set([...names.filter((n) => have.has(n)), ...[...have.keys()].filter((k) => k.startsWith(TEMP_PREFIX))])];
    if (targets.length === 0) return { destroyed: [], failures: [] };
    const lines: PayloadLine[] = [
      ...targets.map((t) => ({ text: `flush ${t}`, set: t, op: 'flush' as const })),
      ...targets.map((t) => ({ text: `destroy ${t}`, set: t, op: 'destroy' as const })),
    ];
    const nl = await this.#writeNetlink(lines);
    const r = nl ? { failures: [...nl.failures, ...(nl.rest.length ? (await this.restore(nl.rest)).failures : [])] } : await this.restore(lines);
    const failed = new Set(r.failures.map((f) => f.set));
    return { destroyed: targets.filter((t) => !failed.has(t)), failures: r.failures };
  }
}
