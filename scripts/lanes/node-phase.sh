# Shared by scripts/lanes/node.sh and scripts/lanes/node-guest.sh (sourced): one phase of a node lane.
#   node_phase PROJECT FILES...   (environment: what scripts/node/up.sh reads, e.g. IPVSNET_NODE_WHERE,
#                                  IPVSNET_NODE_MULTI_NETWORK, IPVSNET_NODE_IP_POOLS)
# brings a node up, runs vitest's PROJECT (JSON report build/results/PROJECT.json), stops the node and
# prints the phase's figures; a failure sets node_rc and never leaves the node running.
node_rc=${node_rc:-0}
node_phase() {
  local project=$1; shift
  rm -f "build/results/$project.json"
  local kc p0 state=${IPVSNET_NODE_STATE:-build/vm-share/node}
  p0=$(date +%s)
  kc=$(scripts/node/up.sh | tail -1) || { echo "node lane ($project): scripts/node/up.sh failed (above)" >&2; node_rc=1; scripts/node/down.sh || true; return; }
  [ -s "$kc" ] || { echo "node lane ($project): up.sh printed no kubeconfig" >&2; node_rc=1; scripts/node/down.sh || true; return; }
  local ready prc=0
  ready=$(cat "$state/ready-seconds")
  timeout --kill-after=30 "${IPVSNET_NODE_LANE_TIMEOUT:-2400}" vitest run --project "$project" --reporter=default --reporter=json \
    --outputFile.json="build/results/$project.json" "$@" || prc=$?
  echo "node lane ($project): up.sh → node $([ "${IPVSNET_NODE_IP_POOLS:-0}" = 1 ] && echo registered || echo Ready) ${ready}s (exit $prc)"
  [ $prc = 0 ] || node_rc=$prc
  scripts/node/down.sh || { echo "node lane ($project): down.sh failed" >&2; node_rc=1; }
  echo "node lane ($project): phase $(( $(date +%s) - p0 ))s, up.sh to down.sh"
}
