// The command runner lives in src/kernel/exec.ts (the adapters use it); re-exported for callers above reconcile.
export { createRunner } from '../kernel/exec.ts';
export type { CommandResult, CommandRunner, CountingRunner } from '../kernel/exec.ts';
