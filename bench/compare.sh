#!/usr/bin/env bash
# Side-by-side benchmark: fleetmq and Debian's mosquitto (and optionally
# Debian's nats-server through its MQTT front end), the same fleetmq-bench
# scenarios run alternately (A B A B ...), each on a freshly started broker;
# prints the medians and the ratios as a markdown table (the one in
# docs/BENCHMARKS.md). Builds nothing.
#
# usage: bench/compare.sh [--fleetmq PATH] [--bench PATH] [ROUNDS]   (default 3)
# env:   FLEETMQ, BENCH, MOSQUITTO      binaries (defaults: build/fleetmq,
#        build/tools/bench/fleetmq-bench, /usr/sbin/mosquitto); the options
#                                       above override FLEETMQ and BENCH
#        SCENARIOS                      row names to run, or shell patterns
#                                       ('*tls*': the TLS rows; default: all)
#        FLEETMQ_EXTRA                  extra config lines for fleetmq only
#                                       (e.g. "workers 1" for the scaling curve)
#        MOSQUITTO_EXTRA                extra config lines for mosquitto only
#        MOSQUITTO_PERSISTENCE=1        mosquitto with persistence true (its
#                                       file in this run's directory)
#                                       (e.g. "set_tcp_nodelay true")
#        LIMIT                          --duration-limit per run, seconds (60)
#        NATS=1                         also nats-server (installed with apt-get
#                                       when missing), for the rows it can run
#        NATS_SERVER                    its binary (/usr/sbin/nats-server)
#        NATS_EXTRA                     extra config lines for nats-server only
#        RAW                            also keep every run's result there (a
#                                       file, one JSON line per run: the spread)
# Rows whose arguments have "--tls ca.crt" run over TLS: the script makes a
# throwaway CA and a server certificate for localhost (openssl CLI, P-256)
# in its temporary directory, gives both brokers a TLS listener with them,
# and hands fleetmq-bench the CA's path in place of "ca.crt".
# Rows that share fleetmq-bench arguments share one run. Every run is bounded
# by fleetmq-bench --duration-limit (and by timeout(1) around it); brokers
# are stopped by the PIDs this script started, never by name. A run whose
# own checks failed (fleetmq-bench exit 1 with a result: missing or
# duplicate deliveries, failed cycles) still counts, and is listed.
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
	-h|--help) sed -n '2,35p' "$0"; exit 0 ;;
	*[!0-9]*|'') echo "compare.sh: unexpected argument '$1' (try --help)" >&2; exit 2 ;;
	*) ROUNDS=$1; shift ;;
	esac
done
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

for b in "$FLEETMQ" "$BENCH" "$MOSQUITTO"; do
	[ -x "$b" ] || { echo "compare.sh: $b not found (build first: bash scripts/build.sh build)" >&2; exit 2; }
done
NATS=${NATS:-0}
NATS_SERVER=${NATS_SERVER:-/usr/sbin/nats-server}

# nats-server is optional, so scripts/deps.sh leaves it out: install it here,
# on the machine that asks for it, the way deps.sh installs the rest.
ensure_nats_server() {
	[ -x "$NATS_SERVER" ] && return 0
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "compare.sh: installing nats-server (apt-get)" >&2
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get install -y -qq --no-install-recommends nats-server >/dev/null 2>&1 ||
		{ $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends nats-server >/dev/null; }
	# like mosquitto in deps.sh: only the binary is wanted, not the service
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nats-server 2>/dev/null; then
		$sudo systemctl stop nats-server || true
		$sudo systemctl disable nats-server >/dev/null 2>&1 || true
	fi
	[ -x "$NATS_SERVER" ] || { echo "compare.sh: nats-server not found at $NATS_SERVER after installing" >&2; exit 2; }
}
BROKERS=(fleetmq mosquitto)
if [ "$NATS" = 1 ]; then
	ensure_nats_server
	BROKERS+=(nats)
fi
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

