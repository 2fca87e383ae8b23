"""max_connections counts a socket from accept, also while it is not a
client yet: waiting for its PROXY header or in its WebSocket upgrade (it
did not, so sockets that never finished either could pass any
max_connections until connect_timeout closed them). Each such socket is
counted once: released when it becomes a client (counted as one from
then), and when it goes.

Per listener (WebSocket, PROXY v1), with max_connections 3 on it:
silent sockets take the 3 places and a 4th is refused at once; once
connect_timeout has closed them, 3 real clients connect (a place not
released at the upgrade or header would refuse the third) and a 4th is
refused; after they leave, 3 connect again."""

import os
import socket
import tempfile
import time

import fmtest
from fmtest import mqtt_str, raw_packet
from ws_hostile_test import Failure, Ws

LIMIT = 3
CONNECT_TIMEOUT = 3
REFUSED = "refused: max_connections reached"


def log_count(tmp, text):
    with open(os.path.join(tmp, "broker.log"), errors="replace") as f:
        return f.read().count(text)


def refusals(tmp):
    return log_count(tmp, REFUSED)


def wait_log_count(tmp, text, count, what):
    deadline = time.monotonic() + fmtest.TIMEOUT
    while log_count(tmp, text) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    if log_count(tmp, text) < count:
        fmtest.fail("%s: the log does not say %r %d times" % (what, text, count))


def closed_within(s, seconds):
    """Whether the broker closes s (EOF or reset) within seconds."""
    s.settimeout(seconds)
    try:
        return s.recv(64) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def silent(port):
    return socket.create_connection(("127.0.0.1", port), timeout=fmtest.TIMEOUT)


def expect_refused_at_once(port, tmp, before, what):
    s = silent(port)
    if not closed_within(s, CONNECT_TIMEOUT - 1):
        fmtest.fail("%s: a socket past max_connections %d was not refused at once" % (what, LIMIT))
    s.close()
    wait_log_count(tmp, REFUSED, before + 1, what)


class ProxyClient:
    """A 3.1.1 client behind a PROXY v1 header."""

    def __init__(self, port, client_id):
        self.s = silent(port)
        self.s.sendall(b"PROXY TCP4 192.0.2.7 192.0.2.1 40000 1883\r\n" +
                       raw_packet(0x10, mqtt_str("MQTT") + bytes([4, 0x02, 0, 60]) + mqtt_str(client_id)))
        got = b""
        while len(got) < 4:
            chunk = self.s.recv(4 - len(got))
            if not chunk:
                fmtest.fail("%s: closed before CONNACK" % client_id)
            got += chunk
        if got != b"\x20\x02\x00\x00":
            fmtest.fail("%s: CONNACK %r" % (client_id, got))

    def close(self):
        self.s.sendall(b"\xe0\x00")
        self.s.close()


class WsClient:
    def __init__(self, port, client_id):
        self.ws = Ws(port)
        self.ws.connect(client_id, version=4)

    def close(self):
        self.ws.send_mqtt(b"\xe0\x00")
        self.ws.shut()


def check_listener(port, tmp, client_class, what):
    # 1. silent sockets (no PROXY header, no upgrade) take the places
    waiting = [silent(port) for _ in range(LIMIT)]
    time.sleep(0.3)  # accepted, in their wait
    expect_refused_at_once(port, tmp, refusals(tmp), what + ", silent sockets")
    for s in waiting:
        if not closed_within(s, CONNECT_TIMEOUT + fmtest.TIMEOUT):
            fmtest.fail("%s: a silent socket outlived connect_timeout" % what)
        s.close()
    # 2. real clients: each place released as the socket becomes a client
    for rnd in range(2):
        clients = [client_class(port, "%s-%d-%d" % (what.split()[0], rnd, i)) for i in range(LIMIT)]
        expect_refused_at_once(port, tmp, refusals(tmp), what + ", clients")
        gone = log_count(tmp, "disconnected")
        for c in clients:
            c.close()
        # their DISCONNECTs handled before the next round
        wait_log_count(tmp, "disconnected", gone + LIMIT, what + ", clients leaving")


def main():
    ws_port, proxy_port = fmtest.free_port(), fmtest.free_port()
    # one worker: the accept queue in order, each socket settled before
    # the next is accepted (with two, a 4th socket may reach the other
    # worker before the first has taken its 3)
    conf = ("workers 1\nconnect_timeout %d\n"
            "listener %d 127.0.0.1\nprotocol websockets\nmax_connections %d\n"
            "listener %d 127.0.0.1\nenable_proxy_protocol 1\nmax_connections %d\n"
            % (CONNECT_TIMEOUT, ws_port, LIMIT, proxy_port, LIMIT))
    with tempfile.TemporaryDirectory() as tmp:
        proc, _port = fmtest.start_broker(tmp, conf)
        try:
            fmtest.wait_listening(ws_port, proc, "the WebSocket listener", tmp)
            fmtest.wait_listening(proxy_port, proc, "the PROXY listener", tmp)
            time.sleep(CONNECT_TIMEOUT + 0.5)  # the readiness probes' sockets are gone
            try:
                check_listener(ws_port, tmp, WsClient, "websockets listener")
                check_listener(proxy_port, tmp, ProxyClient, "proxy listener")
            except (Failure, OSError) as e:
                fmtest.fail("%s\nbroker log:\n%s" % (e, fmtest.log_tail(tmp)))
            fmtest.stop(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    print("pending_limit: sockets in a PROXY wait or a WebSocket upgrade count against max_connections, "
          "once, until they are clients or gone")


if __name__ == "__main__":
    main()
