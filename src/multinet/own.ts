// ipvsnet's own plugins, run in-process when a network names them (no process start, no shim).
import { bridgePlugin } from '../cni/bridge/plugin.ts';
import { ipamPlugin } from '../cni/ipam-plugin.ts';
import type { Plugin } from '../cniproto/skel.ts';

export const OWN_PLUGINS: ReadonlyMap<string, Plugin> = new Map([
  ['ipvsnet-bridge', bridgePlugin],
  ['ipvsnet-ipam', ipamPlugin],
]);
