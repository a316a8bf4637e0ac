// Bundle the CNI plugins (called by scripts/setup.d/10-native.sh).
//   node scripts/cni/build.mjs          → build/cni/ipvsnet-cni.mjs and ipvsnet-multinet.mjs (+ shared chunks)
//   node scripts/cni/build.mjs --sea    → build/sea/ipvsnet-cni.cjs (one CommonJS file for a Node
//                                          single executable application, see build-sea.sh)
// The only native code the plugins load is ipvsnet's own addon (ipvsnet_native.node: setns, flock,
// the netlink socket), found by src/native/index.ts next to the bundle or in build/native/.
import { build } from 'esbuild';
import { mkdirSync, rmSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';

const sea = process.argv.includes('--sea');
const root = new URL('../..', import.meta.url).pathname;
const common = {
  entryPoints: { 'ipvsnet-cni': join(root, 'src/cni/main.ts') },
  bundle: true,
  platform: 'node',
  target: 'node24',
  logLevel: 'warning',
  define: { __dirname: '__ipvsnetDir' },
};

if (sea) {
  const out = join(root, 'build/sea');
  mkdirSync(out, { recursive: true });
  await build({
    ...common,
    // one executable for the three plugins (it picks by its own name), multi-network included
    entryPoints: { 'ipvsnet-cni': join(root, 'src/multinet/main.ts') },
    format: 'cjs',
    outfile: join(out, 'ipvsnet-cni.cjs'),
    define: { ...common.define, 'import.meta.url': '__ipvsnetSeaUrl' },
    banner: { js: "const __ipvsnetSeaUrl = require('node:url').pathToFileURL(process.execPath).href; const __ipvsnetDir = require('node:path').dirname(process.execPath) + '/';" },
  });
} else {
  const tmp = join(root, 'build/cni.tmp');
  rmSync(tmp, { recursive: true, force: true });
  await build({
    ...common,
    // the multi-network wrapper's standalone executable (DEL/CHECK/GC when the agent is down)
    entryPoints: { ...common.entryPoints, 'ipvsnet-multinet': join(root, 'src/multinet/main.ts') },
    splitting: true,
    format: 'esm',
    outdir: tmp,
    chunkNames: 'chunk-[hash]',
    outExtension: { '.js': '.mjs' },
    banner: { js: "import { createRequire as __ipvsnetCreateRequire } from 'node:module'; const require = __ipvsnetCreateRequire(import.meta.url); const __ipvsnetDir = new URL('.', import.meta.url).pathname;" },
  });
  const out = join(root, 'build/cni');
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(out)) if (f.startsWith('chunk-') && f.endsWith('.mjs')) rmSync(join(out, f));
  for (const f of readdirSync(tmp)) renameSync(join(tmp, f), join(out, f));
  rmSync(tmp, { recursive: true, force: true });
}
