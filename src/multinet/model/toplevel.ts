// The wrapper plugin's own config (what the agent writes as the node's CNI config when multi-network
// is on; Multus's 00-multus.conf): the default network as its one delegate, and the options.
//   { "cniVersion": "1.0.0", "name": "ipvsnet-multinet", "type": "ipvsnet-multinet",
//     "capabilities": { "portMappings": true, "bandwidth": true },
//     "delegates": [ <the default network: a conflist> ],
//     "cacheDir": "/var/lib/cni/ipvsnet-multinet", "confDir": "/etc/cni/net.d",
//     "defaultNetworks": ["kube-system/monitoring"], "readinessIndicatorFile": "/run/x/ready",
//     "hostRoot": "/hostroot", "namespaceIsolation": false, "globalNamespaces": ["default"], "execTimeoutMs": 30000 }
import { z } from 'zod';
import { fieldPath } from '../../model/diagnostics.ts';
import { invalid } from './errors.ts';
import { parseNetConf } from './netconf.ts';
import type { NetConfList, Obj } from './netconf.ts';

export const MULTINET_TYPE = 'ipvsnet-multinet';
/**
 * Beside the CNI state (/var/lib/cni, a host path in the DaemonSet): the agent's container and the
 * standalone executable on the host (when the agent is down) see the same cache.
 */
export const DEFAULT_CACHE_DIR = '/var/lib/cni/ipvsnet-multinet';
export const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
/** stdout of one delegate exec is cut (and the exec failed) beyond this */
export const DEFAULT_MAX_OUTPUT = 1 << 20;

export interface TopLevelConf {
  cniVersion: string;
  name: string;
  defaultNetwork: NetConfList;
  cacheDir: string;
  confDir: string;
  /** when set: delegates are looked up here instead of CNI_PATH */
  binDirs?: string[];
  /** delegates run chrooted here (the host's root mounted into the agent's container) */
  hostRoot?: string;
  namespaceIsolation: boolean;
  globalNamespaces: string[];
  execTimeoutMs: number;
  maxOutputBytes: number;
  /** the runtime's capability args (runtimeConfig), passed to the default network */
  runtimeConfig: Obj;
  /** NADs ("namespace/name" or "name" in the pod's namespace) every pod gets, before its annotation's */
  defaultNetworks: string[];
  /** ADD waits for this file (the default network's readiness indicator) and answers code 11 without it */
  readinessIndicatorFile?: string;
}

const schema = z.looseObject({
  cniVersion: z.string({ error: 'must be a string' }),
  name: z.string({ error: 'must be a string' }),
  type: z.literal(MULTINET_TYPE, { error: `must be ${MULTINET_TYPE}` }),
  delegates: z.array(z.unknown(), { error: 'must be a list' }).length(1, { error: 'must hold exactly one delegate: the default network' }),
  cacheDir: z.string({ error: 'must be a string' }).startsWith('/', { error: 'must be an absolute path' }).optional(),
  confDir: z.string({ error: 'must be a string' }).startsWith('/', { error: 'must be an absolute path' }).optional(),
  binDirs: z.array(z.string().startsWith('/', { error: 'must be an absolute path' }), { error: 'must be a list of paths' }).optional(),
  hostRoot: z.string({ error: 'must be a string' }).startsWith('/', { error: 'must be an absolute path' }).optional(),
  namespaceIsolation: z.boolean({ error: 'must be a boolean' }).optional(),
  globalNamespaces: z.array(z.string(), { error: 'must be a list of namespaces' }).optional(),
  execTimeoutMs: z.number({ error: 'must be a number' }).int().min(100, { error: 'must be at least 100' }).max(600_000, { error: 'must be at most 600000' }).optional(),
  maxOutputBytes: z.number({ error: 'must be a number' }).int().min(4096).max(64 << 20).optional(),
  runtimeConfig: z.record(z.string(), z.unknown(), { error: 'must be an object' }).optional(),
  defaultNetworks: z.array(z.string().regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, { error: 'must be "namespace/name" or "name" of a NAD' }), { error: 'must be a list' }).optional(),
  readinessIndicatorFile: z.string({ error: 'must be a string' }).startsWith('/', { error: 'must be an absolute path' }).optional(),
});

export function parseTopLevel(conf: Obj): TopLevelConf {
  const object = `CNI config ${JSON.stringify(String(conf['name'] ?? '(unnamed)'))}`;
  const r = schema.safeParse(conf);
  if (!r.success) {
    const iss = r.error.issues[0]!;
    invalid(object, fieldPath(iss.path), iss.message);
  }
  const c = r.data;
  const def = parseNetConf(c.delegates[0], object, 'delegates[0]');
  return {
    cniVersion: c.cniVersion,
    name: c.name,
    defaultNetwork: def,
    cacheDir: c.cacheDir ?? DEFAULT_CACHE_DIR,
    confDir: c.confDir ?? '/etc/cni/net.d',
    ...(c.binDirs ? { binDirs: c.binDirs } : {}),
    ...(c.hostRoot && c.hostRoot !== '/' ? { hostRoot: c.hostRoot } : {}),
    namespaceIsolation: c.namespaceIsolation ?? false,
    globalNamespaces: c.globalNamespaces ?? ['default'],
    execTimeoutMs: c.execTimeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
    maxOutputBytes: c.maxOutputBytes ?? DEFAULT_MAX_OUTPUT,
    runtimeConfig: c.runtimeConfig ?? {},
    defaultNetworks: c.defaultNetworks ?? [],
    ...(c.readinessIndicatorFile ? { readinessIndicatorFile: c.readinessIndicatorFile } : {}),
  };
}
