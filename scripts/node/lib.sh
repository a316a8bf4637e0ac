# Shared by scripts/node/{up.sh,down.sh,exec.sh,kubectl} (sourced). Paths and small helpers only.
NODE_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
K8S_VERSION="${K8S_VERSION:-v1.37.2}"
NODE_CACHE=${IPVSNET_CACHE:-$HOME/.cache/ipvsnet}
# The node's state directory: on the VM share, so a guest node reads its env file and writes its logs there.
NODE_STATE=${IPVSNET_NODE_STATE:-$NODE_REPO/build/vm-share/node}
NODE_NAME=${IPVSNET_NODE_NAME:-ipvsnet-node}
NODE_NETNS=ipvsnet-node
# Host-mode node: a veth between the host (.1) and the node's netns (.2).
NODE_HOST_VETH=ipvsnet-nh
NODE_HOST_ADDR=172.31.243.1
NODE_HOST_IP=172.31.243.2
# Guest-mode node: its address inside qemu's user network (also put on the host's lo, see up.sh).
NODE_GUEST_IP=10.0.2.15
# NodePorts the guest-mode node forwards from the host's 127.0.0.1 (same port numbers).
NODE_FWD_PORTS=${IPVSNET_NODE_FWD_PORTS:-"30080 30081 30082 30090 30091"}
node_bin() { echo "$NODE_CACHE/$1-$K8S_VERSION"; }
node_die() { echo "node: $*" >&2; exit 1; }
node_alive() { [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
node_where() { cat "$NODE_STATE/where" 2>/dev/null; }
