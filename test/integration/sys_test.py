"""$SYS topics (issue 8, first slice): with `sys_interval 1` the real broker
publishes mosquitto's $SYS/broker/... topics as retained messages, and the
numbers agree with what this test did: clients connected, PUBLISH received
at QoS 0 and 1, retained messages, subscriptions; uptime grows, the
version is there for a late subscriber, the load averages move. A "#"
subscriber never gets them [MQTT-4.7.2-1], a client cannot publish there
(4.7.2), `sys_interval 0` publishes nothing until a SIGHUP sets 1, and a bad sys_interval is a
startup error naming file, line and option. Eclipse paho as the client."""
import os
import signal
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

import fmtest

TIMEOUT = fmtest.TIMEOUT * 2  # a ThreadSanitizer broker is slow
SYS = "$SYS/broker/"


class Client:
    """A paho 3.1.1 client that keeps the latest payload per topic and
    every (topic, payload) it received."""

    def __init__(self, port, client_id, subscribe=None):
        self.lock = threading.Condition()
        self.latest = {}
        self.got = []
        self.subscribed = threading.Event()
        self.c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311)
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        connected = threading.Event()
        self.c.on_connect = lambda *a: connected.set()
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        if not connected.wait(TIMEOUT):
            fmtest.fail("%s: no CONNACK" % client_id)
        if subscribe:
            self.c.subscribe(subscribe, qos=1)
            if not self.subscribed.wait(TIMEOUT):
                fmtest.fail("%s: no SUBACK for %s" % (client_id, subscribe))

    def _on_message(self, c, u, msg):
        with self.lock:
            text = msg.payload.decode()
            self.latest[msg.topic] = text
            self.got.append((msg.topic, text))
            self.lock.notify_all()

    def wait_for(self, pred, what):
        with self.lock:
            if not self.lock.wait_for(lambda: pred(self.latest), TIMEOUT):
                fmtest.fail("%s (latest: %s)" % (what, {k: v for k, v in self.latest.items()
                                                        if "/load/" not in k}))

    def publish(self, topic, payload, qos, retain=False):
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(TIMEOUT)
        if not info.is_published():
            fmtest.fail("PUBLISH %s not sent" % topic)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def value(latest, name):
    return latest.get(SYS + name)


def is_int(latest, name, want):
    v = value(latest, name)
    return v is not None and int(v) == want


def test_numbers_agree(port):
    watcher = Client(port, "sys-watcher", SYS[:-1] + "/#")
    everything = Client(port, "hash-all", "#")
    n_clients, qos0, qos1, retained = 5, 7, 4, 3
    clients = [Client(port, "pub-%d" % i) for i in range(n_clients)]
    for i in range(qos0):
        clients[i % n_clients].publish("data/q0", "m%d" % i, 0)
    for i in range(qos1):
        clients[i % n_clients].publish("data/q1", "m%d" % i, 1)
    for i in range(retained):
        clients[0].publish("keep/%d" % i, "r%d" % i, 1, retain=True)
    # [MQTT-4.7.2-1] clients may not publish to $SYS: acknowledged, dropped
    clients[1].publish(SYS + "version", "forged", 1, retain=True)
    published = qos0 + qos1 + retained + 1

    connected = n_clients + 2  # the publishers, the watcher, the "#" client

    def settled(latest):
        sys_topics = sum(1 for k in latest if k.startswith(SYS))
        return (is_int(latest, "clients/connected", connected)
                and is_int(latest, "clients/total", connected)
                and is_int(latest, "publish/messages/received", published)
                and is_int(latest, "subscriptions/count", 2)
                and is_int(latest, "retained messages/count", retained + sys_topics))
    watcher.wait_for(settled, "$SYS numbers never matched the test's")
    latest = dict(watcher.latest)
    if value(latest, "version") != "fleetmq version " + fleetmq_version():
        fmtest.fail("version is %r" % value(latest, "version"))
    if int(value(latest, "clients/maximum")) < connected:
        fmtest.fail("clients/maximum %s below %d" % (value(latest, "clients/maximum"), connected))
    if int(value(latest, "messages/received")) < published + connected:
        fmtest.fail("messages/received %s counts fewer packets than CONNECT + PUBLISH"
                    % value(latest, "messages/received"))
    if int(value(latest, "bytes/received")) <= 0 or int(value(latest, "bytes/sent")) <= 0:
        fmtest.fail("bytes not counted")
    if any(p == "forged" for t, p in watcher.got):
        fmtest.fail("a client's PUBLISH to $SYS reached a subscriber")

    # uptime grows; "N seconds" as mosquitto writes it
    first = int(value(latest, "uptime").split()[0])
    watcher.wait_for(lambda l: value(l, "uptime").endswith(" seconds")
                     and int(value(l, "uptime").split()[0]) > first, "uptime did not grow")
    watcher.wait_for(lambda l: float(value(l, "load/publish/received/1min") or 0) > 0,
                     "load/publish/received/1min did not rise")

    # [MQTT-4.7.2-1] "#" does not match topics beginning with $
    with everything.lock:
        sys_seen = [t for t, p in everything.got if t.startswith("$")]
        data_seen = sum(1 for t, p in everything.got if t.startswith("data/"))
    if sys_seen:
        fmtest.fail('"#" received $SYS topics: %s' % sys_seen[:5])
    if data_seen != qos0 + qos1:
        fmtest.fail('"#" received %d data messages, expected %d' % (data_seen, qos0 + qos1))

    # a late subscriber gets the retained values
    late = Client(port, "sys-late", SYS + "version")
    late.wait_for(lambda l: value(l, "version") is not None, "no retained version for a late subscriber")
    late.close()

    for c in clients:
        c.close()
    watcher.wait_for(lambda l: is_int(l, "clients/connected", 2) and is_int(l, "clients/disconnected", 0),
                     "clients/connected did not fall back to 2")
    watcher.close()
    everything.close()


