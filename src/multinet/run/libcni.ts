// A network config list run with libcni's semantics (AddNetworkList, DelNetworkList,
// CheckNetworkList, GCNetworkList):
//   - each plugin gets the list's `name` and `cniVersion` injected;
//   - ADD chains `prevResult`: plugin i sees plugin i-1's result; the list's result is the last one;
//   - DEL runs the plugins in reverse with the cached result as prevResult (0.4.0 and later);
//   - CHECK runs them in order with the cached result (0.4.0 and later; not when disableCheck);
//   - `runtimeConfig` holds only the capabilities a plugin declares in `capabilities`;
//   - a single plugin config (not a list) gets no prevResult on ADD.
// Results stay in the list's own cniVersion here; the caller converts (src/cniproto/types.ts).
import { CniError, ErrDecodingFailure, ErrInternal } from '../../cniproto/errors.ts';
import { cmpVersion, convertResult, parseResult } from '../../cniproto/types.ts';
import type { NetConfList, Obj } from '../model/netconf.ts';
import { execPlugin, findPlugin } from './exec.ts';
import type { ExecOptions } from './exec.ts';

export interface RuntimeConf {
  containerId: string;
  netns: string;
  ifname: string;
  args: Array<[string, string]>;
  /** capability args; a plugin gets those its `capabilities` declare */
  capabilityArgs: Obj;
}

/** One plugin's stdin: its config with name, cniVersion, runtimeConfig and prevResult injected. */
export function pluginStdin(list: NetConfList, i: number, rt: Pick<RuntimeConf, 'capabilityArgs'>, prevResult?: Obj): string {
  const p = list.plugins[i]!;
  const conf: Obj = { ...p, cniVersion: list.cniVersion, name: list.name };
  const caps = (p['capabilities'] ?? {}) as Record<string, boolean>;
  const rc: Obj = { ...((p['runtimeConfig'] as Obj | undefined) ?? {}) };
  for (const [k, v] of Object.entries(rt.capabilityArgs)) if (caps[k] === true) rc[k] = v;
  if (Object.keys(rc).length) conf['runtimeConfig'] = rc;
  else delete conf['runtimeConfig'];
  if (prevResult) conf['prevResult'] = prevResult;
  return JSON.stringify(conf);
}

function parseJson(type: string, stdout: string): Obj {
  let r: unknown;
  try {
    r = JSON.parse(stdout);
  } catch {
    throw new CniError(ErrDecodingFailure, `${type} ADD returned no JSON result: ${JSON.stringify(stdout.slice(0, 120))}`);
  }
  if (!r || typeof r !== 'object' || Array.isArray(r)) throw new CniError(ErrDecodingFailure, `${type} ADD returned a result that is not an object`);
  return r as Obj;
}

const typeOf = (list: NetConfList, i: number) => String(list.plugins[i]!['type']);

/**
 * Every plugin of the list and every IPAM plugin it names is installed (or runs in-process), else a
 * code-7 error naming the config field. Checked before a list runs (libcni finds each plugin as it
 * goes): a list that names a missing plugin then fails without running half of itself, and needs no
 * DEL, which would fail the same way.
 */
export function requirePlugins(list: NetConfList, o: ExecOptions): void {
  const need = (t: string, field: string) => {
    if (o.inProcess?.has(t)) return;
    try {
      findPlugin(t, o);
    } catch (e) {
      throw new CniError(e instanceof CniError ? e.code : ErrInternal, `${field}: ${(e as Error).message}`);
    }
  };
  list.plugins.forEach((p, i) => {
    const at = list.single ? 'spec.config' : `spec.config.plugins[${i}]`;
    need(String(p['type']), `${at}.type`);
    const ipam = p['ipam'] as Obj | undefined;
    if (ipam && typeof ipam['type'] === 'string' && ipam['type'] !== '') need(ipam['type'], `${at}.ipam.type`);
  });
}

