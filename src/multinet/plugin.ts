// ipvsnet-multinet, the wrapper CNI plugin (Multus's role), on ipvsnet's CNI protocol layer. The
// runtime calls it with the top-level config (src/multinet/model/toplevel.ts); it plans the pod's
// attachments from the Pod and NADs the agent looked up for this request (`PodContext`) and runs
// them (src/multinet/run). ADD needs that context, so the agent; DEL, CHECK and GC need only the
// cache and run in the standalone executable too.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, ErrInvalidEnvironmentVariables, ErrPluginNotAvailable, ErrTryAgainLater } from '../cniproto/errors.ts';
import type { CmdContext, Plugin } from '../cniproto/skel.ts';
import type { Result } from '../cniproto/types.ts';
import { parseTopLevel } from './model/toplevel.ts';
import type { TopLevelConf } from './model/toplevel.ts';
import { planPod } from './plan/attachments.ts';
import type { PodInfo } from './plan/attachments.ts';
import { networkStatus } from './plan/status.ts';
import type { NetworkStatus } from './plan/status.ts';
import { AttachmentCache } from './run/cache.ts';
import type { ExecOptions } from './run/exec.ts';
import { addAll, checkAll, delAll, gcAll, joinErrors } from './run/multi.ts';
import type { Request, Runner } from './run/multi.ts';
import { statusList } from './run/libcni.ts';

/** What the agent found for one ADD (sent with the request to the worker). */
export interface PodContext {
  pod?: PodInfo;
  /** NAD objects by "namespace/name" (raw; validated by the planner) */
  nads: Record<string, unknown>;
  /** the lookup failed: answered as this CNI error */
  problem?: { code: number; msg: string };
}

/** What an ADD or DEL reports back to the agent (network-status, Events). */
export interface AddReport {
  command: 'ADD' | 'DEL';
  pod?: { namespace: string; name: string; uid?: string };
  containerId: string;
  status?: NetworkStatus[];
  /** the failure, when there was one */
  error?: { code: number; msg: string };
}

export interface MultinetPluginOptions {
  /** the context of this request; undefined when no agent looked it up (the standalone executable) */
  context?: PodContext;
  inProcess?: ExecOptions['inProcess'];
  onReport?: (r: AddReport) => void;
}

function readConfFiles(dir: string): Array<{ path: string; text: string }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => /\.(conf|conflist|json)$/.test(n)).flatMap((n) => {
    try {
      return [{ path: join(dir, n), text: readFileSync(join(dir, n), 'utf8') }];
    } catch {
      return [];
    }
  });
}

function runnerOf(top: TopLevelConf, ctx: CmdContext, o: MultinetPluginOptions): Runner {
  return {
    cache: new AttachmentCache(top.cacheDir),
    exec: { binDirs: top.binDirs ?? ctx.path, timeoutMs: top.execTimeoutMs, maxOutputBytes: top.maxOutputBytes, ...(top.hostRoot ? { hostRoot: top.hostRoot } : {}), ...(o.inProcess ? { inProcess: o.inProcess } : {}) },
  };
}

const requestOf = (ctx: CmdContext): Request => ({ containerId: ctx.containerId, netns: ctx.netns, ifname: ctx.ifname, args: ctx.args.pairs });

function podOfArgs(ctx: CmdContext): { namespace: string; name: string; uid?: string } | undefined {
  const ns = ctx.args.k8sPodNamespace;
  const name = ctx.args.k8sPodName;
  if (!ns || !name) return undefined;
  return { namespace: ns, name, ...(ctx.args.k8sPodUid ? { uid: ctx.args.k8sPodUid } : {}) };
}

