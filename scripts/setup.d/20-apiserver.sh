#!/usr/bin/env bash
# Build (once) and cache kube-apiserver for the cluster lane, the benchmark and the demo.
# Fast when ~/.cache/ipvsnet/kube-apiserver-<version> and its marker exist.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/cluster/build-apiserver.sh >/dev/null
