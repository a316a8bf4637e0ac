#!/usr/bin/env bash
# Start etcd + kube-apiserver on loopback (see cluster.ts). Prints `export NAME=value` lines for eval.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node_modules/.bin/node --disable-warning=ExperimentalWarning scripts/cluster/cluster.ts up "$@"
