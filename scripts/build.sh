#!/usr/bin/env bash
# Configure (once) and build fleetmq into DIR (default build/), with any
# extra meson options given after it: scripts/build.sh build-asan -Db_sanitize=address,undefined
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
