// Bundle the ipvsnet CLI (called by the dist step of the set-up, 15-dist.sh, after tsc has written dist/):
//   node scripts/agent/build.mjs [OUTDIR]          → OUTDIR/ipvsnet.mjs + its chunks (default dist/bundle/)
//   node scripts/agent/build.mjs OUTDIR ENTRY.mjs…  → also bundles those entries the same way (the agent
//                                                    benchmark's child process)
// One ES module per command (src/cli/main.ts loads each with a literal import(), which esbuild splits
// into its own chunk), built from the compiled JavaScript in dist/, minified, with rxjs, zod, yaml,
// undici, execa and prom-client inlined and tree-shaken. The launcher runs it. Against the ~870 modules
// `ipvsnet agent` loads from dist/ and node_modules/, the agent's modules take 0.3 s of CPU to load
// instead of 0.7 s and ~3 MB less heap and RSS (`npm run bench:agent`, its 'loaded' phase).
// The output sits two directories below the repository root, as every module of dist/ does, so the
// paths the code takes relative to its own file (rules/, build/native/, package.json) resolve alike.
// client-node's KubeConfig (dist/config.js) gets here at build time what src/sources/client-node-lite.ts
// gives it at run time: its imports of the generated API and of the optional auth providers and proxy
// agents are answered with dist/sources/client-node-gen-lite.js and client-node-optional.js.
import { build } from 'esbuild';
import { rmSync, renameSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const [outArg, ...extra] = process.argv.slice(2);
const out = resolve(outArg ?? join(root, 'dist/bundle'));
const dist = join(root, 'dist');
const { GEN_INDEX_SPECIFIER, CONFIG_MODULE_SUFFIX, OPTIONAL_SPECIFIERS } = await import(join(dist, 'sources/client-node-lite.js'));

const clientNodeLite = {
  name: 'client-node-lite',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (a) => {
      if (!a.importer.endsWith(CONFIG_MODULE_SUFFIX)) return undefined;
      if (a.path === GEN_INDEX_SPECIFIER) return { path: join(dist, 'sources/client-node-gen-lite.js') };
      if (OPTIONAL_SPECIFIERS.includes(a.path)) return { path: join(dist, 'sources/client-node-optional.js') };
      return undefined;
    });
  },
};

// Three modules dist/ finds at run time by a path relative to its own file, which a bundle must provide:
//  * src/kernel/open.ts imports the IPVS netlink module with a computed specifier (so the CNI bundle
//    leaves it out); here that import is made literal, and esbuild splits it into a chunk of its own;
//  * src/cni/server.ts (thick-mode CNI requests) and src/multinet/entry.ts (the multi-network worker)
//    fork `worker<their own extension>` beside themselves: in the bundle, where both would be the same
//    worker.mjs, they fork cni-worker.mjs and multinet-worker.mjs, entry points of their own.
// A rewrite that does not find its text fails the build.
const REWRITES = [
  { file: 'kernel/open.js', from: 'import(__rewriteRelativeImportExtension(genl))', to: "import('./ipvs/genl.js')" },
  { file: 'cni/server.js', from: "'worker' + extname(self)", to: "'cni-worker.mjs'" },
  { file: 'multinet/entry.js', from: "'worker' + extname(self)", to: "'multinet-worker.mjs'" },
];
const runtimePaths = {
  name: 'runtime-paths',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, (a) => {
      const r = REWRITES.find((x) => a.path === join(dist, x.file));
      if (!r) return undefined;
      const text = readFileSync(a.path, 'utf8');
      if (!text.includes(r.from)) throw new Error(`${a.path}: no ${r.from} to rewrite; update scripts/agent/build.mjs`);
      return { contents: text.replace(r.from, r.to), loader: 'js' };
    });
  },
};

// Node's built-ins imported as ES modules get an ES module facade, built by reading every export of
// the built-in, getters included: `import … from 'node:http'` reads http.WebSocket, CloseEvent and
// MessageEvent, whose getters load Node's own undici (~4.5 MB of RssAnon, 2 MB of heap, for nothing the
// agent uses); node:process's facade runs process.report's and others' getters (~1.9 MB), node:fs's and
// node:util's ~0.9 MB each (node:util stays an ES module import: execa imports its getter util.aborted) (`node --expose-gc --memory-saver-mode --no-opt`, one import each, RssAnon
// after a collection, against process.getBuiltinModule). So the bundle takes these built-ins through
// process.getBuiltinModule (the CommonJS exports: no facade, no getter run): the default export is the
// module object itself, the named ones its own data properties (not its getters) as they are at load.
// A named import of anything else fails the build (esbuild: no matching export). process.exitCode is
// left out, as a copy of it would not follow the process's.
const CJS_BUILTINS = ['http', 'process', 'fs'];
const builtinsCjs = {
  name: 'builtins-cjs',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^node:(${CJS_BUILTINS.join('|')})$`) }, (a) => ({ path: a.path, namespace: 'builtin-cjs' }));
    b.onLoad({ filter: /.*/, namespace: 'builtin-cjs' }, (a) => {
      const mod = process.getBuiltinModule(a.path);
      const names = Object.getOwnPropertyNames(mod).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k) && k !== 'default' && k !== 'exitCode' && 'value' in Object.getOwnPropertyDescriptor(mod, k));
      return { contents: `const m = process.getBuiltinModule(${JSON.stringify(a.path)});\nexport default m;\nexport const { ${names.join(', ')} } = m;\n`, loader: 'js' };
    });
  },
};

const tmp = `${out}.tmp`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
const entryPoints = { ipvsnet: join(dist, 'cli/main.js'), 'cni-worker': join(dist, 'cni/worker.js'), 'multinet-worker': join(dist, 'multinet/worker.js') };
for (const e of extra) entryPoints[e.replace(/^.*\//, '').replace(/\.m?js$/, '')] = resolve(e);
await build({
  entryPoints,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  outdir: tmp,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunk-[hash]',
  minify: true,
  // class and function names stay as written: log lines and errors name them
  keepNames: true,
  logLevel: 'warning',
  // the addon is loaded at run time from build/native/ (src/native/index.ts)
  external: ['*.node'],
  // CommonJS dependencies inlined into an ES module still call require() for Node's built-ins
  banner: { js: "import { createRequire as __ipvsnetCreateRequire } from 'node:module'; const require = __ipvsnetCreateRequire(import.meta.url);" },
  plugins: [clientNodeLite, runtimePaths, builtinsCjs],
});
rmSync(out, { recursive: true, force: true });
renameSync(tmp, out);
