"""The broker out of file descriptors (its open files limit set low): it
refuses the connections it cannot take, on its MQTT and HTTP listeners, at
once and without spinning, says so in a bounded number of log lines, keeps
serving a canary connected before, and accepts again once descriptors are
free.

Before this was handled, accept failing with EMFILE left the listening
socket readable: each worker (and the HTTP thread, in libwebsockets' own
accept) spun at full CPU and logged hundreds of thousands of lines a
second, while the clients waited in the backlog."""

import os
import socket
import struct
import tempfile
import time

import fmtest
NOFILE = 128
FLOOD = 400           # raw sockets, far past what NOFILE leaves for clients
CONNECT_TIMEOUT = 3   # the ones accepted are closed after this, never sending CONNECT
HTTP_FLOOD = 60       # raw sockets to the HTTP listener at the same time
HTTP_TIMEOUT = 10     # the HTTP server closes a silent connection after this (LIMITS.md)
CPU_WINDOW = 3.0      # seconds from the first flood in which the broker's CPU is measured


from fmtest import mqtt_str, raw_packet as packet


class RawClient:
    """A 3.1.1 client over a raw socket, enough for CONNECT, SUBSCRIBE and
    QoS 0 PUBLISH."""

    def __init__(self, port, client_id):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=fmtest.TIMEOUT)
        self.s.sendall(packet(0x10, mqtt_str("MQTT") + bytes([4, 0x02, 0, 60]) + mqtt_str(client_id)))
        self.expect(b"\x20\x02\x00\x00", "CONNACK accepted")

    def expect(self, want, what):
        got = b""
        while len(got) < len(want):
            chunk = self.s.recv(len(want) - len(got))
            if not chunk:
                fmtest.fail("%s: connection closed (got %r)" % (what, got))
            got += chunk
        if got != want:
            fmtest.fail("%s: expected %r, got %r" % (what, want, got))

    def subscribe(self, topic):
        self.s.sendall(packet(0x82, struct.pack(">H", 1) + mqtt_str(topic) + b"\x00"))
        self.expect(b"\x90\x03\x00\x01\x00", "SUBACK")

    def publish(self, topic, payload):
        self.s.sendall(packet(0x30, mqtt_str(topic) + payload))

    def expect_publish(self, topic, payload, what):
        self.expect(packet(0x30, mqtt_str(topic) + payload), what)

    def close(self):
        self.s.close()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def closed_by_peer(s):
    """True when the broker has closed s (EOF or reset); s is non-blocking."""
    try:
        return s.recv(16) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def open_flood(port, n=FLOOD):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=fmtest.TIMEOUT)
        s.setblocking(False)
        socks.append(s)
    return socks


def count_refused(socks, want, limit_s=CONNECT_TIMEOUT - 0.5):
    """How many of socks the broker closed, waiting (up to limit_s, before
    connect_timeout closes the accepted ones too) until want of them are;
    the flood's sockets are non-blocking."""
    closed = set()
    deadline = time.monotonic() + limit_s
    while True:
        closed.update(i for i, s in enumerate(socks) if i not in closed and closed_by_peer(s))
        if len(closed) >= want or time.monotonic() >= deadline:
            return len(closed)
        time.sleep(0.05)


def wait_all_closed(socks, deadline_s):
    open_ones = list(socks)
    deadline = time.monotonic() + deadline_s
    while open_ones and time.monotonic() < deadline:
        open_ones = [s for s in open_ones if not closed_by_peer(s)]
        time.sleep(0.05)
    return len(open_ones)


def refusal_lines(tmp):
    with open(os.path.join(tmp, "broker.log")) as f:
        return [line for line in f if "no file descriptor left" in line]


