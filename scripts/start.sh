#!/usr/bin/env bash
# Quick start: install what is missing, build, and run the broker on its
# embedded default (127.0.0.1:1883). Extra arguments go to fleetmq
# (e.g. scripts/start.sh -c conf/fleetmq.conf).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
exec ./build/fleetmq "$@"
