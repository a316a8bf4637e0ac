// Peer routes: reads ipvsnet's routes (protocol 240) back from the kernel, diffs them against the
// plan, and makes the fewest changes: a route whose destination is still wanted with another
// gateway is replaced in place, not deleted and added. Routes of any other protocol are never read.

/** A route of ipvsnet's in the kernel (the adapter's own type; src/kernel/route.ts). */
export interface OwnedRoute {
  dst: string;
  via: string;
}

/** The route adapter (PodRouteTable in src/kernel/route.ts). */
export interface RouteTable {
  list(): Promise<OwnedRoute[]>;
  replace(r: OwnedRoute): Promise<void>;
  delete(r: OwnedRoute): Promise<void>;
}

export interface RouteSyncResult {
  added: OwnedRoute[];
  removed: OwnedRoute[];
  unchanged: number;
  /** kernel operations that failed (the rest still applied) */
  errors: string[];
}

const key = (r: OwnedRoute) => `${r.dst} ${r.via}`;

export class RouteReconciler {
  readonly #table: RouteTable;

  constructor(table: RouteTable) {
    this.#table = table;
  }

  async sync(desired: readonly OwnedRoute[]): Promise<RouteSyncResult> {
    const res: RouteSyncResult = { added: [], removed: [], unchanged: 0, errors: [] };
    const have = await this.#table.list();
    const want = new Map(desired.map((r) => [key(r), { dst: r.dst, via: r.via }]));
    const haveKeys = new Set(have.map(key));
    const wantDst = new Set(desired.map((r) => r.dst));
    // ours that are not wanted (a changed gateway is replaced below, in one operation)
    for (const r of have) {
      if (want.has(key(r)) || wantDst.has(r.dst)) continue;
      try {
        await this.#table.delete(r);
        res.removed.push(r);
      } catch (e) {
        res.errors.push(`delete route ${r.dst} via ${r.via}: ${(e as Error).message}`);
      }
    }
    for (const [k, r] of want) {
      if (haveKeys.has(k)) {
        res.unchanged++;
        continue;
      }
      try {
        await this.#table.replace(r);
        res.added.push(r);
        // a replaced gateway: the old route is gone with it
        for (const old of have) if (old.dst === r.dst && old.via !== r.via && !want.has(key(old))) res.removed.push(old);
      } catch (e) {
        res.errors.push(`replace route ${r.dst} via ${r.via}: ${(e as Error).message}`);
      }
    }
    return res;
  }

  /** Remove every route of ipvsnet's (cleanup). */
  async cleanup(): Promise<Pick<RouteSyncResult, 'removed' | 'errors'>> {
    const res: Pick<RouteSyncResult, 'removed' | 'errors'> = { removed: [], errors: [] };
    for (const r of await this.#table.list()) {
      try {
        await this.#table.delete(r);
        res.removed.push(r);
      } catch (e) {
        res.errors.push(`delete route ${r.dst} via ${r.via}: ${(e as Error).message}`);
      }
    }
    return res;
  }
}
