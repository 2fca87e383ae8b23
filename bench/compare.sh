#!/usr/bin/env bash
# Side-by-side benchmark: fleetmq and Debian's mosquitto, the same
# fleetmq-bench scenarios run alternately (A B A B ...), each on a freshly
# started broker; prints the medians and the fleetmq/mosquitto ratios as a
# markdown table (the one in docs/BENCHMARKS.md). Builds nothing.
#
# usage: bench/compare.sh [--fleetmq PATH] [--bench PATH] [ROUNDS]   (default 3)
# env:   FLEETMQ, BENCH, MOSQUITTO      binaries (defaults: build/fleetmq,
#        build/tools/bench/fleetmq-bench, /usr/sbin/mosquitto); the options
#                                       above override FLEETMQ and BENCH
#        SCENARIOS                      row names to run (default: all)
#        FLEETMQ_EXTRA                  extra config lines for fleetmq only
#                                       (e.g. "workers 1" for the scaling curve)
#        MOSQUITTO_EXTRA                extra config lines for mosquitto only
#                                       (e.g. "set_tcp_nodelay true")
#        LIMIT                          --duration-limit per run, seconds (60)
# Rows that share fleetmq-bench arguments share one run. Every run is bounded
# by fleetmq-bench --duration-limit (and by timeout(1) around it); brokers
# are stopped by the PIDs this script started, never by name.
set -euo pipefail
cd "$(dirname "$0")/.."
FLEETMQ=${FLEETMQ:-build/fleetmq}
BENCH=${BENCH:-build/tools/bench/fleetmq-bench}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
LIMIT=${LIMIT:-60}
ROUNDS=3
while [ $# -gt 0 ]; do
	case $1 in
	--fleetmq) FLEETMQ=$2; shift 2 ;;
	--bench) BENCH=$2; shift 2 ;;
	-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
	*[!0-9]*|'') echo "compare.sh: unexpected argument '$1' (try --help)" >&2; exit 2 ;;
	*) ROUNDS=$1; shift ;;
	esac
done
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
	"latency-rtt-p50|latency --msgs 5000 --rate 0|rtt_p50_us|0"
	"latency-rtt-p99|latency --msgs 5000 --rate 0|rtt_p99_us|0"
	"latency-rtt-max|latency --msgs 5000 --rate 0|rtt_max_us|0"
	"idle-bytes-per-conn|idle --conns 19000 --procs 2|bytes_per_conn|0"
	"connect-rate|idle --conns 19000 --procs 2|rate|1"
	"connect-cpu-per-conn|idle --conns 19000 --procs 2|broker_cpu_us_per_msg|0"
)
SCENARIOS=${SCENARIOS:-}

# The distinct argument lists of the selected rows, in order: one run each.
RUNS=()
for entry in "${ALL_SCENARIOS[@]}"; do
	IFS='|' read -r name args _ _ <<<"$entry"
	if [ -n "$SCENARIOS" ] && [[ " $SCENARIOS " != *" $name "* ]]; then continue; fi
	seen=0
	for a in "${RUNS[@]+"${RUNS[@]}"}"; do [ "$a" = "$args" ] && seen=1; done
	[ $seen = 1 ] || RUNS+=("$args")
done
[ ${#RUNS[@]} -gt 0 ] || { echo "compare.sh: no scenario matches SCENARIOS='$SCENARIOS'" >&2; exit 2; }

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
		printf '%b\n' "${MOSQUITTO_EXTRA:-}" >>"$conf"
		"$MOSQUITTO" -c "$conf" >"$WORK/$kind.log" 2>&1 &
	fi
	BROKER_PID=$!
	for _ in $(seq 100); do
		if ! kill -0 "$BROKER_PID" 2>/dev/null; then break; fi
		if "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "compare.sh: $kind did not start; log:" >&2; cat "$WORK/$kind.log" >&2; exit 1
}

# stop_broker KIND: stops the broker this script started; says so if it
# had already died (a crash during the run).
stop_broker() {
	local status=0
	if kill -0 "$BROKER_PID" 2>/dev/null; then
		kill "$BROKER_PID"
		wait "$BROKER_PID" 2>/dev/null || true
	else
		wait "$BROKER_PID" 2>/dev/null || status=$?
		echo "compare.sh: $1 had exited by itself (status $status); log:" >&2
		tail -n 5 "$WORK/$1.log" >&2
	fi
	BROKER_PID=
}

RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
START=$SECONDS
for round in $(seq "$ROUNDS"); do
	for args in "${RUNS[@]}"; do
		for kind in fleetmq mosquitto; do
			port=$(free_port)
			start_broker "$kind" "$port"
			# shellcheck disable=SC2086
			if out=$(timeout -k 5 $((LIMIT + 30)) "$BENCH" $args --port "$port" --broker-pid "$BROKER_PID" \
					--duration-limit "$LIMIT" --json); then
				"$PY" -c 'import json,sys; print(json.dumps({"round":int(sys.argv[1]),"broker":sys.argv[2],"args":sys.argv[3],"r":json.loads(sys.argv[4])}))' \
					"$round" "$kind" "$args" "$out" >>"$RESULTS"
			else
				echo "compare.sh: '$args' on $kind failed" >&2
			fi
			stop_broker "$kind"
		done
	done
	echo "round $round done ($((SECONDS - START)) s)" >&2
done

[ -s "$RESULTS" ] || { echo "compare.sh: no run succeeded" >&2; exit 1; }
printf '%s\n' "${ALL_SCENARIOS[@]}" >"$WORK/rows"
"$PY" - "$RESULTS" "$WORK/rows" <<'PYEOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
rows = [l.rstrip("\n").split("|") for l in open(sys.argv[2]) if l.strip()]
def fmt(v):
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
def loss(rs):
    n = sum(r.get("count", 0) + r.get("lost", 0) for r in rs)
    return f"{100.0 * sum(r.get('lost', 0) for r in rs) / n:.1f}%" if n else "-"
print("| scenario | metric | fleetmq (median) | mosquitto (median) | fleetmq vs mosquitto | lost: fleetmq / mosquitto |")
print("| --- | --- | ---: | ---: | ---: | ---: |")
for name, args, metric, higher in rows:
    got = {b: [x["r"] for x in runs if x["args"] == args and x["broker"] == b] for b in ("fleetmq", "mosquitto")}
    if not got["fleetmq"] or not got["mosquitto"]:
        continue
    f = statistics.median(r[metric] for r in got["fleetmq"])
    m = statistics.median(r[metric] for r in got["mosquitto"])
    # fleetmq relative to mosquitto, in the direction it actually lies;
    # "(worse)" when that direction is the bad one for this metric
    if f > 0 and m > 0:
        ratio = max(f, m) / min(f, m)
        rtxt = (f"{ratio:.1f}x" if ratio >= 10 else f"{ratio:.2f}x") + (" higher" if f >= m else " lower")
        if (f >= m) != (higher == "1") and f != m:
            rtxt += " (worse)"
    else:
        rtxt = "-"
    print(f"| {name} | {metric} | {fmt(f)} | {fmt(m)} | {rtxt} | {loss(got['fleetmq'])} / {loss(got['mosquitto'])} |")
print()
print(f"{len(runs)} runs, up to {max(r['round'] for r in runs)} per argument list and broker, alternating.")
PYEOF
