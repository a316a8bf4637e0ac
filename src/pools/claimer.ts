// The agent's IP-pool claimer (--ip-pools): until this Node has podCIDRs, claim its blocks
// (claim.ts) and retry every few seconds, so a pool created or a label set later still gives the
// Node its block; once the Node has podCIDRs it stops (they never move). Each distinct set of
// diagnostics is logged once; the pod network controller sees the new podCIDR through its Node
// informer like any other.
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Logger } from '../log/index.ts';
import { claimNodeBlocks, type ClaimResult } from './claim.ts';

export interface PoolClaimerOptions {
  kc: KubeConfig;
  nodeName: string;
  logger?: Logger;
  /** pause between attempts while the Node has no podCIDRs (default 5 s) */
  retryMs?: number;
}

export class PoolClaimer {
  private readonly opts: PoolClaimerOptions;
  private readonly abort = new AbortController();
  private lastReport = '';
  /** settles with the last result when the Node has podCIDRs, or undefined when stopped first */
  done: Promise<ClaimResult | undefined> = Promise.resolve(undefined);
  attempts = 0;

  constructor(opts: PoolClaimerOptions) {
    this.opts = opts;
  }

  start(): void {
    this.done = this.loop();
  }

  stop(): void {
    this.abort.abort();
  }

  private async loop(): Promise<ClaimResult | undefined> {
    const { kc, nodeName, logger } = this.opts;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      this.attempts++;
      try {
        const r = await claimNodeBlocks(kc, nodeName, { signal });
        const report = JSON.stringify(r.diagnostics);
        if (report !== this.lastReport) {
          this.lastReport = report;
          for (const d of r.diagnostics) (d.severity === 'error' ? logger?.error : logger?.warn)?.({ ...d }, 'IP pools');
        }
        if (r.set) logger?.info({ node: nodeName, podCIDRs: r.podCIDRs, conflicts: r.conflicts }, 'IP pools: podCIDRs claimed and set');
        if (r.podCIDRs.length > 0) return r;
      } catch (e) {
        if (signal.aborted) break;
        logger?.warn({ node: nodeName, err: e instanceof Error ? e.message : String(e), attempt: this.attempts }, 'IP pools: claim failed; retrying');
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.opts.retryMs ?? 5000);
        signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
      });
    }
    return undefined;
  }
}
