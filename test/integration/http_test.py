"""The HTTP stats listener (http_listener, http_token) of the real broker,
driven with Python's own HTTP client: health and readiness, the bearer
token, JSON errors for bad paths and methods, HEAD, and the startup errors
of a bad http_* line. What the API reports is checked against what the
test did with real MQTT clients (paho)."""
import http.client
import json
import os
import socket
import subprocess
import tempfile
import time

import fmtest

TOKEN = "s3cret-token-for-tests-0123"


def request(port, path, method="GET", token=None):
    """(status, headers as a lowercase dict, body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=fmtest.TIMEOUT)
    headers = {"Authorization": "Bearer " + token} if token else {}
    c.request(method, path, headers=headers)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def get_json(port, path, token=None, want=200):
    status, headers, body = request(port, path, token=token)
    if status != want:
        fmtest.fail("GET %s: %d, wanted %d: %s" % (path, status, want, body[:300]))
    if headers.get("content-type") != "application/json":
        fmtest.fail("GET %s: content-type %r" % (path, headers.get("content-type")))
    try:
        return json.loads(body)
    except ValueError:
        fmtest.fail("GET %s: not JSON: %r" % (path, body[:300]))


def check(cond, what):
    if not cond:
        fmtest.fail(what)


def wait_ready(http_port):
    """The HTTP server opens after the MQTT listeners: wait for it, and
    for readiness (the workers running)."""
    deadline = time.monotonic() + fmtest.TIMEOUT
    while time.monotonic() < deadline:
        try:
            if request(http_port, "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    fmtest.fail("the HTTP listener never said ready")


def health_and_readiness(http_port):
    wait_ready(http_port)
    h = get_json(http_port, "/healthz")
    check(h["status"] == "ok" and h["workers"] == 2 and h["workers_not_answering"] == [], "healthz: %r" % h)
    r = get_json(http_port, "/readyz")
    check(r == {"ready": True, "reasons": []}, "readyz: %r" % r)


def errors_are_json(http_port):
    e = get_json(http_port, "/no/such/thing", want=404)
    check(e["status"] == 404 and e["error"], "404 body: %r" % e)
    for method in ("POST", "PUT", "DELETE"):
        status, headers, body = request(http_port, "/healthz", method=method)
        check(status == 405, "%s /healthz: %d" % (method, status))
        check(headers.get("allow") == "GET, HEAD", "%s: Allow %r" % (method, headers.get("allow")))
        check(json.loads(body)["status"] == 405, "%s: body %r" % (method, body))
    status, headers, body = request(http_port, "/healthz", method="HEAD")
    check(status == 200 and body == b"" and int(headers.get("content-length", "0")) > 0,
          "HEAD: %d, %r, %r" % (status, headers, body))
    status, headers, body = request(http_port, "/healthz?" + "&".join("a%d=1" % i for i in range(40)))
    check(status == 400, "too many query arguments: %d" % status)
    check(headers.get("cache-control") == "no-store", "live data must not be cached: %r" % headers)


def startup_error(conf_text, needle):
    """The broker refuses conf_text at start, naming the file, line and option."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bad.conf")
        with open(path, "w") as f:
            f.write(conf_text)
        r = subprocess.run([fmtest.broker_binary(), "-c", path], capture_output=True, text=True,
                           timeout=fmtest.TIMEOUT, cwd=tmp)
        check(r.returncode != 0, "started with %r" % conf_text)
        check(path in r.stderr and needle in r.stderr, "the error does not say %r with the file: %r"
              % (needle, r.stderr))


def bad_config():
    base = "listener %d 127.0.0.1\npersistence false\n" % fmtest.free_port()
    startup_error(base + "http_token short\n", "bad.conf:3: option 'http_token'")
    startup_error(base + "http_token has blank\n", "bad.conf:3: option 'http_token': too many")
    startup_error(base + "http_listener 0\n", "bad.conf:3")
    startup_error(base + "http_listener 8080\nhttp_listener 8081\n", "bad.conf:4: option 'http_listener' given twice")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "busy.conf")
            with open(path, "w") as f:
                f.write(base + "http_listener %d\n" % port)
            r = subprocess.run([fmtest.broker_binary(), "-c", path], capture_output=True, text=True,
                               timeout=fmtest.TIMEOUT, cwd=tmp)
            check(r.returncode != 0 and "http_listener" in r.stderr and str(port) in r.stderr,
                  "a taken HTTP port: rc %d, %r" % (r.returncode, r.stderr))


def main():
    http_port = fmtest.free_port()
    with fmtest.broker("http_listener %d\nhttp_token %s\nworkers 2\nlog_type all\n"
                       % (http_port, TOKEN)) as (port, proc, tmp):
        health_and_readiness(http_port)
        errors_are_json(http_port)
        print("ok health, readiness, errors")
    bad_config()
    print("ok bad config")


if __name__ == "__main__":
    main()
