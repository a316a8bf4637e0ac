#!/usr/bin/env bash
# Build (once) the conformance lane's harness: kube-proxy's IPVS proxier with ipvsnet's harness file
# (scripts/conformance/build-harness.sh). Fast when ~/.cache/ipvsnet holds it for the current sources.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/conformance/build-harness.sh >/dev/null
