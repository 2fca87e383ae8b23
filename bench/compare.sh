#!/usr/bin/env bash
# Side-by-side benchmark: fleetmq and Debian's mosquitto, the same
# fleetmq-bench scenarios run alternately (A B A B ...), each on a freshly
# started broker; prints the medians and the fleetmq/mosquitto ratios as a
# markdown table (the one in docs/BENCHMARKS.md).
#
# usage: bench/compare.sh [ROUNDS]      (default 3)
# env:   FLEETMQ, BENCH, MOSQUITTO      binaries (defaults: build/fleetmq,
#        build/tools/bench/fleetmq-bench, /usr/sbin/mosquitto)
#        SCENARIOS                      names to run (default: all)
#        FLEETMQ_EXTRA                  extra config lines for fleetmq only
#                                       (e.g. "workers 1" for the scaling curve)
# Every run is bounded by fleetmq-bench --time-limit; brokers are stopped by
# the PIDs this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
FLEETMQ=${FLEETMQ:-build/fleetmq}
BENCH=${BENCH:-build/tools/bench/fleetmq-bench}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

for b in "$FLEETMQ" "$BENCH" "$MOSQUITTO"; do
	[ -x "$b" ] || { echo "compare.sh: $b not found (build first: bash scripts/build.sh build)" >&2; exit 2; }
done
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# name | fleetmq-bench arguments | metric to compare | higher is better?
ALL_SCENARIOS=(
	"fanin-qos0|fanin --pubs 100 --msgs 3000 --qos 0|rate|1"
	"fanin-qos1|fanin --pubs 100 --msgs 1000 --qos 1 --window 5|rate|1"
	"fanin-qos2|fanin --pubs 100 --msgs 500 --qos 2 --window 5|rate|1"
	"fanout-qos0|fanout --subs 1000 --msgs 200 --qos 0|rate|1"
	"cpu-per-msg-qos0|fanin --pubs 100 --msgs 3000 --qos 0|broker_cpu_us_per_msg|0"
	"latency-oneway-p99|latency --msgs 3000 --rate 1000|p99_us|0"
	"latency-puback-p50|latency --msgs 3000 --rate 1000|rtt_p50_us|0"
	"idle-bytes-per-conn|idle --conns 19000 --procs 2|bytes_per_conn|0"
	"connect-rate|idle --conns 19000 --procs 2|rate|1"
	"connect-cpu-per-conn|idle --conns 19000 --procs 2|broker_cpu_us_per_msg|0"
)
SCENARIOS=${SCENARIOS:-}

WORK=$(mktemp -d /tmp/fleetmq-compare-XXXXXX)
BROKER_PID=
cleanup() {
	if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_broker KIND PORT: sets BROKER_PID once the port accepts connections
start_broker() {
	local kind=$1 port=$2 conf="$WORK/$1.conf"
	printf 'listener %s 127.0.0.1\nallow_anonymous true\nlog_type error\n' "$port" >"$conf"
	if [ "$kind" = fleetmq ]; then
		printf '%b\n' "${FLEETMQ_EXTRA:-}" >>"$conf"
		"$FLEETMQ" -c "$conf" >"$WORK/$kind.log" 2>&1 &
	else
		"$MOSQUITTO" -c "$conf" >"$WORK/$kind.log" 2>&1 &
	fi
	BROKER_PID=$!
	for _ in $(seq 200); do
		if "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "compare.sh: $kind did not start; log:" >&2; cat "$WORK/$kind.log" >&2; exit 1
}

stop_broker() {
	kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true; BROKER_PID=
}

RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
for round in $(seq "$ROUNDS"); do
	for entry in "${ALL_SCENARIOS[@]}"; do
		IFS='|' read -r name args metric higher <<<"$entry"
		if [ -n "$SCENARIOS" ] && [[ " $SCENARIOS " != *" $name "* ]]; then continue; fi
		for kind in fleetmq mosquitto; do
			port=$(free_port)
			start_broker "$kind" "$port"
			# shellcheck disable=SC2086
			if out=$("$BENCH" $args --port "$port" --broker-pid "$BROKER_PID" --time-limit 60 --json); then
				echo "{\"round\":$round,\"name\":\"$name\",\"broker\":\"$kind\",\"metric\":\"$metric\",\"higher\":$higher,\"r\":$out}" >>"$RESULTS"
			else
				echo "compare.sh: $name on $kind failed" >&2
			fi
			stop_broker
		done
	done
	echo "round $round done" >&2
done

"$PY" - "$RESULTS" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
order, runs = [], {}
for r in rows:
    key = r["name"]
    if key not in runs:
        order.append(key)
        runs[key] = {"metric": r["metric"], "higher": r["higher"],
                     "fleetmq": [], "mosquitto": [], "lost": {"fleetmq": 0, "mosquitto": 0},
                     "count": {"fleetmq": 0, "mosquitto": 0}}
    d = runs[key]
    d[r["broker"]].append(r["r"][r["metric"]])
    d["lost"][r["broker"]] += r["r"].get("lost", 0)
    d["count"][r["broker"]] += r["r"].get("count", 0) + r["r"].get("lost", 0)
def fmt(v):
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
def loss(d, b):
    n = d["count"][b]
    return f"{100.0 * d['lost'][b] / n:.1f}%" if n else "-"
print("| scenario | metric | fleetmq (median) | mosquitto (median) | fleetmq vs mosquitto | lost: fleetmq / mosquitto |")
print("| --- | --- | ---: | ---: | ---: | ---: |")
for key in order:
    d = runs[key]
    if not d["fleetmq"] or not d["mosquitto"]:
        continue
    f, m = statistics.median(d["fleetmq"]), statistics.median(d["mosquitto"])
    if d["higher"]:
        rtxt = f"{f / m:.1f}x higher" if m else "-"
    else:
        rtxt = f"{m / f:.1f}x lower" if f else "-"
    print(f"| {key} | {d['metric']} | {fmt(f)} | {fmt(m)} | {rtxt} | {loss(d, 'fleetmq')} / {loss(d, 'mosquitto')} |")
print()
print(f"{len(rows)} runs, {max(r['round'] for r in rows)} per scenario and broker, alternating.")
PYEOF
