// What one sync or cleanup reports, and the failure log every subsystem reconciler writes to.

import type { Logger } from '../log/index.ts';

export const OPERATION_KINDS = [
  'createLink', 'bindAddress', 'unbindAddress',
  'addService', 'updateService', 'deleteService', 'addDest', 'updateDest', 'deleteDest',
  'ipsetCreate', 'ipsetAdd', 'ipsetDel', 'ipsetSwap', 'iptablesRestore', 'conntrackFlush',
] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

export interface SyncFailure {
  /** The object the operation came from: a Service port ("ns/name:port"), a set, a chain, an address. */
  object: string;
  /** The exact operation, e.g. "addDest TCP/10.96.0.10/80 → 10.244.0.5:8080 weight 1 masq". */
  operation: string;
  error: string;
}

export interface SyncResult {
  operations: Record<OperationKind, number>;
  /** Sum of `operations`. */
  totalOperations: number;
  /** External processes exec'd by this sync (ipset/iptables/conntrack). */
  processes: number;
  failures: SyncFailure[];
  /** TCP dests at weight 0 waiting for their connections to drain. */
  terminating: number;
  /** Whether this sync read the whole kernel state (first sync / repair pass). */
  fullRead: boolean;
  durationMs: number;
}

export function emptyResult(fullRead: boolean): SyncResult {
  const operations = Object.fromEntries(OPERATION_KINDS.map((k) => [k, 0])) as Record<OperationKind, number>;
  return { operations, totalOperations: 0, processes: 0, failures: [], terminating: 0, fullRead, durationMs: 0 };
}

/** What a subsystem reconciler gets for one sync: the result to count into and where failures go. */
export interface SyncContext {
  readonly result: SyncResult;
  /** This sync reads the kernel in full (first sync, repair pass, or after an error). */
  readonly full: boolean;
  /** Record a failed operation: logged once per distinct error, retried next sync. */
  fail(object: string, operation: string, err: unknown): void;
}

/** Failures by object and operation; each distinct error is logged once. */
export class FailureLog {
  readonly #log: Logger;
  readonly #seen = new Map<string, string>();

  constructor(log: Logger) { this.#log = log; }

  context(result: SyncResult): SyncContext {
    return {
      result,
      full: result.fullRead,
      fail: (object, operation, err) => {
        const error = err instanceof Error ? err.message : String(err);
        result.failures.push({ object, operation, error });
        const key = `${object}|${operation}`;
        if (this.#seen.get(key) !== error) this.#log.error({ object, operation, err: error }, 'kernel operation failed; retried next sync');
        this.#seen.set(key, error);
      },
    };
  }
}
