#!/usr/bin/env python3
"""MQTT over WebSocket: two fleetmq brokers, because a broker takes one
websockets listener with TLS at most (libwebsockets 4.1.6 picks a TLS
context by SNI across its vhosts, so a second wss listener would be served
the first one's certificate: that config is a startup error, checked here
first). Broker "main" has a tcp listener and three WebSocket ones (wss;
ws; ws restricted to websockets_path /mqtt that trusts X-Forwarded-For);
broker "mtls" has a tcp listener, a wss one with require_certificate and
use_identity_as_username, and a plain ws one after it (which must not take
the wss one's settings). Node clients drive both (ws/ws_check.js: mqtt.js
and raw frames through the `ws` package, one bounded scenario each); then
the brokers' logs for what only they show: the listener lines, the peer
address taken from X-Forwarded-For (and not taken where it is not
trusted), the reason a text frame closed a connection [MQTT-6.0.0-1], the
user a client certificate names (and none over the plain ws listener
beside it). Both brokers must exit 0 on SIGTERM (fmtest).

Certificates come from a throwaway CA made here with the openssl CLI (EC
P-256; the servers' CN=localhost, SAN DNS:localhost, IP:127.0.0.1).

Skips (exit 77) when ws/node_modules is missing: scripts/deps.sh installs
it (npm ci). Exits nonzero with a message on the first failure;
FLEETMQ_WS_KEEP_GOING=1 runs everything and reports every failure."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from fmtest import TIMEOUT, broker_binary, fail, free_port, log_tail, start_broker, stop, wait_listening

HERE = os.path.dirname(os.path.abspath(__file__))
WS_DIR = os.path.join(HERE, "ws")
NODE_TIMEOUT = 90  # s; the scenarios bound themselves (5 s each, 15 s for 1 MB)
SKIP = 77          # meson's "skipped"
# FLEETMQ_WS_KEEP_GOING=1: run every scenario and log check, then report all
# failures (for diagnosis; the default stops at the first)
KEEP_GOING = bool(os.environ.get("FLEETMQ_WS_KEEP_GOING"))
failures = []


def problem(msg):
    """fail(), or with KEEP_GOING note it and go on."""
    if not KEEP_GOING:
        fail(msg)
    print("FAIL: " + msg, file=sys.stderr)
    failures.append(msg)


def openssl(tmp, *args):
    r = subprocess.run(["openssl", *args], cwd=tmp, capture_output=True, text=True, timeout=TIMEOUT)
    if r.returncode != 0:
        fail("openssl %s: %s" % (" ".join(args), r.stderr.strip()))


def make_certs(tmp):
    """A CA; two server certificates it signed (CN and SAN localhost, SAN
    127.0.0.1; O "fleetmq wss" and "fleetmq wss-mtls"); a client
    certificate it signed (CN ws-user) and a self-signed client certificate
    (CN ws-user too): the files ws_check.js --certs expects."""
    p256 = ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    openssl(tmp, *p256, "-out", "ca.key")
    openssl(tmp, "req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "2",
            "-subj", "/CN=fleetmq ws test CA", "-out", "ca.crt",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    with open(os.path.join(tmp, "server.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    # one server certificate per broker's wss listener, told apart by O=
    for name, org in (("server", "fleetmq wss"), ("server2", "fleetmq wss-mtls")):
        openssl(tmp, *p256, "-out", name + ".key")
        openssl(tmp, "req", "-new", "-key", name + ".key", "-subj", "/CN=localhost/O=" + org, "-out", name + ".csr")
        openssl(tmp, "x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-sha256", "-extfile", "server.ext", "-out", name + ".crt")
    # a client certificate from the CA, and a self-signed one with the same CN
    openssl(tmp, *p256, "-out", "client.key")
    openssl(tmp, "req", "-new", "-key", "client.key", "-subj", "/CN=ws-user", "-out", "client.csr")
    with open(os.path.join(tmp, "client.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
    openssl(tmp, "x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-sha256", "-extfile", "client.ext", "-out", "client.crt")
    openssl(tmp, *p256, "-out", "rogue.key")
    openssl(tmp, "req", "-x509", "-new", "-key", "rogue.key", "-sha256", "-days", "2",
            "-subj", "/CN=ws-user", "-out", "rogue.crt")


def distinct_ports(*names):
    ports = {}
    while len(ports) < len(names):
        p = free_port()
        if p not in ports.values():
            ports[names[len(ports)]] = p
    return ports


def main_conf(ports, certs):
    """Three WebSocket listeners beside fmtest's tcp one, wss first: a
    connection must keep the settings of the listener it came in on, not
    take the first one's."""
    return """log_type all
listener {wss} 127.0.0.1
protocol websockets
certfile {d}/server.crt
keyfile {d}/server.key
listener {ws} 127.0.0.1
protocol websockets
listener {path} 127.0.0.1
protocol websockets
websockets_path /mqtt
websockets_trust_x_forwarded_for true
websockets_headers_size 8192
""".format(d=certs, **ports)


