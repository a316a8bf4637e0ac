#!/usr/bin/env bash
# Install ipvsnet as a systemd service on this machine.
#
#   scripts/systemd/install.sh [--prefix DIR] [--root DIR] [--kubeconfig FILE] [--no-start]
#
#   --prefix DIR      where ipvsnet lives (default /opt/ipvsnet; the checkout is copied there unless
#                     DIR is the checkout itself)
#   --root DIR        install under DIR instead of / (staging, tests)
#   --kubeconfig FILE copied to /etc/ipvsnet/kubeconfig
#   --no-start        do not run systemctl (also implied when systemd is not running or --root is set)
#
# /etc/ipvsnet/config.yaml is created from manifests/base/configmap.yaml's KubeProxyConfiguration when absent
# (an existing file is kept).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
prefix=/opt/ipvsnet root= kubeconfig= start=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?}; shift 2;;
    --root) root=${2:?}; start=0; shift 2;;
    --kubeconfig) kubeconfig=${2:?}; shift 2;;
    --no-start) start=0; shift;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    *) echo "install.sh: unknown option $1" >&2; exit 2;;
  esac
done
case "$prefix" in /*) ;; *) echo "install.sh: --prefix must be absolute" >&2; exit 2;; esac

dest="$root$prefix"
if [ "$(cd "$repo" && pwd -P)" != "$(mkdir -p "$dest" && cd "$dest" && pwd -P)" ]; then
  mkdir -p "$dest"
  # What bin/ipvsnet runs: the compiled agent (built here if stale), the rule templates it reads, the
  # native addon, and the sources (the launcher's fallback).
  bash "$repo/scripts/setup.d/15-dist.sh"
  [ -e "$repo/build/native/ipvsnet_native.node" ] || bash "$repo/scripts/setup.d/10-native.sh"
  mkdir -p "$dest/build"
  cp -a "$repo/bin" "$repo/dist" "$repo/src" "$repo/rules" "$repo/package.json" "$repo/package-lock.json" "$dest/"
  cp -a "$repo/build/native" "$dest/build/"
  [ -f "$repo/README.md" ] && cp "$repo/README.md" "$dest/"
  cp -a "$repo/node_modules" "$dest/"
fi

mkdir -p "$root/etc/systemd/system" "$root/etc/ipvsnet"
sed "s#@PREFIX@#$prefix#g" "$repo/scripts/systemd/ipvsnet.service" > "$root/etc/systemd/system/ipvsnet.service"
if [ ! -f "$root/etc/ipvsnet/config.yaml" ]; then
  # The KubeProxyConfiguration from the ConfigMap manifest (the lines under "config.conf: |").
  # clientConnection.kubeconfig points at /etc/ipvsnet/kubeconfig (with --config a --kubeconfig flag is ignored).
  awk '/config.conf: \|/{f=1; next} f{sub(/^    /, ""); print}' "$repo/manifests/base/configmap.yaml" \
    | sed 's#^  kubeconfig: ""$#  kubeconfig: /etc/ipvsnet/kubeconfig#' > "$root/etc/ipvsnet/config.yaml"
fi
if [ -n "$kubeconfig" ]; then install -m 0600 "$kubeconfig" "$root/etc/ipvsnet/kubeconfig"; fi

if [ "$start" = 1 ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable --now ipvsnet.service
  systemctl --no-pager status ipvsnet.service || true
else
  echo "installed under ${root:-/}; start with: systemctl daemon-reload && systemctl enable --now ipvsnet"
fi
