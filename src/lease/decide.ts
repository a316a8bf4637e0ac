// Leader election over a coordination.k8s.io/v1 Lease, the decision part (pure), in client-go's
// manner: a holder is presumed alive until the record has stayed unchanged for leaseDuration by
// this process's own clock (so no two clocks are compared), an empty holder is free, and every
// write carries the resourceVersion read so of two contenders exactly one wins.

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number | null;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number | null;
}

export interface Observed {
  /** the record as last read (holder, renewTime, resourceVersion) */
  fingerprint: string;
  /** this process's clock (ms) when that record was first read */
  at: number;
}

export type LeaseAction =
  | { do: 'create' }
  | { do: 'renew' }
  | { do: 'take'; transitions: number }
  | { do: 'wait'; holder: string; expiresInMs: number };

export function fingerprint(spec: LeaseSpec | undefined, resourceVersion: string | undefined): string {
  return `${spec?.holderIdentity ?? ''}|${spec?.renewTime ?? ''}|${resourceVersion ?? ''}`;
}

/** A MicroTime (RFC 3339 with microseconds, as the API server stores Lease times). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/**
 * What to do with a Lease just read (undefined: none exists). `observed` is updated by the caller
 * from the returned `observed` value.
 */
export function decide(
  identity: string,
  lease: { spec?: LeaseSpec; resourceVersion?: string } | undefined,
  observed: Observed | undefined,
  now: number,
  defaultDurationMs: number,
): { action: LeaseAction; observed?: Observed } {
  if (!lease) return { action: { do: 'create' } };
  const fp = fingerprint(lease.spec, lease.resourceVersion);
  const obs = observed && observed.fingerprint === fp ? observed : { fingerprint: fp, at: now };
  const holder = lease.spec?.holderIdentity ?? '';
  const transitions = lease.spec?.leaseTransitions ?? 0;
  if (holder === identity) return { action: { do: 'renew' }, observed: obs };
  if (holder === '') return { action: { do: 'take', transitions: transitions + 1 }, observed: obs };
  const duration = (lease.spec?.leaseDurationSeconds ?? 0) > 0 ? lease.spec!.leaseDurationSeconds! * 1000 : defaultDurationMs;
  const left = obs.at + duration - now;
  if (left <= 0) return { action: { do: 'take', transitions: transitions + 1 }, observed: obs };
  return { action: { do: 'wait', holder, expiresInMs: left }, observed: obs };
}