def mtls_conf(ports, certs):
    """The second broker: wss with client certificates, then a plain ws
    listener that must not inherit require_certificate or
    use_identity_as_username from it."""
    return """log_type all
listener {mtls} 127.0.0.1
protocol websockets
certfile {d}/server2.crt
keyfile {d}/server2.key
cafile {d}/ca.crt
require_certificate true
use_identity_as_username true
listener {mtls_ws} 127.0.0.1
protocol websockets
""".format(d=certs, **ports)


def two_wss_refused(certs):
    """Two websockets listeners with TLS in one config: the broker must
    refuse to start (nonzero exit, the offending line named) rather than
    serve the second one the first one's certificate. Bounded by TIMEOUT."""
    ports = distinct_ports("a", "b")
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "fleetmq.conf")
        with open(conf, "w") as f:
            f.write("allow_anonymous true\n")
            for p, crt in ((ports["a"], "server"), (ports["b"], "server2")):
                f.write("listener %d 127.0.0.1\nprotocol websockets\ncertfile %s/%s.crt\nkeyfile %s/%s.key\n"
                        % (p, certs, crt, certs, crt))
        try:
            r = subprocess.run([broker_binary(), "-c", conf], cwd=tmp, capture_output=True,
                               text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            fail("a config with two wss listeners: the broker did not exit within %d s" % TIMEOUT)
        out = r.stdout + r.stderr
        if r.returncode == 0:
            problem("a config with two wss listeners: the broker exited 0")
        if not re.search(r"fleetmq\.conf:6: listener %d: only one websockets listener with TLS" % ports["b"], out):
            problem("a config with two wss listeners: no error naming line 6 (listener %d): %s"
                    % (ports["b"], out.strip()))
        reports = [l for l in out.splitlines() if "runtime error:" in l or "Sanitizer" in l]
        if reports:
            problem("sanitizer reports from the refused start:\n" + "\n".join(reports[:20]))


def run_node(node, ports, certs):
    cmd = [node, os.path.join(WS_DIR, "ws_check.js"), "--tcp", str(ports["tcp"]),
           "--ws", str(ports["ws"]), "--wss", str(ports["wss"]), "--ws-path", str(ports["path"]),
           "--wss-mtls", str(ports["mtls"]), "--ws-mtls-plain", str(ports["mtls_ws"]), "--certs", certs]
    if KEEP_GOING:
        cmd.append("--keep-going")
    try:
        r = subprocess.run(cmd, cwd=WS_DIR, capture_output=True, text=True, timeout=NODE_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        fail("ws_check.js still running after %d s (output: %s)" % (NODE_TIMEOUT, e.stdout))
    sys.stdout.write(r.stdout)
    if r.returncode != 0:
        problem("ws_check.js exited %d:\n%s" % (r.returncode, (r.stderr or r.stdout).strip()))


def read_log(tmp):
    with open(os.path.join(tmp, "broker.log"), errors="replace") as f:
        return f.read()


def expect_log(log, pattern, what):
    if not re.search(pattern, log, re.M):
        tail = "" if KEEP_GOING else "; log ends:\n" + "\n".join(log.splitlines()[-30:])
        problem("broker log: no line for %s (/%s/)%s" % (what, pattern, tail))


def check_log(tmp, mtls_tmp, ports):
    """The main broker's log (tmp), then the mtls broker's (mtls_tmp)."""
    # the text-frame close is logged when the broker tears the client down,
    # which may be just after node saw the close: wait for it, bounded
    text_close = r"client ws-text \(127\.0\.0\.1:\d+\) disconnected: WebSocket text frame"
    deadline = time.monotonic() + TIMEOUT
    while not re.search(text_close, read_log(tmp)) and time.monotonic() < deadline:
        time.sleep(0.05)
    log = read_log(tmp)
    expect_log(log, r"listening on 127\.0\.0\.1:%d \(mqtt over websockets\)$" % ports["ws"], "the ws listener")
    expect_log(log, r"listening on 127\.0\.0\.1:%d \(mqtt over websockets, tls\)$" % ports["wss"], "the wss listener")
    expect_log(log, r"listening on 127\.0\.0\.1:%d \(mqtt over websockets\)$" % ports["path"], "the /mqtt listener")
    # the same log format as over tcp; mqtt.js's clients say which version
    expect_log(log, r"client ws4-sub connected from 127\.0\.0\.1:\d+ \(v4, clean 1, keepalive 30\)", "ws4-sub")
    expect_log(log, r"client wss5-sub connected from 127\.0\.0\.1:\d+ \(v5, clean 1, keepalive 30\)", "wss5-sub")
    # websockets_trust_x_forwarded_for: the first entry is the peer
    expect_log(log, r"client xff-trusted connected from 203\.0\.113\.7(:\d+)? \(", "X-Forwarded-For trusted")
    expect_log(log, r"client xff-list connected from 203\.0\.113\.8(:\d+)? \(", "X-Forwarded-For's first entry")
    # ... and where it is not trusted, the socket's address
    expect_log(log, r"client xff-untrusted connected from 127\.0\.0\.1:\d+ \(", "X-Forwarded-For not trusted")
    if "203.0.113.9" in log:
        problem("broker log names 203.0.113.9 from an untrusted X-Forwarded-For")
    # [MQTT-6.0.0-1] a text frame closes the connection, and the log says why
    expect_log(log, text_close, "the text-frame close")

    mlog = read_log(mtls_tmp)
    expect_log(mlog, r"listening on 127\.0\.0\.1:%d \(mqtt over websockets, tls\)$" % ports["mtls"],
               "the wss listener with require_certificate")
    expect_log(mlog, r"listening on 127\.0\.0\.1:%d \(mqtt over websockets\)$" % ports["mtls_ws"],
               "the ws listener beside it")
    # use_identity_as_username: the client certificate's CN is the user
    expect_log(mlog, r"client mtls-user connected from 127\.0\.0\.1:\d+ \(v4, clean 1, keepalive 60, user ws-user\)",
               "use_identity_as_username over wss")
    # ... and only there: the plain ws listener after it has no user to give
    expect_log(mlog, r"client mtls-plain connected from 127\.0\.0\.1:\d+ \(v4, clean 1, keepalive 60\)$",
               "a plain ws client beside the wss one, without a user")


def check_sanitizers(tmp):
    """A sanitizer build (FLEETMQ_TEST_BIN) reports into the broker's log;
    UBSan without halt_on_error goes on running, so its reports would
    otherwise pass unseen."""
    log = read_log(tmp)
    reports = [l for l in log.splitlines() if "runtime error:" in l or "Sanitizer" in l]
    if reports:
        start = max(0, log.find("WARNING: ThreadSanitizer"), log.find("ERROR: AddressSanitizer"))
        problem("sanitizer reports in the broker log:\n" + log[start:start + 6000])


def main():
    node_modules = os.path.join(WS_DIR, "node_modules")
    if not os.path.isdir(os.path.join(node_modules, "mqtt")) or not os.path.isdir(os.path.join(node_modules, "ws")):
        print("SKIP: %s is missing (scripts/deps.sh runs npm ci there)" % node_modules)
        sys.exit(SKIP)
    node = shutil.which("node")
    if not node:
        fail("node_modules is installed but there is no node on PATH")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as certs, tempfile.TemporaryDirectory() as tmp, \
            tempfile.TemporaryDirectory() as mtls_tmp:
        make_certs(certs)
        two_wss_refused(certs)
        ports = distinct_ports("ws", "wss", "path", "mtls", "mtls_ws")
        brokers = []  # (proc, tmp, name), each stopped (or killed) below
        try:
            proc, ports["tcp"] = start_broker(tmp, main_conf(ports, certs))
            brokers.append((proc, tmp, "broker main"))
            proc, ports["mtls_tcp"] = start_broker(mtls_tmp, mtls_conf(ports, certs))
            brokers.append((proc, mtls_tmp, "broker mtls"))
            for p, t in ((ports["ws"], tmp), (ports["wss"], tmp), (ports["path"], tmp),
                         (ports["mtls"], mtls_tmp), (ports["mtls_ws"], mtls_tmp)):
                wait_listening(p, what="WebSocket listener", tmp=t)
            run_node(node, ports, certs)
            check_log(tmp, mtls_tmp, ports)
        except BaseException:
            for proc, _, _ in brokers:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            raise
        try:
            for proc, t, name in brokers:
                try:
                    stop(proc, name)  # exit status 0 (a LeakSanitizer report makes it nonzero)
                finally:
                    check_sanitizers(t)  # after a failed stop too: what the sanitizer said
        finally:  # a failure above exits: not with the other broker still running
            for proc, _, _ in brokers:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    if failures:
        fail("%d problems (above)" % len(failures))
    print("ws: all checks passed (%.1f s)" % (time.monotonic() - t0))


if __name__ == "__main__":
    main()
