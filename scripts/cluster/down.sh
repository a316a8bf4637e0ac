#!/usr/bin/env bash
# Stop what up.sh started and remove etcd's data.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node_modules/.bin/node --disable-warning=ExperimentalWarning scripts/cluster/cluster.ts down "$@"
