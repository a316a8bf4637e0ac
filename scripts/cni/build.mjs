// Bundle the CNI plugins (called by scripts/setup.d/10-native.sh).
//   node scripts/cni/build.mjs          → build/cni/ipvsnet-cni.cjs (ipvsnet-bridge and ipvsnet-ipam),
//                                          build/cni/ipvsnet-cni-launch.cjs (its loader, src/cni/launch.ts),
//                                          build/cni/ipvsnet-execa.cjs (required by it only when needed),
//                                          build/cni/ipvsnet-multinet.mjs (+ its chunks)
//   node scripts/cni/build.mjs --sea    → build/sea/ipvsnet-cni.cjs (one CommonJS file for a Node
//                                          single executable application, see build-sea.sh)
// The bridge and IPAM plugins are one CommonJS file: it starts faster than ES modules (no module
// graph to link, none of the ES module loader's start-up) and Node's compile cache serves it whole.
// execa (iptables for ipMasq, a delegated IPAM plugin that is not ipvsnet-ipam) stays outside it, in
// its own file required on first use, so the common path neither parses nor holds it.
// The only native code the plugins load is ipvsnet's own addon (ipvsnet_native.node: setns, flock,
// the netlink socket), found by src/native/index.ts next to the bundle or in build/native/.
import { build } from 'esbuild';
import { mkdirSync, rmSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';

const sea = process.argv.includes('--sea');
const root = new URL('../..', import.meta.url).pathname;
const common = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  logLevel: 'warning',
};
// CommonJS output: import.meta.url (src/native/index.ts finds the addon relative to it) from the file's own path
const cjsUrl = (fromPath) => ({
  define: { 'import.meta.url': '__ipvsnetUrl' },
  banner: { js: `const __ipvsnetUrl = require('node:url').pathToFileURL(${fromPath}).href;` },
});

if (sea) {
  const out = join(root, 'build/sea');
  mkdirSync(out, { recursive: true });
  const url = cjsUrl('process.execPath');
  await build({
    ...common,
    // one executable for the three plugins (it picks by its own name), multi-network included
    entryPoints: { 'ipvsnet-cni': join(root, 'src/multinet/main.ts') },
    format: 'cjs',
    outfile: join(out, 'ipvsnet-cni.cjs'),
    define: { ...url.define, __dirname: '__ipvsnetDir' },
    banner: { js: `${url.banner.js} const __ipvsnetDir = require('node:path').dirname(process.execPath) + '/';` },
  });
} else {
  const out = join(root, 'build/cni');
  const tmp = join(root, 'build/cni.tmp');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  // execa: a CommonJS file of its own beside the bundle (./ipvsnet-execa.cjs), required at its first use
  const execaApart = {
    name: 'execa-apart',
    setup(b) {
      b.onResolve({ filter: /^execa$/ }, () => ({ path: 'execa', namespace: 'execa-apart' }));
      b.onLoad({ filter: /.*/, namespace: 'execa-apart' }, () => ({ contents: "module.exports = require('./ipvsnet-execa.cjs');", loader: 'js' }));
      b.onResolve({ filter: /^\.\/ipvsnet-execa\.cjs$/ }, (a) => ({ path: a.path, external: true }));
    },
  };
  await build({
    ...common,
    ...cjsUrl('__filename'),
    entryPoints: { 'ipvsnet-cni': join(root, 'src/cni/main.ts') },
    format: 'cjs',
    outfile: join(tmp, 'ipvsnet-cni.cjs'),
    plugins: [execaApart],
  });
  // the launchers' loader: the bundle with a V8 code cache per CNI command (src/cni/launch.ts)
  await build({
    ...common,
    entryPoints: { 'ipvsnet-cni-launch': join(root, 'src/cni/launch.ts') },
    format: 'cjs',
    outfile: join(tmp, 'ipvsnet-cni-launch.cjs'),
  });
  await build({
    ...common,
    ...cjsUrl('__filename'),
    entryPoints: { 'ipvsnet-execa': 'execa' },
    format: 'cjs',
    outfile: join(tmp, 'ipvsnet-execa.cjs'),
  });
  const esmBanner = { js: "import { createRequire as __ipvsnetCreateRequire } from 'node:module'; const require = __ipvsnetCreateRequire(import.meta.url); const __ipvsnetDir = new URL('.', import.meta.url).pathname;" };
  await build({
    ...common,
    // the multi-network wrapper's standalone executable (DEL/CHECK/GC when the agent is down)
    entryPoints: { 'ipvsnet-multinet': join(root, 'src/multinet/main.ts') },
    splitting: true,
    format: 'esm',
    outdir: tmp,
    chunkNames: 'chunk-[hash]',
    outExtension: { '.js': '.mjs' },
    define: { __dirname: '__ipvsnetDir' },
    banner: esmBanner,
    plugins: [execaApart],
  });
  mkdirSync(out, { recursive: true });
  // what an earlier build left that this one does not make (chunks of other hashes, the former ES module bundle)
  for (const f of readdirSync(out)) if ((f.startsWith('chunk-') && f.endsWith('.mjs')) || f === 'ipvsnet-cni.mjs' || f === 'ipvsnet-execa.mjs') rmSync(join(out, f));
  for (const f of readdirSync(tmp)) renameSync(join(tmp, f), join(out, f));
  rmSync(tmp, { recursive: true, force: true });
}
