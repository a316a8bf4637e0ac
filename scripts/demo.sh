#!/usr/bin/env bash
# ipvsnet, end to end, on this machine:
#   1. installs what it needs (scripts/setup.sh: Debian packages, npm packages, the kube-apiserver build);
#   2. starts a real kube-apiserver + etcd on loopback (scripts/cluster/up.sh);
#   3. registers a Node, creates a NodePort Service and its EndpointSlice, and the agent's RBAC;
#   4. boots a qemu guest with Debian's kernel (real IPVS), where backend "pods" are network namespaces
#      running HTTP servers and the agent runs with the ServiceAccount's token, reaching the apiserver at
#      https://10.0.2.2:<port>;
#   5. curls the Service through its ClusterIP and its NodePort, shows `ipvsadm -Ln` and the agent's
#      status, and tears everything down.
#
#   npm run demo            (or: bash scripts/demo.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

if [ "${1:-}" = "--guest" ]; then
  # ---------------------------------------------------------------- inside the VM
  ctl=$2
  . "$ctl/demo.env"
  say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
  sysctl -qw net.ipv4.ip_forward=1
  ip link add cbr0 type bridge && ip addr add 10.244.0.1/24 dev cbr0 && ip link set cbr0 up
  for i in 1 2; do
    n=web-$i; ip=10.244.0.1$i
    mkdir -p /tmp/www-$n && echo "hello from pod $n ($ip)" > /tmp/www-$n/index.html
    ip netns add $n
    ip link add h-$n type veth peer name p-$n
    ip link set p-$n netns $n && ip link set h-$n master cbr0 && ip link set h-$n up
    ip netns exec $n ip addr add $ip/24 dev p-$n
    ip netns exec $n ip link set p-$n up && ip netns exec $n ip link set lo up
    ip netns exec $n ip route add default via 10.244.0.1
    ip netns exec $n busybox httpd -p 8080 -h /tmp/www-$n
  done
  ip netns add client
  ip link add cl-host type veth peer name cl-pod
  ip link set cl-pod netns client
  ip addr add 10.250.0.1/24 dev cl-host && ip link set cl-host up
  ip netns exec client ip addr add 10.250.0.2/24 dev cl-pod
  ip netns exec client ip link set cl-pod up && ip netns exec client ip link set lo up
  ip netns exec client ip route add default via 10.250.0.1

  say "starting the agent: bin/ipvsnet agent --kubeconfig (ServiceAccount token) --hostname-override $NODE"
  bin/ipvsnet agent --kubeconfig="$AGENT_KUBECONFIG" --hostname-override="$NODE" --cluster-cidr=10.244.0.0/16 \
    --ipvs-min-sync-period=100ms --metrics-bind-address=127.0.0.1:10249 > "$ctl/agent.log" 2>&1 &
  agent=$!
  # The guest CPU is emulated: the agent needs minutes to start and finish its first sync.
  for _ in $(seq 1 1800); do
    curl -s http://127.0.0.1:10249/status 2>/dev/null | grep -q '"syncs": [1-9]' && break
    sleep 0.5
  done
  say "ipvsadm -Ln"
  ipvsadm -Ln
  say "ip addr show kube-ipvs0"
  ip -br addr show kube-ipvs0
  say "curl http://$CLUSTER_IP/ (ClusterIP) from a client network namespace, 4 times"
  for _ in 1 2 3 4; do ip netns exec client curl -s --max-time 3 "http://$CLUSTER_IP/"; done
  say "curl http://10.0.2.15:$NODE_PORT/ (NodePort)"
  ip netns exec client curl -s --max-time 3 "http://10.0.2.15:$NODE_PORT/"
  say "agent status (http://127.0.0.1:10249/status) and /healthz"
  curl -s http://127.0.0.1:10249/status
  echo
  curl -s -w '  (HTTP %{http_code})\n' http://127.0.0.1:10256/healthz
  say "ipvsadm -Ln --stats"
  ipvsadm -Ln --stats
  kill -TERM $agent; wait $agent || true
  exit 0
fi

# ------------------------------------------------------------------ on the host
echo "== installing what the demo needs (scripts/setup.sh; the first run builds kube-apiserver, which takes a while)"
bash scripts/setup.sh
export PATH="$repo/node_modules/.bin:$PATH"

