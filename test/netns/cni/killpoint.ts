// Test-only entry for the kill-anywhere test: the real ipvsnet-bridge plugin (same code as
// build/cni's), run with every kernel and file operation counted — netlink requests, flock/setns,
// external commands (iptables) and file-system changes. With IVT_KILL_AT=k the process SIGKILLs
// itself just before its k-th operation; with IVT_KILL_AT=0 it runs to the end. On a normal end it
// writes the operations it made, one per line, to IVT_KILL_LOG (the test sizes its k range by it).
//   node test/netns/cni/killpoint.ts  (CNI_* environment, config on stdin)
import fs from 'node:fs';
import cp from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { NlSocket } from '../../../src/kernel/netlink/socket.ts';
import { createRequire } from 'node:module';

const killAt = Number(process.env['IVT_KILL_AT'] ?? '0');
const logPath = process.env['IVT_KILL_LOG'];
const ops: string[] = [];
const writeLog = fs.writeFileSync;

function step(what: string): void {
  ops.push(what);
  if (ops.length === killAt) process.kill(process.pid, 'SIGKILL');
}

function wrap<T extends object>(obj: T, names: Array<keyof T & string>, label: string): void {
  for (const n of names) {
    const orig = obj[n] as unknown as (...a: unknown[]) => unknown;
    if (typeof orig !== 'function') continue;
    (obj as Record<string, unknown>)[n] = function (this: unknown, ...a: unknown[]) {
      step(`${label}.${n} ${typeof a[0] === 'string' ? a[0] : ''}`);
      return orig.apply(this, a);
    };
  }
}

wrap(fs, ['mkdirSync', 'openSync', 'writeSync', 'writeFileSync', 'unlinkSync', 'renameSync', 'rmSync', 'rmdirSync'], 'fs');
wrap(cp, ['spawn', 'execFile', 'execFileSync', 'spawnSync'], 'exec');
syncBuiltinESMExports();
const req = NlSocket.prototype.request;
NlSocket.prototype.request = function (this: NlSocket, type: number, payload: Uint8Array[], flags?: number) {
  step(`netlink type=${type} flags=${flags ?? 0}`);
  return req.call(this, type, payload, flags);
};
// the addon's exports are read-only: the loader (src/native/index.ts) gets a counting copy from the
// require cache instead
const addonPath = new URL('../../../build/native/ipvsnet_native.node', import.meta.url).pathname;
const requireAddon = createRequire(import.meta.url);
const real = requireAddon(addonPath) as Record<string, unknown>;
const counted: Record<string, unknown> = {};
for (const k of Object.getOwnPropertyNames(real)) counted[k] = real[k];
wrap(counted, ['flock', 'setns'], 'native');
requireAddon.cache[addonPath]!.exports = counted;

process.on('exit', () => {
  if (logPath) writeLog(logPath, ops.join('\n') + '\n');
});
const { pluginMain } = await import('../../../src/cniproto/skel.ts');
const { bridgePlugin } = await import('../../../src/cni/bridge/plugin.ts');
await pluginMain(bridgePlugin);
