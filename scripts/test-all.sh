#!/usr/bin/env bash
# The whole test suite: set-up (scripts/setup.sh), then every lane, in order. A lane that cannot run FAILS; nothing is skipped.
#   typecheck → unit → conformance (kube-proxy's IPVS proxier vs the planner) → netns (host kernel, namespaces) → vm (Debian kernel under qemu: IPVS, dummy)
#   → cluster (real kube-apiserver + etcd; agent inside the VM) → node (kubelet, containerd, controllers, agent)
#   → node-guest (the same node inside the VM, with real IPVS)
# Each lane script writes vitest JSON to build/results/<lane>.json; the totals are printed at the end.
set -u
cd "$(dirname "$0")/.."
# Install what the lanes need (idempotent; quick when everything is there). IPVSNET_SKIP_SETUP=1 skips it.
if [ "${IPVSNET_SKIP_SETUP:-0}" != 1 ]; then
  bash scripts/setup.sh || { echo "FAILED: scripts/setup.sh (the lanes cannot run without it)"; exit 1; }
fi
export PATH="$PWD/node_modules/.bin:$PATH"
mkdir -p build/results
rm -f build/results/*.json
lanes=${IPVSNET_LANES:-"typecheck unit conformance netns vm cluster node node-guest"}
failed=()
for lane in $lanes; do
  echo "=== lane: $lane ==="
  if [ "$lane" = typecheck ]; then
    tsc -p tsconfig.json --noEmit || failed+=("$lane")
    continue
  fi
  script="scripts/lanes/$lane.sh"
  if [ ! -x "$script" ]; then echo "lane $lane: $script missing"; failed+=("$lane"); continue; fi
  "$script" || failed+=("$lane")
done
node scripts/lanes/summary.ts build/results || failed+=("summary")
if [ ${#failed[@]} -ne 0 ]; then echo "FAILED lanes: ${failed[*]}"; exit 1; fi
echo "all lanes passed"
