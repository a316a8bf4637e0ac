#!/usr/bin/env bash
# kube-proxy's own flag and feature-gate inventory, captured into test fixtures that the unit tests
# hold ipvsnet's parser to (test/unit/config/kube-proxy-flags.test.ts and friends):
#   test/fixtures/kube-proxy/help.txt            `kube-proxy --help` (v1.37.2, Linux)
#   test/fixtures/kube-proxy/feature-gates.json  every gate kube-proxy knows: default, lock, stage, dependencies
#   test/fixtures/kube-proxy/default-config.yaml `kube-proxy --write-config-to` with no flags
# kube-proxy is built once, like the apiserver (scripts/cluster/build-apiserver.sh kube-proxy, cached in
# ~/.cache/ipvsnet); the gate dumper (gates.go.txt) is built the same way in a temporary module.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/test/fixtures/kube-proxy"
K8S_VERSION="${K8S_VERSION:-v1.37.2}"
export PATH="/usr/local/go/bin:$PATH"
mkdir -p "$out"

kp="$(bash "$root/scripts/cluster/build-apiserver.sh" kube-proxy | tail -1)"
"$kp" --help > "$out/help.txt"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/ipvsnet-kp-inventory.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
"$kp" --write-config-to="$tmp/default.yaml" 2>/dev/null
cp "$tmp/default.yaml" "$out/default-config.yaml"

# The gate dumper: the same temporary-module method as build-apiserver.sh.
modfile="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
go_directive="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$modfile" | head -1)"
mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/.*#\1#p' "$modfile")
{
  echo "module ipvsnet.local/kpgates"; echo; echo "go ${go_directive:-1.25.0}"; echo
  echo "require k8s.io/kubernetes $K8S_VERSION"; echo; echo "replace ("
  for m in "${staging[@]}"; do echo "	$m => $m v0.${K8S_VERSION#v1.}"; done
  echo ")"
} > "$tmp/go.mod"
cp "$here/gates.go.txt" "$tmp/main.go"
(cd "$tmp" && export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local && go mod tidy -e >/dev/null 2>&1 || true
 cd "$tmp" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local nice -n 10 go run -ldflags="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION" . > "$out/feature-gates.json")
echo "inventory: $(grep -c '^ *--' "$out/help.txt") flag lines, $(grep -c '"name"' "$out/feature-gates.json") gates → $out" >&2
PATH="$root/node_modules/.bin:$PATH" node "$here/gates-to-ts.ts"
PATH="$root/node_modules/.bin:$PATH" node "$here/run-cases.ts" "$kp"
