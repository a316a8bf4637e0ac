#!/usr/bin/env bash
# The real node's parts (scripts/node/): kube-controller-manager, kube-scheduler, kubelet and kubectl of
# the same release as kube-apiserver, built like it (scripts/cluster/build-apiserver.sh, cached in
# ${IPVSNET_CACHE:-~/.cache/ipvsnet}), and the pause and tools images as OCI archives (images/build.sh).
# containerd, runc and postgresql-client come from scripts/setup.sh's Debian package list.
# Idempotent; fast when everything is cached. Prints how long each part took when it had to build.
set -euo pipefail
cd "$(dirname "$0")/../.."
for c in containerd runc ctr; do command -v "$c" >/dev/null || { echo "40-node: $c missing (apt-get install containerd runc)" >&2; exit 1; }; done
for cmd in kubelet kube-controller-manager kube-scheduler kubectl; do
  t0=$(date +%s)
  out=$(bash scripts/cluster/build-apiserver.sh "$cmd")
  t=$(( $(date +%s) - t0 ))
  [ "$t" -gt 5 ] && echo "40-node: $cmd built in ${t}s: $out"
done
t0=$(date +%s)
bash images/build.sh >/dev/null
t=$(( $(date +%s) - t0 ))
[ "$t" -gt 5 ] && echo "40-node: images built in ${t}s"
true
