// The pod network's kernel adapters, built in one place: the route table of protocol 240
// (rtnetlink), one iptables adapter per family (backend detected once per family, like the proxy's
// reconciler does), and the atomic file writer for the conflist.
import type { Family } from '../plan/types.ts';
import { PodRouteTable, RTPROT_IPVSNET } from '../kernel/route.ts';
import { Rtnl } from '../kernel/rtnl/index.ts';
import { IptablesAdapter, detectBackend } from '../kernel/iptables.ts';
import type { Backend } from '../kernel/iptables.ts';
import { AtomicFiles } from '../kernel/file.ts';
import { createRunner } from '../reconcile/exec.ts';
import type { CommandRunner } from '../reconcile/exec.ts';

export interface PodNetworkKernelOptions {
  /** rtnetlink handle (default: a socket in the current netns, closed by close()) */
  rtnl?: Rtnl;
  /** route protocol (default 240) and table (default main) */
  protocol?: number;
  table?: number;
  /** command runner for iptables (default: execa, counted) */
  run?: CommandRunner;
  /** iptables backend (default: detected per family) */
  backend?: Backend;
  /** xtables lock wait in seconds (default the adapter's) */
  lockWaitSeconds?: number;
}

/** Satisfies the reconciler's PodNetworkKernel (src/podnet/reconcile/index.ts). */
export interface OpenPodNetworkKernel {
  routes: PodRouteTable;
  iptables: (family: Family) => Promise<IptablesAdapter>;
  files: AtomicFiles;
  close(): void;
}

export function openPodNetworkKernel(opts: PodNetworkKernelOptions = {}): OpenPodNetworkKernel {
  const own = !opts.rtnl;
  const rtnl = opts.rtnl ?? Rtnl.open();
  const run = opts.run ?? createRunner().run;
  const routes = new PodRouteTable(rtnl, { protocol: opts.protocol ?? RTPROT_IPVSNET, ...(opts.table !== undefined ? { table: opts.table } : {}) });
  const iptables = async (family: Family) => {
    const backend = opts.backend ?? (await detectBackend(run, family));
    return new IptablesAdapter({ family, backend, run, ...(opts.lockWaitSeconds !== undefined ? { lockWaitSeconds: opts.lockWaitSeconds } : {}) });
  };
  return {
    routes,
    iptables,
    files: new AtomicFiles(),
    close: () => { if (own) rtnl.close(); },
  };
}
