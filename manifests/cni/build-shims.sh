#!/usr/bin/env bash
# DaemonSet mode: the thick-mode shims (src/native/cni-shim.c) as the host runs them.
#   bash manifests/cni/build-shims.sh OUTDIR FALLBACK_DIR [SOCKET=/run/ipvsnet/cni.sock]
# Output: OUTDIR/ipvsnet-bridge and OUTDIR/ipvsnet-ipam. Each forwards the CNI request to the agent's
# unix socket SOCKET (a host path: the DaemonSet mounts its directory from the host) and, when no
# agent listens, execs FALLBACK_DIR/ipvsnet-<plugin> -- the single executable plugin that
# scripts/cni/build-sea.sh builds and the init container installs there (a host path too).
# Linked statically: the image's glibc is newer than many nodes' (a dynamic build would need
# GLIBC_2.34 for __libc_start_main), and the shims run on the node, not in the image.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: build-shims.sh OUTDIR FALLBACK_DIR [SOCKET]}
fallback=${2:?usage: build-shims.sh OUTDIR FALLBACK_DIR [SOCKET]}
socket=${3:-/run/ipvsnet/cni.sock}
case "$fallback" in /*) ;; *) echo "build-shims: FALLBACK_DIR must be an absolute path (the shim execs it on the node): $fallback" >&2; exit 2 ;; esac
case "$socket" in /*) ;; *) echo "build-shims: SOCKET must be an absolute path: $socket" >&2; exit 2 ;; esac
mkdir -p "$out"
for mode in bridge ipam multinet; do
  gcc -O2 -Wall -Wextra -static -o "$out/ipvsnet-$mode.tmp" src/native/cni-shim.c \
    -DMODE="\"$mode\"" -DFALLBACK="\"$fallback/ipvsnet-$mode\"" -DSOCKET="\"$socket\""
  mv "$out/ipvsnet-$mode.tmp" "$out/ipvsnet-$mode"
done
echo "build-shims: built $out/ipvsnet-bridge, $out/ipvsnet-ipam, $out/ipvsnet-multinet (socket $socket, fallback $fallback/)"
