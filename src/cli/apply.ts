// `ipvsnet apply`: reconcile the kernel ONCE to the plan for manifests on disk,
// with no cluster. The node flags are `plan`'s (src/cli/flags.ts). Prints a
// one-line summary of the operations performed; exits non-zero when any
// kernel operation failed.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createLogger, logLevelFromEnv } from '../log/index.ts';
import { nodeFlagOptions, nodeConfigFromValues, normaliseBooleans, UsageError, NODE_FLAGS_HELP } from './flags.ts';
import { loadManifests, ManifestReadError } from '../model/load.ts';
import { escapeText, formatDiagnostic } from '../model/diagnostics.ts';
import { buildPlan } from '../plan/full.ts';
import type { Family } from '../net/index.ts';
import type { Plan } from '../plan/types.ts';
import { Reconciler, OPERATION_KINDS } from '../reconcile/index.ts';
import type { SyncResult } from '../reconcile/index.ts';
import { STATE_DIR, defaultStateFile } from '../reconcile/ownership.ts';
import { applySysctls, kubeProxySysctls } from '../kernel/sysctl.ts';

export const APPLY_HELP = `usage: ipvsnet apply -f FILE|DIR ... [--node NAME] [flags]

Reconcile this node's kernel (IPVS, kube-ipvs0, ipsets, iptables) once to the plan
for the manifests given, touching only what ipvsnet owns, and print a one-line summary.

apply:
  --iptables-backend nft|legacy   default: the backend the host's other rules use
  --state-file PATH               where owned virtual servers are recorded (default: one per network
                                  namespace, ${STATE_DIR}/net-<netns inode>/state.json)
  --graceful-timeout SECONDS      bound on draining a removed TCP dest (default 60)
  --output json                   print the full sync result as JSON instead of the summary line
${NODE_FLAGS_HELP}

exit status:
  0  the kernel holds the plan
  1  some kernel operations failed (each is logged with its object and operation)
  2  unusable arguments, or a path given with -f that does not exist (the kernel is not touched)
  3  the kernel holds the plan, but some input objects or files had errors and were skipped
     (a bad file is one line naming it; see 'ipvsnet plan --help' for the file limits)
  70 an internal error (a bug in ipvsnet: please report it)
`;

const applyOptions = {
  ...nodeFlagOptions,
  'iptables-backend': { type: 'string' },
  'state-file': { type: 'string' },
  'graceful-timeout': { type: 'string' },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const BOOLEANS = Object.entries(applyOptions).filter(([, o]) => o.type === 'boolean').map(([k]) => k);

export function summarize(node: string, r: SyncResult): string {
  const parts = OPERATION_KINDS.filter((k) => r.operations[k] > 0).map((k) => `${k} ${r.operations[k]}`);
  return `ipvsnet apply: node ${node || '(none)'}: ${r.totalOperations} operations${parts.length ? ` (${parts.join(', ')})` : ''}, ${r.processes} processes, ${r.failures.length} failed, ${(r.durationMs / 1000).toFixed(2)} s`;
}

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: normaliseBooleans(argv, BOOLEANS), options: applyOptions, strict: true, allowPositionals: false }));
  } catch (e) {
    process.stderr.write(`ipvsnet apply: ${escapeText((e as Error).message)}\nrun 'ipvsnet apply --help' for usage\n`);
    return 2;
  }
  if (values.help) { process.stdout.write(APPLY_HELP); return 0; }
  const usage = (m: string): number => { process.stderr.write(`ipvsnet apply: ${escapeText(m)}\nrun 'ipvsnet apply --help' for usage\n`); return 2; };
  const files = values.filename ?? [];
  if (files.length === 0) return usage('give manifests with -f FILE|DIR (apply works without a cluster)');
  if (values.kubeconfig) return usage('--kubeconfig is for `ipvsnet agent`; apply reads manifests with -f');
  const backend = values['iptables-backend'];
  if (backend !== undefined && backend !== 'nft' && backend !== 'legacy') return usage(`--iptables-backend must be nft or legacy, got ${JSON.stringify(backend)}`);
  const graceful = values['graceful-timeout'] === undefined ? 60 : Number(values['graceful-timeout']);
  if (!Number.isFinite(graceful) || graceful < 0) return usage(`--graceful-timeout must be a number of seconds, got ${JSON.stringify(values['graceful-timeout'])}`);
  if (values.output !== undefined && values.output !== 'json') return usage(`--output must be json, got ${JSON.stringify(values.output)}`);
  let cfg;
  try { cfg = nodeConfigFromValues(values); } catch (e) { if (e instanceof UsageError) return usage(e.message); throw e; }

  let input;
  try {
    input = await loadManifests(files);
  } catch (e) {
    if (e instanceof ManifestReadError) { process.stderr.write(`ipvsnet apply: ${escapeText(e.message)}\n`); return 2; }
    throw e;
  }
  if (!cfg.nodeName && input.nodes.length === 1) cfg.nodeName = input.nodes[0]!.name;
  const plan: Plan = buildPlan(input, cfg);
  for (const d of plan.diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');

  const logger = createLogger(logLevelFromEnv(process.env.IPVSNET_LOG_LEVEL));
  const families: Family[] = plan.families.map((f) => f.family);
  const { reconciler, problems } = await Reconciler.open({
    logger,
    families: families.length ? families : [4],
    ...(backend ? { backend } : {}),
    stateFile: values['state-file'] ?? (await defaultStateFile()),
    gracefulTimeoutMs: graceful * 1000,
    excludeCIDRs: cfg.excludeCIDRs,
  });
  // kube-proxy IPVS mode's sysctls (net/ipv4/vs/conntrack=1 and friends), written only when they differ.
  const sysctls = await applySysctls(kubeProxySysctls({ strictARP: cfg.strictARP }));
  let result: SyncResult;
  try {
    result = await reconciler.sync(plan);
  } finally {
    reconciler.close();
  }
  for (const f of sysctls.failed) result.failures.push({ object: `sysctl ${f.sysctl}`, operation: `write ${f.sysctl}`, error: f.message });
  if (values.output === 'json') process.stdout.write(JSON.stringify({ ...result, problems }, null, 2) + '\n');
  else process.stdout.write(summarize(cfg.nodeName, result) + '\n');
  for (const f of result.failures) process.stderr.write(`failed: ${escapeText(f.object)}: ${escapeText(f.operation)}: ${escapeText(f.error)}\n`);
  if (result.failures.length > 0 || problems.length > 0) return 1;
  return plan.diagnostics.some((d) => d.severity === 'error') ? 3 : 0;
}
