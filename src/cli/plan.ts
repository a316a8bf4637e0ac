// `ipvsnet plan`: the dry run. Reads manifests (or a live cluster once), plans
// the node, prints one of the payloads; diagnostics go to stderr.

import { parsePlanFlags, UsageError, NODE_FLAGS_HELP, type PlanFlags } from './flags.ts';
import { collectObjects, DEFAULT_LIMITS, loadManifests, ManifestReadError, type LoadedManifests } from '../model/load.ts';
import { escapeText, formatDiagnostic } from '../model/diagnostics.ts';
import { buildPlan } from '../plan/full.ts';
import { formatIpset, formatIpvsadm, formatIptables, formatJson } from '../plan/format.ts';

export const EXIT_OK = 0;
export const EXIT_USAGE = 2;
export const EXIT_SKIPPED = 3;

export const PLAN_HELP = `usage: ipvsnet plan (-f FILE|DIR ... | --kubeconfig PATH) [--node NAME] [flags]

Print what ipvsnet would program on a node, without touching the kernel.

output:
  -o, --format FORMAT         iptables (default): input for iptables-restore --noflush
                              ipset:    a script for ipset restore (create ... -exist, then add ...)
                              ipvsadm:  lines for ipvsadm -R (-A virtual servers, -a real servers)
                              json:     the whole plan
  --family 4|6|all            which IP family to print (default all; iptables-restore takes one family)
${NODE_FLAGS_HELP}

Problems with input objects are printed on stderr, one per line, control characters escaped:
  SEVERITY: KIND NAMESPACE/NAME FIELD: REASON
An object with an error is skipped; the others are still planned. A file that cannot be used is one
line naming it (kind Config), and the other files are still planned: a file that is not valid YAML or
JSON, nests deeper than ${DEFAULT_LIMITS.maxDepth} levels, resolves more than ${DEFAULT_LIMITS.maxAliasCount} YAML aliases in a document,
is larger than ${DEFAULT_LIMITS.maxFileBytes / (1024 * 1024)} MiB, is not a regular file (a FIFO, a socket, a device: never opened) or
cannot be read. Items of a List that are not objects, documents that are not objects, objects without
a kind and known kinds in the wrong case ("kind: service") each get a line too; objects of kinds the
proxy does not read (Deployment, ConfigMap, ...) are ignored.

exit status:
  0  everything was planned (warnings may have been printed)
  3  some objects or files (or parts of the node settings) had errors and were skipped; the rest was planned
  2  unusable arguments (every flag is checked before anything is printed), a path given with -f
     that does not exist, or a cluster that could not be read; nothing is printed on stdout
  70 an internal error (a bug in ipvsnet: please report it)
`;

// --kubeconfig: list Services, EndpointSlices and Nodes once (watching is the agent's job).

export class ClusterReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterReadError';
  }
}

export async function readClusterOnce(kubeconfig: string): Promise<LoadedManifests> {
  // The agent's own client (raw JSON, the kubeconfig's auth and TLS), so plan sees what the agent sees.
  const { loadKubeConfig, listCollection } = await import('../sources/kube.ts');
  let kc;
  try {
    kc = loadKubeConfig({ kubeconfig });
  } catch (e) {
    throw new ClusterReadError(`cannot read kubeconfig ${kubeconfig}: ${(e as Error).message}`);
  }
  let raws: unknown[];
  try {
    const withKind = (kind: string) => (o: object) => ({ ...o, kind });
    const [svcs, slices, nodes] = await Promise.all([
      listCollection<object>(kc, '/api/v1/services', { each: withKind('Service') }),
      listCollection<object>(kc, '/apis/discovery.k8s.io/v1/endpointslices', { each: withKind('EndpointSlice') }),
      listCollection<object>(kc, '/api/v1/nodes', { each: withKind('Node') }),
    ]);
    raws = [...svcs.items, ...slices.items, ...nodes.items];
  } catch (e) {
    throw new ClusterReadError(`cannot list objects from the cluster in ${kubeconfig}: ${(e as Error).message}`);
  }
  const out: LoadedManifests = { services: [], endpointSlices: [], nodes: [], diagnostics: [] };
  collectObjects(raws, out);
  return out;
}

export async function run(argv: string[]): Promise<number> {
  let flags: PlanFlags;
  try {
    flags = parsePlanFlags(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`ipvsnet plan: ${escapeText(e.message)}\nrun 'ipvsnet plan --help' for usage\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
  if (flags.help) {
    process.stdout.write(PLAN_HELP);
    return EXIT_OK;
  }
  let input: LoadedManifests;
  try {
    input = flags.kubeconfig ? await readClusterOnce(flags.kubeconfig) : await loadManifests(flags.files);
  } catch (e) {
    if (e instanceof ManifestReadError || e instanceof ClusterReadError) {
      process.stderr.write(`ipvsnet plan: ${escapeText((e as Error).message)}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
  const cfg = flags.config;
  if (!flags.nodeGiven && input.nodes.length === 1) cfg.nodeName = input.nodes[0]!.name;
  const plan = buildPlan(input, cfg);
  for (const d of plan.diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');
  let text: string;
  switch (flags.format) {
    case 'ipset': text = formatIpset(plan, flags.family); break;
    case 'ipvsadm': text = formatIpvsadm(plan, flags.family); break;
    case 'json': text = formatJson(plan); break;
    default: text = formatIptables(plan, flags.family);
  }
  process.stdout.write(text);
  return plan.diagnostics.some((d) => d.severity === 'error') ? EXIT_SKIPPED : EXIT_OK;
}
