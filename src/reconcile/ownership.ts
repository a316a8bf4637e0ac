// Ownership: ipvsnet touches only what it owns.
//   - IPVS virtual servers on an address it bound on kube-ipvs0, or planned now,
//     or recorded in its state file (NodePort servers live on node addresses,
//     which are never bound on kube-ipvs0), and never one inside --ipvs-exclude-cidrs;
//   - its chains (iptables.ts OWNED_CHAINS + the plan's) and its sets (the plan's
//     names + kube-proxy's fixed names).
// The state file is small JSON under /run (gone after a reboot, like the kernel state).

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { contains, eq, parseCIDR, parseIP } from '../net/index.ts';

export interface OwnedState {
  /** virtualServerKey of every virtual server ipvsnet manages. */
  virtualServers: string[];
  /** sha256 of the iptables plan text applied last, per family. */
  iptables: Record<string, string>;
}

export const DEFAULT_STATE_FILE = '/run/ipvsnet/state.json';

export async function loadState(file: string | null | undefined): Promise<OwnedState> {
  const empty: OwnedState = { virtualServers: [], iptables: {} };
  if (!file) return empty;
  try {
    const raw = JSON.parse(await readFile(file, 'utf8')) as Partial<OwnedState>;
    return {
      virtualServers: Array.isArray(raw.virtualServers) ? raw.virtualServers.filter((x): x is string => typeof x === 'string') : [],
      iptables: raw.iptables && typeof raw.iptables === 'object' ? { ...raw.iptables } : {},
    };
  } catch {
    return empty;
  }
}

export async function saveState(file: string | null | undefined, s: OwnedState): Promise<void> {
  if (!file) return;
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify({ virtualServers: [...s.virtualServers].sort(), iptables: s.iptables }) + '\n');
  await rename(tmp, file);
}

export interface OwnershipInput {
  /** Addresses currently on kube-ipvs0. */
  bound: Iterable<string>;
  /** Addresses of planned virtual servers. */
  planned: Iterable<string>;
  /** Keys recorded in the state file. */
  recorded: Iterable<string>;
  excludeCIDRs: readonly string[];
}

const asSet = (xs: Iterable<string>): ReadonlySet<string> => (xs instanceof Set ? xs : new Set(xs));

export class Ownership {
  // Sets are used as given (no copies: a sync at 10,000 Services builds this every time).
  readonly #bound: ReadonlySet<string>;
  readonly #planned: ReadonlySet<string>;
  readonly #keys: ReadonlySet<string>;
  readonly #exclude: readonly string[];
  constructor(i: OwnershipInput) {
    this.#bound = asSet(i.bound);
    this.#planned = asSet(i.planned);
    this.#keys = asSet(i.recorded);
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
    return this.#bound.has(address) || this.#planned.has(address) || this.#keys.has(key);
  }
}
