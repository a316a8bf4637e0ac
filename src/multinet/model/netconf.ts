// A CNI network configuration as a delegate runs it: a single plugin config or a conflist, both held
// as a list of plugin configs with the list's name and cniVersion (libcni's NetworkConfigList). Pure.
// Used for a NAD's spec.config, for a config file a config-less NAD names, and for the default
// network in the wrapper's top-level config.
import { CniError, ErrIncompatibleCNIVersion } from '../../cniproto/errors.ts';
import { SUPPORTED_VERSIONS, isSupported } from '../../cniproto/types.ts';
import { invalid, MultinetError } from './errors.ts';

export type Obj = Record<string, unknown>;

export interface NetConfList {
  name: string;
  cniVersion: string;
  /** each plugin's config as written (without name/cniVersion/prevResult/runtimeConfig, which the runner injects) */
  plugins: Obj[];
  /** it was a single plugin config (not a conflist): results are passed on as they are */
  single: boolean;
  disableCheck: boolean;
  disableGC: boolean;
}

/** libcni's rule for a network name (it is also the IPAM store's directory name). */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** a plugin type is a file name on the bin dirs, never a path */
const PLUGIN_TYPE = /^[a-zA-Z0-9][a-zA-Z0-9_.+-]*$/;
/** keys whose values come from device plugins; refused by name */
const DEVICE_KEYS = ['deviceID', 'pciBusID-from-device-plugin'];

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v);

/**
 * Parse a config's text. `object`/`field` name where it came from in errors; `fallbackName` is
 * injected when the config has no `name` (Multus uses the NAD's name, so host-local's store
 * directory is that name).
 */
export function parseNetConfText(text: string, object: string, field: string, fallbackName?: string): NetConfList {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    invalid(object, field, `is not valid JSON: ${(e as Error).message}`);
  }
  return parseNetConf(raw, object, field, fallbackName);
}

export function parseNetConf(raw: unknown, object: string, field: string, fallbackName?: string): NetConfList {
  if (!isObj(raw)) invalid(object, field, `must be a JSON object, got ${kind(raw)}`);
  const v = raw['cniVersion'];
  if (v === undefined || v === '') invalid(object, `${field}.cniVersion`, `is missing (ipvsnet runs delegates at ${SUPPORTED_VERSIONS.join(', ')})`);
  if (typeof v !== 'string') invalid(object, `${field}.cniVersion`, `must be a string, got ${kind(v)}`);
  if (!isSupported(v)) {
    throw new MultinetError(ErrIncompatibleCNIVersion, object, `${field}.cniVersion`, `${JSON.stringify(v.slice(0, 20))} is not supported (supported: ${SUPPORTED_VERSIONS.join(', ')})`);
  }
  let name = raw['name'];
  if (name === undefined || name === '') name = fallbackName;
  if (name === undefined) invalid(object, `${field}.name`, 'is missing');
  if (typeof name !== 'string') invalid(object, `${field}.name`, `must be a string, got ${kind(name)}`);
  if (!NETWORK_NAME.test(name) || name.length > 253) invalid(object, `${field}.name`, `${JSON.stringify(name.slice(0, 80))} is not a valid network name (letters, digits, '_', '.', '-', starting with a letter or digit)`);
  const hasList = raw['plugins'] !== undefined;
  const hasType = raw['type'] !== undefined;
  if (hasList && hasType) invalid(object, field, 'has both "plugins" (a conflist) and "type" (a single plugin config); keep one');
  if (!hasList && !hasType) invalid(object, field, 'has neither "plugins" nor "type"');
  const flag = (k: string): boolean => {
    const x = raw[k];
    if (x === undefined) return false;
    if (typeof x !== 'boolean') invalid(object, `${field}.${k}`, `must be a boolean, got ${kind(x)}`);
    return x;
  };
  let plugins: Obj[];
  if (hasList) {
    const list = raw['plugins'];
    if (!Array.isArray(list)) invalid(object, `${field}.plugins`, `must be a list, got ${kind(list)}`);
    if (list.length === 0) invalid(object, `${field}.plugins`, 'must not be empty');
    plugins = list.map((p, i) => checkPlugin(p, object, `${field}.plugins[${i}]`));
  } else {
    const { cniVersion: _v, name: _n, disableCheck: _c, disableGC: _g, ...rest } = raw;
    plugins = [checkPlugin(rest, object, field)];
  }
  return { name, cniVersion: v, plugins, single: !hasList, disableCheck: flag('disableCheck'), disableGC: flag('disableGC') };
}

function checkPlugin(p: unknown, object: string, field: string): Obj {
  if (!isObj(p)) invalid(object, field, `must be an object, got ${kind(p)}`);
  const t = p['type'];
  if (typeof t !== 'string' || t === '') invalid(object, `${field}.type`, t === undefined ? 'is missing' : `must be a non-empty string, got ${kind(t)}`);
  if (!PLUGIN_TYPE.test(t) || t.length > 255) invalid(object, `${field}.type`, `${JSON.stringify(t.slice(0, 80))} is not a plugin file name (no '/', no '..')`);
  for (const k of DEVICE_KEYS) {
    if (p[k] !== undefined) invalid(object, `${field}.${k}`, 'not supported: device IDs come from device plugins (SR-IOV), which ipvsnet does not support');
  }
  const caps = p['capabilities'];
  if (caps !== undefined) {
    if (!isObj(caps)) invalid(object, `${field}.capabilities`, `must be an object, got ${kind(caps)}`);
    for (const [k, b] of Object.entries(caps)) if (typeof b !== 'boolean') invalid(object, `${field}.capabilities.${k}`, `must be a boolean, got ${kind(b)}`);
  }
  const ipam = p['ipam'];
  if (ipam !== undefined) {
    if (!isObj(ipam)) invalid(object, `${field}.ipam`, `must be an object, got ${kind(ipam)}`);
    const it = ipam['type'];
    if (it !== undefined && (typeof it !== 'string' || !PLUGIN_TYPE.test(it))) invalid(object, `${field}.ipam.type`, `${JSON.stringify(String(it).slice(0, 80))} is not a plugin file name`);
  }
  if (p['prevResult'] !== undefined) invalid(object, `${field}.prevResult`, 'is set by the runtime, not written in a config');
  const { name: _n, cniVersion: _v, ...rest } = p;
  return rest;
}

/** The whole config as one JSON document (a conflist), as cached and as shown to users. */
export function netConfToJson(c: NetConfList): Obj {
  return { cniVersion: c.cniVersion, name: c.name, ...(c.disableCheck ? { disableCheck: true } : {}), ...(c.disableGC ? { disableGC: true } : {}), plugins: c.plugins };
}

export { CniError };
