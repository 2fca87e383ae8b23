#!/usr/bin/env python3
"""Eclipse paho (Python) against fleetmq: QoS 0/1/2 round trips, a retained
message, a will on abrupt close (and none after DISCONNECT), and a clean
SIGTERM exit.

Starts $FLEETMQ_TEST_BIN or $FLEETMQ_BIN on a free loopback port; every wait
is bounded. Exits nonzero with a message on the first failure."""
import queue
import sys
import tempfile

import paho.mqtt.client as mqtt

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from fmtest import TIMEOUT, fail, start_broker, stop


class Client:
    """A paho client whose received messages land in a queue."""

    def __init__(self, port, client_id, will=None):
        self.messages = queue.Queue()
        self.connected = queue.Queue()
        self.subacks = queue.Queue()
        self.disconnected = queue.Queue()
        self.c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311, clean_session=True)
        if will:
            self.c.will_set(*will)
        self.c.on_connect = lambda c, u, f, rc: self.connected.put(rc)
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        self.c.on_subscribe = lambda c, u, mid, granted: self.subacks.put((mid, granted))
        self.c.on_disconnect = lambda c, u, rc: self.disconnected.put(rc)
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        if self.connected.get(timeout=TIMEOUT) != 0:
            fail("CONNECT of %s refused" % client_id)

    def subscribe(self, topic, qos):
        result, mid = self.c.subscribe(topic, qos)
        if result != mqtt.MQTT_ERR_SUCCESS:
            fail("subscribe %s: %d" % (topic, result))
        try:
            got_mid, granted = self.subacks.get(timeout=TIMEOUT)
        except queue.Empty:
            fail("no SUBACK for %s" % topic)
        if got_mid != mid or tuple(granted) != (qos,):
            fail("SUBACK for %s: mid %d granted %r, want mid %d granted (%d,)"
                 % (topic, got_mid, granted, mid, qos))

    def publish(self, topic, payload, qos, retain=False):
        """Publish and wait (bounded) until the QoS flow completes."""
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=TIMEOUT)
        if not info.is_published():
            fail("QoS %d PUBLISH on %s not acknowledged" % (qos, topic))

    def expect_nothing(self, quiet_s=0.5):
        try:
            m = self.messages.get(timeout=quiet_s)
        except queue.Empty:
            return
        fail("unexpected message %r on %s" % (m.payload, m.topic))

    def expect(self, topic, payload, qos, retain=False):
        try:
            m = self.messages.get(timeout=TIMEOUT)
        except queue.Empty:
            fail("no message on %s" % topic)
        got = (m.topic, m.payload, m.qos, bool(m.retain))
        want = (topic, payload, qos, retain)
        if got != want:
            fail("got %r, want %r" % (got, want))

    def close(self):
        """DISCONNECT, and wait (bounded) until paho has sent it."""
        self.c.disconnect()
        try:
            self.disconnected.get(timeout=TIMEOUT)
        except queue.Empty:
            fail("DISCONNECT not completed")
        self.c.loop_stop()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_broker(tmp)
        try:
            run_checks(port)
        finally:
            stop(proc)
    print("paho: all checks passed")


def run_checks(port):
    sub = Client(port, "paho-sub")
    sub.subscribe("paho/#", 2)
    pub = Client(port, "paho-pub")
    for qos in (0, 1, 2):
        pub.publish("paho/q%d" % qos, b"m%d" % qos, qos)
        sub.expect("paho/q%d" % qos, b"m%d" % qos, qos)
    # a QoS 2 subscription delivers at the publisher's QoS [MQTT-3.8.4-6]
    sub.expect_nothing()  # no duplicates

    pub.publish("paho/kept", b"retained", 1, retain=True)
    sub.expect("paho/kept", b"retained", 1)  # live delivery: retain 0 [MQTT-3.3.1-9]
    late = Client(port, "paho-late")
    late.subscribe("paho/kept", 1)
    late.expect("paho/kept", b"retained", 1, retain=True)

    # a will on abrupt close: drop the socket without DISCONNECT
    dying = Client(port, "paho-dying", will=("paho/will", b"gone", 1, False))
    dying.c.loop_stop()
    dying.c.socket().close()
    sub.expect("paho/will", b"gone", 1)

    # a DISCONNECT discards the will [MQTT-3.1.2-10]
    polite = Client(port, "paho-polite", will=("paho/will", b"not sent", 1, False))
    polite.close()
    sub.expect_nothing(1.0)

    for c in (sub, pub, late):
        c.close()


if __name__ == "__main__":
    main()
