// The kernel factory: every adapter a reconciler (or anyone else needing a kernel handle, such as the
// agent's IPVS statistics socket) uses is built here: openKernel for the proxy, openPodNetworkKernel
// for the pod network (src/podnet). Each missing kernel feature becomes ONE
// problem string saying what to install; that adapter is then null and its part is skipped.

import type { Family } from './types.ts';
import type { Ipvs } from './ipvs/types.ts';
import type { CommandRunner, CountingRunner } from './exec.ts';
import { createRunner } from './exec.ts';
import { AtomicFiles } from './file.ts';
import { PodRouteTable, RTPROT_IPVSNET } from './route.ts';
import { Rtnl } from './rtnl/index.ts';
import { IpsetAdapter } from './ipset/index.ts';
import { IptablesAdapter, detectBackend } from './iptables.ts';
import type { Backend } from './iptables.ts';
import { LinkAdapter } from './link.ts';

export interface KernelAdapters {
  ipvs: Ipvs | null;
  link: LinkAdapter | null;
  ipset: IpsetAdapter | null;
  iptables: Partial<Record<Family, IptablesAdapter>>;
}

/**
 * An IPVS handle over generic netlink, checked with one INFO request. Throws with what to install
 * when the kernel has no IPVS.
 */
export async function openIpvs(): Promise<Ipvs> {
  // Loaded on demand: only the agent and the CLI need IPVS (the CNI bundle leaves it out).
  const genl = './ipvs/genl.ts';
  const mod = (await import(genl)) as { openIpvs: () => Promise<Ipvs> };
  let ipvs: Ipvs | undefined;
  try {
    ipvs = await mod.openIpvs();
    await ipvs.info();
    return ipvs;
  } catch (err) {
    ipvs?.close();
    throw new Error(`IPVS unavailable (${err instanceof Error ? err.message : String(err)}): load the ip_vs module ("modprobe ip_vs ip_vs_rr") or use a kernel built with CONFIG_IP_VS`, { cause: err });
  }
}

export interface OpenKernelOptions {
  runner: CountingRunner;
  /** iptables families (default [4]). */
  families?: readonly Family[];
  /** iptables backend (default: the one the host's other rules use). */
  backend?: Backend;
  /** The caller's set names (IpsetAdapterOptions.owns). */
  ownsSet?: (name: string) => boolean;
  /** Told why, each time an ipset read falls back from netlink to `ipset save`. */
  onIpsetFallback?: (why: string) => void;
  /** Told why, when ipset writes fall back from netlink to `ipset restore` for good. */
  onIpsetWriteFallback?: (why: string) => void;
  /** Adapters given by the caller are used as they are (null: that part is off). */
  given?: Partial<KernelAdapters>;
}

/** Open every adapter the host supports; `problems` says what is missing and how to get it. */
export async function openKernel(opts: OpenKernelOptions): Promise<{ adapters: KernelAdapters; problems: string[] }> {
  const problems: string[] = [];
  const given = opts.given ?? {};
  let ipvs: Ipvs | null = given.ipvs ?? null;
  if (given.ipvs === undefined) {
    try { ipvs = await openIpvs(); } catch (err) { problems.push((err as Error).message); }
  }
  let link: LinkAdapter | null = given.link === undefined ? new LinkAdapter() : given.link;
  if (link) {
    try { await link.getLink('lo'); } catch (err) { problems.push(`rtnetlink unavailable: ${String(err)}`); link.close(); link = null; }
  }
  let ipset: IpsetAdapter | null = given.ipset === undefined
    ? new IpsetAdapter({ run: opts.runner.run, ...(opts.ownsSet ? { owns: opts.ownsSet } : {}), ...(opts.onIpsetFallback ? { onFallback: opts.onIpsetFallback } : {}), ...(opts.onIpsetWriteFallback ? { onWriteFallback: opts.onIpsetWriteFallback } : {}) })
    : given.ipset;
  if (ipset) {
    try { await ipset.version(); } catch (err) { problems.push(err instanceof Error ? err.message : String(err)); ipset = null; }
  }
  let iptables: Partial<Record<Family, IptablesAdapter>> = {};
  if (given.iptables === undefined) {
    for (const fam of opts.families ?? [4]) {
      try {
        const backend = opts.backend ?? (await detectBackend(opts.runner.run, fam));
        iptables[fam] = new IptablesAdapter({ family: fam, backend, run: opts.runner.run });
      } catch (err) {
        problems.push(err instanceof Error ? err.message : String(err));
      }
    }
  } else {
    iptables = given.iptables ?? {};
  }
  return { adapters: { ipvs, link, ipset, iptables }, problems };
}

/** The pod network's adapters: protocol-240 routes (rtnetlink), iptables per family (backend detected once per family), atomic files. */
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

/** What src/podnet/reconcile's PodNetworkKernel asks for, plus close(). */
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
