// IPVS schedulers and the per-Service scheduler annotation (an ipvsnet
// extension: kube-proxy has one global --ipvs-scheduler; kube-router reads a
// per-Service annotation, and so do we).

import type { SchedulerOverride } from './types.ts';

export const SCHEDULER_ANNOTATION = 'ipvsnet.io/scheduler';
export const SCHEDULER_FLAGS_ANNOTATION = 'ipvsnet.io/scheduler-flags';

/** Every scheduler Linux IPVS ships (net/netfilter/ipvs/ip_vs_*.c). */
export const IPVS_SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf', 'twos'] as const;

export function isKnownScheduler(s: string): boolean {
  return (IPVS_SCHEDULERS as readonly string[]).includes(s);
}

/**
 * Scheduler flag names accepted in the flags annotation. The kernel has three
 * generic bits (IP_VS_SVC_F_SCHED1..3); sh and mh name the first two
 * "fallback" and "port". We store them under the sh names, which the contract
 * uses, and print them per scheduler (mh-port for mh) when rendering ipvsadm.
 */
const FLAG_ALIASES: Record<string, 'sh-fallback' | 'sh-port'> = {
  'sh-fallback': 'sh-fallback',
  'sh-port': 'sh-port',
  'mh-fallback': 'sh-fallback',
  'mh-port': 'sh-port',
  'flag-1': 'sh-fallback',
  'flag-2': 'sh-port',
};

export interface SchedulerParse {
  override?: SchedulerOverride;
  problems: Array<{ field: string; reason: string }>;
}

/** Parse the annotations; problems are warnings (the default scheduler is used instead). */
export function parseSchedulerAnnotations(annotations: Record<string, string> | undefined | null): SchedulerParse {
  const problems: SchedulerParse['problems'] = [];
  const name = annotations?.[SCHEDULER_ANNOTATION];
  const flagsRaw = annotations?.[SCHEDULER_FLAGS_ANNOTATION];
  const nameField = `metadata.annotations[${JSON.stringify(SCHEDULER_ANNOTATION)}]`;
  const flagsField = `metadata.annotations[${JSON.stringify(SCHEDULER_FLAGS_ANNOTATION)}]`;
  if (name === undefined) {
    if (flagsRaw !== undefined) problems.push({ field: flagsField, reason: `flags given without ${SCHEDULER_ANNOTATION}; ignored` });
    return { problems };
  }
  const sched = name.trim();
  if (!isKnownScheduler(sched)) {
    problems.push({ field: nameField, reason: `unknown IPVS scheduler ${JSON.stringify(name)} (known: ${IPVS_SCHEDULERS.join(', ')}); the node default is used` });
    return { problems };
  }
  const flags = new Set<'sh-fallback' | 'sh-port'>();
  if (flagsRaw !== undefined && flagsRaw.trim() !== '') {
    for (const f of flagsRaw.split(',').map((x) => x.trim()).filter(Boolean)) {
      const mapped = FLAG_ALIASES[f];
      if (!mapped) {
        problems.push({ field: flagsField, reason: `unknown scheduler flag ${JSON.stringify(f)} (known: ${Object.keys(FLAG_ALIASES).join(', ')}); ignored` });
        continue;
      }
      const prefix = f.slice(0, 3);
      if ((prefix === 'sh-' && sched !== 'sh') || (prefix === 'mh-' && sched !== 'mh')) {
        problems.push({ field: flagsField, reason: `flag ${JSON.stringify(f)} does not apply to scheduler ${sched}; ignored` });
        continue;
      }
      flags.add(mapped);
    }
  }
  return { override: { name: sched, flags: [...flags].sort() }, problems };
}
