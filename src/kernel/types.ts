// The kernel adapters' own input types. Callers (the reconcilers) pass their plan objects, which have
// these shapes; nothing here depends on the plan.

import type { Family, Protocol } from '../net/index.ts';

export type { Family, Protocol };

/** IPVS service flags by name (as `ipvsadm` spells them). */
export type IpvsServiceFlag = 'persistent' | 'hashed' | 'onepacket' | 'sh-fallback' | 'sh-port';

/** The ipset types ipvsnet creates. */
export type IpsetType = 'hash:ip' | 'hash:ip,port' | 'hash:ip,port,ip' | 'hash:ip,port,net' | 'hash:net' | 'bitmap:port';

/** A set the ipset adapter makes the kernel hold. */
export interface SetSpec {
  name: string;
  type: IpsetType;
  family: Family;
  /** Members in `ipset add` syntax. */
  members: readonly string[];
}
