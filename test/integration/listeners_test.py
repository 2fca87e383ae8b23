"""Several listeners at once, IPv4 and IPv6 (issue 6's config part): a plain
listener on 127.0.0.1 (fmtest's), a plain one on ::1, a TLS one on ::1, and
a listener without an address narrowed to IPv6 by socket_domain. Real
clients (Eclipse paho, Python) exchange messages across them, TLS over
IPv6 included, and the IPv6-only listener is not reachable over IPv4.
Certificates come from test/support/tls_fixture.sh (the openssl CLI)."""
import os
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

import fmtest

TIMEOUT = fmtest.TIMEOUT


def free_port6():
    return fmtest.free_port(socket.AF_INET6, "::1")



class Client:
    """A paho client that records what it receives."""

    def __init__(self, client_id, host, port, tls_ca=None):
        self.got = []
        self.subscribed = threading.Event()
        self.arrived = threading.Condition()
        self.c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311)
        if tls_ca:
            # the fixture's server certificate names localhost and
            # 127.0.0.1, not ::1: check the chain, not the name
            self.c.tls_set(ca_certs=tls_ca)
            self.c.tls_insecure_set(True)
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.connect(host, port, keepalive=30)
        self.c.loop_start()

    def _on_message(self, c, u, msg):
        with self.arrived:
            self.got.append((msg.topic, msg.payload.decode()))
            self.arrived.notify_all()

    def subscribe(self, filt):
        self.c.subscribe(filt, qos=1)
        if not self.subscribed.wait(TIMEOUT):
            fmtest.fail("no SUBACK for " + filt)

    def expect(self, topic, payload, what):
        with self.arrived:
            ok = self.arrived.wait_for(lambda: (topic, payload) in self.got, TIMEOUT)
        if not ok:
            fmtest.fail("%s: %s %s not received (got %s)" % (what, topic, payload, self.got))

    def publish(self, topic, payload):
        info = self.c.publish(topic, payload, qos=1)
        info.wait_for_publish(TIMEOUT)
        if not info.is_published():
            fmtest.fail("PUBLISH %s not acknowledged" % topic)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def refused(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
        return False
    except OSError:
        return True


def serial_of(port, ca):
    """The serial number of the certificate a TLS listener serves now."""
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
        with ctx.wrap_socket(raw) as tls:
            return tls.getpeercert()["serialNumber"]


def wss_rotation(certs):
    """A wss listener's certificate is re-read on SIGHUP (same paths, new
    files): new connections get the new one (libwebsockets' TLS, each
    worker's context updated on its own thread)."""
    with tempfile.TemporaryDirectory() as tmp:
        crt, key = os.path.join(tmp, "s.crt"), os.path.join(tmp, "s.key")
        for src, dst in (("server.crt", crt), ("server.key", key)):
            with open(os.path.join(certs, src), "rb") as f, open(dst, "wb") as g:
                g.write(f.read())
        wss = fmtest.free_port()
        conf = ("log_type all\nlistener %d 127.0.0.1\nprotocol websockets\ncertfile %s\nkeyfile %s\n"
                % (wss, crt, key))
        ca = os.path.join(certs, "ca.crt")
        with fmtest.broker(conf) as (port, proc, btmp):
            before = serial_of(wss, ca)
            for src, dst in (("server2.crt", crt + ".new"), ("server2.key", key + ".new")):
                with open(os.path.join(certs, src), "rb") as f, open(dst, "wb") as g:
                    g.write(f.read())
            os.rename(crt + ".new", crt)
            os.rename(key + ".new", key)
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + TIMEOUT
            while "SIGHUP: reloaded" not in open(os.path.join(btmp, "broker.log")).read():
                if time.monotonic() > deadline:
                    fmtest.fail("no reload logged")
                time.sleep(0.05)
            # several connections: each worker has its own context
            serials = {serial_of(wss, ca) for _ in range(6)}
            if before in serials or len(serials) != 1:
                fmtest.fail("wss still serves the old certificate after SIGHUP: %s -> %s" % (before, serials))


def main():
    with tempfile.TemporaryDirectory() as certtmp:
        certs = fmtest.make_certs(certtmp)
        p6, t6, any6 = free_port6(), free_port6(), free_port6()
        conf = ("log_type all\n"
                "listener %d ::1\n"
                "listener %d ::1\ncertfile %s/server.crt\nkeyfile %s/server.key\n"
                "listener %d\nsocket_domain ipv6\n" % (p6, t6, certs, certs, any6))
        with fmtest.broker(conf) as (port4, proc, tmp):
            # fmtest waited for the first listener; the others open after it
            for want in ("listening on ::1:%d (mqtt)" % p6, "listening on ::1:%d (mqtt, tls)" % t6,
                         "running with"):
                deadline = time.monotonic() + TIMEOUT
                while want not in open(os.path.join(tmp, "broker.log")).read():
                    if time.monotonic() > deadline:
                        fmtest.fail("log lacks '%s'" % want)
                    time.sleep(0.05)
            v4 = Client("lst-v4", "127.0.0.1", port4)
            v6 = Client("lst-v6", "::1", p6)
            tls6 = Client("lst-tls6", "::1", t6, tls_ca=os.path.join(certs, "ca.crt"))
            any_v6 = Client("lst-any6", "::1", any6)
            for c in (v4, v6, tls6, any_v6):
                c.subscribe("lst/#")
            # each listener's client publishes; every client receives all
            for i, c in enumerate((v4, v6, tls6, any_v6)):
                c.publish("lst/%d" % i, "from-%d" % i)
            for c in (v4, v6, tls6, any_v6):
                for i in range(4):
                    c.expect("lst/%d" % i, "from-%d" % i, c.c._client_id.decode())
            if "(v4, clean 1, keepalive 30)" not in open(os.path.join(tmp, "broker.log")).read():
                fmtest.fail("connect lines missing")
            if "connected from [::1]:" not in open(os.path.join(tmp, "broker.log")).read():
                fmtest.fail("an IPv6 peer is not logged as [::1]:port")
            # socket_domain ipv6: the wildcard listener has no IPv4 socket
            if not refused("127.0.0.1", any6):
                fmtest.fail("the socket_domain ipv6 listener accepted an IPv4 connection")
            for c in (v4, v6, tls6, any_v6):
                c.close()
        wss_rotation(certs)
    print("listeners: IPv4, IPv6, TLS over IPv6 and socket_domain ipv6 exchange messages; wss certificates re-read on SIGHUP")


if __name__ == "__main__":
    sys.exit(main())