def test_out_of_descriptors(workers):
    """With one worker, and the HTTP listener idle meanwhile, the worker's
    spare descriptor always comes back, so every MQTT connection past the
    limit is refused at once. With two, another worker can take the slot
    the spare leaves for a moment (for a client of its own); the spare is
    then gone until a descriptor is free, and that worker's connections
    wait in the backlog instead (closed by connect_timeout or refused
    later), still without spinning. The HTTP flood comes after the MQTT
    refusals, for the same reason."""
    with tempfile.TemporaryDirectory() as tmp:
        http = fmtest.free_port()
        conf = "workers %d\nconnect_timeout %d\nhttp_listener %d\n" % (workers, CONNECT_TIMEOUT, http)
        proc, port = fmtest.start_broker(tmp, conf, nofile=NOFILE)
        try:
            fmtest.wait_http_ready(http)
            canary_sub = RawClient(port, "canary-sub")
            canary_sub.subscribe("canary/#")
            canary_pub = RawClient(port, "canary-pub")
            cpu_before = cpu_seconds(proc.pid)
            window_end = time.monotonic() + CPU_WINDOW
            socks = open_flood(port)
            refused_at_once = count_refused(socks, FLOOD - NOFILE)
            # then the HTTP listener (its own thread and spare descriptor),
            # after the MQTT refusals: at once, the two would take each
            # other's spare slot
            http_socks = open_flood(http, HTTP_FLOOD)
            http_refused = count_refused(http_socks, HTTP_FLOOD)
            time.sleep(max(0.0, window_end - time.monotonic()))
            cpu_used = cpu_seconds(proc.pid) - cpu_before
            # the canaries were connected before: they are served throughout
            for i in range(5):
                canary_pub.publish("canary/x", b"seq-%d" % i)
                canary_sub.expect_publish("canary/x", b"seq-%d" % i, "the canary during the flood")
            if workers == 1 and refused_at_once < FLOOD - NOFILE:
                fmtest.fail("only %d of %d connections past the open files limit (%d) were refused at once"
                            % (refused_at_once, FLOOD, NOFILE))
            # the HTTP thread refuses with a spare of its own (it may lose it
            # to another thread for a while, so not necessarily all)
            if workers == 1 and http_refused == 0:
                fmtest.fail("none of %d HTTP connections was refused while out of descriptors" % HTTP_FLOOD)
            # a spinning worker burns about a CPU second per second; refusing
            # 460 connections takes a few milliseconds
            if cpu_used > 0.5:
                fmtest.fail("the broker used %.2f s of CPU in %.0f s while out of descriptors: spinning"
                            % (cpu_used, CPU_WINDOW))
            print("# workers %d: MQTT %d of %d and HTTP %d of %d refused at once, broker CPU %.3f s in %.0f s"
                  % (workers, refused_at_once, FLOOD, http_refused, HTTP_FLOOD, cpu_used, CPU_WINDOW))
            lines = refusal_lines(tmp)
            if not lines or len(lines) > 12:
                fmtest.fail("expected a few rate-limited refusal lines, got %d" % len(lines))
            # the ones it took never send CONNECT: connect_timeout closes them
            still_open = wait_all_closed(socks, CONNECT_TIMEOUT + fmtest.TIMEOUT)
            if still_open:
                fmtest.fail("%d flood connections still open after connect_timeout" % still_open)
            # then descriptors are free: the HTTP connections still waiting are
            # taken (and closed by the HTTP server's own timeout) or refused
            still_open = wait_all_closed(http_socks, HTTP_TIMEOUT + fmtest.TIMEOUT)
            if still_open:
                fmtest.fail("%d HTTP flood connections still open" % still_open)
            for s in socks + http_socks:
                s.close()
            status = fmtest.http_request(http, "/readyz")[0]
            if status != 200:
                fmtest.fail("GET /readyz after the flood: %d" % status)
            # descriptors are free again: accepted as before
            late = RawClient(port, "after-the-flood")
            late.publish("canary/late", b"back")
            canary_sub.expect_publish("canary/late", b"back", "a client connected after the flood")
            late.close()
            canary_sub.close()
            canary_pub.close()
            fmtest.stop(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def main():
    test_out_of_descriptors(workers=1)
    test_out_of_descriptors(workers=2)
    print("fd_limit: out of descriptors, connections are refused at once without spinning; "
          "the canary is served; accepted again afterwards")


if __name__ == "__main__":
    main()
