// Entry point of the CNI executables (bundled into build/cni/ipvsnet-cni.cjs, run by launch.ts).
// argv[2] selects the plugin ("bridge" or "ipam"); otherwise the executable's
// name does (ipvsnet-bridge / ipvsnet-ipam, e.g. in a single executable build).
import { basename } from 'node:path';
import { pluginMain } from '../cniproto/skel.ts';
import { bridgePlugin } from './bridge/plugin.ts';
import { ipamPlugin } from './ipam-plugin.ts';
import { mark } from './trace.ts';

mark('plugin');

const sel = process.argv[2] ?? basename(process.argv[1] ?? process.execPath);
const plugin = /ipam/.test(sel) ? ipamPlugin : bridgePlugin;
void pluginMain(plugin); // never returns: pluginMain exits the process
