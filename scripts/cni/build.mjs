// Bundle the CNI plugins (called by scripts/setup.d/10-native.sh).
//   node scripts/cni/build.mjs          → build/cni/ipvsnet-cni.mjs and ipvsnet-multinet.mjs (+ shared chunks)
//   node scripts/cni/build.mjs --sea    → build/sea/ipvsnet-cni.cjs (one CommonJS file for a Node
//                                          single executable application, see build-sea.sh)
// The `netlink` package is bundled too (its CommonJS module graph costs tens of milliseconds to
// load from node_modules at every plugin start); its native binding is loaded from netlink.node,
// copied next to the output from the package's prebuilds.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync, readdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const sea = process.argv.includes('--sea');
const root = new URL('../..', import.meta.url).pathname;
const require = createRequire(join(root, 'package.json'));
const netlinkDir = dirname(require.resolve('netlink/package.json'));
const prebuild = join(netlinkDir, 'prebuilds', `linux-${process.arch}`, 'node.napi.node');
mkdirSync(join(root, 'build/native'), { recursive: true });
copyFileSync(prebuild, join(root, 'build/native/netlink.node'));

const shim = {
  name: 'netlink-binding',
  setup(b) {
    b.onResolve({ filter: /^node-gyp-build$/ }, () => ({ path: 'node-gyp-build', namespace: 'ipvsnet-shim' }));
    b.onLoad({ filter: /.*/, namespace: 'ipvsnet-shim' }, () => ({
      // __ipvsnetDir comes from the banner: the bundle's directory (or the single executable's)
      contents: `
        const { createRequire } = require('node:module');
        const { existsSync } = require('node:fs');
        module.exports = () => {
          const tries = [process.env.IPVSNET_NETLINK_BINDING, __ipvsnetDir + 'netlink.node', __ipvsnetDir + '../native/netlink.node'].filter(Boolean);
          const found = tries.find((p) => existsSync(p));
          if (!found) throw new Error('netlink native binding not found (tried ' + tries.join(', ') + ')');
          return createRequire(__ipvsnetDir + 'x')(found);
        };`,
      loader: 'js',
    }));
  },
};

const common = {
  entryPoints: { 'ipvsnet-cni': join(root, 'src/cni/main.ts') },
  bundle: true,
  platform: 'node',
  target: 'node24',
  logLevel: 'warning',
  plugins: [shim],
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
  copyFileSync(prebuild, join(out, 'netlink.node'));
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
