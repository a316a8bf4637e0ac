#!/usr/bin/env bash
# kube-proxy of the same release as kube-apiserver (${IPVSNET_CACHE:-~/.cache/ipvsnet}/kube-proxy-v1.37.2),
# built like it (scripts/cluster/build-apiserver.sh): the VM lane's migration test runs it in iptables
# mode before ipvsnet takes over (test/vm/migrate/), and the side-by-side benchmark runs it too.
# Idempotent; fast when cached. Prints how long the build took when it had to build.
set -euo pipefail
cd "$(dirname "$0")/../.."
t0=$(date +%s)
out=$(bash scripts/cluster/build-apiserver.sh kube-proxy)
t=$(( $(date +%s) - t0 ))
[ "$t" -gt 5 ] && echo "45-kube-proxy: built in ${t}s: $out"
true