def test_interval_zero_publishes_nothing(port, proc, tmp):
    watcher = Client(port, "sys-off", SYS[:-1] + "/#")
    pub = Client(port, "pub-off")
    pub.publish("data/x", "x", 1)
    time.sleep(2.5)  # more than two intervals of sys_interval 1
    with watcher.lock:
        if watcher.got:
            fmtest.fail("sys_interval 0 published %s" % watcher.got[:3])
    # sys_interval is reloadable: SIGHUP with 1 starts publishing
    conf = os.path.join(tmp, "fleetmq.conf")
    with open(conf) as f:
        text = f.read().replace("sys_interval 0", "sys_interval 1")
    with open(conf, "w") as f:
        f.write(text)
    proc.send_signal(signal.SIGHUP)
    watcher.wait_for(lambda l: is_int(l, "clients/connected", 2) and value(l, "version") is not None,
                     "no $SYS after a reload to sys_interval 1")
    pub.close()
    watcher.close()


def test_bad_interval_is_a_startup_error():
    for bad, why in (("-1", "is not a number"), ("ten", "is not a number"), ("86401", "out of range")):
        with tempfile.TemporaryDirectory() as tmp:
            conf = os.path.join(tmp, "fleetmq.conf")
            with open(conf, "w") as f:
                f.write("listener %d 127.0.0.1\n\nsys_interval %s\n" % (fmtest.free_port(), bad))
            r = subprocess.run([fmtest.broker_binary(), "-c", conf], cwd=tmp, capture_output=True,
                               text=True, timeout=TIMEOUT)
            if r.returncode == 0:
                fmtest.fail("sys_interval %s accepted" % bad)
            want = "%s:3: option 'sys_interval'" % conf
            if want not in r.stderr or why not in r.stderr:
                fmtest.fail("sys_interval %s: error %r does not name %r and %r" % (bad, r.stderr, want, why))


def fleetmq_version():
    r = subprocess.run([fmtest.broker_binary(), "-h"], capture_output=True, text=True, timeout=TIMEOUT)
    return (r.stdout + r.stderr).split()[1]


def main():
    with fmtest.broker("sys_interval 1") as (port, proc, tmp):
        test_numbers_agree(port)
    with fmtest.broker("sys_interval 0") as (port, proc, tmp):
        test_interval_zero_publishes_nothing(port, proc, tmp)
    test_bad_interval_is_a_startup_error()
    print("sys: ok")


if __name__ == "__main__":
    main()
