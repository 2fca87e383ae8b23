#!/usr/bin/env bash
# Install the Debian packages fleetmq needs to build, test and benchmark.
# Idempotent and quick when everything is present: apt is only touched for
# packages that are missing. Run as root (or with sudo available).
set -euo pipefail

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
	openssl                   # TLS tests: certificates, s_client
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the mosquitto service on install; we only want its binary.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet mosquitto 2>/dev/null; then
	$SUDO systemctl stop mosquitto || true
	$SUDO systemctl disable mosquitto >/dev/null 2>&1 || true
fi
