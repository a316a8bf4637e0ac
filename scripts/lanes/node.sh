#!/usr/bin/env bash
# Node lane: a real node (scripts/node/up.sh: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, containerd + runc, kubelet, and `ipvsnet agent` as Service proxy and CNI), driven with
# kubectl. Three phases, each on a node of its own:
#   1. test/node/**           the node as it is by default (vitest project node → build/results/node.json)
#   2. test/node-multinet/**  the node brought up with multi-network on (IPVSNET_NODE_MULTI_NETWORK=1: the
#                             NAD CRD, agent --multi-network, the reference plugins as delegates)
#                             (project node-multinet → build/results/node-multinet.json)
#   3. test/node-pools/**     the node brought up with IP pools on (IPVSNET_NODE_IP_POOLS=1: the IPPool
#                             CRD, kube-controller-manager without node IPAM, agent --ip-pools
#                             --loadbalancer-addresses --loadbalancer-announce)
#                             (project node-pools → build/results/node-pools.json)
# The node is always stopped (scripts/node/down.sh, every process by its PID), also when a test fails or
# the lane is interrupted. Prints the lane's figures at the end. Arguments (test files) go to the phase
# whose folder they are in; a phase with none of them does not run.
# IPVSNET_NODE_WHERE=guest|host chooses where the node runs (scripts/node/README.md; default host).
set -eu
cd "$(dirname "$0")/../.."
export PATH="$PWD/node_modules/.bin:$PATH"
mkdir -p build/results
t0=$(date +%s)
trap 'scripts/node/down.sh || echo "node lane: down.sh failed" >&2' EXIT
trap 'exit 130' INT TERM

plain=(); multi=(); pools=()
for a in "$@"; do case "$a" in *node-multinet*) multi+=("$a");; *node-pools*) pools+=("$a");; *) plain+=("$a");; esac; done
run_plain=1; run_multi=1; run_pools=1
if [ $# -gt 0 ]; then
  [ ${#plain[@]} -gt 0 ] || run_plain=0; [ ${#multi[@]} -gt 0 ] || run_multi=0; [ ${#pools[@]} -gt 0 ] || run_pools=0
fi

. scripts/lanes/node-phase.sh
[ $run_plain = 1 ] && IPVSNET_NODE_MULTI_NETWORK=0 IPVSNET_NODE_IP_POOLS=0 node_phase node "${plain[@]}"
[ $run_multi = 1 ] && IPVSNET_NODE_MULTI_NETWORK=1 IPVSNET_NODE_IP_POOLS=0 node_phase node-multinet "${multi[@]}"
[ $run_pools = 1 ] && IPVSNET_NODE_MULTI_NETWORK=0 IPVSNET_NODE_IP_POOLS=1 node_phase node-pools "${pools[@]}"
echo "node lane: total $(( $(date +%s) - t0 ))s (exit $node_rc)"
exit $node_rc
