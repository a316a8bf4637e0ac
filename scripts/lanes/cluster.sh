#!/usr/bin/env bash
# Cluster lane: a real kube-apiserver + etcd on loopback (scripts/cluster/up.sh). Tests that need the
# kernel run the agent inside the qemu guest (scripts/vm/run.sh), which reaches the apiserver at 10.0.2.2.
# The cluster is always torn down.
set -eu
cd "$(dirname "$0")/../.."
export PATH="$PWD/node_modules/.bin:$PATH"
. scripts/cluster/lib.sh
bin="$(apiserver_binary)"
if [ ! -x "$bin" ]; then
  echo "cluster lane: $bin missing. Build it once (slow, ~15-30 min on 2 cores):" >&2
  echo "  bash scripts/cluster/build-apiserver.sh    (or bash scripts/setup.sh)" >&2
  exit 1
fi
command -v etcd >/dev/null || { echo "cluster lane: etcd missing (apt-get install etcd-server; scripts/setup.sh does it)" >&2; exit 1; }
mkdir -p build/results
trap 'scripts/cluster/down.sh || true' EXIT
env_lines="$(scripts/cluster/up.sh)"
eval "$env_lines"
rc=0
vitest run --project cluster --reporter=default --reporter=json --outputFile.json=build/results/cluster.json "$@" || rc=$?
exit $rc
