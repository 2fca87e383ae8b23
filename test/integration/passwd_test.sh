#!/usr/bin/env bash
# Password files across tools: files written by fleetmq_passwd are accepted
# by Debian's mosquitto broker itself (right password connects, wrong one
# and unknown users are refused), and files written by mosquitto_passwd are
# accepted by fleetmq's reader (passwd_check). Usage:
#   passwd_test.sh FLEETMQ_PASSWD PASSWD_CHECK
# Every broker started here is stopped by its PID; every client call is
# bounded by timeout. Exit 77 (skipped) without mosquitto installed.
set -euo pipefail
fpw="$1"
check="$2"
for tool in mosquitto mosquitto_pub mosquitto_passwd python3 timeout; do
	command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin"
	command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done

work=$(mktemp -d /tmp/fleetmq-passwd-it-XXXXXX)
broker_pid=""
stop_broker() {
	if [ -n "$broker_pid" ]; then
		kill "$broker_pid" 2>/dev/null || true
		wait "$broker_pid" 2>/dev/null || true
		broker_pid=""
	fi
}
cleanup() {
	stop_broker
	rm -rf "$work"
}
trap cleanup EXIT

failures=0
pass() { echo "ok - $1"; }
fail() { echo "FAIL - $1"; failures=$((failures + 1)); }
expect() { # expect 0|nonzero DESCRIPTION CMD...
	local want="$1" what="$2" rc=0
	shift 2
	"$@" >"$work/last.out" 2>&1 || rc=$?
	if { [ "$want" = 0 ] && [ "$rc" = 0 ]; } || { [ "$want" != 0 ] && [ "$rc" != 0 ]; }; then
		pass "$what"
	else
		fail "$what (exit $rc: $(head -c 300 "$work/last.out"))"
	fi
}

free_port() {
	# claimed like every other test's port (fmtest.free_port says why)
	python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import fmtest; print(fmtest.free_port())' "$(dirname "$0")"
}

# start_broker PASSWORD_FILE: mosquitto on a free loopback port, no anonymous
start_broker() {
	port=$(free_port)
	cat >"$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
password_file $1
allow_anonymous false
CONF
	# as root mosquitto would drop to user "mosquitto", which cannot read
	# our 0600 files; the option is ignored when not root
	[ "$(id -u)" = 0 ] && echo "user root" >>"$work/mosquitto.conf"
	mosquitto -c "$work/mosquitto.conf" >"$work/broker.log" 2>&1 &
	broker_pid=$!
	for _ in $(seq 50); do
		if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
			return 0
		fi
		kill -0 "$broker_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "mosquitto did not start:"; cat "$work/broker.log"
	exit 1
}

pub() { # pub USER PASSWORD
	timeout 10 mosquitto_pub -h 127.0.0.1 -p "$port" -i "it-$RANDOM" -u "$1" -P "$2" -t t/x -m hello
}

# --- files written by fleetmq_passwd, read by mosquitto -----------------------
pw="$work/fleetmq.pw"
"$fpw" -c -b "$pw" alice secret
"$fpw" -b "$pw" bob 'two words: and a colon'
printf 'carol-pw\ncarol-pw\n' | "$fpw" "$pw" carol
"$fpw" -I 2000 -b "$pw" dan d4n
echo "# a comment fleetmq_passwd must keep" >>"$pw"
"$fpw" -b "$pw" alice secret2      # replaces alice's line in place
grep -q '^# a comment fleetmq_passwd must keep$' "$pw" && pass "comments survive an edit" || fail "comment kept"
[ "$(grep -c '^alice:' "$pw")" = 1 ] && pass "one line per user" || fail "alice once"
[ "$(stat -c %a "$pw")" = 600 ] && pass "a new file is 0600" || fail "mode $(stat -c %a "$pw")"

