#!/usr/bin/env bash
# Build (once) the conformance harness: kube-proxy's own IPVS Proxier (k8s.io/kubernetes
# pkg/proxy/ipvs at K8S_VERSION, from the Go module proxy) plus ONE file of ours,
# scripts/conformance/harness/ipvs_harness.go, added to that package with `go build -overlay`
# (the module cache is never modified). Prints the binary's path. Cached in
# ~/.cache/ipvsnet/kube-proxy-ipvs-harness-<version>-<hash of the harness sources>; exits at once
# when that binary exists.
#
# The temporary main module is made as scripts/cluster/build-apiserver.sh makes it: it requires
# k8s.io/kubernetes and pins every staging module k8s.io/X to the published v0.Y.Z.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
here="$(cd "$(dirname "$0")" && pwd)"
CACHE="${IPVSNET_CACHE:-$HOME/.cache/ipvsnet}"
export PATH="/usr/local/go/bin:$PATH"

hash="$(cat "$here/harness/ipvs_harness.go" "$here/harness/main/main.go" "$here/build-harness.sh" | sha256sum | cut -c1-16)"
OUT="$CACHE/kube-proxy-ipvs-harness-$K8S_VERSION-$hash"
if [ -x "$OUT" ]; then
  echo "$OUT"
  exit 0
fi
command -v go >/dev/null || { echo "build-harness: Go toolchain not found (expected /usr/local/go/bin/go)" >&2; exit 1; }
mkdir -p "$CACHE"

staging_version="v0.${K8S_VERSION#v1.}"
work="$(mktemp -d "${TMPDIR:-/tmp}/ipvsnet-harness-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"

modfile="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
[ -f "$modfile" ] || { echo "build-harness: could not download go.mod of k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }
go_directive="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$modfile" | head -1)"
mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/.*#\1#p' "$modfile")
[ "${#staging[@]}" -gt 10 ] || { echo "build-harness: found only ${#staging[@]} staging modules in $modfile" >&2; exit 1; }
{
  echo "module ipvsnet.local/conformance"
  echo
  echo "go ${go_directive:-1.25.0}"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  # Go refuses overlays for files beneath GOMODCACHE; kubernetes is reached through a symlink
  # (./k8s) to its module cache directory instead, which the overlay may add a file to.
  echo "	k8s.io/kubernetes => ./k8s"
  for m in "${staging[@]}"; do echo "	$m => $m $staging_version"; done
  echo ")"
} > go.mod
moddir="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
[ -d "$moddir" ] || { echo "build-harness: k8s.io/kubernetes@$K8S_VERSION has no directory in the module cache" >&2; exit 1; }
ln -s "$moddir" k8s
cp "$here/harness/main/main.go" main.go

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
go mod tidy -e >/dev/null 2>&1 || true
# The overlay adds our file to the package, for this build only (the module cache stays as it is).
printf '{"Replace":{"%s/k8s/pkg/proxy/ipvs/zz_ipvsnet_conformance_harness.go":"%s"}}\n' "$work" "$here/harness/ipvs_harness.go" > overlay.json
echo "build-harness: building kube-proxy's IPVS proxier $K8S_VERSION with the conformance harness (slow the first time)" >&2
nice -n 10 go build -trimpath -overlay overlay.json -o "$OUT.tmp" .
mv "$OUT.tmp" "$OUT"
echo "build-harness: built $OUT" >&2
echo "$OUT"
