#!/usr/bin/env bash
# VM lane: the vitest project "vm" (test/vm/**) runs INSIDE a qemu guest booted with Debian's kernel
# (scripts/vm/run.sh), which has IPVS, dummy and ipvlan. The guest writes vitest's JSON report to the
# writable share; this script copies it to build/results/vm.json.
# Extra arguments go to vitest (e.g. `scripts/lanes/vm.sh test/vm/ipvs`).
# Environment: IPVSNET_VM_TIMEOUT (seconds, default 3000), IPVSNET_VM_MEM (MiB, default 2048).
# Fails when the guest fails, times out, or leaves no JSON report.
set -eu
cd "$(dirname "$0")/../.."
mkdir -p build/results build/vm-share/lanes
rm -f build/results/vm.json
out=$(mktemp -d "$PWD/build/vm-share/lanes/vm.XXXXXX")
rc=0
scripts/vm/run.sh --timeout "${IPVSNET_VM_TIMEOUT:-3000}" --mem "${IPVSNET_VM_MEM:-2048}" --env CI -- \
  vitest run --project vm --reporter=default --reporter=json --outputFile.json="$out/vm.json" "$@" || rc=$?
if [ ! -s "$out/vm.json" ]; then
  echo "vm lane: the guest left no vitest JSON report ($out/vm.json); run.sh exit $rc" >&2
  exit 1
fi
cp "$out/vm.json" build/results/vm.json
rm -rf "$out"
if [ "$rc" != 0 ]; then echo "vm lane: failed (exit $rc)" >&2; exit "$rc"; fi