export function multinetPlugin(o: MultinetPluginOptions = {}): Plugin {
  return {
    argKeys: [],
    async add(ctx: CmdContext): Promise<Result> {
      const top = parseTopLevel(ctx.conf);
      const run = runnerOf(top, ctx, o);
      const podArgs = podOfArgs(ctx);
      const report: AddReport = { command: 'ADD', containerId: ctx.containerId, ...(podArgs ? { pod: podArgs } : {}) };
      try {
        let pod: PodInfo;
        let nads: Record<string, unknown> = {};
        if (!podArgs) {
          // not a Kubernetes pod (no K8S_POD_* in CNI_ARGS): the default network only
          pod = { namespace: '', name: ctx.containerId, annotations: {} };
        } else {
          const c = o.context;
          if (!c) throw new CniError(ErrTryAgainLater, 'ipvsnet: ADD of a pod with multi-network needs the agent (it looks up the Pod and its NADs); the agent is not reachable; try again');
          if (c.problem) throw new CniError(c.problem.code, c.problem.msg);
          if (!c.pod) throw new CniError(ErrTryAgainLater, `ipvsnet: Pod ${podArgs.namespace}/${podArgs.name} is not known to the agent yet; try again`);
          pod = c.pod;
          nads = c.nads;
        }
        if (top.readinessIndicatorFile && !existsSync(join(top.hostRoot ?? '/', top.readinessIndicatorFile))) {
          throw new CniError(ErrTryAgainLater, `ipvsnet: the default network is not ready (${top.readinessIndicatorFile} does not exist); try again`);
        }
        let confFiles: Array<{ path: string; text: string }> | undefined;
        const plan = planPod({
          // a caller that is not a Kubernetes pod gets the default network alone
          pod, top: podArgs ? top : { ...top, defaultNetworks: [] }, ifname: ctx.ifname, nad: (ns, n) => nads[`${ns}/${n}`],
          get confFiles() { return (confFiles ??= readConfFiles(top.confDir)); },
        });
        const out = await run.cache.locked(ctx.containerId, async () => {
          try {
            return await addAll(run, requestOf(ctx), plan);
          } catch (e) {
            run.cache.dropLock(ctx.containerId); // rolled back: nothing of this container is left
            throw e;
          }
        });
        report.status = networkStatus(plan.attachments, out.results);
        o.onReport?.(report);
        return { ...out.results[0]!, cniVersion: ctx.cniVersion };
      } catch (e) {
        const ce = e instanceof CniError ? e : new CniError(999, e instanceof Error ? e.message : String(e));
        report.error = { code: ce.code, msg: ce.message };
        o.onReport?.(report);
        throw ce;
      }
    },
    async del(ctx: CmdContext): Promise<void> {
      const top = parseTopLevel(ctx.conf);
      const run = runnerOf(top, ctx, o);
      const errors = await run.cache.locked(ctx.containerId, async () => {
        const errs = await delAll(run, requestOf(ctx), top.defaultNetwork);
        if (!errs.length) run.cache.dropLock(ctx.containerId);
        return errs;
      });
      const podArgs = podOfArgs(ctx);
      const err = joinErrors(errors);
      o.onReport?.({ command: 'DEL', containerId: ctx.containerId, ...(podArgs ? { pod: podArgs } : {}), ...(err ? { error: { code: err.code, msg: err.message } } : {}) });
      if (err) throw err;
    },
    async check(ctx: CmdContext): Promise<void> {
      const top = parseTopLevel(ctx.conf);
      const run = runnerOf(top, ctx, o);
      await run.cache.locked(ctx.containerId, () => checkAll(run, requestOf(ctx)));
    },
    async gc(ctx: CmdContext): Promise<void> {
      const top = parseTopLevel(ctx.conf);
      const raw = ctx.conf['cni.dev/valid-attachments'];
      if (raw !== undefined && !Array.isArray(raw)) throw new CniError(ErrInvalidEnvironmentVariables, 'cni.dev/valid-attachments must be a list');
      const valid = ((raw ?? []) as Array<{ containerID?: unknown; ifname?: unknown }>)
        .filter((v) => typeof v?.containerID === 'string' && typeof v.ifname === 'string')
        .map((v) => ({ containerID: v.containerID as string, ifname: v.ifname as string }));
      const err = joinErrors(await gcAll(runnerOf(top, ctx, o), valid, top.defaultNetwork));
      if (err) throw err;
    },
    async status(ctx: CmdContext): Promise<void> {
      const top = parseTopLevel(ctx.conf);
      if (top.readinessIndicatorFile && !existsSync(join(top.hostRoot ?? '/', top.readinessIndicatorFile))) {
        throw new CniError(ErrPluginNotAvailable, `ipvsnet: the default network is not ready (${top.readinessIndicatorFile} does not exist)`);
      }
      await statusList(top.defaultNetwork, runnerOf(top, ctx, o).exec);
    },
  };
}

