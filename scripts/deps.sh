#!/usr/bin/env bash
# Install the Debian packages fleetmq needs to build, test and benchmark,
# then the npm packages of the WebSocket test (test/integration/ws) and of
# the dashboard test (test/integration/dashboard).
# Idempotent and quick when everything is present: apt is only touched for
# packages that are missing, npm only when node_modules is missing or older
# than package-lock.json. Run as root (or with sudo available).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

PACKAGES=(
	gcc clang make pkg-config meson ninja-build git
	libclang-rt-dev           # clang sanitizer and libFuzzer runtimes (ASan, TSan, fuzz stage)
	libcriterion-dev          # unit and integration tests
	libmosquitto-dev          # real-client integration tests (libmosquitto)
	mosquitto-clients         # mosquitto_pub / mosquitto_sub interop tests
	mosquitto                 # reference broker for side-by-side benchmarks
	python3
	python3-paho-mqtt        # paho (Python) interop test
	libsqlite3-dev            # the durable store (src/store)
	libmbedtls-dev            # TLS listeners (src/net/conn_tls.c)
	libwebsockets-dev         # WebSocket listeners (src/net/ws_host.c)
	libwebsockets-evlib-uv    # its libuv event-loop plugin, loaded at runtime
	libuv1-dev                # the libuv loop nested in each worker's loop
	libcjson-dev              # the HTTP stats API's JSON (src/admin)
	prometheus                # its promtool checks /metrics in the http test
	openssl                   # TLS tests: certificates, s_client
	chromium                  # the dashboard test's headless browser (/usr/bin/chromium)
)
# node and npm run the WebSocket and dashboard tests' clients (mqtt.js, ws,
# playwright-core). Debian's only where there is no node at all: a node of
# another origin is left alone.
if ! command -v node >/dev/null 2>&1; then
	PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

install_missing() {
	local sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		sudo="sudo"
	fi
	echo "deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# Debian starts the mosquitto and prometheus services on install; we
	# only want their binaries (mosquitto, promtool).
	for service in mosquitto prometheus; do
		if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
			$sudo systemctl stop "$service" || true
			$sudo systemctl disable "$service" >/dev/null 2>&1 || true
		fi
	done
}

if [ ${#missing[@]} -gt 0 ]; then
	install_missing
fi

# The node tests' npm packages, exactly as each package-lock.json pins
# them: the WebSocket test's clients, the dashboard test's playwright-core
# (which drives Debian's chromium: it never downloads a browser of its own).
npm_ci() {
	local dir="$root/$1"
	if [ -d "$dir/node_modules" ] && [ ! "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
		return
	fi
	if ! command -v npm >/dev/null 2>&1; then
		echo "deps: node is installed without npm; install npm to set up $dir" >&2
		exit 1
	fi
	echo "deps: npm ci in $1" >&2
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	touch "$dir/node_modules" # npm ci may keep the directory's old mtime
}
npm_ci test/integration/ws
npm_ci test/integration/dashboard
