// ipvsnet-multinet as a standalone executable (bundled into build/cni/ipvsnet-multinet.mjs): what
// the shim runs when the agent is not listening. DEL, CHECK, GC and STATUS work from the cache;
// ADD answers code 11 (try again later), since only the agent can look up the Pod and its NADs.
import { pluginMain } from '../cni/proto/skel.ts';
import { OWN_PLUGINS } from './own.ts';
import { multinetPlugin } from './plugin.ts';

void pluginMain(multinetPlugin({ inProcess: OWN_PLUGINS })); // never returns: pluginMain exits the process
