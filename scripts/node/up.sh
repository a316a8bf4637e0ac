#!/usr/bin/env bash
# Start a real single-node Kubernetes cluster with ipvsnet as the node's Service proxy and CNI:
#   etcd + kube-apiserver (scripts/cluster, reused when already running), kube-controller-manager
#   (EndpointSlice, namespace, service-account, garbage-collector, deployment, replicaset, root CA
#   publisher, node IPAM over 10.244.0.0/16 in /24s, node lifecycle, which lifts the not-ready taint
#   kubelet registers with) and kube-scheduler on the host's loopback, and the
#   node: containerd + runc (Debian), `ipvsnet agent` (CNI thick mode: the conflist it writes is the one
#   containerd runs) and kubelet, all started by scripts/node/node-init.sh.
#
#   scripts/node/up.sh [--where guest|host]
#
# Where the node runs (default: $IPVSNET_NODE_WHERE, else host; see scripts/node/README.md):
#   guest  inside the qemu guest (scripts/vm/run.sh), next to real IPVS; the node is 10.0.2.15 and the
#          NodePorts $NODE_FWD_PORTS are forwarded from the host's 127.0.0.1
#   host   in the network namespace ipvsnet-node (veth, node address 172.31.243.2), in a private mount
#          namespace and a PID namespace of its own; the host kernel has no IPVS, so Services are
#          programmed into ipsets and iptables but no virtual server exists
# IPVSNET_NODE_IP_POOLS=1: the IPPool CRD, kube-controller-manager without node IPAM, the agent with
# --ip-pools --loadbalancer-addresses (scripts/node/README.md); the Node then waits for an IPPool.
# Waits until the Node is Ready with a podCIDR (with IP pools: registered) and prints, as its LAST line,
# the admin kubeconfig's path.
# On any failure it prints one line naming the missing part and stops whatever it started.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
cd "$NODE_REPO"
where=${IPVSNET_NODE_WHERE:-host}
[ "${1:-}" = --where ] && { where=${2:?--where needs guest or host}; shift 2; }
[ $# -eq 0 ] || node_die "unknown argument $1 (usage: scripts/node/up.sh [--where guest|host])"
case "$where" in guest|host) ;; *) node_die "--where must be guest or host, not '$where'";; esac
t0=$(date +%s.%N)
elapsed() { printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)"; }

# --- every part, checked before anything starts ---------------------------------------------------
[ "$(id -u)" = 0 ] || node_die "must run as root"
for c in kube-apiserver kubelet kube-controller-manager kube-scheduler kubectl; do
  [ -x "$(node_bin "$c")" ] || node_die "$c $K8S_VERSION missing ($(node_bin "$c")): build it with bash scripts/setup.sh (scripts/setup.d/20-apiserver.sh, 40-node.sh)"
done
for c in containerd runc ctr etcd socat bc; do command -v "$c" >/dev/null || node_die "$c missing: apt-get install it (scripts/setup.sh's package list)"; done
[ -x /usr/lib/cni/loopback ] || node_die "the CNI loopback plugin /usr/lib/cni/loopback is missing: apt-get install containernetworking-plugins"
for f in build/cni/ipvsnet-bridge build/cni/ipvsnet-ipam build/native/ipvsnet_native.node; do
  [ -e "$f" ] || node_die "$f missing: run bash scripts/setup.d/10-native.sh"
done
[ -e dist/.built ] || node_die "dist/ is not built: run bash scripts/setup.d/15-dist.sh"
mapfile -t archives < <(bash images/build.sh) || node_die "the images could not be built (images/build.sh)"
[ "${#archives[@]}" = 2 ] && [ -s "${archives[0]}" ] && [ -s "${archives[1]}" ] || node_die "images/build.sh gave no pause and tools archives"
if [ "$where" = guest ]; then
  command -v qemu-system-x86_64 >/dev/null || node_die "qemu-system-x86_64 missing: apt-get install qemu-system-x86"
  for p in $NODE_FWD_PORTS; do
    ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || node_die "port 127.0.0.1:$p (a forwarded NodePort) is in use"
  done
  [ -z "$(ss -Hltn 'sport = :10250')" ] || node_die "port 10250 is in use on the host (qemu forwards $NODE_GUEST_IP:10250 to the guest's kubelet): $(ss -Hltnp 'sport = :10250' | head -1)"

