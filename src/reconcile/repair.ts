// When a sync is a repair pass (pure): every subsystem reads the kernel back in full and repairs what
// changed behind ipvsnet's back (a deleted set member, rule or virtual server); between repair passes
// each works from its cache, so an EndpointSlice change costs its own operations and no process.
//
// The agent passes its syncPeriod as the interval: it syncs at least once per syncPeriod, and that
// periodic sync should be the repair pass. Its start jitters by the planning time before it (the
// runner times syncs, the reconciler's clock starts after the plan), so a sync up to a tenth of the
// interval (at most 1 s) early still counts: a change made behind ipvsnet's back is repaired within
// two syncPeriods even when changes keep the agent syncing in between.

/** Whether a sync starting at `now` is a repair pass; `lastStart` is when the last one started. */
export function repairDue(now: number, lastStart: number, intervalMs: number): boolean {
  if (intervalMs <= 0) return true;
  const slack = Math.min(1000, intervalMs / 10);
  return now - lastStart >= intervalMs - slack;
}
