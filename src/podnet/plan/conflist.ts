// The node's CNI configuration (pure): <confDir>/10-ipvsnet.conflist with ipvsnet-bridge +
// ipvsnet-ipam over this node's podCIDR(s) (one range set per family, gateway = the first address),
// plus portmap when that plugin is installed in the CNI bin dir (an input, read by the reconciler).
import type { Diagnostic } from '../../net/index.ts';
import { formatIP, next, network } from '../../net/index.ts';
import type { PodNode } from '../model.ts';

export const CONFLIST_NAME = '10-ipvsnet.conflist';
export const DEFAULT_CONF_DIR = '/etc/cni/net.d';
export const DEFAULT_BIN_DIR = '/opt/cni/bin';
/** The plugin type that marks a conflist as ipvsnet's (cleanup removes only such a file). */
export const BRIDGE_PLUGIN = 'ipvsnet-bridge';

export interface ConflistOptions {
  /** CNI config dir (default /etc/cni/net.d) */
  confDir?: string;
  /** CNI bin dir, where portmap is looked for (default /opt/cni/bin) */
  binDir?: string;
  /** network name (default "ipvsnet"; also the IPAM store directory) */
  networkName?: string;
  bridge?: string;
  mtu?: number;
  hairpinMode?: boolean;
  ipMasq?: boolean;
  dataDir?: string;
  /** cniVersion to write (default 1.0.0: understood by containerd 1.7+ and CRI-O) */
  cniVersion?: string;
}

export interface ConflistPlan {
  path: string;
  /** The file's exact content (JSON, two-space indent, trailing newline). */
  content: string;
}

export function conflistPath(confDir: string | undefined): string {
  return `${(confDir ?? DEFAULT_CONF_DIR).replace(/\/+$/, '')}/${CONFLIST_NAME}`;
}

/** The conflist object for `self`, or undefined (with a warning: a Node waits for its podCIDR, it is not invalid) when it has no podCIDR yet. */
export function buildConflist(self: PodNode, opts: ConflistOptions & { portmap: boolean }): { conflist?: object; diagnostics: Diagnostic[] } {
  if (self.podCIDRs.length === 0) {
    return { diagnostics: [{ kind: 'Node', object: self.name, field: 'spec.podCIDR', reason: 'no podCIDR allocated to this node yet; CNI config not written', severity: 'warning' }] };
  }
  // the gateway is the network's first address
  const ranges = self.podCIDRs.map((c) => [{ subnet: c.text, gateway: formatIP(next(network(c.cidr))) }]);
  const bridge: Record<string, unknown> = {
    type: BRIDGE_PLUGIN,
    bridge: opts.bridge ?? 'cni0',
    isGateway: true,
    // every pod gets its default route via the bridge address
    isDefaultGateway: true,
    hairpinMode: opts.hairpinMode ?? true,
    ipMasq: opts.ipMasq ?? false,
    ipam: { type: 'ipvsnet-ipam', ranges, ...(opts.dataDir ? { dataDir: opts.dataDir } : {}) },
  };
  if (opts.mtu) bridge['mtu'] = opts.mtu;
  const plugins: object[] = [bridge];
  if (opts.portmap) plugins.push({ type: 'portmap', capabilities: { portMappings: true }, snat: true });
  return { conflist: { cniVersion: opts.cniVersion ?? '1.0.0', name: opts.networkName ?? 'ipvsnet', plugins }, diagnostics: [] };
}

/** The file the reconciler keeps: path and content, or undefined (leave the file as it is). */
export function planConflist(self: PodNode, opts: ConflistOptions & { portmap: boolean }): { conflist?: ConflistPlan; diagnostics: Diagnostic[] } {
  const { conflist, diagnostics } = buildConflist(self, opts);
  if (!conflist) return { diagnostics };
  return { conflist: { path: conflistPath(opts.confDir), content: JSON.stringify(conflist, null, 2) + '\n' }, diagnostics };
}

/** Whether a conflist's text is one ipvsnet wrote (JSON whose plugins include ipvsnet-bridge). */
export function isOwnConflist(text: string): boolean {
  try {
    const j = JSON.parse(text) as { plugins?: unknown };
    return Array.isArray(j.plugins) && j.plugins.some((p) => !!p && typeof p === 'object' && (p as { type?: unknown }).type === BRIDGE_PLUGIN);
  } catch {
    return false;
  }
}
