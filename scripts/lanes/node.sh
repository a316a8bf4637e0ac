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

rc=0
phase() { # PROJECT MULTI_NETWORK IP_POOLS FILES...
  local project=$1 multinet=$2 ippools=$3; shift 3
  rm -f "build/results/$project.json"
  local kc p0
  p0=$(date +%s)
  kc=$(IPVSNET_NODE_MULTI_NETWORK=$multinet IPVSNET_NODE_IP_POOLS=$ippools scripts/node/up.sh | tail -1) || { echo "node lane ($project): scripts/node/up.sh failed (above)" >&2; rc=1; return; }
  [ -s "$kc" ] || { echo "node lane ($project): up.sh printed no kubeconfig" >&2; rc=1; return; }
  local ready prc=0
  ready=$(cat build/vm-share/node/ready-seconds)
  timeout --kill-after=30 "${IPVSNET_NODE_LANE_TIMEOUT:-2400}" vitest run --project "$project" --reporter=default --reporter=json \
    --outputFile.json="build/results/$project.json" "$@" || prc=$?
  echo "node lane ($project): up.sh → node $([ "$ippools" = 1 ] && echo registered || echo Ready) ${ready}s (exit $prc)"
  [ $prc = 0 ] || rc=$prc
  scripts/node/down.sh || { echo "node lane ($project): down.sh failed" >&2; rc=1; }
  echo "node lane ($project): phase $(( $(date +%s) - p0 ))s, up.sh to down.sh"
}
[ $run_plain = 1 ] && phase node 0 0 "${plain[@]}"
[ $run_multi = 1 ] && phase node-multinet 1 0 "${multi[@]}"
[ $run_pools = 1 ] && phase node-pools 0 1 "${pools[@]}"
echo "node lane: total $(( $(date +%s) - t0 ))s (exit $rc)"
exit $rc
