// The node's CNI configuration: /etc/cni/net.d/10-ipvsnet.conflist with
// ipvsnet-bridge + ipvsnet-ipam over the node's podCIDR(s), plus portmap when
// that plugin is installed in the CNI bin dir. Written atomically; unchanged
// content is not rewritten (the runtime watches the directory).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Diagnostic } from '../net/index.ts';
import { formatIP, next, network } from '../net/index.ts';
import { nodePodCIDRs } from './planner.ts';
import type { NodeLike } from './planner.ts';

export const CONFLIST_NAME = '10-ipvsnet.conflist';

export interface ConflistOptions {
  /** CNI config dir (default /etc/cni/net.d) */
  confDir?: string;
  /** CNI bin dir, to look for portmap (default /opt/cni/bin) */
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

export interface ConflistResult {
  path: string;
  changed: boolean;
  content: string;
  diagnostics: Diagnostic[];
}

export function buildConflist(node: NodeLike, opts: ConflistOptions = {}): { conflist: object | undefined; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const name = node.metadata?.name ?? '<unnamed>';
  const cidrs = nodePodCIDRs(node, name, diagnostics);
  if (cidrs.length === 0) {
    diagnostics.push({ kind: 'Node', object: name, field: 'spec.podCIDR', reason: 'no podCIDR allocated to this node yet; CNI config not written', severity: 'error' });
    return { conflist: undefined, diagnostics };
  }
  const ranges = cidrs.map((c) => [{ subnet: `${formatIP(network(c))}/${c.prefix}`, gateway: formatIP(next(network(c))) }]);
  const binDir = opts.binDir ?? '/opt/cni/bin';
  const bridge: Record<string, unknown> = {
    type: 'ipvsnet-bridge',
    bridge: opts.bridge ?? 'cni0',
    isGateway: true,
    isDefaultGateway: true,
    hairpinMode: opts.hairpinMode ?? true,
    ipMasq: opts.ipMasq ?? false,
    // isDefaultGateway gives every pod its default route via the bridge address
    ipam: { type: 'ipvsnet-ipam', ranges, ...(opts.dataDir ? { dataDir: opts.dataDir } : {}) },
  };
  if (opts.mtu) bridge['mtu'] = opts.mtu;
  const plugins: object[] = [bridge];
  if (existsSync(join(binDir, 'portmap'))) plugins.push({ type: 'portmap', capabilities: { portMappings: true }, snat: true });
  return {
    conflist: { cniVersion: opts.cniVersion ?? '1.0.0', name: opts.networkName ?? 'ipvsnet', plugins },
    diagnostics,
  };
}

/** Write (or leave unchanged) the conflist for `node`. */
export function writeConflist(node: NodeLike, opts: ConflistOptions = {}): ConflistResult {
  const dir = opts.confDir ?? '/etc/cni/net.d';
  const path = join(dir, CONFLIST_NAME);
  const { conflist, diagnostics } = buildConflist(node, opts);
  if (!conflist) return { path, changed: false, content: '', diagnostics };
  const content = JSON.stringify(conflist, null, 2) + '\n';
  let old: string | undefined;
  try {
    old = readFileSync(path, 'utf8');
  } catch {
    old = undefined;
  }
  if (old === content) return { path, changed: false, content, diagnostics };
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${CONFLIST_NAME}.${process.pid}.tmp`);
  writeFileSync(tmp, content, { mode: 0o644 });
  renameSync(tmp, path);
  return { path, changed: true, content, diagnostics };
}
