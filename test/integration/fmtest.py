"""Shared helpers for the Python integration tests (paho_test.py,
paho5_test.py, ws_test.py, proxy_test.py, http_test.py, dashboard_test.py):
start the real fleetmq binary on a free loopback port in a directory of
the test's own, stop it and check its exit status, fail with a message,
ask its HTTP listener.

The binary is $FLEETMQ_TEST_BIN (e.g. a ThreadSanitizer build) or else
$FLEETMQ_BIN (set by meson test). Every wait is bounded by TIMEOUT."""
import contextlib
import http.client
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

TIMEOUT = 10.0


def fail(msg):
    """Report and exit 1 (SystemExit: the finally blocks and context
    managers still stop the brokers; paho's network threads are daemons)."""
    sys.stdout.flush()
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


PORT_CLAIM_DIR = "/tmp/fleetmq-test-ports"
PORT_CLAIM_STALE_S = 20 * 60


def claim_port(port):
    """Claim port for this test with an exclusive file, as the C harness
    does (test/support/harness.c says why): two brokers started at once must
    never be handed the same port, since SO_REUSEPORT lets them share it."""
    os.makedirs(PORT_CLAIM_DIR, mode=0o777, exist_ok=True)
    path = os.path.join(PORT_CLAIM_DIR, str(port))
    for _ in range(2):
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return True
        except FileExistsError:
            try:
                if time.time() - os.stat(path).st_mtime < PORT_CLAIM_STALE_S:
                    return False
                os.unlink(path)
            except FileNotFoundError:
                pass
    return False


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    for _ in range(1000):
        with socket.socket(family) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if claim_port(port):
            return port
    fail("no claimable free port in " + PORT_CLAIM_DIR)


def mqtt_str(text):
    """An MQTT UTF-8 string: two length bytes, then the bytes."""
    data = text.encode()
    return struct.pack(">H", len(data)) + data


def raw_packet(first_byte, body):
    """A hand-built packet: the first byte, the remaining length (bodies
    under 128 bytes only: one length byte), the body."""
    assert len(body) < 128
    return bytes([first_byte, len(body)]) + body


def broker_binary():
    binary = os.environ.get("FLEETMQ_TEST_BIN") or os.environ.get("FLEETMQ_BIN")
    if not binary:
        fail("FLEETMQ_BIN is not set (run through meson test)")
    return binary


def start_broker(tmp, extra_conf="", nofile=None):
    """Start the broker in directory tmp (its default store ./data is then
    this test's own) with a listener on a free port, anonymous access and
    the config lines extra_conf; nofile: its open files limit. Returns
    (proc, port) once it accepts connections."""
    binary = broker_binary()
    port = free_port()
    conf = os.path.join(tmp, "fleetmq.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\n" % port)
        if extra_conf:
            f.write(extra_conf if extra_conf.endswith("\n") else extra_conf + "\n")
    log = open(os.path.join(tmp, "broker.log"), "a")
    limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))) if nofile else None
    proc = subprocess.Popen([binary, "-c", conf], stdout=log, stderr=log, cwd=tmp, preexec_fn=limit)
    log.close()
    try:
        wait_listening(port, proc, "broker", tmp)
    except SystemExit:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    return proc, port


def wait_listening(port, proc=None, what="broker", tmp=None):
    """Wait until something accepts TCP connections on 127.0.0.1:port; fail
    if proc (when given) exits first, or after TIMEOUT. tmp: the broker's
    directory, whose log the failure message quotes."""
    log = lambda: " (log: %s)" % log_tail(tmp) if tmp else ""  # noqa: E731
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                fail("%s exited with %d at start%s" % (what, proc.returncode, log()))
            time.sleep(0.02)
    fail("%s did not start listening on %d%s" % (what, port, log()))


def make_certs(tmp):
    """test/support/tls_fixture.sh's certificates (the openssl CLI) in
    tmp/certs; returns that directory."""
    src = os.environ.get("FLEETMQ_SOURCE_ROOT")
    if not src:
        fail("FLEETMQ_SOURCE_ROOT is not set (run through meson test)")
    certs = os.path.join(tmp, "certs")
    r = subprocess.run(["bash", os.path.join(src, "test/support/tls_fixture.sh"), certs],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail("tls_fixture.sh failed: " + r.stderr[-500:])
    return certs


def log_tail(tmp, lines=20):
    """The end of the broker's log in tmp, for failure messages."""
    try:
        with open(os.path.join(tmp, "broker.log"), errors="replace") as f:
            return "".join(f.readlines()[-lines:]).strip() or "(empty)"
    except OSError:
        return "(no log)"


def stop(proc, what="broker"):
    """SIGTERM the broker (by its PID) and fail unless it exits with 0
    within TIMEOUT."""
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        fail("%s did not exit on SIGTERM" % what)
    if rc != 0:
        fail("%s exit status %d" % (what, rc))


@contextlib.contextmanager
def broker(extra_conf=""):
    """A broker of its own in a temporary directory: yields (port, proc,
    tmp) and stops it (exit status checked) afterwards. On an exception the
    broker is killed."""
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_broker(tmp, extra_conf)
        try:
            yield port, proc, tmp
        except BaseException:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            raise
        if proc.poll() is None:
            stop(proc)


def http_request(port, path, method="GET", token=None):
    """One request to the HTTP listener on 127.0.0.1:port: (status,
    headers as a lowercase dict, body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    headers = {"Authorization": "Bearer " + token} if token else {}
    c.request(method, path, headers=headers)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def wait_http_ready(port, timeout=TIMEOUT):
    """The HTTP server opens after the MQTT listeners: wait for it, and
    for readiness (the workers running)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http_request(port, "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    fail("the HTTP listener never said ready")
