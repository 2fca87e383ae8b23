#!/usr/bin/env python3
"""The dashboard at "/": first over plain HTTP (the embedded files are the
ones in web/dashboard/, with their content types and a
Content-Security-Policy, open without the token, HEAD), then in headless
Chromium with real MQTT clients (dashboard/dashboard_check.js:
playwright-core and mqtt.js from dashboard/node_modules), which checks the
numbers, the rate plot, the search and the token form, and saves a
screenshot.

The screenshot goes to dashboard-artifacts/dashboard.png under the working
directory (meson test's: the build directory); its path is printed.

Skips (exit 77) without dashboard/node_modules (scripts/deps.sh runs npm
ci there), node or /usr/bin/chromium. Every wait is bounded; the node
process and the browser it starts run in a process group of their own,
killed (by that group's id) if they outlive NODE_TIMEOUT."""
import os
import shutil
import signal
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import fmtest
from fmtest import fail

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "dashboard")
WEB_DIR = os.path.join(os.environ.get("FLEETMQ_SOURCE_ROOT", os.path.join(HERE, "..", "..")), "web", "dashboard")
CHROMIUM = "/usr/bin/chromium"
TOKEN = "dashboard-test-token-0123456789"
NODE_TIMEOUT = 150  # s; the page's checks bound themselves (30 s each), a TSan broker is slow
SKIP = 77           # meson's "skipped"

FILES = {"/": ("index.html", "text/html; charset=utf-8"),
         "/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
         "/dashboard.css": ("dashboard.css", "text/css; charset=utf-8")}


def files_served(http_port):
    """Each file byte for byte as in web/dashboard, without a token, with
    its type and the page's CSP; HEAD gives the length only."""
    for path, (name, ctype) in FILES.items():
        status, headers, body = fmtest.http_request(http_port, path)
        with open(os.path.join(WEB_DIR, name), "rb") as f:
            want = f.read()
        if status != 200 or body != want:
            fail("GET %s: %d, %d bytes (web/dashboard/%s has %d)" % (path, status, len(body), name, len(want)))
        if headers.get("content-type") != ctype:
            fail("GET %s: content-type %r" % (path, headers.get("content-type")))
        csp = headers.get("content-security-policy", "")
        if "default-src 'none'" not in csp or "script-src 'self'" not in csp:
            fail("GET %s: content-security-policy %r" % (path, csp))
        status, headers, body = fmtest.http_request(http_port, path, "HEAD")
        if status != 200 or body or int(headers.get("content-length", "0")) != len(want):
            fail("HEAD %s: %d, %r" % (path, status, headers))
    status, _, _ = fmtest.http_request(http_port, "/index.html")
    if status != 404:
        fail("GET /index.html: %d (the page is at / only)" % status)
    status, _, _ = fmtest.http_request(http_port, "/api/v1/broker")
    if status != 401:
        fail("GET /api/v1/broker without the token: %d" % status)
    print("ok files served: %s" % ", ".join(FILES))


def run_node(node, port, http_port, tmp):
    """dashboard_check.js in a process group of its own; its output is
    printed; fails on a nonzero exit or a timeout."""
    shot_dir = os.path.abspath("dashboard-artifacts")
    os.makedirs(shot_dir, exist_ok=True)
    shot = os.path.join(shot_dir, "dashboard.png")
    cmd = [node, os.path.join(NODE_DIR, "dashboard_check.js"), "--mqtt", str(port), "--http", str(http_port),
           "--token", TOKEN, "--screenshot", shot, "--profile", os.path.join(tmp, "chromium-profile")]
    proc = subprocess.Popen(cmd, cwd=NODE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=NODE_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # node and the Chromium it started, nothing else
        out, _ = proc.communicate()
        print(out)
        fail("dashboard_check.js did not finish in %d s" % NODE_TIMEOUT)
    print(out.rstrip())
    if proc.returncode != 0:
        fail("dashboard_check.js exit status %d (broker log: %s)" % (proc.returncode, fmtest.log_tail(tmp)))
    print("screenshot: " + shot)


def main():
    node = shutil.which("node")
    for missing, why in ((not os.path.isdir(os.path.join(NODE_DIR, "node_modules")),
                          "test/integration/dashboard/node_modules is missing (run scripts/deps.sh)"),
                         (not node, "node is not installed"),
                         (not os.access(CHROMIUM, os.X_OK), CHROMIUM + " is not installed (Debian's chromium)")):
        if missing:
            print("SKIP: " + why)
            sys.exit(SKIP)
    http_port = fmtest.free_port()
    conf = "http_listener %d\nhttp_token %s\nsys_interval 0\n" % (http_port, TOKEN)
    with fmtest.broker(conf) as (port, proc, tmp):
        fmtest.wait_http_ready(http_port, fmtest.TIMEOUT * 3)  # a TSan broker starts slowly
        files_served(http_port)
        run_node(node, port, http_port, tmp)


if __name__ == "__main__":
    main()
