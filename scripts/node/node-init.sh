#!/usr/bin/env bash
# The node itself: containerd, `ipvsnet agent` (Service proxy + CNI thick mode) and kubelet, started by
# scripts/node/up.sh in one of two places (NODE_WHERE in the env file):
#   guest  inside the qemu guest (scripts/vm/run.sh), next to real IPVS; exits when STATE/stop appears
#          and the guest powers off
#   host   inside the node's network namespace, in a private mount namespace and a PID namespace of
#          its own (unshare --pid --fork): when this script ends, the kernel kills whatever is left in it
# Argument: the env file up.sh wrote. Progress lines go to stderr (STATE/node.log); the PIDs and the
# readiness marker go to STATE/. Never run it by hand: up.sh prepares the namespaces and the files.
set -euo pipefail
. "$1"
: "${NODE_WHERE:?}" "${NODE_NAME:?}" "${NODE_IP:?}" "${STATE:?}" "${REPO:?}" "${KUBECONFIG_NODE:?}"
: "${KUBELET:?}" "${PAUSE_ARCHIVE:?}" "${TOOLS_ARCHIVE:?}" "${CLUSTER_CIDR:?}"
say() { echo "node-init: $(date -u +%H:%M:%S) $*" >&2; }
# Phase marks for up.sh's timing line: "NAME EPOCH-SECONDS" lines in STATE/phases.
mark() { echo "$1 $(date +%s.%N)" >> "$STATE/phases"; }
mark node-init
pids=()
stop_all() {
  trap - EXIT INT TERM
  say "stopping"
  # kubelet first (it would restart what is stopped next), then every container, then the rest.
  [ -n "${kubelet_pid:-}" ] && kill "$kubelet_pid" 2>/dev/null && wait "$kubelet_pid" 2>/dev/null
  if [ -n "${containerd_pid:-}" ] && kill -0 "$containerd_pid" 2>/dev/null; then
    for t in $(ctr -a "$CTRD_SOCK" -n k8s.io task ls -q 2>/dev/null); do ctr -a "$CTRD_SOCK" -n k8s.io task kill -s SIGKILL "$t" 2>/dev/null || true; done
  fi
  [ -n "${agent_pid:-}" ] && kill "$agent_pid" 2>/dev/null
  for ((i=${#pids[@]}-1; i>=0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  [ -n "${agent_pid:-}" ] && wait "$agent_pid" 2>/dev/null
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  say "stopped"
}
trap 'stop_all; exit 1' INT TERM
trap 'rc=$?; stop_all; exit $rc' EXIT

run=/run/ipvsnet-node
mkdir -p "$run" /run/containerd /run/netns /var/lib/cni /run/ipvsnet
# Private, throw-away state: everything the node writes under fixed paths lives in tmpfs mounts of this
# mount namespace (the guest's own, or the host-side node's private one) and vanishes with it.
for d in "$run" /run/containerd /run/netns /var/lib/cni /run/ipvsnet; do mount -t tmpfs -o mode=755 tmpfs "$d"; done
if [ "$NODE_WHERE" = host ]; then
  # `ip netns exec` gave this namespace a fresh sysfs (the node netns's) without the host's cgroup
  # mounts: mount the same hierarchies again (up.sh lists them in CGROUP_MOUNTS as dir:type:options).
  mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
  for m in ${CGROUP_MOUNTS:?}; do
    IFS=: read -r dir type opts <<<"$m"
    mkdir -p "$dir" && mount -t "$type" -o "$opts" "$type" "$dir"
  done
  # kubelet writes these host-wide sysctls at start; private copies keep the host's values.
  for f in /proc/sys/vm/overcommit_memory /proc/sys/kernel/panic /proc/sys/kernel/panic_on_oops; do
    c="$run/sysctl.${f//\//_}"; cat "$f" > "$c"; mount --bind "$c" "$f"
  done
  ip link set lo up
fi
# containerd's images and kubelet's root: on the host on disk (STATE/disk, removed by down.sh), since
# kubelet's eviction manager finds no filesystem statistics for a tmpfs of this private namespace; in the
# guest in tmpfs (overlayfs cannot stack on the 9p share).
disk=$run
[ "$NODE_WHERE" = host ] && disk=$STATE/disk
mkdir -p "$run/cni/bin" "$run/cni/net.d" "$disk/containerd-root" "$run/containerd/state" "$run/kubelet" "$disk/kubelet-root"
ln -s "$REPO/build/cni/ipvsnet-bridge" "$REPO/build/cni/ipvsnet-ipam" /usr/lib/cni/loopback "$run/cni/bin/"
# multi-network (MULTI_NETWORK=1): the wrapper's shim and the reference plugins NADs name as delegates
if [ "${MULTI_NETWORK:-0}" = 1 ]; then
  ln -s "$REPO/build/cni/ipvsnet-multinet" "$run/cni/bin/"
  for p in bridge macvlan ipvlan host-local static tuning portmap; do [ -e "/usr/lib/cni/$p" ] && ln -s "/usr/lib/cni/$p" "$run/cni/bin/"; done
fi
CTRD_SOCK=$run/containerd/containerd.sock
cat > "$run/containerd/config.toml" <<EOF
version = 2
root = "$disk/containerd-root"
state = "$run/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$CTRD_SOCK"
[ttrpc]
  address = "$run/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "ipvsnet.local/pause:3.10"
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$run/cni/bin"
    conf_dir = "$run/cni/net.d"
[plugins."io.containerd.internal.v1.opt"]
  path = "$run/containerd/opt"
EOF

say "starting containerd"
containerd --config "$run/containerd/config.toml" >>"$STATE/containerd.log" 2>&1 &
containerd_pid=$!; pids+=("$containerd_pid")
for _ in $(seq 1 600); do
  [ -S "$CTRD_SOCK" ] && ctr -a "$CTRD_SOCK" version >/dev/null 2>&1 && break
  kill -0 "$containerd_pid" 2>/dev/null || { say "containerd exited; see $STATE/containerd.log"; exit 1; }
  sleep 0.2
done
ctr -a "$CTRD_SOCK" version >/dev/null || { say "containerd did not answer on $CTRD_SOCK"; exit 1; }
mark containerd
for a in "$PAUSE_ARCHIVE" "$TOOLS_ARCHIVE"; do
  ctr -a "$CTRD_SOCK" -n k8s.io image import "$a" >/dev/null || { say "ctr image import $a failed"; exit 1; }
done
mark images
say "images imported: $(ctr -a "$CTRD_SOCK" -n k8s.io image ls -q | tr '\n' ' ')"

# The agent is supervised like a DaemonSet's Pod or a systemd unit with Restart=always: when it dies it
# is started again after a second, unless STATE/agent.hold exists (the lane's "agent down" window).
agent_restarts=0
# On the host the node's kernel has no IPVS (nor dummy links): the agent would exit as kube-proxy does,
# so the lane sets its one named test escape (IPVSNET_TEST_WITHOUT_IPVS, src/cli/agent.ts); the guest
# has IPVS and runs the agent as a node would.
agent_env=()
[ "$NODE_WHERE" = host ] && agent_env=(IPVSNET_TEST_WITHOUT_IPVS=1)
extra_flags=()
[ "${MULTI_NETWORK:-0}" = 1 ] && extra_flags=(--multi-network)
# IP pools (IP_POOLS=1): the Node's podCIDR from an IPPool, LoadBalancer addresses from LoadBalancer
# pools, and the layer-2 announcement of those in the node's subnet (eth0), with strict ARP.
[ "${IP_POOLS:-0}" = 1 ] && extra_flags+=(--ip-pools --loadbalancer-addresses --loadbalancer-announce --ipvs-strict-arp)
# Node's compile cache (V8 code of dist/ and node_modules, kept on disk between runs): under the guest's
# emulated CPU, compiling the agent's JavaScript is most of its start-up; the CNI workers it forks use it too.
agent_env+=(NODE_COMPILE_CACHE="$REPO/build/vm-share/node-compile-cache")
start_agent() {
  env "${agent_env[@]}" "$REPO/bin/ipvsnet" agent --kubeconfig "$KUBECONFIG_NODE" --hostname-override "$NODE_NAME" \
    --cluster-cidr "$CLUSTER_CIDR" --cni-conf-dir "$run/cni/net.d" --pod-routes "${extra_flags[@]}" \
    --ipvs-sync-period "${AGENT_SYNC_PERIOD:-10s}" --ipvs-min-sync-period 1s \
    >>"$STATE/agent.log" 2>&1 &
  agent_pid=$!
  echo "$agent_pid" > "$STATE/agent.pid.tmp" && mv "$STATE/agent.pid.tmp" "$STATE/agent.pid"
}
alive() { [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
# A node's prerequisite for IPVS Services between Pods of one bridge (as kubeadm checks it): with
# br_netfilter, bridged replies pass the netfilter hooks where IPVS translates them back; without it a
# Pod's reply to a client Pod on the same bridge bypasses IPVS and the client's connection never opens.
# The host kernel has it built in; the guest loads the module.
if [ "$NODE_WHERE" = guest ]; then
  modprobe br_netfilter || { say "modprobe br_netfilter failed"; exit 1; }
fi
sysctl -qw net.bridge.bridge-nf-call-iptables=1 || { say "sysctl net.bridge.bridge-nf-call-iptables=1 failed"; exit 1; }
say "starting ipvsnet agent"
start_agent

cat > "$run/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$CTRD_SOCK
resolvConf: ""
enforceNodeAllocatable: []
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
nodeStatusUpdateFrequency: 10s
syncFrequency: 10s
fileCheckFrequency: 60s
localStorageCapacityIsolation: false
serializeImagePulls: false
# The guest's emulated CPU: a sandbox start (shim, runc, CNI ADD) has taken over a minute there.
runtimeRequestTimeout: 10m
EOF
say "starting kubelet"
"$KUBELET" --config "$run/kubelet/config.yaml" --kubeconfig "$KUBECONFIG_NODE" --hostname-override "$NODE_NAME" \
  --node-ip "$NODE_IP" --root-dir "$disk/kubelet-root" --cert-dir "$run/kubelet/pki" --v=1 \
  >>"$STATE/kubelet.log" 2>&1 &
kubelet_pid=$!; pids+=("$kubelet_pid")
echo "$kubelet_pid" > "$STATE/kubelet.pid"
mark kubelet
touch "$STATE/started"
say "started (containerd $containerd_pid, agent $agent_pid, kubelet $kubelet_pid)"

# Serve scripts/node/exec.sh in the guest: STATE/exec/N.argv (bash-quoted `argv=(…)`) → N.out, N.rc.
# On the host exec.sh enters the namespaces with nsenter instead. Leave when STATE/stop appears or a
# part dies (up.sh and the lane notice through STATE/node.log and the missing process).
mkdir -p "$STATE/exec"
while [ ! -e "$STATE/stop" ]; do
  for p in "$containerd_pid" "$kubelet_pid"; do
    alive "$p" || { say "process $p (containerd or kubelet) died; stopping the node"; echo "$p" > "$STATE/died"; exit 1; }
  done
  if ! alive "$agent_pid" && [ ! -e "$STATE/agent.hold" ]; then
    rc=0; wait "$agent_pid" 2>/dev/null || rc=$?
    agent_restarts=$((agent_restarts + 1))
    say "agent $agent_pid exited (status $rc); starting it again (restart $agent_restarts)"
    sleep 1
    start_agent
    echo "$agent_restarts" > "$STATE/agent.restarts"
  fi
  if [ "$NODE_WHERE" = guest ]; then
    for req in "$STATE"/exec/*.argv; do
      [ -e "$req" ] || continue
      id=${req%.argv}
      mv "$req" "$id.running"
      ( . "$id.running"; cd "$REPO"; rc=0; "${argv[@]}" </dev/null >"$id.out" 2>&1 || rc=$?; echo "$rc" > "$id.rc.tmp"; mv "$id.rc.tmp" "$id.rc" ) &
    done
  fi
  sleep 0.2
done
say "stop requested"
