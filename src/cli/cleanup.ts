// `ipvsnet cleanup`: remove exactly what ipvsnet owns — its IPVS virtual
// servers (on kube-ipvs0's addresses or recorded in its state file, never inside
// --ipvs-exclude-cidrs), kube-ipvs0, the jump rules and KUBE-* chains of
// kube-proxy's IPVS mode, ipvsnet's pod egress chain (nat IPVSNET-POD-EGRESS) and
// its jump, and its ipsets — and nothing else.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import pino from 'pino';
import { Reconciler, OPERATION_KINDS } from '../reconcile/index.ts';
import { STATE_DIR, defaultStateFile } from '../reconcile/ownership.ts';
import type { Family } from '../plan/types.ts';
import { POD_EGRESS_CLEANUP } from '../routes/masquerade.ts';

export const CLEANUP_HELP = `usage: ipvsnet cleanup [flags]

Remove what ipvsnet (or kube-proxy's IPVS mode) owns on this node and nothing else:
its virtual servers, kube-ipvs0, its KUBE-* chains and jump rules, the pod egress chain
IPVSNET-POD-EGRESS and its POSTROUTING jump, its ipsets.
Foreign IPVS services, chains and sets survive.

  --iptables-backend nft|legacy   default: the backend the host's other rules use
  --state-file PATH               ipvsnet's record of owned virtual servers (default: one per network
                                  namespace, ${STATE_DIR}/net-<netns inode>/state.json)
  --ipvs-exclude-cidrs LIST       never touch virtual servers inside these CIDRs
  --family 4|6|all                which iptables families to clean (default all)
`;

const options = {
  'iptables-backend': { type: 'string' },
  'state-file': { type: 'string' },
  'ipvs-exclude-cidrs': { type: 'string', multiple: true },
  family: { type: 'string' },
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
  const logger = pino({ name: 'ipvsnet-cleanup', level: process.env.IPVSNET_LOG_LEVEL ?? 'warn' }, pino.destination(2));
  const excludeCIDRs = (values['ipvs-exclude-cidrs'] ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  const { reconciler, problems } = await Reconciler.open({
    logger, families, ...(backend ? { backend } : {}), stateFile: values['state-file'] ?? (await defaultStateFile()), excludeCIDRs,
  });
  try {
    const r = await reconciler.cleanup({ chains: POD_EGRESS_CLEANUP });
    const parts = OPERATION_KINDS.filter((k) => r.operations[k] > 0).map((k) => `${k} ${r.operations[k]}`);
    process.stdout.write(`ipvsnet cleanup: ${r.totalOperations} operations${parts.length ? ` (${parts.join(', ')})` : ''}, ${r.processes} processes, ${r.failures.length} failed\n`);
    for (const f of r.failures) process.stderr.write(`failed: ${f.object}: ${f.operation}: ${f.error}\n`);
    // A missing IPVS or iptables is not a cleanup failure: there is nothing of ours there.
    void problems;
    return r.failures.length > 0 ? 1 : 0;
  } finally {
    reconciler.close();
  }
}
