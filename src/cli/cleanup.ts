// `ipvsnet cleanup`: remove exactly what ipvsnet owns — its IPVS virtual
// servers (on kube-ipvs0's addresses or recorded in its state file, never inside
// --ipvs-exclude-cidrs), kube-ipvs0, the jump rules and KUBE-* chains of
// kube-proxy's IPVS mode and its ipsets (the proxy's reconciler), and the pod
// network's routes (protocol 240), egress chain (nat IPVSNET-POD-EGRESS) and its
// jump, and its conflist (src/podnet) — and nothing else.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createLogger, logLevelFromEnv } from '../log/index.ts';
import { Reconciler, OPERATION_KINDS } from '../reconcile/index.ts';
import { STATE_DIR, defaultStateFile } from '../reconcile/ownership.ts';
import type { Family } from '../net/index.ts';
import { cleanupPodNetwork, conflistPath, DEFAULT_CONF_DIR } from '../podnet/index.ts';

export const CLEANUP_HELP = `usage: ipvsnet cleanup [flags]

Remove what ipvsnet (or kube-proxy's IPVS mode) owns on this node and nothing else:
its virtual servers, kube-ipvs0, its KUBE-* chains and jump rules, its ipsets, the pod
routes (protocol 240), the pod egress chain IPVSNET-POD-EGRESS and its POSTROUTING jump,
and ipvsnet's conflist (only when it lists ipvsnet-bridge), and the multi-network wrapper conflist
(00-ipvsnet-multinet.conflist, only when its plugin is ipvsnet-multinet).
Foreign IPVS services, routes, chains, sets and conflists survive.

  --iptables-backend nft|legacy   default: the backend the host's other rules use
  --state-file PATH               ipvsnet's record of owned virtual servers (default: one per network
                                  namespace, ${STATE_DIR}/net-<netns inode>/state.json)
  --ipvs-exclude-cidrs LIST       never touch virtual servers inside these CIDRs
  --family 4|6|all                which iptables families to clean (default all)
  --cni-conf-dir DIR              where the agent wrote its conflist (default ${DEFAULT_CONF_DIR})
`;

const options = {
  'iptables-backend': { type: 'string' },
  'state-file': { type: 'string' },
  'ipvs-exclude-cidrs': { type: 'string', multiple: true },
  family: { type: 'string' },
  'cni-conf-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (e) {
    process.stderr.write(`ipvsnet cleanup: ${(e as Error).message}\n`);
    return 2;
  }
  if (values.help) { process.stdout.write(CLEANUP_HELP); return 0; }
  const backend = values['iptables-backend'];
  if (backend !== undefined && backend !== 'nft' && backend !== 'legacy') {
    process.stderr.write(`ipvsnet cleanup: --iptables-backend must be nft or legacy\n`);
    return 2;
  }
  const fam = values.family ?? 'all';
  if (fam !== 'all' && fam !== '4' && fam !== '6') { process.stderr.write(`ipvsnet cleanup: --family must be 4, 6 or all\n`); return 2; }
  const families: Family[] = fam === 'all' ? [4, 6] : [Number(fam) as Family];
  const logger = createLogger(logLevelFromEnv(process.env.IPVSNET_LOG_LEVEL));
  const excludeCIDRs = (values['ipvs-exclude-cidrs'] ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  const { reconciler, problems } = await Reconciler.open({
    logger, families, ...(backend ? { backend } : {}), stateFile: values['state-file'] ?? (await defaultStateFile()), excludeCIDRs,
  });
  let failed: number;
  try {
    const r = await reconciler.cleanup();
    const parts = OPERATION_KINDS.filter((k) => r.operations[k] > 0).map((k) => `${k} ${r.operations[k]}`);
    process.stdout.write(`ipvsnet cleanup: ${r.totalOperations} operations${parts.length ? ` (${parts.join(', ')})` : ''}, ${r.processes} processes, ${r.failures.length} failed\n`);
    for (const f of r.failures) process.stderr.write(`failed: ${f.object}: ${f.operation}: ${f.error}\n`);
    // A missing IPVS or iptables is not a cleanup failure: there is nothing of ours there.
    void problems;
    failed = r.failures.length;
  } finally {
    reconciler.close();
  }
  const confDir = values['cni-conf-dir'] ?? DEFAULT_CONF_DIR;
  const p = await cleanupPodNetwork({ families, ...(backend ? { backend } : {}), confDir });
  const egress = p.egress.families.filter((f) => f.action === 'removed').map((f) => `IPv${f.family}`);
  process.stdout.write(`ipvsnet cleanup: pod network: ${p.routes.length} routes removed, egress chain ${egress.length ? `removed (${egress.join(', ')})` : 'absent'}, conflist ${conflistPath(confDir)} ${p.conflist?.action ?? 'absent'}, ${p.errors.length} failed\n`);
  for (const e of p.errors) process.stderr.write(`failed: pod network: ${e}\n`);
  const { cleanupMultinetConflist } = await import('../multinet/cleanup.ts');
  let mnFailed = 0;
  try {
    const m = await cleanupMultinetConflist(confDir);
    process.stdout.write(`ipvsnet cleanup: multi-network conflist ${m.path} ${m.action}\n`);
  } catch (e) {
    mnFailed = 1;
    process.stderr.write(`failed: multi-network conflist: ${e instanceof Error ? e.message : String(e)}\n`);
  }
  return failed + p.errors.length + mnFailed > 0 ? 1 : 0;
}
