#!/usr/bin/env bash
# Stop everything scripts/node/up.sh started, each process by the PID up.sh recorded, and remove what
# it made: the node (guest: asked to power off; host: its PID namespace ends, then the netns, the veth
# and the cgroups kubelet created go), kube-scheduler, kube-controller-manager, the socat relays, and
# etcd + kube-apiserver when up.sh started them. Idempotent; exits 0 when nothing is up.
#   scripts/node/down.sh [--keep-logs]
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
cd "$NODE_REPO"
keep_logs=0
[ "${1:-}" = --keep-logs ] && keep_logs=1
failed=()

# up.sh started each daemon with setsid, so its PID is also its process group: the group is signalled,
# which includes the connection children socat forks.
stop_pid() { # NAME PID GRACE_SECONDS
  local name=$1 pid=$2 grace=$3 i
  node_alive "$pid" || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < grace * 10; i++)); do node_alive "$pid" || return 0; sleep 0.1; done
  echo "node: $name (pid $pid) ignored SIGTERM for ${grace}s; SIGKILL" >&2
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
  for ((i = 0; i < 50; i++)); do node_alive "$pid" || return 0; sleep 0.1; done
  failed+=("$name pid $pid")
}
pidof_() { cat "$NODE_STATE/pids/$1" 2>/dev/null; }

if [ -d "$NODE_STATE/pids" ]; then
  # The node first: a graceful stop through the stop file, so kubelet and the containers end before
  # containerd; then the PID (run.sh kills qemu; unshare's child gets SIGTERM and the namespace ends).
  node_pid=$(pidof_ node)
  if node_alive "$node_pid"; then
    touch "$NODE_STATE/stop"
    for ((i = 0; i < 600; i++)); do node_alive "$node_pid" || break; sleep 0.1; done
    stop_pid node "$node_pid" 20
  fi
  for n in socat-node socat-host kube-scheduler kube-controller-manager; do
    p=$(pidof_ "$n"); [ -n "$p" ] && stop_pid "$n" "$p" 10
  done
fi
if ip netns list 2>/dev/null | grep -qw "$NODE_NETNS"; then ip netns del "$NODE_NETNS" || failed+=("netns $NODE_NETNS"); fi
# The veth goes with the netns, asynchronously: delete it only if it is still there a moment later.
for _ in 1 2 3 4 5 6 7 8 9 10; do ip link show "$NODE_HOST_VETH" >/dev/null 2>&1 || break; sleep 0.2; done
if ip link show "$NODE_HOST_VETH" >/dev/null 2>&1; then ip link del "$NODE_HOST_VETH" 2>/dev/null || ! ip link show "$NODE_HOST_VETH" >/dev/null 2>&1 || failed+=("link $NODE_HOST_VETH"); fi
# cgroups the host-mode kubelet and runc created (cgroup v1 hierarchies are host-wide), deepest first.
if [ "$(node_where)" = host ]; then
  for h in /sys/fs/cgroup/*/; do
    [ -d "$h/kubepods" ] && find "$h/kubepods" -depth -type d -exec rmdir {} + 2>/dev/null
    [ -d "$h/kubepods" ] && failed+=("cgroup $h/kubepods")
  done
fi
# The guest kubelet's address on the host's lo, when up.sh added it.
if [ -e "$NODE_STATE/host-lo-addr" ]; then
  if ip -o addr show dev lo | grep -qw "$NODE_GUEST_IP/32"; then ip addr del "$NODE_GUEST_IP/32" dev lo || failed+=("address $NODE_GUEST_IP/32 on lo"); fi
  # up.sh replaced its local route (source 127.0.0.1); the kernel does not remove that one with the address.
  if ip route show table local | grep -q "^local $NODE_GUEST_IP "; then ip route del local "$NODE_GUEST_IP" dev lo table local || failed+=("local route of $NODE_GUEST_IP"); fi
  rm -f "$NODE_STATE/host-lo-addr"
fi
# containerd's images and kubelet's root of a host node (its mounts ended with its namespace).
rm -rf "$NODE_STATE/disk" || failed+=("$NODE_STATE/disk")
if [ -e "$NODE_STATE/started-cluster" ]; then
  IPVSNET_CLUSTER_DIR=$(cat "$NODE_STATE/cluster-dir") scripts/cluster/down.sh || failed+=("etcd + kube-apiserver")
fi
if [ ${#failed[@]} -ne 0 ]; then
  echo "node: down.sh could not remove: ${failed[*]}" >&2
  exit 1
fi
rm -rf "$NODE_STATE/pids" "$NODE_STATE/started-cluster" "$NODE_STATE/api.sock" "$NODE_STATE/exec"
[ "$keep_logs" = 1 ] || [ ! -d "$NODE_STATE" ] || find "$NODE_STATE" -maxdepth 1 -type f ! -name '*.log' -delete
exit 0
