// The agent's IP-pool claimer (--ip-pools): until this Node has podCIDRs, claim its blocks
// (claim.ts) and retry every few seconds, so a pool created or a label set later still gives the
// Node its block; once the Node has podCIDRs it claims no more (they never move), and every
// conditionsMs it checks them again, so a relabel that no longer matches their pool is reported. Each distinct set
// of diagnostics is logged once, and each new one about the Node posted as an Event on it; the pod network controller sees the new podCIDR through its Node
// informer like any other. Every round, and every conditionsMs after the claim, it also frees the
// blocks of Nodes missing for releaseGraceMs (releaseStaleBlocks) and brings the pools'
// status.conditions up to date (syncPoolConditions); each agent does, a pool that already says the
// same is not written. The pools listed then are handed to onPools (the pod network's natOutgoing).
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Logger } from '../log/index.ts';
import { claimNodeBlocks, releaseStaleBlocks, syncPoolConditions, type ClaimResult } from './claim.ts';
import { postNodeEvent } from './events.ts';
import type { IPPoolModel } from './model/ippool.ts';

export interface PoolClaimerOptions {
  kc: KubeConfig;
  nodeName: string;
  logger?: Logger;
  /** pause between attempts while the Node has no podCIDRs (default 5 s) */
  retryMs?: number;
  /** pause between condition updates once the Node has podCIDRs (default 30 s) */
  conditionsMs?: number;
  /** a deleted Node's block is freed after it has been missing this long (default 5 min) */
  releaseGraceMs?: number;
  /** handed the valid pools at each claim (before the Node's podCIDRs are set) and every condition round (the pod network's egress chain uses them) */
  onPools?: (pools: IPPoolModel[]) => void;
}

export class PoolClaimer {
  private readonly opts: PoolClaimerOptions;
  private readonly abort = new AbortController();
  private lastReport = '';
  /** node name → when this claimer first saw it missing (for releaseStaleBlocks) */
  private readonly missing = new Map<string, number>();
  /** Node diagnostics already posted as Events (code|reason); one that goes away may be posted again */
  private posted = new Set<string>();
  eventsPosted = 0;
  /** settles when stopped, with the result that gave the Node podCIDRs (undefined: none did) */
  done: Promise<ClaimResult | undefined> = Promise.resolve(undefined);
  /** the result that gave (or found) the Node's podCIDRs */
  claimed: ClaimResult | undefined;
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
    const claimed = await this.claimLoop();
    while (!this.abort.signal.aborted) {
      await this.syncConditions();
      await this.pause(this.opts.conditionsMs ?? 30_000);
      // the Node keeps its podCIDRs; a relabel that no longer matches their pool is reported
      // (logged once, an Event on the Node) within a round, not only at the agent's next start
      if (claimed && !this.abort.signal.aborted) await this.attempt().catch((e: unknown) => {
        if (!this.abort.signal.aborted) this.opts.logger?.warn({ err: e instanceof Error ? e.message : String(e) }, 'IP pools: podCIDR check failed; retrying');
      });
    }
    return claimed;
  }

  /** One claim (or, with podCIDRs set, a check): diagnostics logged once each, Node Events posted. */
  private async attempt(): Promise<ClaimResult> {
    const { kc, nodeName, logger } = this.opts;
    const r = await claimNodeBlocks(kc, nodeName, { signal: this.abort.signal, ...(this.opts.onPools ? { onPools: this.opts.onPools } : {}) });
    const report = JSON.stringify(r.diagnostics);
    if (report !== this.lastReport) {
      this.lastReport = report;
      for (const d of r.diagnostics) (d.severity === 'error' ? logger?.error : logger?.warn)?.({ ...d }, 'IP pools');
    }
    await this.postEvents(r);
    if (r.set) logger?.info({ node: nodeName, podCIDRs: r.podCIDRs, conflicts: r.conflicts }, 'IP pools: podCIDRs claimed and set');
    return r;
  }

  private async postEvents(r: ClaimResult): Promise<void> {
    const now = new Set<string>();
    for (const d of r.diagnostics.filter((x) => x.kind === 'Node')) {
      const id = `${d.code}|${d.reason}`;
      now.add(id);
      if (this.posted.has(id)) continue;
      try {
        await postNodeEvent(this.opts.kc, { name: this.opts.nodeName, ...(r.nodeUid ? { uid: r.nodeUid } : {}) }, d, this.abort.signal);
        this.posted.add(id);
        this.eventsPosted++;
      } catch (e) {
        if (!this.abort.signal.aborted) this.opts.logger?.warn({ err: e instanceof Error ? e.message : String(e) }, 'IP pools: could not post Event');
      }
    }
    for (const id of this.posted) if (!now.has(id)) this.posted.delete(id);
  }

  private async syncConditions(): Promise<void> {
    try {
      const released = await releaseStaleBlocks(this.opts.kc, this.missing, this.opts.releaseGraceMs ?? 300_000, { signal: this.abort.signal });
      for (const r of released) this.opts.logger?.info({ ...r }, 'IP pools: block of a deleted Node freed');
      const written = await syncPoolConditions(this.opts.kc, { signal: this.abort.signal, ...(this.opts.onPools ? { onPools: this.opts.onPools } : {}) });
      if (written.length) this.opts.logger?.info({ pools: written }, 'IP pools: status conditions written');
    } catch (e) {
      if (!this.abort.signal.aborted) this.opts.logger?.warn({ err: e instanceof Error ? e.message : String(e) }, 'IP pools: status conditions not written; retrying');
    }
  }

  private pause(ms: number): Promise<void> {
    const signal = this.abort.signal;
    return new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const t = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
    });
  }

  private async claimLoop(): Promise<ClaimResult | undefined> {
    const { kc, nodeName, logger } = this.opts;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      this.attempts++;
      try {
        const r = await this.attempt();
        if (r.podCIDRs.length > 0) {
          this.claimed = r;
          return r;
        }
      } catch (e) {
        if (signal.aborted) break;
        logger?.warn({ node: nodeName, err: e instanceof Error ? e.message : String(e), attempt: this.attempts }, 'IP pools: claim failed; retrying');
      }
      await this.syncConditions();
      await this.pause(this.opts.retryMs ?? 5000);
    }
    return undefined;
  }
}
