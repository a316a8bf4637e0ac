#!/usr/bin/env bash
# Conformance lane: generated clusters through kube-proxy v1.37.2's own IPVS proxier and through
# ipvsnet's planner, compared (test/conformance, scripts/conformance). Needs the Go toolchain for the
# harness (built once and cached by scripts/setup.d/25-conformance.sh); fails when it cannot be built.
set -eu
cd "$(dirname "$0")/../.."
exec vitest run --project conformance --reporter=default --reporter=json --outputFile.json=build/results/conformance.json "$@"
