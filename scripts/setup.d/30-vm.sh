#!/usr/bin/env bash
# VM lane set-up: check qemu, the Debian kernel and busybox-static (installed by scripts/setup.sh's
# package list) and build the cached initramfs for scripts/vm/run.sh. Idempotent; fast when done.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/vm/run.sh --prepare
