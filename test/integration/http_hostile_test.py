"""Hostile input on the HTTP stats listener (issue 9, the HTTP surface):
garbage instead of HTTP, oversized and endless headers, slow senders,
bodies nobody asked for, bad encodings, traversal, HTTP/2 prefaces, a
hundred idle sockets. After each, the broker answers /healthz, an MQTT
canary (a subscriber and a publisher connected throughout) still gets its
message, and at the end the broker exits cleanly (fmtest.stop: exit
status 0, which a sanitizer build turns into a check for its findings)."""
import http.client
import socket
import threading
import time

import paho.mqtt.client as mqtt

import fmtest

TOKEN = "hostile-token-0123456789"


def check(cond, what):
    if not cond:
        fmtest.fail(what)


def raw(port, data, read=True, timeout=2.0):
    """Send data on a fresh socket; what came back before the close or the
    timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if not read:
            return b""
        got = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
        return got
    finally:
        s.close()


def status_of(reply):
    line = reply.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") and parts[1].isdigit() else None


class Canary:
    """A subscriber on canary/# and a publisher, connected throughout."""

    def __init__(self, port):
        self.got = []
        self.cond = threading.Condition()
        self.sub = self._client(port, "canary-sub")
        self.sub.on_message = self._on_message
        done = threading.Event()
        self.sub.on_subscribe = lambda *a: done.set()
        self.sub.subscribe("canary/#", 1)
        check(done.wait(fmtest.TIMEOUT), "canary: no SUBACK")
        self.pub = self._client(port, "canary-pub")
        self.n = 0

    @staticmethod
    def _client(port, cid):
        c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv311)
        ok = threading.Event()
        c.on_connect = lambda *a: ok.set()
        c.connect("127.0.0.1", port, keepalive=60)
        c.loop_start()
        check(ok.wait(fmtest.TIMEOUT), "%s: no CONNACK" % cid)
        return c

    def _on_message(self, c, u, msg):
        with self.cond:
            self.got.append(msg.payload.decode())
            self.cond.notify_all()

    def check(self, what):
        self.n += 1
        payload = "after %s (%d)" % (what, self.n)
        self.pub.publish("canary/x", payload, qos=1).wait_for_publish(fmtest.TIMEOUT)
        with self.cond:
            check(self.cond.wait_for(lambda: payload in self.got, fmtest.TIMEOUT), "canary lost: " + what)

    def close(self):
        for c in (self.sub, self.pub):
            c.disconnect()
            c.loop_stop()


def healthy(http_port, what):
    c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=fmtest.TIMEOUT)
    c.request("GET", "/healthz")
    r = c.getresponse()
    body = r.read()
    c.close()
    check(r.status == 200, "%s: /healthz %d %r" % (what, r.status, body))


def cases(http_port):
    """(name, action): each action sends something hostile and checks the
    answer where there must be one."""
    def garbage():
        raw(http_port, bytes(range(256)) * 8)

    def huge_header():
        reply = raw(http_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
        check(status_of(reply) in (None, 400, 431), "70 kB header answered %r" % reply[:80])

    def many_headers():
        hdrs = b"".join(b"X-H%d: v\r\n" % i for i in range(2000))
        reply = raw(http_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n")
        check(status_of(reply) in (None, 200, 400, 431), "2000 headers answered %r" % reply[:80])

    def traversal():
        for path in (b"/../../etc/passwd", b"/api/v1/../../../etc/shadow", b"/%2e%2e/%2e%2e/etc/passwd"):
            reply = raw(http_port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            check(status_of(reply) in (None, 400, 403, 404), "%r answered %r" % (path, reply[:80]))
            check(b"root:" not in reply, "a file leaked for %r" % path)

    def bad_encoding():
        for path in (b"/api/v1/clients/%zz", b"/api/v1/clients/%", b"/api/v1/clients/%00x", b"/heal%00thz"):
            reply = raw(http_port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                        + TOKEN.encode() + b"\r\n\r\n")
            check(status_of(reply) in (None, 400, 403, 404), "%r answered %r" % (path, reply[:120]))

    def unwanted_body():
        reply = raw(http_port, b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 5000)
        check(status_of(reply) in (None, 405, 413, 400), "POST with a body answered %r" % reply[:80])

    def lies_about_length():
        raw(http_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\n")

    def http2_preface():
        raw(http_port, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00" * 64)

    def no_end_of_headers():
        raw(http_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", read=False)

    def many_args():
        query = "&".join("a%d=%s" % (i, "x" * 50) for i in range(500))
        reply = raw(http_port, ("GET /api/v1/clients?%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                                % (query, TOKEN)).encode())
        check(status_of(reply) in (None, 400, 414, 431), "500 arguments answered %r" % reply[:80])

    def slowloris():
        """A sender of one byte every 50 ms; meanwhile others are served."""
        s = socket.create_connection(("127.0.0.1", http_port), timeout=5)
        try:
            for i, b in enumerate(b"GET /healthz HTTP/1.1\r\nHost: slow\r\n"):
                s.sendall(bytes([b]))
                if i % 10 == 0:
                    healthy(http_port, "during a slow sender")
                time.sleep(0.05)
        except OSError:
            pass  # the broker may close it: that is fine too
        finally:
            s.close()

    def idle_sockets():
        socks = [socket.create_connection(("127.0.0.1", http_port), timeout=5) for _ in range(100)]
        healthy(http_port, "with 100 idle HTTP sockets open")
        for s in socks:
            s.close()

    return [("garbage", garbage), ("huge header", huge_header), ("many headers", many_headers),
            ("traversal", traversal), ("bad encoding", bad_encoding), ("unwanted body", unwanted_body),
            ("lies about length", lies_about_length), ("HTTP/2 preface", http2_preface),
            ("no end of headers", no_end_of_headers), ("many args", many_args), ("slowloris", slowloris),
            ("idle sockets", idle_sockets)]


def main():
    http_port = fmtest.free_port()
    with fmtest.broker("http_listener %d\nhttp_token %s\nsys_interval 0\n" % (http_port, TOKEN)) as (port, proc, tmp):
        deadline = time.monotonic() + fmtest.TIMEOUT
        while True:
            try:
                healthy(http_port, "start")
                break
            except (OSError, SystemExit):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        canary = Canary(port)
        for name, action in cases(http_port):
            action()
            healthy(http_port, name)
            canary.check(name)
            check(proc.poll() is None, "the broker died after: " + name)
            print("ok", name)
        canary.close()


if __name__ == "__main__":
    main()
