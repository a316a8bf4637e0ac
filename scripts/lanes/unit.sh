#!/usr/bin/env bash
# Unit lane: pure code.
set -eu
cd "$(dirname "$0")/../.."
exec vitest run --project unit --reporter=default --reporter=json --outputFile.json=build/results/unit.json