NO_NATS_TLS="compare.sh gives nats-server no TLS listener"
# nats-server 2.9.10's MQTT front end (Debian) answers SUBSCRIBE to $share/ filters
# with a granted QoS and then delivers nothing to them
NO_NATS_SHARE="nats-server's MQTT accepts \$share/ subscriptions but delivers nothing to them"
# name | fleetmq-bench arguments | metric to compare | higher is better? |
# nats-server (NATS=1): "yes" runs it there, anything else says why its
# cell stays blank
ALL_SCENARIOS=(
	"fanin-qos0|fanin --pubs 100 --msgs 10000 --qos 0|rate|1|yes"
	"fanin-qos1|fanin --pubs 100 --msgs 1000 --qos 1 --window 5|rate|1|yes"
	"fanin-qos2|fanin --pubs 100 --msgs 500 --qos 2 --window 5|rate|1|QoS 2 is not supported by NATS MQTT"
	"fanout-qos0|fanout --subs 1000 --msgs 1000 --qos 0|rate|1|yes"
	"cpu-per-msg-qos0|fanin --pubs 100 --msgs 10000 --qos 0|broker_cpu_us_per_msg|0|yes"
	"latency-oneway-p99|latency --msgs 3000 --rate 1000|p99_us|0|yes"
	"latency-puback-p50|latency --msgs 3000 --rate 1000|rtt_p50_us|0|yes"
	"latency-rtt-p50|latency --msgs 5000 --rate 0|rtt_p50_us|0|yes"
	"latency-rtt-p99|latency --msgs 5000 --rate 0|rtt_p99_us|0|yes"
	"latency-rtt-max|latency --msgs 5000 --rate 0|rtt_max_us|0|yes"
	"idle-bytes-per-conn|idle --conns 19000 --procs 2|bytes_per_conn|0|yes"
	"connect-rate|idle --conns 19000 --procs 2|rate|1|yes"
	"connect-cpu-per-conn|idle --conns 19000 --procs 2|broker_cpu_us_per_msg|0|yes"
	"retained-set-rate|retained --msgs 50000 --subs 10 --qos 0|set_rate|1|yes"
	"retained-delivery-rate|retained --msgs 50000 --subs 10 --qos 0|rate|1|yes"
	"churn-rate|churn --conns 30000 --window 100|rate|1|yes"
	"churn-cpu-per-cycle|churn --conns 30000 --window 100|broker_cpu_us_per_msg|0|yes"
	"churn-persistent-rate|churn --conns 30000 --window 100 --clean 0|rate|1|yes"
	"churn-persistent-cpu-per-cycle|churn --conns 30000 --window 100 --clean 0|broker_cpu_us_per_msg|0|yes"
	# shared subscriptions: --subs consumers of $share/bench/bench/in/#,
	# each message to exactly one of them; max-share is the busiest
	# consumer's percentage of the deliveries (10.00 = even over 10)
	"shared-qos0|shared --pubs 10 --subs 10 --msgs 40000 --qos 0|rate|1|$NO_NATS_SHARE"
	"shared-qos0-cpu-per-delivery|shared --pubs 10 --subs 10 --msgs 40000 --qos 0|broker_cpu_us_per_msg|0|$NO_NATS_SHARE"
	"shared-qos0-max-share|shared --pubs 10 --subs 10 --msgs 40000 --qos 0|share_max_pct|0|$NO_NATS_SHARE"
	"shared-qos1|shared --pubs 10 --subs 10 --msgs 20000 --qos 1 --window 5|rate|1|$NO_NATS_SHARE"
	"shared-qos1-cpu-per-delivery|shared --pubs 10 --subs 10 --msgs 20000 --qos 1 --window 5|broker_cpu_us_per_msg|0|$NO_NATS_SHARE"
	"shared-qos1-max-share|shared --pubs 10 --subs 10 --msgs 20000 --qos 1 --window 5|share_max_pct|0|$NO_NATS_SHARE"
	"fanin-qos1-persistent|fanin --pubs 100 --msgs 200 --qos 1 --window 5 --clean 0|rate|1|yes"
	"cpu-per-msg-qos1-persistent|fanin --pubs 100 --msgs 200 --qos 1 --window 5 --clean 0|broker_cpu_us_per_msg|0|yes"
	# TLS: each full handshake costs the generator (mbedtls) milliseconds,
	# so the counts are far below the plain rows' to keep runs at 5-15 s
	"churn-tls-full|churn --conns 800 --window 100 --tls ca.crt --tls-resume 0|rate|1|$NO_NATS_TLS"
	"churn-tls-full-cpu-per-cycle|churn --conns 800 --window 100 --tls ca.crt --tls-resume 0|broker_cpu_us_per_msg|0|$NO_NATS_TLS"
	# a client offering OpenSSL 3's default groups instead of P-256 alone:
	# each broker then picks its preferred curve for the key exchange
	"churn-tls-full-openssl-groups|churn --conns 600 --window 100 --tls ca.crt --tls-resume 0 --tls-curves x25519,secp256r1,x448,secp521r1,secp384r1|rate|1|$NO_NATS_TLS"
	"churn-tls-full-openssl-groups-cpu-per-cycle|churn --conns 600 --window 100 --tls ca.crt --tls-resume 0 --tls-curves x25519,secp256r1,x448,secp521r1,secp384r1|broker_cpu_us_per_msg|0|$NO_NATS_TLS"
	"churn-tls-resumed|churn --conns 15000 --window 100 --tls ca.crt --tls-resume 1|rate|1|$NO_NATS_TLS"
	"churn-tls-resumed-cpu-per-cycle|churn --conns 15000 --window 100 --tls ca.crt --tls-resume 1|broker_cpu_us_per_msg|0|$NO_NATS_TLS"
	"fanin-qos0-tls|fanin --pubs 100 --msgs 3000 --qos 0 --tls ca.crt|rate|1|$NO_NATS_TLS"
	"cpu-per-msg-qos0-tls|fanin --pubs 100 --msgs 3000 --qos 0 --tls ca.crt|broker_cpu_us_per_msg|0|$NO_NATS_TLS"
	"idle-tls-bytes-per-conn|idle --conns 2000 --tls ca.crt|bytes_per_conn|0|$NO_NATS_TLS"
	"connect-tls-cpu-per-conn|idle --conns 2000 --tls ca.crt|broker_cpu_us_per_msg|0|$NO_NATS_TLS"
)
SCENARIOS=${SCENARIOS:-}
read -ra SCENARIO_PATTERNS <<<"$SCENARIOS" # split on blanks, no globbing against files
selected() { # selected NAME: is this row in SCENARIOS (names or patterns)?
	[ ${#SCENARIO_PATTERNS[@]} -eq 0 ] && return 0
	local pat
	for pat in "${SCENARIO_PATTERNS[@]}"; do
		# shellcheck disable=SC2053
		[[ $1 == $pat ]] && return 0
	done
	return 1
}

# The distinct argument lists of the selected rows, in order: one run each;
# NATS_RUNS: those nats-server runs too (some row of them says "yes").
RUNS=()
NATS_RUNS=()
for entry in "${ALL_SCENARIOS[@]}"; do
	IFS='|' read -r name args _ _ nats <<<"$entry"
	selected "$name" || continue
	seen=0
	for a in "${RUNS[@]+"${RUNS[@]}"}"; do [ "$a" = "$args" ] && seen=1; done
	[ $seen = 1 ] || RUNS+=("$args")
	if [ "$nats" = yes ]; then NATS_RUNS+=("$args"); fi
done
runs_on() { # runs_on KIND ARGS: does this broker run this argument list?
	[ "$1" != nats ] && return 0
	local a
	for a in "${NATS_RUNS[@]+"${NATS_RUNS[@]}"}"; do [ "$a" = "$2" ] && return 0; done
	return 1
}
[ ${#RUNS[@]} -gt 0 ] || { echo "compare.sh: no scenario matches SCENARIOS='$SCENARIOS'" >&2; exit 2; }

WORK=$(mktemp -d /tmp/fleetmq-compare-XXXXXX)
BROKER_PID=
cleanup() {
	if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

is_tls() { [[ " $1 " == *" --tls "* ]]; } # is_tls ARGS

# make_tls_files: a throwaway CA and a server certificate signed by it
# (P-256, CN and SAN DNS:localhost, SAN IP:127.0.0.1) in $WORK/tls.
# mosquitto started as root drops to its own user before it reads
# certfile and keyfile, so the directory and key are readable to it (the
# key is this run's and is removed with $WORK).
make_tls_files() {
	local d="$WORK/tls"
	mkdir -p "$d"
	{
		openssl ecparam -name prime256v1 -genkey -noout -out "$d/ca.key" &&
		openssl req -x509 -new -key "$d/ca.key" -sha256 -days 2 -subj "/CN=fleetmq compare CA" -out "$d/ca.crt" &&
		openssl ecparam -name prime256v1 -genkey -noout -out "$d/server.key" &&
		openssl req -new -key "$d/server.key" -subj "/CN=localhost" -out "$d/server.csr" &&
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >"$d/server.ext" &&
		openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 -sha256 \
			-extfile "$d/server.ext" -out "$d/server.crt"
	} >"$d/openssl.log" 2>&1 || { echo "compare.sh: making the TLS certificates failed:" >&2; cat "$d/openssl.log" >&2; exit 2; }
	chmod 711 "$WORK"
	chmod 755 "$d"
	chmod 644 "$d/server.key" "$d/server.crt" "$d/ca.crt"
}
NEED_TLS=0
for a in "${RUNS[@]}"; do is_tls "$a" && NEED_TLS=1; done
if [ "$NEED_TLS" = 1 ]; then
	command -v openssl >/dev/null || { echo "compare.sh: the TLS rows need the openssl command (apt-get install openssl)" >&2; exit 2; }
	make_tls_files
fi

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

write_config() { # write_config KIND PORT CONF TLS(0|1)
	local kind=$1 port=$2 conf=$3 tls=$4
	if [ "$kind" = nats ]; then
		# JetStream (which NATS's MQTT needs, with a server_name) keeps its
		# store in this run's directory; stop_broker removes it
		printf 'server_name: fleetmq_compare\nlisten: 127.0.0.1:%s\njetstream { store_dir: "%s" }\nmqtt { listen: 127.0.0.1:%s }\n%b\n' \
			"$(free_port)" "$WORK/nats-store" "$port" "${NATS_EXTRA:-}" >"$conf"
		return
	fi
	printf 'listener %s 127.0.0.1\n' "$port" >"$conf"
	if [ "$tls" = 1 ]; then
		# the same option names in both, for the listener above
		printf 'certfile %s\nkeyfile %s\n' "$WORK/tls/server.crt" "$WORK/tls/server.key" >>"$conf"
	fi
	printf 'allow_anonymous true\nlog_type error\n' >>"$conf"
	if [ "$kind" = fleetmq ]; then
		# its store (persistence is on by default) in this run's directory
		# too, not ./data: every run starts empty, as mosquitto's does
		printf 'persistence_location %s\n%b\n' "$WORK/fleetmq-store" "${FLEETMQ_EXTRA:-}" >>"$conf"
	else
		if [ "${MOSQUITTO_PERSISTENCE:-0}" = 1 ]; then
			mkdir -p "$WORK/mosquitto-store"
			printf 'persistence true\npersistence_location %s/\n' "$WORK/mosquitto-store" >>"$conf"
		fi
		printf '%b\n' "${MOSQUITTO_EXTRA:-}" >>"$conf"
	fi
}

# Ready when a TCP connection is accepted; over TLS once a handshake with
# the run's CA and the name localhost completes (so a certificate problem
# shows here, not as failed cycles); nats-server only once an MQTT
# CONNECT is answered, because it creates its JetStream streams on the
# first MQTT client and that should not be in the measurement.
broker_ready() { # broker_ready KIND PORT TLS(0|1)
	if [ "${3:-0}" = 1 ]; then
		"$PY" - "$2" "$WORK/tls/ca.crt" 2>/dev/null <<'PYEOF'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost"):
        pass
PYEOF
		return
	fi
	if [ "$1" != nats ]; then
		"$PY" -c "import socket; socket.create_connection(('127.0.0.1',$2),1)" 2>/dev/null
		return
	fi
	"$PY" - "$2" 2>/dev/null <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2)
s.settimeout(5)
cid = b"compare-ready"
body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big") + cid
s.sendall(bytes([0x10, len(body)]) + body)
ack = s.recv(4)
s.sendall(b"\xe0\x00")
sys.exit(0 if ack[:1] == b"\x20" and ack[3:4] == b"\x00" else 1)
PYEOF
}

# start_broker KIND PORT TLS(0|1): sets BROKER_PID once the broker is ready
start_broker() {
	local kind=$1 port=$2 tls=$3 conf="$WORK/$1.conf"
	write_config "$kind" "$port" "$conf" "$tls"
	case $kind in
	fleetmq) "$FLEETMQ" -c "$conf" >"$WORK/$kind.log" 2>&1 & ;;
	mosquitto) "$MOSQUITTO" -c "$conf" >"$WORK/$kind.log" 2>&1 & ;;
	nats) "$NATS_SERVER" -c "$conf" >"$WORK/$kind.log" 2>&1 & ;;
	esac
	BROKER_PID=$!
	for _ in $(seq 100); do
		if ! kill -0 "$BROKER_PID" 2>/dev/null; then break; fi
		if broker_ready "$kind" "$port" "$tls"; then return 0; fi
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
	rm -rf "$WORK/nats-store" "$WORK/fleetmq-store" "$WORK/mosquitto-store"
}

# record ROUND KIND ARGS JSON FAILED: one line of results.jsonl
record() {
	"$PY" -c 'import json,sys; print(json.dumps({"round":int(sys.argv[1]),"broker":sys.argv[2],"args":sys.argv[3],"r":json.loads(sys.argv[4]),"failed":sys.argv[5]=="1"}))' \
		"$@" >>"$RESULTS"
}

RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
# With latency rows: the machine's own floor under them, measured once
# with no broker (fleetmq-bench wake), printed under the table.
WAKE=
for a in "${RUNS[@]}"; do
	if [[ $a == latency* ]]; then
		WAKE=$(timeout 60 "$BENCH" wake --msgs 2000 --rate 1000 --json 2>/dev/null) || WAKE=
		break
	fi
done
START=$SECONDS
for round in $(seq "$ROUNDS"); do
	for args in "${RUNS[@]}"; do
		for kind in "${BROKERS[@]}"; do
			runs_on "$kind" "$args" || continue
			port=$(free_port)
			tls=0
			is_tls "$args" && tls=1
			start_broker "$kind" "$port" "$tls"
			status=0
			run_args=${args//--tls ca.crt/--tls $WORK/tls/ca.crt}
			# shellcheck disable=SC2086
			out=$(timeout -k 5 $((LIMIT + 30)) "$BENCH" $run_args --port "$port" --broker-pid "$BROKER_PID" \
				--duration-limit "$LIMIT" --json) || status=$?
			# exit 1 with a result: measured, but its own checks failed
			if [ $status -eq 0 ] || { [ $status -eq 1 ] && [ "${out:0:1}" = "{" ]; }; then
				record "$round" "$kind" "$args" "$out" $((status != 0))
			else
				echo "compare.sh: '$args' on $kind failed" >&2
			fi
			stop_broker "$kind"
		done
	done
	echo "round $round done ($((SECONDS - START)) s)" >&2
done

[ -s "$RESULTS" ] || { echo "compare.sh: no run succeeded" >&2; exit 1; }
[ -z "${RAW:-}" ] || cp "$RESULTS" "$RAW"
printf '%s\n' "${ALL_SCENARIOS[@]}" >"$WORK/rows"
WAKE_JSON=$WAKE "$PY" - "$RESULTS" "$WORK/rows" "${BROKERS[@]}" <<'PYEOF'
import json, os, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
rows = [l.rstrip("\n").split("|") for l in open(sys.argv[2]) if l.strip()]
brokers = sys.argv[3:]
wake = json.loads(os.environ["WAKE_JSON"]) if os.environ.get("WAKE_JSON") else None
with_nats = "nats" in brokers
def fmt(v):
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
def loss(rs):
    # what went wrong as a share of all: lost messages, plus "failures"
    # (churn: failed cycles; retained: deliveries breaking the protocol)
    bad = sum(r.get("lost", 0) + r.get("failures", 0) for r in rs)
    n = sum(r.get("count", 0) for r in rs) + bad
    return f"{100.0 * bad / n:.1f}%" if n else "-"
def ratio(f, other, higher):
    # fleetmq relative to the other broker, in the direction it actually
    # lies; "(worse)" when that direction is the bad one for this metric
    if not (f > 0 and other > 0):
        return "-"
    x = max(f, other) / min(f, other)
    txt = (f"{x:.1f}x" if x >= 10 else f"{x:.2f}x") + (" higher" if f >= other else " lower")
    if (f >= other) != (higher == "1") and f != other:
        txt += " (worse)"
    return txt
head = "| scenario | metric | fleetmq (median) | mosquitto (median) | fleetmq vs mosquitto |"
rule = "| --- | --- | ---: | ---: | ---: |"
if with_nats:
    head += " nats-server (median) | fleetmq vs nats-server |"
    rule += " ---: | ---: |"
head += " lost: " + " / ".join(b if b != "nats" else "nats-server" for b in brokers) + " |"
rule += " ---: |"
print(head)
print(rule)
blank = []
for name, args, metric, higher, nats in rows:
    got = {b: [x["r"] for x in runs if x["args"] == args and x["broker"] == b] for b in brokers}
    if not got["fleetmq"] or not got["mosquitto"]:
        continue
    med = {b: statistics.median(r[metric] for r in rs) for b, rs in got.items() if rs}
    line = f"| {name} | {metric} | {fmt(med['fleetmq'])} | {fmt(med['mosquitto'])} | {ratio(med['fleetmq'], med['mosquitto'], higher)} |"
    if with_nats:
        if "nats" in med:
            line += f" {fmt(med['nats'])} | {ratio(med['fleetmq'], med['nats'], higher)} |"
        else:
            line += " | |"
            blank.append(f"{name}: {nats if nats != 'yes' else 'every nats-server run failed'}")
    print(line + " " + " / ".join(loss(got[b]) if got[b] else "-" for b in brokers) + " |")
print()
print(f"{len(runs)} runs, up to {max(r['round'] for r in runs)} per argument list and broker, alternating.")
for b in blank:
    print(f"nats-server blank: {b}")
if wake:
    print(f"Machine floor (fleetmq-bench wake --rate 1000, no broker): a thread-to-thread wake-up round trip "
          f"takes p50 {wake['wake_same_p50_us']:.1f} us on one CPU and {wake['p50_us']:.1f} us across two "
          f"(p99 {wake['p99_us']:.1f} us); every crossing to a sleeping CPU on a latency path costs about half that.")
# TLS runs: how many handshakes the broker actually resumed, so a
# "resumed" row made of full handshakes cannot pass unnoticed
for args in dict.fromkeys(x["args"] for x in runs if x["r"].get("tls")):
    parts = []
    for b in brokers:
        rs = [x["r"] for x in runs if x["args"] == args and x["broker"] == b]
        if not rs:
            continue
        hs, off, res, bad = (sum(r.get(k, 0) for r in rs) for k in ("tls_handshakes", "tls_offered", "tls_resumed", "tls_failed"))
        txt = f"{b} {res:,} of {off:,} offered sessions resumed, {hs - res:,} full of {hs:,}, {bad:,} failed ({rs[0].get('tls_suite', '')})"
        if off and not res:
            txt += " -- NO RESUMPTION"
        parts.append(txt)
    print(f"TLS handshakes, '{args}' (all rounds): " + "; ".join(parts))
for x in runs:
    if x["failed"]:
        print(f"failed its own checks (kept above): {x['broker']} '{x['args']}' round {x['round']}: "
              f"lost {x['r'].get('lost', 0)}, duplicates {x['r'].get('dups', 0)}, failures {x['r'].get('failures', 0)}")
PYEOF
