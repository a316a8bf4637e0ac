#!/usr/bin/env bash
# Run CMD as root on the node started by scripts/node/up.sh, in the checkout, and exit with its status:
#   scripts/node/exec.sh ipvsadm -Ln
#   scripts/node/exec.sh ip netns list          # the pods' network namespaces (containerd's cni-…)
#   scripts/node/exec.sh nsenter --net=/run/netns/cni-… wget -qO- http://10.96.0.10/
# guest: the request goes through the state directory on the VM share and node-init.sh runs it (stdout
#        and stderr arrive together, after CMD ends; no stdin);
# host:  nsenter into the node's network, mount and PID namespaces.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
[ $# -gt 0 ] || node_die "usage: scripts/node/exec.sh CMD [ARGS...]"
pid=$(cat "$NODE_STATE/pids/node" 2>/dev/null || true)
node_alive "$pid" && [ -e "$NODE_STATE/started" ] || node_die "no node is up (start one with scripts/node/up.sh)"
case "$(node_where)" in
  host)
    # The unshare process is the PID up.sh recorded; its only child is the namespaces' PID 1.
    init=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null | awk '{print $1}')
    [ -n "$init" ] || node_die "the node's init process (child of $pid) is gone"
    exec nsenter --target "$init" --net --mount --pid --wd="$NODE_REPO" -- "$@"
    ;;
  guest)
    id=$NODE_STATE/exec/$(date +%s%N).$$
    { printf 'argv=('; printf '%q ' "$@"; printf ')\n'; } > "$id.tmp"
    mv "$id.tmp" "$id.argv"
    timeout=${IPVSNET_NODE_EXEC_TIMEOUT:-600}
    for ((i = 0; i < timeout * 10; i++)); do
      [ -e "$id.rc" ] && break
      node_alive "$pid" || node_die "the node's guest stopped while running: $*"
      sleep 0.1
    done
    [ -e "$id.rc" ] || node_die "no answer from the guest after ${timeout}s: $*"
    cat "$id.out"
    rc=$(cat "$id.rc")
    rm -f "$id.out" "$id.rc" "$id.running"
    exit "$rc"
    ;;
  *) node_die "no node is up (start one with scripts/node/up.sh)";;
esac
