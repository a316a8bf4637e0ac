// A pod's attachments run as Multus runs its delegates:
//   ADD   the default network first, then each NAD in order; the cache is written before and after
//         each delegate; a failure DELs, in reverse, everything started
//         (including the one that failed) and answers the failure, naming the network.
//   DEL   from the cache, in reverse, carrying on past failures; the errors answered together. With
//         no cache (a pod added before multi-network was on) the default network alone is DELed.
//   CHECK from the cache: each attachment's CHECK with its cached result.
//   GC    cache entries the runtime no longer lists are DELed; then GC on every network (1.1.0).
import { CniError, ErrInternal, ErrInvalidNetworkConfig } from '../../cniproto/errors.ts';
import { parseResult } from '../../cniproto/types.ts';
import type { Result } from '../../cniproto/types.ts';
import { formatIP, parseCIDR } from '../../net/index.ts';
import type { Attachment, PodPlan } from '../plan/attachments.ts';
import type { NetConfList, Obj } from '../model/netconf.ts';
import { AttachmentCache } from './cache.ts';
import type { CacheRecord, CachedAttachment } from './cache.ts';
import type { ExecOptions } from './exec.ts';
import { addList, checkList, delList, gcList, requirePlugins } from './libcni.ts';
import type { RuntimeConf } from './libcni.ts';
import { moveDefaultRoute, podHasLink } from './podns.ts';

export interface Request {
  containerId: string;
  netns: string;
  ifname: string;
  /** the runtime's CNI_ARGS pairs */
  args: Array<[string, string]>;
}

export interface Runner {
  cache: AttachmentCache;
  exec: ExecOptions;
}

export interface AddOutcome {
  attachments: CachedAttachment[];
  /** each attachment's result, parsed */
  results: Result[];
}

const IGNORE_UNKNOWN: [string, string] = ['IgnoreUnknown', '1'];

function runtimeOf(req: Request, a: Pick<CachedAttachment, 'ifname' | 'cniArgs' | 'capabilityArgs'>): RuntimeConf {
  let args = req.args;
  if (a.cniArgs.length) {
    const keys = new Set(a.cniArgs.map(([k]) => k));
    args = [...args.filter(([k]) => !keys.has(k) && k !== 'IgnoreUnknown'), IGNORE_UNKNOWN, ...a.cniArgs];
  }
  return { containerId: req.containerId, netns: req.netns, ifname: a.ifname, args, capabilityArgs: a.capabilityArgs };
}

/**
 * The error of a delegate, prefixed with what it belongs to (the NAD, or the default network) and
 * the interface; the code is the delegate's.
 */
function inNetwork(a: Pick<CachedAttachment, 'network' | 'ifname' | 'nad'>, e: unknown): CniError {
  const ce = e instanceof CniError ? e : new CniError(ErrInternal, e instanceof Error ? e.message : String(e));
  const what = a.nad ? `NetworkAttachmentDefinition ${a.nad.namespace}/${a.nad.name}` : `default network ${JSON.stringify(a.network)}`;
  return new CniError(ce.code, `${what} (${a.ifname}): ${ce.message}`, ce.details);
}

function toCached(a: Attachment): CachedAttachment {
  return {
    network: a.network, ...(a.nad ? { nad: a.nad } : {}), ifname: a.ifname, conf: a.conf, capabilityArgs: a.capabilityArgs,
    cniArgs: a.cniArgs, ...(a.defaultRoute ? { defaultRoute: a.defaultRoute } : {}), isDefaultNetwork: a.isDefaultNetwork, state: 'pending',
  };
}

/**
 * `ips` and `mac` requests must be in the delegate's result (a plugin that does not declare the
 * capability ignores them silently): an attachment that did not get what it asked for fails.
 */
function verifyRequests(a: CachedAttachment, r: Result): void {
  const ips = a.capabilityArgs['ips'] as string[] | undefined;
  const mac = a.capabilityArgs['mac'] as string | undefined;
  const norm = (c: string) => { const p = parseCIDR(c); return p ? `${formatIP(p.ip)}/${p.prefix}` : c; };
  const got = (r.ips ?? []).map((i) => norm(i.address));
  for (const want of ips ?? []) {
    if (!got.includes(norm(want))) throw new CniError(ErrInvalidNetworkConfig, `requested address ${want} was not configured (the result holds ${got.join(', ') || 'none'}); does the NAD's IPAM declare the "ips" capability (static IPAM)?`);
  }
  if (mac) {
    const itf = (r.interfaces ?? []).find((i) => i.name === a.ifname && i.sandbox);
    if (itf?.mac?.toLowerCase() !== mac.toLowerCase()) throw new CniError(ErrInvalidNetworkConfig, `requested MAC ${mac} was not set on ${a.ifname} (it has ${itf?.mac ?? 'none reported'}); does the plugin declare the "mac" capability (or add the tuning plugin)?`);
  }
}

