#!/usr/bin/env bash
# Host netns lane: the real host kernel, inside network namespaces the tests create. Needs root.
set -eu
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "netns lane needs root" >&2; exit 1; }
for t in ip ipset iptables-restore iptables-legacy-restore nft; do
  command -v "$t" >/dev/null || { echo "netns lane: $t missing (run .ci/run's install step)" >&2; exit 1; }
done
exec vitest run --project netns --reporter=default --reporter=json --outputFile.json=build/results/netns.json