else
  ! ip netns list | grep -qw "$NODE_NETNS" || node_die "network namespace $NODE_NETNS exists (left over?): run scripts/node/down.sh"
  ! ip link show "$NODE_HOST_VETH" >/dev/null 2>&1 || node_die "link $NODE_HOST_VETH exists (left over?): run scripts/node/down.sh"
fi
if [ -d "$NODE_STATE/pids" ]; then
  for f in "$NODE_STATE"/pids/*; do
    [ -e "$f" ] && node_alive "$(cat "$f")" && node_die "a node is already up ($(basename "$f") pid $(cat "$f")): run scripts/node/down.sh first"
  done
fi
rm -rf "$NODE_STATE"
mkdir -p "$NODE_STATE/pids"
echo "$where" > "$NODE_STATE/where"

# From here on a failure stops everything this script started.
ok=0
trap '[ "$ok" = 1 ] || { echo "node: up.sh failed; stopping what it started (logs in $NODE_STATE)" >&2; "$here/down.sh" --keep-logs >&2 || true; }' EXIT

daemon() { # NAME LOG CMD... : start detached, record the PID
  local name=$1 log=$2; shift 2
  setsid "$@" >>"$log" 2>&1 </dev/null &
  echo $! > "$NODE_STATE/pids/$name"
}

# --- control plane ----------------------------------------------------------------------------------
cluster_dir=${IPVSNET_CLUSTER_DIR:-$NODE_REPO/build/cluster}
reuse=0
if [ -f "$cluster_dir/state.json" ]; then
  port=$(node_modules/.bin/node -p "require('$cluster_dir/state.json').apiPort")
  token=$(node_modules/.bin/node -p "require('$cluster_dir/state.json').adminToken")
  if curl -sf --max-time 3 --cacert "$cluster_dir/ca.crt" -H "Authorization: Bearer $token" "https://127.0.0.1:$port/readyz" >/dev/null; then reuse=1; fi
fi
if [ "$reuse" = 1 ]; then
  echo "node: reusing the running kube-apiserver ($cluster_dir)" >&2
else
  echo "node: starting etcd + kube-apiserver (scripts/cluster/up.sh)" >&2
  IPVSNET_CLUSTER_DIR=$cluster_dir scripts/cluster/up.sh >/dev/null || node_die "etcd + kube-apiserver did not start (scripts/cluster/up.sh; see $cluster_dir/*.log)"
  touch "$NODE_STATE/started-cluster"
fi
echo "$cluster_dir" > "$NODE_STATE/cluster-dir"
st() { node_modules/.bin/node -p "require('$cluster_dir/state.json').$1"; }
api_port=$(st apiPort)
admin_kc=$(st kubeconfig)
echo "$admin_kc" > "$NODE_STATE/kubeconfig"
kubectl=("$(node_bin kubectl)" --kubeconfig "$admin_kc")
# A Node left by an earlier run (a reused apiserver) would look Ready with an old podCIDR: start clean.
"${kubectl[@]}" delete node "$NODE_NAME" --ignore-not-found --wait=true >/dev/null || node_die "could not delete the old Node $NODE_NAME"

# IP pools (IPVSNET_NODE_IP_POOLS=1): the IPPool CRD; no node IPAM in kube-controller-manager, so the
# agent's pool claimer (--ip-pools) is what sets the Node's podCIDR, from an IPPool that selects it.
ip_pools=${IPVSNET_NODE_IP_POOLS:-0}
case "$ip_pools" in 0|1) ;; *) node_die "IPVSNET_NODE_IP_POOLS must be 0 or 1, not '$ip_pools'";; esac
cluster_cidr=10.244.0.0/16
kcm_ipam=(node-ipam-controller, --allocate-node-cidrs --cluster-cidr=$cluster_cidr --node-cidr-mask-size=24)
if [ "$ip_pools" = 1 ]; then
  # seed 004's two pools (192.168.0.0/24, 192.168.1.0/24) are the cluster's pod addresses
  cluster_cidr=192.168.0.0/23
  kcm_ipam=('' --allocate-node-cidrs=false)
  "${kubectl[@]}" apply -f "$NODE_REPO/manifests/ip-pools/crd.yaml" >/dev/null || node_die "could not install the IPPool CRD (manifests/ip-pools/crd.yaml)"
fi
daemon kube-controller-manager "$NODE_STATE/kube-controller-manager.log" "$(node_bin kube-controller-manager)" \
  --kubeconfig="$admin_kc" --authentication-kubeconfig="$admin_kc" --authorization-kubeconfig="$admin_kc" \
  --bind-address=127.0.0.1 --secure-port=0 --leader-elect=false \
  --controllers=endpointslice-controller,namespace-controller,serviceaccount-controller,garbage-collector-controller,deployment-controller,replicaset-controller,${kcm_ipam[0]}node-lifecycle-controller,root-ca-certificate-publisher-controller \
  "${kcm_ipam[@]:1}" --service-cluster-ip-range=10.96.0.0/16 \
  --root-ca-file="$(st caFile)" --use-service-account-credentials=false --concurrent-deployment-syncs=2 --v=1
daemon kube-scheduler "$NODE_STATE/kube-scheduler.log" "$(node_bin kube-scheduler)" \
  --kubeconfig="$admin_kc" --authentication-kubeconfig="$admin_kc" --authorization-kubeconfig="$admin_kc" \
  --bind-address=127.0.0.1 --secure-port=0 --leader-elect=false --v=1

# --- the node ---------------------------------------------------------------------------------------
env_file=$NODE_STATE/node.env
{
  printf 'NODE_WHERE=%q\nNODE_NAME=%q\nSTATE=%q\nREPO=%q\nKUBELET=%q\nCLUSTER_CIDR=%q\n' \
    "$where" "$NODE_NAME" "$NODE_STATE" "$NODE_REPO" "$(node_bin kubelet)" "$cluster_cidr"
  printf 'PAUSE_ARCHIVE=%q\nTOOLS_ARCHIVE=%q\n' "${archives[0]}" "${archives[1]}"
  printf 'MULTI_NETWORK=%q\n' "${IPVSNET_NODE_MULTI_NETWORK:-0}"
  printf 'IP_POOLS=%q\n' "$ip_pools"
} > "$env_file"
# multi-network pods (IPVSNET_NODE_MULTI_NETWORK=1): the NAD CRD; the agent runs with --multi-network
if [ "${IPVSNET_NODE_MULTI_NETWORK:-0}" = 1 ]; then
  "${kubectl[@]}" apply -f "$NODE_REPO/manifests/multinet/crd.yaml" >/dev/null || node_die "could not install the NetworkAttachmentDefinition CRD"
fi
if [ "$where" = guest ]; then
  printf 'NODE_IP=%q\nKUBECONFIG_NODE=%q\n' "$NODE_GUEST_IP" "$(st guestKubeconfig)" >> "$env_file"
  # kubectl exec/logs/port-forward: the apiserver dials the kubelet at the Node's InternalIP, the guest's
  # 10.0.2.15, which exists only behind qemu's user network. That address on the host's loopback link
  # with qemu forwarding $NODE_GUEST_IP:10250 into the guest makes the dial land on the guest's kubelet.
  # Its local route gets source 127.0.0.1: qemu passes a peer address that is not loopback on to the
  # guest as the packets' source, and the guest drops packets from its own 10.0.2.15 (qemu then resets
  # the connection); a loopback peer reaches the guest as 10.0.2.2.
  if ! ip -o addr show dev lo | grep -qw "$NODE_GUEST_IP/32"; then
    ip addr add "$NODE_GUEST_IP/32" dev lo || node_die "could not add $NODE_GUEST_IP/32 to the host's lo (the guest kubelet's address for the apiserver)"
    touch "$NODE_STATE/host-lo-addr"
    ip route replace local "$NODE_GUEST_IP" dev lo table local proto kernel scope host src 127.0.0.1 || node_die "could not give the local route of $NODE_GUEST_IP the source 127.0.0.1"
  fi
  fwd=(--hostfwd "tcp:$NODE_GUEST_IP:10250:10250"); for p in $NODE_FWD_PORTS; do fwd+=(--hostfwd "tcp:$p:$p"); done
  daemon node "$NODE_STATE/vm.log" scripts/vm/run.sh --timeout "${IPVSNET_NODE_VM_TIMEOUT:-14400}" --mem "${IPVSNET_NODE_VM_MEM:-3072}" \
    --hostname "$NODE_NAME" "${fwd[@]}" -- bash scripts/node/node-init.sh "$env_file"
else
  ip netns add "$NODE_NETNS"
  ip link add "$NODE_HOST_VETH" type veth peer name eth0 netns "$NODE_NETNS"
  ip addr add "$NODE_HOST_ADDR/24" dev "$NODE_HOST_VETH"
  ip link set "$NODE_HOST_VETH" up
  ip -n "$NODE_NETNS" link set lo up
  ip -n "$NODE_NETNS" addr add "$NODE_HOST_IP/24" dev eth0
  ip -n "$NODE_NETNS" link set eth0 up
  ip -n "$NODE_NETNS" route add default via "$NODE_HOST_ADDR"
  # The apiserver listens on the host's loopback only: the node reaches it at its own 127.0.0.1:port
  # (the certificate's address) through a unix socket relayed by two socat processes.
  daemon socat-host "$NODE_STATE/socat.log" socat "UNIX-LISTEN:$NODE_STATE/api.sock,fork,unlink-early" "TCP:127.0.0.1:$api_port"
  daemon socat-node "$NODE_STATE/socat.log" ip netns exec "$NODE_NETNS" socat "TCP-LISTEN:$api_port,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$NODE_STATE/api.sock"
  printf 'NODE_IP=%q\nKUBECONFIG_NODE=%q\n' "$NODE_HOST_IP" "$admin_kc" >> "$env_file"
  # The host's cgroup hierarchies (v1 + the empty v2), mounted again inside the node's namespaces.
  cg=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { t = $(i+1); o = $(i+3); break }
              if (t == "cgroup" || t == "cgroup2") print $5 ":" t ":" o }' /proc/self/mountinfo | tr '\n' ' ')
  [ -n "$cg" ] || node_die "no cgroup hierarchies mounted on the host (/proc/self/mountinfo)"
  printf 'CGROUP_MOUNTS=%q\n' "$cg" >> "$env_file"
  daemon node "$NODE_STATE/node.log" ip netns exec "$NODE_NETNS" unshare --mount --propagation private --pid --fork --mount-proc --kill-child=SIGTERM \
    bash scripts/node/node-init.sh "$env_file"
fi
echo "node: starting the node ($where)" >&2

# --- wait for Ready ---------------------------------------------------------------------------------
deadline=$(( $(date +%s) + ${IPVSNET_NODE_READY_TIMEOUT:-900} ))
while :; do
  for c in kube-controller-manager kube-scheduler node; do
    node_alive "$(cat "$NODE_STATE/pids/$c")" || node_die "$c exited during start-up; see $NODE_STATE/$c.log$( [ "$c" = node ] && echo " and $NODE_STATE/{node,vm,kubelet,containerd,agent}.log")"
  done
  ready=$("${kubectl[@]}" get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.spec.podCIDR}' 2>/dev/null || true)
  [[ $ready == "True "* ]] && [ -n "${ready#True }" ] && break
  # With IP pools the Node gets its podCIDR (and with it the conflist, then Ready) only once an IPPool
  # selects it, which is the user's step (seed 004: label the node, create the pools): registered is up.
  [ "$ip_pools" = 1 ] && [ -n "$ready" ] && [ -e "$NODE_STATE/started" ] && break
  [ "$(date +%s)" -lt "$deadline" ] || node_die "node $NODE_NAME not Ready after ${IPVSNET_NODE_READY_TIMEOUT:-900}s (Ready/podCIDR: '$ready'); see $NODE_STATE/{kubelet,containerd,agent}.log"
  sleep 1
done
if [ "$ip_pools" = 1 ]; then
  echo "node: $NODE_NAME registered after $(elapsed)s ($where, IP pools: its podCIDR comes from the IPPool that selects it)" >&2
else
  echo "node: $NODE_NAME Ready with podCIDR ${ready#True } after $(elapsed)s ($where)" >&2
fi
echo "$(elapsed)" > "$NODE_STATE/ready-seconds"
# Where the time went, in seconds after up.sh began: the node's init (guest: the VM booted), containerd
# answering, the images imported, kubelet started (node-init.sh's marks in STATE/phases).
if [ -s "$NODE_STATE/phases" ]; then
  echo "node: phases (s after up.sh began): $(awk -v t0="$t0" '{ printf "%s%s %.1f", sep, $1, $2 - t0; sep = ", " }' "$NODE_STATE/phases"), Ready $(elapsed)" >&2
fi
ok=1
echo "$admin_kc"
