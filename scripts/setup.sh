#!/usr/bin/env bash
# One-time machine set-up, idempotent: Debian packages, npm packages (bringing Node 24), native helper,
# and the cached kube-apiserver build. Used by .ci/run, `npm test`'s lanes and `npm run demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(qemu-system-x86 linux-image-amd64 busybox-static ipvsadm ipset iptables nftables iproute2 curl
      containernetworking-plugins etcd-server hyperfine conntrack socat systemd gcc make
      containerd runc postgresql-client)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -ne 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-fund --no-audit
fi
for s in scripts/setup.d/*.sh; do [ -e "$s" ] && bash "$s"; done
true
