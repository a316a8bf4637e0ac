// Entry of the CNI executables when they are one file for all three plugins (the DaemonSet's Node
// single executable, scripts/cni/build-sea.sh) and of build/cni/ipvsnet-multinet.mjs. The plugin is
// chosen by argv[2] or the executable's name: ipvsnet-multinet, ipvsnet-ipam, else ipvsnet-bridge.
// As ipvsnet-multinet it is what the shim runs when the agent is not listening: DEL, CHECK, GC and
// STATUS work from the cache; ADD answers code 11 (only the agent can look up the Pod and its NADs).
// Multi-network's code is loaded only for ipvsnet-multinet, so the bridge's start costs nothing more.
import { basename } from 'node:path';
import { pluginMain } from '../cniproto/skel.ts';
import { bridgePlugin } from '../cni/bridge/plugin.ts';
import { ipamPlugin } from '../cni/ipam-plugin.ts';

const sel = process.argv[2] ?? basename(process.argv[1] ?? process.execPath);
void (async () => {
  if (/multinet/.test(sel) || /multinet/.test(basename(process.execPath))) {
    const [{ multinetPlugin }, { OWN_PLUGINS }] = await Promise.all([import('./plugin.ts'), import('./own.ts')]);
    await pluginMain(multinetPlugin({ inProcess: OWN_PLUGINS }));
  }
  await pluginMain(/ipam/.test(sel) || /ipam/.test(basename(process.execPath)) ? ipamPlugin : bridgePlugin); // never returns
})();
