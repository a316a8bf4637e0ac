// The node's CNI config when multi-network is on (pure; Multus's 00-multus.conf): the wrapper
// ipvsnet-multinet with the default network (the pod network's conflist, unchanged, so its network
// name and IPAM store stay where they were) as its one delegate, and as capabilities the union of
// those its plugins declare, so the runtime passes their args (portMappings, bandwidth).
import { MULTINET_TYPE } from '../model/toplevel.ts';

export const MULTINET_CONFLIST_NAME = '00-ipvsnet-multinet.conflist';

export interface MultinetConfOptions {
  cacheDir?: string;
  confDir?: string;
  binDirs?: string[];
  hostRoot?: string;
  namespaceIsolation?: boolean;
  globalNamespaces?: string[];
  execTimeoutMs?: number;
  defaultNetworks?: string[];
  readinessIndicatorFile?: string;
}

type Obj = Record<string, unknown>;

/** The wrapper as a conflist of one plugin, around `defaultNetwork` (a conflist object). */
export function wrapDefaultNetwork(defaultNetwork: Obj, o: MultinetConfOptions = {}): Obj {
  const plugins = Array.isArray(defaultNetwork['plugins']) ? (defaultNetwork['plugins'] as Obj[]) : [defaultNetwork];
  const capabilities: Record<string, boolean> = {};
  for (const p of plugins) {
    const c = p['capabilities'];
    if (c && typeof c === 'object') for (const [k, v] of Object.entries(c as Obj)) if (v === true) capabilities[k] = true;
  }
  const wrapper: Obj = {
    type: MULTINET_TYPE,
    ...(Object.keys(capabilities).length ? { capabilities } : {}),
    delegates: [defaultNetwork],
    ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
    ...(o.confDir ? { confDir: o.confDir } : {}),
    ...(o.binDirs ? { binDirs: o.binDirs } : {}),
    ...(o.hostRoot ? { hostRoot: o.hostRoot } : {}),
    ...(o.namespaceIsolation ? { namespaceIsolation: true, globalNamespaces: o.globalNamespaces ?? ['default'] } : {}),
    ...(o.execTimeoutMs ? { execTimeoutMs: o.execTimeoutMs } : {}),
    ...(o.defaultNetworks?.length ? { defaultNetworks: o.defaultNetworks } : {}),
    ...(o.readinessIndicatorFile ? { readinessIndicatorFile: o.readinessIndicatorFile } : {}),
  };
  return { cniVersion: defaultNetwork['cniVersion'] ?? '1.0.0', name: 'ipvsnet-multinet', plugins: [wrapper] };
}

/** The single plugin config the runtime hands the wrapper for this conflist (libcni injects name and cniVersion). */
export function wrapperStdin(conflist: Obj): Obj {
  const p = (conflist['plugins'] as Obj[])[0]!;
  return { ...p, cniVersion: conflist['cniVersion'], name: conflist['name'] };
}