start_broker "$pw"
expect 0 "mosquitto accepts alice's new password" pub alice secret2
expect 1 "mosquitto refuses alice's old password" pub alice secret
expect 0 "mosquitto accepts a password with spaces and ':'" pub bob 'two words: and a colon'
expect 0 "mosquitto accepts a password typed on stdin" pub carol carol-pw
expect 0 "mosquitto accepts -I 2000" pub dan d4n
expect 1 "mosquitto refuses a wrong password" pub dan d4N
expect 1 "mosquitto refuses an unknown user" pub mallory secret2
stop_broker

"$fpw" -D "$pw" bob
start_broker "$pw"
expect 1 "-D removed bob" pub bob 'two words: and a colon'
expect 0 "-D kept the others" pub carol carol-pw
stop_broker

# -U: plain text hashed in place; an already hashed line is left alone
plain="$work/plain.pw"
printf 'u1:plain-one\n# comment\nu2:plain two\nu3: \tpadded\t \n' >"$plain"
grep '^dan:' "$pw" >>"$plain"
dan_before=$(grep '^dan:' "$plain")
"$fpw" -U "$plain"
[ "$(grep '^dan:' "$plain")" = "$dan_before" ] && pass "-U leaves hashed lines alone" || fail "-U rehashed dan"
start_broker "$plain"
expect 0 "mosquitto accepts a -U hashed line" pub u1 plain-one
expect 0 "mosquitto accepts a -U hashed line with a space" pub u2 'plain two'
expect 0 "-U drops blanks around a password, as mosquitto_passwd -U" pub u3 padded
expect 0 "mosquitto accepts the untouched line" pub dan d4n
stop_broker
expect 0 "fleetmq reads the -U file" "$check" "$plain" u2 'plain two'

printf 'z:a:b\n' >"$work/colon.pw"
expect 1 "-U refuses a plain password holding ':'" "$fpw" -U "$work/colon.pw"
expect 1 "fleetmq_passwd refuses mismatched passwords" bash -c "printf 'a\nb\n' | '$fpw' '$pw' eve"
expect 1 "fleetmq_passwd refuses a ':' in a username" "$fpw" -b "$pw" 'a:b' x
expect 1 "fleetmq_passwd -D of a missing user fails" "$fpw" -D "$pw" nobody

# --- files written by mosquitto_passwd, read by fleetmq -----------------------
mpw="$work/mosquitto.pw"
mosquitto_passwd -c -b "$mpw" m1 'mosq pw'
mosquitto_passwd -H sha512 -b "$mpw" m2 legacy
mosquitto_passwd -b "$mpw" m3 ''
expect 0 "fleetmq accepts mosquitto_passwd's \$7\$ line" "$check" "$mpw" m1 'mosq pw'
expect 1 "fleetmq refuses a wrong password for it" "$check" "$mpw" m1 'mosq pw!'
expect 0 "fleetmq accepts mosquitto_passwd -H sha512 (\$6\$)" "$check" "$mpw" m2 legacy
expect 0 "fleetmq accepts an empty password set by mosquitto_passwd" "$check" "$mpw" m3 ''
expect 1 "fleetmq refuses an unknown user" "$check" "$mpw" m4 ''
# and each tool edits the other's files
"$fpw" -b "$mpw" f1 'from fleetmq'
mosquitto_passwd -b "$pw" m9 'from mosquitto'
expect 0 "fleetmq_passwd kept mosquitto_passwd's lines" "$check" "$mpw" m1 'mosq pw'
expect 0 "fleetmq reads its line in a mosquitto file" "$check" "$mpw" f1 'from fleetmq'
expect 0 "fleetmq reads mosquitto_passwd's line in its file" "$check" "$pw" m9 'from mosquitto'
start_broker "$mpw"
expect 0 "mosquitto reads fleetmq_passwd's line in its own file" pub f1 'from fleetmq'
stop_broker

echo "passwd interop: $failures failed"
[ "$failures" = 0 ]
