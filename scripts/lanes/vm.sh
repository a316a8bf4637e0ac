#!/usr/bin/env bash
# VM lane: the vitest project "vm" (test/vm/**) runs INSIDE a qemu guest booted with Debian's kernel
# (scripts/vm/run.sh), which has IPVS, dummy and ipvlan. The guest writes vitest's JSON report to the
# writable share; this script copies it to build/results/vm.json.
# Re-runs: a test process that died by a signal without writing anything is run again (at most twice,
# test/vm/lane/rerun.ts); each re-run is a line of build/results/vm.reruns.log, and their number is
# printed here and in the closing summary (scripts/lanes/summary.ts), so a rise is visible.
# Extra arguments go to vitest (e.g. `scripts/lanes/vm.sh test/vm/ipvs`).
# Environment: IPVSNET_VM_TIMEOUT (seconds, default 3000), IPVSNET_VM_MEM (MiB, default 2048).
# Fails when the guest fails, times out, or leaves no JSON report.
set -eu
cd "$(dirname "$0")/../.."
mkdir -p build/results build/vm-share/lanes
rm -f build/results/vm.json build/results/vm.reruns.log
out=$(mktemp -d "$PWD/build/vm-share/lanes/vm.XXXXXX")
: > "$out/reruns.log"
rc=0
scripts/vm/run.sh --timeout "${IPVSNET_VM_TIMEOUT:-3000}" --mem "${IPVSNET_VM_MEM:-2048}" --env CI --env "IPVSNET_VM_RERUNS=$out/reruns.log" -- \
  vitest run --project vm --reporter=default --reporter=json --outputFile.json="$out/vm.json" "$@" || rc=$?
cp "$out/reruns.log" build/results/vm.reruns.log
reruns=$(wc -l < build/results/vm.reruns.log)
echo "vm lane: $reruns re-run(s) of a process that died by a signal with no output (build/results/vm.reruns.log)"
sed 's/^/  /' build/results/vm.reruns.log
if [ ! -s "$out/vm.json" ]; then
  echo "vm lane: the guest left no vitest JSON report ($out/vm.json); run.sh exit $rc" >&2
  exit 1
fi
cp "$out/vm.json" build/results/vm.json
rm -rf "$out"
if [ "$rc" != 0 ]; then echo "vm lane: failed (exit $rc)" >&2; exit "$rc"; fi
