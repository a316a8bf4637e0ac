#!/usr/bin/env bash
# Build kube-apiserver (and optionally other k8s.io/kubernetes commands) from the Go module proxy and
# cache the binary outside the repo. Idempotent: exits at once when the cached binary and its marker exist.
#
#   scripts/cluster/build-apiserver.sh            # builds kube-apiserver
#   K8S_VERSION=v1.36.3 scripts/cluster/build-apiserver.sh
#   scripts/cluster/build-apiserver.sh kubectl    # another cmd/<name> from the same release
#
# How: k8s.io/kubernetes cannot be required as a plain module because its go.mod replaces every
# k8s.io/* staging module with ./staging/src/...; a temporary main module requires k8s.io/kubernetes
# and replaces each of those staging modules (read from kubernetes' own go.mod) with the published
# v0.Y.Z that matches vX.Y.Z.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
CMD="${1:-kube-apiserver}"
CACHE="${IPVSNET_CACHE:-$HOME/.cache/ipvsnet}"
OUT="$CACHE/$CMD-$K8S_VERSION"
MARKER="$OUT.built"
export PATH="/usr/local/go/bin:$PATH"

if [ -x "$OUT" ] && [ -f "$MARKER" ] && grep -qx "$K8S_VERSION" "$MARKER"; then
  echo "$OUT"
  exit 0
fi
command -v go >/dev/null || { echo "build-apiserver: Go toolchain not found (expected /usr/local/go/bin/go)" >&2; exit 1; }
mkdir -p "$CACHE"

staging_version="v0.${K8S_VERSION#v1.}"
work="$(mktemp -d "${TMPDIR:-/tmp}/ipvsnet-k8s-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"

echo "build-apiserver: fetching k8s.io/kubernetes@$K8S_VERSION go.mod" >&2
modfile="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
[ -f "$modfile" ] || { echo "build-apiserver: could not download go.mod of k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }
go_directive="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$modfile" | head -1)"
# Every "k8s.io/X => ./staging/src/k8s.io/X" line in kubernetes' replace block.
mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/.*#\1#p' "$modfile")
[ "${#staging[@]}" -gt 10 ] || { echo "build-apiserver: found only ${#staging[@]} staging modules in $modfile" >&2; exit 1; }

{
  echo "module ipvsnet.local/k8sbuild"
  echo
  echo "go ${go_directive:-1.25.0}"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  for m in "${staging[@]}"; do echo "	$m => $m $staging_version"; done
  echo ")"
} > go.mod
cat > tools.go <<GO
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/$CMD"
GO
echo "build-apiserver: ${#staging[@]} staging modules pinned to $staging_version; building $CMD (slow: many minutes)" >&2

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
go mod tidy -e >/dev/null 2>&1 || true
nice -n 10 go build -trimpath -ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION" \
  -o "$OUT.tmp" "k8s.io/kubernetes/cmd/$CMD"
mv "$OUT.tmp" "$OUT"
echo "$K8S_VERSION" > "$MARKER"
echo "build-apiserver: built $OUT" >&2
echo "$OUT"
