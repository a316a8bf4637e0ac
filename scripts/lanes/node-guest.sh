#!/usr/bin/env bash
# Node-guest lane: the real node (scripts/node/up.sh --where guest) inside the qemu guest, next to real
# IPVS: etcd, kube-apiserver, kube-controller-manager and kube-scheduler on the host's loopback;
# containerd + runc, kubelet and `ipvsnet agent` in the guest. Runs vitest's project node-guest
# (test/node-guest/**, build/results/node-guest.json) with kubectl and scripts/node/exec.sh, then stops
# everything (scripts/node/down.sh), also when a test fails or the lane is interrupted.
# Arguments (test files) go to vitest. Environment: IPVSNET_VM_LOCK (one guest at a time on a shared
# machine, scripts/vm/README.md), IPVSNET_NODE_LANE_TIMEOUT (seconds for the tests, default 2400).
set -eu
cd "$(dirname "$0")/../.."
export PATH="$PWD/node_modules/.bin:$PATH"
mkdir -p build/results
t0=$(date +%s)
trap 'scripts/node/down.sh || echo "node-guest lane: down.sh failed" >&2' EXIT
trap 'exit 130' INT TERM
. scripts/lanes/node-phase.sh
IPVSNET_NODE_WHERE=guest IPVSNET_NODE_MULTI_NETWORK=0 IPVSNET_NODE_IP_POOLS=0 node_phase node-guest "$@"
echo "node-guest lane: total $(( $(date +%s) - t0 ))s (exit $node_rc)"
exit $node_rc
