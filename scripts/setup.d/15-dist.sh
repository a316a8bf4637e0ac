#!/usr/bin/env bash
# dist/: src/ compiled to JavaScript (tsc -p tsconfig.build.json; types removed, .ts import specifiers
# rewritten to .js), in the same layout one level below the repository root as src/, so paths relative
# to a module (rules/, build/native/) resolve the same. The launcher runs dist/ when dist/.built is newer
# than every file under src/, and src/ itself otherwise: Node then strips the types at load time, which
# costs ~17 MB of RSS (its TypeScript parser is WebAssembly) and start-up time.
# dist/bundle/: then the CLI bundled from dist/ into one ES module per command by scripts/agent/build.mjs
# (esbuild, minified, dependencies inlined and tree-shaken), which the launcher runs: the agent's
# modules load in less than half the CPU time of the ~870 separate modules, with ~3 MB less RSS.
# Idempotent; rebuilds only when something under src/ (or the build config) changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
stamp=dist/.built
if [ -e "$stamp" ] && [ tsconfig.build.json -ot "$stamp" ] && [ tsconfig.json -ot "$stamp" ] \
   && [ scripts/agent/build.mjs -ot "$stamp" ] && [ -e dist/bundle/ipvsnet.mjs ] \
   && [ -z "$(find src -newer "$stamp" -print -quit)" ]; then
  exit 0
fi
rm -rf dist.tmp
# The stamp's time is the build's start: a source edited during the build makes it stale again.
touch dist.tmp.start
# tsc exits 2 when it found type errors but wrote the output anyway: the JavaScript is what Node's type
# stripping would run, so the build stands and the typecheck lane reports the errors. Any other
# failure (1: nothing written) stops the set-up.
rc=0
node_modules/.bin/tsc -p tsconfig.build.json --outDir dist.tmp || rc=$?
if [ "$rc" = 2 ] && [ -e dist.tmp/cli/main.js ]; then
  echo "15-dist: type errors above (the typecheck lane fails on them); dist/ built anyway" >&2
elif [ "$rc" != 0 ]; then
  echo "15-dist: tsc failed (exit $rc); dist/ not built" >&2
  rm -rf dist.tmp dist.tmp.start
  exit 1
fi
rm -rf dist
mv dist.tmp dist
# the stamp only once the bundle is there too (the launcher runs src/ until then)
if ! node_modules/.bin/node scripts/agent/build.mjs; then
  echo "15-dist: bundling dist/ failed; dist/bundle not built" >&2
  rm -f dist.tmp.start
  exit 1
fi
mv dist.tmp.start "$stamp"
echo "15-dist: compiled src/ to dist/, bundled it into dist/bundle/"
