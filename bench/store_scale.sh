#!/usr/bin/env bash
# Restart with a store at fleet size: fill a store with N persistent
# sessions (a subscription and one queued broadcast message each) and R
# retained messages through fleetmq-store-fill, start fleetmq on it, and
# report the recovery time (from the broker's own "recovered" log line) and
# the RSS it settles at, against a broker started on an empty store.
#
# usage: bench/store_scale.sh [SESSIONS] [RETAINED]   (default 1000000 0)
# env:   FLEETMQ, FILL  binaries (build/fleetmq, build/tools/bench/fleetmq-store-fill)
# Bounded: each broker start waits at most LIMIT seconds (600); brokers are
# stopped by the PIDs this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
FLEETMQ=${FLEETMQ:-build/fleetmq}
FILL=${FILL:-build/tools/bench/fleetmq-store-fill}
LIMIT=${LIMIT:-600}
SESSIONS=${1:-1000000}
RETAINED=${2:-0}
for b in "$FLEETMQ" "$FILL"; do
	[ -x "$b" ] || { echo "store_scale.sh: $b not found (build first: bash scripts/build.sh build)" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/fleetmq-store-scale-XXXXXX)
PID=
cleanup() {
	if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# Start fleetmq on store dir $1, wait for its recovery line, print
# "<recovery ms> <rss kB>", stop it.
measure() {
	local dir=$1 port log conf
	port=$(free_port)
	conf="$WORK/fleetmq-$port.conf"
	log="$WORK/fleetmq-$port.log"
	printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence_location %s\n' "$port" "$dir" >"$conf"
	"$FLEETMQ" -c "$conf" >"$log" 2>&1 &
	PID=$!
	local waited=0
	until grep -q "recovered" "$log"; do
		kill -0 "$PID" 2>/dev/null || { cat "$log" >&2; echo "store_scale.sh: fleetmq exited" >&2; exit 1; }
		[ $waited -lt $((LIMIT * 10)) ] || { echo "store_scale.sh: no recovery within ${LIMIT}s" >&2; exit 1; }
		sleep 0.1
		waited=$((waited + 1))
	done
	sleep 1 # let the workers start and the heap settle
	local ms rss
	ms=$(grep -o 'retained in [0-9]* ms' "$log" | awk '{print $3}')
	rss=$(rss_kb "$PID")
	kill "$PID"
	wait "$PID" || true
	PID=
	grep "recovered" "$log" >&2
	echo "$ms $rss"
}

read -r _ empty_rss < <(measure "$WORK/empty")
"$FILL" "$WORK/full" "$SESSIONS" 1 "$RETAINED" >&2
db_bytes=$(du -sb "$WORK/full" | awk '{print $1}')
read -r ms full_rss < <(measure "$WORK/full")
n=$((SESSIONS + RETAINED))
echo "sessions=$SESSIONS retained=$RETAINED store_bytes=$db_bytes recovery_ms=$ms rss_empty_kb=$empty_rss rss_kb=$full_rss rss_bytes_per_entry=$(( (full_rss - empty_rss) * 1024 / (n > 0 ? n : 1) ))"
