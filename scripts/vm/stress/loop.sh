#!/bin/bash
# Crash reproducer for the VM lane: runs a short node workload COUNT times, PAR at once, inside the
# guest (scripts/vm/run.sh -- bash scripts/vm/stress/loop.sh WORKLOAD COUNT PAR [NODE FLAGS...]) and
# counts the runs that died by a signal. WORKLOAD is
#   plan   bin/ipvsnet plan -f examples/cluster.yaml --node node-1 -o json (what the VM tests run)
#   jit    node scripts/vm/stress/jit.mjs $IPVSNET_STRESS_SECONDS (default 10; a JIT-heavy loop)
#   apply  in a fresh netns: bin/ipvsnet apply -f examples/cluster.yaml, then bin/ipvsnet cleanup (what
#          the e2e tests run: netlink addon, IPVS, ipset and iptables-restore children); two processes
#          per run, the run counts as died when either did
#   fixture in a fresh netns: the kill-anywhere sync fixture's clean run (test/vm/reconcile/fixtures/
#          sync-kill-at.ts with K=0: the Reconciler over IPVS genl, rtnetlink, ipset and iptables),
#          then bin/ipvsnet cleanup; two processes per run, as for apply
# NODE FLAGS go to node before the script (e.g. --jitless). With IPVSNET_STRESS_DURATION=S no new batch
# starts after S seconds (COUNT is then an upper bound; runs= counts the runs made). The last line is the summary:
#   stress: WORKLOAD runs=N signal=K (SIGSEGV=.. SIGTRAP=..) failed=E seconds=T flags=...
set -u
workload=${1:?workload plan|jit}; count=${2:?count}; par=${3:-1}; shift 3 || shift $#
flags=("$@")
cd "$(dirname "$0")/../../.."
node=$PWD/node_modules/.bin/node
out=$(mktemp -d)
one() {
  local i=$1 rc
  case "$workload" in
    plan) "$node" "${flags[@]}" --max-semi-space-size=16 dist/cli/main.js plan -f examples/cluster.yaml --node node-1 -o json >"$out/$i.out" 2>"$out/$i.err";;
    jit) "$node" "${flags[@]}" scripts/vm/stress/jit.mjs "${IPVSNET_STRESS_SECONDS:-10}" >"$out/$i.out" 2>"$out/$i.err";;
    apply) local ns=stress-$i st=/tmp/stress-$i.json
      ip netns add "$ns" && ip -n "$ns" link set lo up && ip -n "$ns" link add up0 type dummy \
        && ip -n "$ns" addr add 192.168.10.11/24 dev up0 && ip -n "$ns" link set up0 up \
        && ip -n "$ns" route add default via 192.168.10.1 dev up0 || { echo "netns $ns set-up failed" >&2; echo 1 > "$out/$i.rc"; return; }
      ip netns exec "$ns" "$node" "${flags[@]}" --max-semi-space-size=16 dist/cli/main.js apply -f examples/cluster.yaml --node node-1 --cluster-cidr 10.244.0.0/16 --state-file "$st" -o json >"$out/$i.out" 2>"$out/$i.err"
      rc=$?
      if [ "$rc" = 0 ]; then
        ip netns exec "$ns" "$node" "${flags[@]}" --max-semi-space-size=16 dist/cli/main.js cleanup --state-file "$st" >>"$out/$i.out" 2>>"$out/$i.err"
        rc=$?
      fi
      ip netns del "$ns"
      echo "$rc" > "$out/$i.rc"
      report "$i" "$rc"; return;;
    fixture) local ns=stress-$i st=/tmp/stress-$i.json
      ip netns add "$ns" && ip -n "$ns" link set lo up && ip -n "$ns" link add killfgn0 type dummy \
        && ip -n "$ns" link set killfgn0 up && ip -n "$ns" -6 route add fd00:10:244:7::/64 dev killfgn0 \
        || { echo "netns $ns set-up failed" >&2; echo 1 > "$out/$i.rc"; return; }
      ip netns exec "$ns" "$node" "${flags[@]}" test/vm/reconcile/fixtures/sync-kill-at.ts "$manifests" "$st" 0 >"$out/$i.out" 2>"$out/$i.err"
      rc=$?
      if [ "$rc" = 0 ]; then
        ip netns exec "$ns" "$node" "${flags[@]}" --max-semi-space-size=16 dist/cli/main.js cleanup --state-file "$st" >>"$out/$i.out" 2>>"$out/$i.err"
        rc=$?
      fi
      ip netns del "$ns"
      echo "$rc" > "$out/$i.rc"
      report "$i" "$rc"; return;;
    *) echo "unknown workload $workload" >&2; return 2;;
  esac
  rc=$?
  echo "$rc" > "$out/$i.rc"
  report "$i" "$rc"
}
report() {
  local i=$1 rc=$2
  if [ "$rc" -gt 128 ]; then
    echo "stress: run $i died by signal $((rc - 128)) ($(kill -l $((rc - 128)))); stderr: $(tr '\n' ' ' < "$out/$i.err" | cut -c1-300)"
  elif [ "$rc" != 0 ]; then
    echo "stress: run $i exited $rc; stderr: $(tr '\n' ' ' < "$out/$i.err" | cut -c1-300)"
  fi
}
manifests=$out/manifests
if [ "$workload" = fixture ]; then
  "$node" --input-type=module -e "import { writeKillManifests } from '$PWD/test/vm/reconcile/kill-plan.ts'; writeKillManifests(process.argv[1]);" "$manifests" || exit 1
fi
start=$(date +%s)
i=0
while [ "$i" -lt "$count" ]; do
  [ -z "${IPVSNET_STRESS_DURATION:-}" ] || [ $(( $(date +%s) - start )) -lt "$IPVSNET_STRESS_DURATION" ] || break
  for _ in $(seq 1 "$par"); do
    [ "$i" -lt "$count" ] || break
    i=$((i + 1)); one "$i" &
  done
  wait
done
sig=0 failed=0; declare -A by=()
for f in "$out"/*.rc; do
  rc=$(cat "$f")
  if [ "$rc" -gt 128 ]; then sig=$((sig + 1)); n=$(kill -l $((rc - 128))); by[$n]=$(( ${by[$n]:-0} + 1 ));
  elif [ "$rc" != 0 ]; then failed=$((failed + 1)); fi
done
detail=; for k in "${!by[@]}"; do detail+=" $k=${by[$k]}"; done
echo "stress: $workload runs=$i par=$par signal=$sig (${detail# }) failed=$failed seconds=$(( $(date +%s) - start )) flags=${flags[*]:-none} cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') vcpus=$(nproc)"
rm -rf "$out"
