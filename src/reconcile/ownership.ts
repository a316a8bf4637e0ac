// Ownership: ipvsnet touches only what it owns.
//   - IPVS virtual servers on a service address (bound on kube-ipvs0, or planned
//     now as a ClusterIP, external or LB IP), and those whose key is planned now or
//     recorded in its state file (NodePort servers live on node addresses, which
//     others may use too: there only the planned and recorded keys are ipvsnet's);
//     never one inside --ipvs-exclude-cidrs;
//   - its chains and its sets: the names in rules/ (./names.ts), computed by the
//     same functions that name them at creation.
// The state file is small JSON under /run (gone after a reboot, like the kernel state). It belongs
// to one network namespace: the default path is keyed by the namespace's inode
// (/run/ipvsnet/net-<inode>/state.json; /run is shared by every netns of a host, so `ip netns exec`
// or `unshare -n` would otherwise see the host agent's record), and the file names its namespace
// ("net:[<inode>]"). A file recorded in another namespace is never read as this one's record and
// never overwritten.

import { mkdir, readFile, readlink, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { contains, eq, parseCIDR, parseIP } from '../net/index.ts';

export interface OwnedState {
  /** virtualServerKey of every virtual server ipvsnet manages. */
  virtualServers: string[];
  /** sha256 of the iptables plan text applied last, per family. */
  iptables: Record<string, string>;
}

/** Where the per-netns state directories live. */
export const STATE_DIR = '/run/ipvsnet';

/** This process's network namespace as the kernel names it: "net:[4026531840]". */
export async function currentNetns(): Promise<string> {
  const id = await readlink('/proc/self/ns/net');
  if (!/^net:\[\d+\]$/.test(id)) throw new Error(`/proc/self/ns/net reads ${JSON.stringify(id)}, not net:[<inode>]`);
  return id;
}

/** The default state file of the network namespace `netns` (default: this process's). */
export async function defaultStateFile(netns?: string): Promise<string> {
  const id = netns ?? (await currentNetns());
  return join(STATE_DIR, `net-${/\d+/.exec(id)![0]}`, 'state.json');
}

export class ForeignStateError extends Error {
  readonly file: string;
  readonly owner: string;
  readonly netns: string;
  constructor(file: string, owner: string, netns: string) {
    super(`state file ${file} belongs to network namespace ${owner}, not to this process's ${netns}; not overwritten (give this namespace its own --state-file)`);
    this.name = 'ForeignStateError';
    this.file = file;
    this.owner = owner;
    this.netns = netns;
  }
}

/** The namespace recorded in `file`, or undefined when it has none or cannot be read. */
async function recordedNetns(file: string): Promise<string | undefined> {
  try {
    const raw = JSON.parse(await readFile(file, 'utf8')) as { netns?: unknown };
    return typeof raw.netns === 'string' ? raw.netns : undefined;
  } catch {
    return undefined;
  }
}

/**
 * This namespace's record in `file`. A missing or unreadable file, or one recorded in another
 * network namespace, reads as empty (nothing owned). A file without a namespace (written before
 * files named theirs) is taken as this namespace's.
 */
export async function loadState(file: string | null | undefined): Promise<OwnedState> {
  const empty: OwnedState = { virtualServers: [], iptables: {} };
  if (!file) return empty;
  try {
    const raw = JSON.parse(await readFile(file, 'utf8')) as Partial<OwnedState> & { netns?: unknown };
    if (typeof raw.netns === 'string' && raw.netns !== (await currentNetns())) return empty;
    return {
      virtualServers: Array.isArray(raw.virtualServers) ? raw.virtualServers.filter((x): x is string => typeof x === 'string') : [],
      iptables: raw.iptables && typeof raw.iptables === 'object' ? { ...raw.iptables } : {},
    };
  } catch {
    return empty;
  }
}

/** Record `s` as this namespace's; throws ForeignStateError when `file` is another namespace's. */
export async function saveState(file: string | null | undefined, s: OwnedState): Promise<void> {
  if (!file) return;
  const netns = await currentNetns();
  const owner = await recordedNetns(file);
  if (owner !== undefined && owner !== netns) throw new ForeignStateError(file, owner, netns);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify({ netns, virtualServers: [...s.virtualServers].sort(), iptables: s.iptables }) + '\n');
  await rename(tmp, file);
}

export interface OwnershipInput {
  /** Addresses currently on kube-ipvs0. */
  bound: Iterable<string>;
  /** Service addresses of planned virtual servers: ClusterIPs, external and LB IPs (kube-ipvs0's),
   * never node addresses (NodePort virtual servers share those with anyone's). */
  planned: Iterable<string> | { has(address: string): boolean };
  /** Keys of the planned virtual servers (a NodePort one is owned by its key alone). */
  plannedKeys?: { has(key: string): boolean };
  /** Keys recorded in the state file. */
  recorded: Iterable<string>;
  excludeCIDRs: readonly string[];
}

const asSet = (xs: Iterable<string>): ReadonlySet<string> => (xs instanceof Set ? xs : new Set(xs));

export class Ownership {
  // Sets are used as given (no copies: a sync at 10,000 Services builds this every time).
  readonly #bound: ReadonlySet<string>;
  readonly #planned: { has(address: string): boolean };
  readonly #keys: ReadonlySet<string>;
  readonly #plannedKeys: { has(key: string): boolean };
  readonly #exclude: readonly string[];
  constructor(i: OwnershipInput) {
    this.#bound = asSet(i.bound);
    this.#planned = 'has' in i.planned && typeof i.planned.has === 'function' ? i.planned : asSet(i.planned as Iterable<string>);
    this.#keys = asSet(i.recorded);
    this.#plannedKeys = i.plannedKeys ?? new Set();
    this.#exclude = i.excludeCIDRs;
  }
  excluded(address: string): boolean {
    if (this.#exclude.length === 0) return false;
    const ip = parseIP(address);
    if (ip === undefined) return false;
    return this.#exclude.some((c) => {
      const net = parseCIDR(c, 'keep');
      return net !== undefined ? contains(net, ip) : eq(parseIP(c), ip); // an entry without a prefix is one address
    });
  }
  /** May ipvsnet change or delete this virtual server? */
  ownsVirtualServer(key: string, address: string): boolean {
    if (this.excluded(address)) return false;
    return this.#bound.has(address) || this.#planned.has(address) || this.#plannedKeys.has(key) || this.#keys.has(key);
  }
}
