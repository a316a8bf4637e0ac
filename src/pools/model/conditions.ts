// The status.conditions ipvsnet keeps on an IPPool (pure): what a user sees with
// `kubectl describe ippool`. Two types:
//   Valid          True (reason Valid) or False (reason InvalidSpec, Overlap), the message naming
//                  the field as the agent's diagnostic does.
//   DirectRouting  present when ipipMode or vxlanMode is not Never: True, reason TunnelModeIgnored,
//                  saying that ipvsnet builds no tunnel and routes pod traffic directly.
import type { PoolDiagnostic } from './ippool.ts';

export interface PoolCondition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
  lastTransitionTime?: string;
}

/** The conditions of pool `name` from the diagnostics of its set (parseIPPools). */
export function desiredConditions(name: string, diagnostics: readonly PoolDiagnostic[]): PoolCondition[] {
  const mine = diagnostics.filter((d) => d.kind === 'IPPool' && d.object === name);
  const error = mine.find((d) => d.severity === 'error');
  const out: PoolCondition[] = [error
    ? { type: 'Valid', status: 'False', reason: error.reason.includes(' overlaps IPPool ') ? 'Overlap' : 'InvalidSpec', message: `${error.field}: ${error.reason}` }
    : { type: 'Valid', status: 'True', reason: 'Valid', message: 'the pool is in use' }];
  const tunnels = mine.filter((d) => d.severity === 'warning' && (d.field === 'spec.ipipMode' || d.field === 'spec.vxlanMode'));
  if (tunnels.length > 0) {
    out.push({ type: 'DirectRouting', status: 'True', reason: 'TunnelModeIgnored', message: tunnels.map((d) => `${d.field}: ${d.reason}`).join('; ') });
  }
  return out;
}

/**
 * The conditions to write, keeping lastTransitionTime of each condition whose status did not
 * change; undefined when `current` already says the same (nothing to write).
 */
export function mergeConditions(current: readonly PoolCondition[], desired: readonly PoolCondition[], now: string): PoolCondition[] | undefined {
  const same = current.length === desired.length && desired.every((d) => current.some((c) =>
    c.type === d.type && c.status === d.status && c.reason === d.reason && c.message === d.message));
  if (same) return undefined;
  return desired.map((d) => {
    const c = current.find((x) => x.type === d.type);
    return { ...d, lastTransitionTime: c && c.status === d.status && c.lastTransitionTime ? c.lastTransitionTime : now };
  });
}
