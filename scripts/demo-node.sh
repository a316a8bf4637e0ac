#!/usr/bin/env bash
# ipvsnet on a real node, the way a user meets it: kubelet, containerd and the Kubernetes controllers,
# with `ipvsnet agent` as the node's Service proxy and CNI (scripts/node/up.sh).
#   1. installs what it needs (scripts/setup.sh, including the cached kubelet/controller builds and images);
#   2. starts the node (scripts/node/up.sh; IPVSNET_NODE_WHERE=guest|host, default host);
#   3. kubectl create deployment + expose (NodePort), waits for the Pods, shows them with their
#      podCIDR addresses and the EndpointSlice;
#   4. shows what the agent programmed (ipvsadm -Ln where the node's kernel has IPVS; the ipsets), the
#      agent's status, HTTP to every Pod from another Pod, and the NodePort from the host side;
#   5. stops everything (scripts/node/down.sh), also on failure.
#
#   npm run demo:node        (or: bash scripts/demo-node.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
k=scripts/node/kubectl
x=scripts/node/exec.sh
t0=$(date +%s)
[ "${IPVSNET_SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh
trap 'say "stopping the node"; scripts/node/down.sh' EXIT
say "starting the node (scripts/node/up.sh)"
kc=$(scripts/node/up.sh | tail -1)
echo "admin kubeconfig: $kc"
where=$(cat build/vm-share/node/where)
run $k get nodes -o wide
say "a Deployment of 3 and a NodePort Service, with kubectl"
run $k create namespace demo
until $k -n demo get sa default >/dev/null 2>&1; do sleep 0.5; done
t1=$(date +%s)
run $k -n demo create deployment web --image=ipvsnet.local/tools:1 --replicas=3 --port=8080 -- \
  /bin/sh -c 'mkdir -p /tmp/www && hostname > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www'
run $k -n demo create service nodeport web --tcp=80:8080 --node-port=30080
run $k -n demo run client --image=ipvsnet.local/tools:1 --image-pull-policy=Never --restart=Never --command -- /bin/sleep 100000
run $k -n demo wait --for=condition=Ready pod --all --timeout=300s
echo "(all Pods Ready $(( $(date +%s) - t1 ))s after kubectl create deployment)"
run $k -n demo get pods -o wide
run $k get node ipvsnet-node -o jsonpath='{.spec.podCIDR}{"\n"}'
run $k -n demo get svc,endpointslices
say "what the agent programmed on the node"
if $x test -e /proc/net/ip_vs; then
  run $x ipvsadm -Ln
else
  echo "(this node's kernel has no IPVS: the host kernel; run with IPVSNET_NODE_WHERE=guest for ipvsadm)"
fi
run $x ipset list KUBE-CLUSTER-IP
run $x ipset list KUBE-LOOP-BACK
run $x iptables -t nat -S KUBE-SERVICES
say "the agent's status (/status on its metrics port) and health"
run $x curl -s http://127.0.0.1:10249/status; echo
run $x curl -s http://127.0.0.1:10256/healthz; echo
say "HTTP from the client Pod"
client_ip=$($k -n demo get pod client -o jsonpath='{.status.podIP}')
for ip in $($k -n demo get pods -l app=web -o jsonpath='{.items[*].status.podIP}'); do
  printf '%s -> %s: ' "$client_ip" "$ip"; $k -n demo exec client -- wget -qO- "http://$ip:8080/"
done
cip=$($k -n demo get svc web -o jsonpath='{.spec.clusterIP}')
if $x test -e /proc/net/ip_vs; then
  for i in 1 2 3 4 5 6; do printf 'ClusterIP %s:80 -> ' "$cip"; $k -n demo exec client -- wget -qO- "http://$cip/"; done
  if [ "$where" = guest ]; then nodeport=127.0.0.1:30080; else nodeport=172.31.243.2:30080; fi
  for i in 1 2 3; do printf 'NodePort %s from the host -> ' "$nodeport"; curl -s --max-time 5 "http://$nodeport/"; done
else
  echo "(ClusterIP $cip and NodePort 30080 need IPVS: not on the host kernel)"
fi
say "done in $(( $(date +%s) - t0 ))s"
