// Which way the ipset adapter writes a diff (pure): over netlink, with one `ipset restore`, or not at
// all. The reasons are in ./index.ts's header; the threshold's figures in scripts/bench/ipset-write.ts.

import type { PayloadLine } from './restore.ts';

export type WritePath = 'netlink' | 'restore' | 'none';

export interface WritePathOptions {
  /** 'restore' always (the option, or after a netlink write failed for good), or 'netlink' where it can. */
  writer: 'netlink' | 'restore';
  /** Diffs of more lines than this go through `ipset restore`. */
  restoreAbove: number;
}

/** How to write `lines`: 'none' when no line changes the kernel (only an existing set's `create -exist`). */
export function chooseWritePath(lines: readonly PayloadLine[], opts: WritePathOptions): WritePath {
  if (lines.every((l) => l.op === 'create' && !l.create)) return 'none';
  if (opts.writer !== 'netlink' || lines.length > opts.restoreAbove) return 'restore';
  return 'netlink';
}