export async function addAll(run: Runner, req: Request, plan: PodPlan): Promise<AddOutcome> {
  const rec: CacheRecord = {
    format: 1, containerId: req.containerId, ifname: req.ifname, netns: req.netns, args: req.args,
    pod: { namespace: plan.pod.namespace, name: plan.pod.name, ...(plan.pod.uid ? { uid: plan.pod.uid } : {}) },
    attachments: plan.attachments.map(toCached),
  };
  // written before each delegate runs (state adding) and after it (added, with its result)
  const results: Result[] = [];
  for (const a of rec.attachments) {
    try {
      requirePlugins(a.conf, run.exec);
      if (await podHasLink(req.netns, a.ifname)) {
        throw new CniError(ErrInvalidNetworkConfig, `interface ${a.ifname} already exists in the pod's network namespace`);
      }
      a.state = 'adding';
      run.cache.write(rec);
      const raw = await addList(a.conf, runtimeOf(req, a), run.exec);
      a.result = raw;
      a.state = 'added';
      run.cache.write(rec);
      const parsed = parseResult(raw, `${a.network} result`);
      results.push(parsed);
      verifyRequests(a, parsed);
    } catch (e) {
      const err = inNetwork(a, e);
      const undo = await delRecord(run, rec);
      if (undo.length) err.message += `; rolling back also failed: ${undo.map((u) => u.message).join('; ')}`;
      throw err;
    }
  }
  const moved = rec.attachments.find((a) => a.defaultRoute);
  if (moved) {
    try {
      await moveDefaultRoute(req.netns, moved.ifname, moved.defaultRoute!);
    } catch (e) {
      const err = inNetwork(moved, e);
      await delRecord(run, rec);
      throw err;
    }
  }
  return { attachments: rec.attachments, results };
}

/** DEL every started attachment of `rec` in reverse; removes the cache when all succeeded. */
async function delRecord(run: Runner, rec: CacheRecord): Promise<CniError[]> {
  const errors: CniError[] = [];
  for (let i = rec.attachments.length - 1; i >= 0; i--) {
    const a = rec.attachments[i]!;
    if (a.state === 'pending') continue;
    const errs = await delList(a.conf, runtimeOf(rec, a), run.exec, a.result);
    if (errs.length) errors.push(...errs.map((e) => inNetwork(a, e)));
    else {
      a.state = 'pending';
      delete a.result;
    }
  }
  if (errors.length) run.cache.write(rec);
  else run.cache.remove(rec.containerId, rec.ifname);
  return errors;
}

/** All DEL errors as one CNI error (the first one's code). */
export function joinErrors(errors: readonly CniError[]): CniError | undefined {
  if (!errors.length) return undefined;
  if (errors.length === 1) return errors[0];
  return new CniError(errors[0]!.code, `${errors.length} delegates failed: ${errors.map((e) => e.message).join('; ')}`);
}

/**
 * DEL from the cache; without one, the default network `fallback` alone (its DEL is idempotent).
 * Resolves with the errors of the delegates that failed (the cache is kept then, for a retry).
 */
export async function delAll(run: Runner, req: Request, fallback: NetConfList): Promise<CniError[]> {
  const rec = run.cache.read(req.containerId, req.ifname);
  if (rec) return delRecord(run, { ...rec, netns: req.netns || rec.netns, args: req.args.length ? req.args : rec.args });
  const a = { network: fallback.name, ifname: req.ifname, cniArgs: [], capabilityArgs: {} };
  return (await delList(fallback, runtimeOf(req, a), run.exec)).map((e) => inNetwork(a, e));
}

export async function checkAll(run: Runner, req: Request): Promise<void> {
  const rec = run.cache.read(req.containerId, req.ifname);
  if (!rec) throw new CniError(3, `no attachments cached for container ${req.containerId} interface ${req.ifname} (was ADD run?)`);
  for (const a of rec.attachments) {
    if (a.state !== 'added' || !a.result) throw new CniError(ErrInternal, `network ${JSON.stringify(a.network)} (${a.ifname}) was not added completely`);
    try {
      await checkList(a.conf, runtimeOf({ ...req, args: rec.args }, a), run.exec, a.result);
    } catch (e) {
      throw inNetwork(a, e);
    }
  }
}

/**
 * GC: DEL every cached attachment whose (container, interface) the runtime no longer lists, then
 * GC each network (cached ones and the default) with its valid attachments.
 */
export async function gcAll(run: Runner, valid: ReadonlyArray<{ containerID: string; ifname: string }>, defaultNetwork: NetConfList): Promise<CniError[]> {
  const keep = new Set(valid.map((v) => `${v.containerID}\u0000${v.ifname}`));
  const errors: CniError[] = [];
  const networks = new Map<string, { conf: NetConfList; valid: Array<{ containerID: string; ifname: string }> }>();
  // the runtime's valid attachments are the wrapper's, on the default network's interface: they
  // hold pods added before multi-network was switched on too, which have no cache entry
  networks.set(JSON.stringify(defaultNetwork), { conf: defaultNetwork, valid: valid.map((v) => ({ containerID: v.containerID, ifname: v.ifname })) });
  for (const k of run.cache.list()) {
    const rec = run.cache.read(k.containerId, k.ifname);
    if (!rec) continue;
    if (!keep.has(`${k.containerId}\u0000${k.ifname}`)) {
      errors.push(...(await run.cache.locked(k.containerId, async () => {
        const errs = await delRecord(run, rec);
        if (!errs.length) run.cache.dropLock(k.containerId);
        return errs;
      })));
      continue;
    }
    for (const a of rec.attachments) {
      if (a.isDefaultNetwork) continue;
      const key = JSON.stringify(a.conf);
      const n = networks.get(key) ?? { conf: a.conf, valid: [] };
      n.valid.push({ containerID: rec.containerId, ifname: a.ifname });
      networks.set(key, n);
    }
  }
  for (const n of networks.values()) errors.push(...(await gcList(n.conf, n.valid, run.exec)));
  return errors;
}

export type { Obj };