cleanup() { scripts/cluster/down.sh || true; [ -n "${ctl:-}" ] && rm -rf "$ctl"; }
trap cleanup EXIT
export IPVSNET_CLUSTER_DIR="$repo/build/demo-cluster"
eval "$(IPVSNET_APISERVER_PORT=${IPVSNET_APISERVER_PORT:-16543} IPVSNET_ETCD_PORT=${IPVSNET_ETCD_PORT:-23890} scripts/cluster/up.sh --dir "$IPVSNET_CLUSTER_DIR")"
dir=$IPVSNET_CLUSTER_DIR
token=$(cut -d, -f1 "$dir/tokens.csv")
api() { # METHOD PATH [JSON] [CONTENT-TYPE]
  curl -sS --fail-with-body --cacert "$dir/ca.crt" -H "Authorization: Bearer $token" -X "$1" "$IPVSNET_APISERVER$2" \
    ${3:+-H "Content-Type: ${4:-application/json}" --data-binary "$3"}
}
jsonfield() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let o=JSON.parse(s);for(const k of process.argv[1].split("."))o=o[k];console.log(o)})' "$1"; }

NODE=ipvsnet-vm
echo "== registering Node $NODE (10.0.2.15) by hand, then its status"
api POST /api/v1/nodes "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$NODE\"},\"spec\":{\"podCIDR\":\"10.244.0.0/24\",\"podCIDRs\":[\"10.244.0.0/24\"]}}" >/dev/null
api PATCH /api/v1/nodes/$NODE/status '{"status":{"addresses":[{"type":"InternalIP","address":"10.0.2.15"},{"type":"Hostname","address":"ipvsnet-vm"}],"conditions":[{"type":"Ready","status":"True","reason":"ManualRegistration","message":"demo"}]}}' application/merge-patch+json >/dev/null
echo "== creating namespace demo, Service demo/web (NodePort) and its EndpointSlice (pods web-1, web-2)"
api POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"demo"}}' >/dev/null
svc=$(api POST /api/v1/namespaces/demo/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"type":"NodePort","ports":[{"port":80,"targetPort":8080}]}}')
CLUSTER_IP=$(echo "$svc" | jsonfield spec.clusterIP)
NODE_PORT=$(echo "$svc" | jsonfield spec.ports.0.nodePort)
echo "   the apiserver allocated ClusterIP $CLUSTER_IP and NodePort $NODE_PORT"
api POST /apis/discovery.k8s.io/v1/namespaces/demo/endpointslices "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"web-a\",\"labels\":{\"kubernetes.io/service-name\":\"web\"}},\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"10.244.0.11\"],\"nodeName\":\"$NODE\",\"conditions\":{\"ready\":true}},{\"addresses\":[\"10.244.0.12\"],\"nodeName\":\"$NODE\",\"conditions\":{\"ready\":true}}],\"ports\":[{\"name\":\"\",\"port\":8080,\"protocol\":\"TCP\"}]}" >/dev/null
echo "== applying manifests/base/rbac.yaml (ServiceAccount, ClusterRole, binding) and requesting a token for the agent"
node --disable-warning=ExperimentalWarning -e '
  const { parseAllDocuments } = require("yaml");
  for (const d of parseAllDocuments(require("fs").readFileSync("manifests/base/rbac.yaml", "utf8"))) console.log(JSON.stringify(d.toJS()));
' | while read -r doc; do
  kind=$(echo "$doc" | jsonfield kind); name=$(echo "$doc" | jsonfield metadata.name)
  case $kind in
    ServiceAccount) path=/api/v1/namespaces/kube-system/serviceaccounts/$name;;
    ClusterRole) path=/apis/rbac.authorization.k8s.io/v1/clusterroles/$name;;
    ClusterRoleBinding) path=/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/$name;;
  esac
  api PATCH "$path?fieldManager=ipvsnet-demo&force=true" "$doc" application/apply-patch+yaml >/dev/null
done
satoken=$(api POST /api/v1/namespaces/kube-system/serviceaccounts/ipvsnet/token '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3600}}' | jsonfield status.token)
mkdir -p build/vm-share
ctl=$(mktemp -d "$repo/build/vm-share/demo.XXXXXX")
ca=$(base64 -w0 < "$dir/ca.crt")
cat > "$ctl/agent.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: demo, cluster: {server: "$IPVSNET_GUEST_APISERVER", certificate-authority-data: "$ca"}}]
users: [{name: ipvsnet, user: {token: "$satoken"}}]
contexts: [{name: demo, context: {cluster: demo, user: ipvsnet}}]
current-context: demo
EOF
cat > "$ctl/demo.env" <<EOF
NODE=$NODE
CLUSTER_IP=$CLUSTER_IP
NODE_PORT=$NODE_PORT
AGENT_KUBECONFIG=$ctl/agent.kubeconfig
EOF
echo "== booting the VM (Debian kernel with IPVS; the agent reaches the apiserver at $IPVSNET_GUEST_APISERVER)"
scripts/vm/run.sh --timeout 1200 --hostname "$NODE" -- bash scripts/demo.sh --guest "$ctl"
echo
echo "== done; tearing down the VM (already off), the apiserver and etcd"
