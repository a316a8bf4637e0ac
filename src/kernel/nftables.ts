// nftables tables by family and name, through the `nft` command (execa, argument arrays): list them,
// and delete some in one `nft -f -` transaction. The names are the caller's; this module knows none.

import type { CommandRunner } from './exec.ts';

export interface NftTable {
  /** ip, ip6, inet, arp, bridge, netdev */
  family: string;
  name: string;
}

export class NftablesError extends Error {
  readonly command: string;
  constructor(message: string, command: string) {
    super(message);
    this.name = 'NftablesError';
    this.command = command;
  }
}

export class NftablesAdapter {
  readonly #run: CommandRunner;
  constructor(run: CommandRunner) { this.#run = run; }

  /** Every table in the network namespace; null when `nft` is not installed (no tables to manage then). */
  async listTables(): Promise<NftTable[] | null> {
    const r = await this.#run('nft', ['list', 'tables']);
    if (r.missing) return null;
    if (r.exitCode !== 0) throw new NftablesError(`${r.command} failed (exit ${r.exitCode}): ${r.stderr.trim()}`, r.command);
    const out: NftTable[] = [];
    for (const line of r.stdout.split('\n')) {
      const m = /^table (\S+) (\S+)$/.exec(line.trim());
      if (m) out.push({ family: m[1]!, name: m[2]! });
    }
    return out;
  }

  /** Delete these tables (with everything in them) in one transaction. */
  async deleteTables(tables: readonly NftTable[]): Promise<void> {
    if (tables.length === 0) return;
    const script = tables.map((t) => `delete table ${t.family} ${t.name}\n`).join('');
    const r = await this.#run('nft', ['-f', '-'], script);
    if (r.missing) throw new NftablesError('nft not found: install the "nftables" package', r.command);
    if (r.exitCode !== 0) throw new NftablesError(`${r.command} failed (exit ${r.exitCode}) deleting ${tables.map((t) => `${t.family} ${t.name}`).join(', ')}: ${r.stderr.trim()}`, r.command);
  }
}
