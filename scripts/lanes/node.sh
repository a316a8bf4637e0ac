#!/usr/bin/env bash
# Node lane: a real node (scripts/node/up.sh: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, containerd + runc, kubelet, and `ipvsnet agent` as Service proxy and CNI), driven with
# kubectl by test/node/**. The node is always stopped (scripts/node/down.sh, every process by its PID),
# also when a test fails or the lane is interrupted. Prints the lane's figures at the end.
# IPVSNET_NODE_WHERE=guest|host chooses where the node runs (scripts/node/README.md; default host).
set -eu
cd "$(dirname "$0")/../.."
export PATH="$PWD/node_modules/.bin:$PATH"
mkdir -p build/results
rm -f build/results/node.json
t0=$(date +%s)
trap 'scripts/node/down.sh || echo "node lane: down.sh failed" >&2' EXIT
trap 'exit 130' INT TERM
kc=$(scripts/node/up.sh | tail -1) || { echo "node lane: scripts/node/up.sh failed (above)" >&2; exit 1; }
[ -s "$kc" ] || { echo "node lane: up.sh printed no kubeconfig" >&2; exit 1; }
ready=$(cat build/vm-share/node/ready-seconds)
rc=0
timeout --kill-after=30 "${IPVSNET_NODE_LANE_TIMEOUT:-2400}" vitest run --project node --reporter=default --reporter=json --outputFile.json=build/results/node.json "$@" || rc=$?
echo "node lane: up.sh → node Ready ${ready}s; lane total $(( $(date +%s) - t0 ))s (exit $rc)"
exit $rc
