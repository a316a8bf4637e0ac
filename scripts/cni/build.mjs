// Bundle the CNI plugins into build/cni/ (called by scripts/setup.d/10-native.sh).
// One ES module entry plus lazily loaded chunks; the `netlink` package is
// bundled too (its CommonJS module graph costs tens of milliseconds to load
// from node_modules at every plugin start), with its native binding loaded
// from build/native/netlink.node, copied there from the package's prebuilds.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync, readdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const root = new URL('../..', import.meta.url).pathname;
const require = createRequire(join(root, 'package.json'));
const netlinkDir = dirname(require.resolve('netlink/package.json'));
mkdirSync(join(root, 'build/native'), { recursive: true });
copyFileSync(join(netlinkDir, 'prebuilds', `linux-${process.arch}`, 'node.napi.node'), join(root, 'build/native/netlink.node'));

const shim = {
  name: 'netlink-binding',
  setup(b) {
    b.onResolve({ filter: /^node-gyp-build$/ }, () => ({ path: 'node-gyp-build', namespace: 'ipvsnet-shim' }));
    b.onLoad({ filter: /.*/, namespace: 'ipvsnet-shim' }, () => ({
      // __ipvsnetDir comes from the banner (the directory of the chunk, i.e. build/cni/)
      contents: `module.exports = () => require(process.env.IPVSNET_NETLINK_BINDING || __ipvsnetDir + '../native/netlink.node');`,
      loader: 'js',
    }));
  },
};

const tmp = join(root, 'build/cni.tmp');
rmSync(tmp, { recursive: true, force: true });
await build({
  entryPoints: { 'ipvsnet-cni': join(root, 'src/cni/main.ts') },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  outdir: tmp,
  chunkNames: 'chunk-[hash]',
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
  plugins: [shim],
  define: { __dirname: '__ipvsnetDir' },
  banner: { js: "import { createRequire as __ipvsnetCreateRequire } from 'node:module'; const require = __ipvsnetCreateRequire(import.meta.url); const __ipvsnetDir = new URL('.', import.meta.url).pathname;" },
});
const out = join(root, 'build/cni');
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) if (f.startsWith('chunk-') && f.endsWith('.mjs')) rmSync(join(out, f));
for (const f of readdirSync(tmp)) renameSync(join(tmp, f), join(out, f));
rmSync(tmp, { recursive: true, force: true });