/** ADD every plugin of the list in order; the last result (raw JSON, the list's version). */
export async function addList(list: NetConfList, rt: RuntimeConf, o: ExecOptions): Promise<Obj> {
  let prev: Obj | undefined;
  for (let i = 0; i < list.plugins.length; i++) {
    const stdin = pluginStdin(list, i, rt, list.single ? undefined : prev);
    const out = await execPlugin({ type: typeOf(list, i), command: 'ADD', containerId: rt.containerId, netns: rt.netns, ifname: rt.ifname, args: rt.args, stdin }, o);
    const r = parseJson(typeOf(list, i), out.stdout);
    // a plugin that answers in another version is converted to the list's (as libcni's GetAsVersion)
    prev = r['cniVersion'] === list.cniVersion ? r : (convertResult(parseResult(r, `${typeOf(list, i)} result`), list.cniVersion) as Obj);
  }
  return prev ?? { cniVersion: list.cniVersion };
}

/**
 * DEL every plugin of the list in reverse, carrying on past failures; the errors, in order.
 * `cached` is the list's ADD result when known (given as prevResult from 0.4.0 on).
 */
export async function delList(list: NetConfList, rt: RuntimeConf, o: ExecOptions, cached?: Obj): Promise<CniError[]> {
  const errors: CniError[] = [];
  const prev = cached && cmpVersion(list.cniVersion, '0.4.0') >= 0 ? cached : undefined;
  for (let i = list.plugins.length - 1; i >= 0; i--) {
    const stdin = pluginStdin(list, i, rt, list.single ? undefined : prev);
    try {
      await execPlugin({ type: typeOf(list, i), command: 'DEL', containerId: rt.containerId, netns: rt.netns, ifname: rt.ifname, args: rt.args, stdin }, o);
    } catch (e) {
      errors.push(e instanceof CniError ? e : new CniError(ErrInternal, String(e)));
    }
  }
  return errors;
}

/** Whether CHECK applies to the list (0.4.0 and later, not disabled). */
export function checks(list: NetConfList): boolean {
  return !list.disableCheck && cmpVersion(list.cniVersion, '0.4.0') >= 0;
}

/** CHECK every plugin in order with the cached result; throws the first failure. */
export async function checkList(list: NetConfList, rt: RuntimeConf, o: ExecOptions, cached: Obj): Promise<void> {
  if (!checks(list)) return;
  for (let i = 0; i < list.plugins.length; i++) {
    const stdin = pluginStdin(list, i, rt, cached);
    await execPlugin({ type: typeOf(list, i), command: 'CHECK', containerId: rt.containerId, netns: rt.netns, ifname: rt.ifname, args: rt.args, stdin }, o);
  }
}

/** GC (1.1.0 and later, not disableGC): every plugin with the valid attachments of this network. */
export async function gcList(list: NetConfList, valid: Array<{ containerID: string; ifname: string }>, o: ExecOptions): Promise<CniError[]> {
  if (list.disableGC || cmpVersion(list.cniVersion, '1.1.0') < 0) return [];
  const errors: CniError[] = [];
  for (let i = 0; i < list.plugins.length; i++) {
    const conf = JSON.parse(pluginStdin(list, i, { capabilityArgs: {} })) as Obj;
    conf['cni.dev/valid-attachments'] = valid;
    try {
      await execPlugin({ type: typeOf(list, i), command: 'GC', stdin: JSON.stringify(conf) }, o);
    } catch (e) {
      errors.push(e instanceof CniError ? e : new CniError(ErrInternal, String(e)));
    }
  }
  return errors;
}

/** STATUS (1.1.0 and later) of every plugin; throws the first failure. */
export async function statusList(list: NetConfList, o: ExecOptions): Promise<void> {
  if (cmpVersion(list.cniVersion, '1.1.0') < 0) return;
  for (let i = 0; i < list.plugins.length; i++) {
    await execPlugin({ type: typeOf(list, i), command: 'STATUS', stdin: pluginStdin(list, i, { capabilityArgs: {} }) }, o);
  }
}
