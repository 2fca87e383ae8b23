"""Bridges (issue 10): the real fleetmq binary bridged to Debian's mosquitto
and to a second fleetmq, driven by Eclipse paho clients on both sides.

- in, out and both directions with local and remote prefixes, against
  mosquitto (3.1.1, try_private) and fleetmq (3.1.1 with try_private, and
  5.0 with No Local): each message arrives once on the other side and
  never comes back (no loop);
- QoS 1 and 2 end to end;
- the remote SIGKILLed and restarted while a publisher keeps sending:
  every message the local broker acknowledged arrives, in order;
- the local broker SIGKILLed with messages queued for an unreachable
  remote, restarted: none lost, in order;
- TLS to the remote (bridge_cafile), and a host name mismatch refused;
- failover to the second address, the notifications (local and remote),
  the state in /api/v1/bridges, /metrics and $SYS.

MQTT statements checked: [MQTT-3.8.3-3] (No Local on the bridge's
subscriptions), [MQTT-3.3.1-12] (Retain As Published keeps a retained
message retained across the bridge), [MQTT-4.6.0-6] (order kept for the
queued messages), [MQTT-3.1.2-4]/[MQTT-3.1.2-5] (a persistent session keeps
QoS 1/2 messages while the remote is away)."""
import concurrent.futures
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

import fmtest

TIMEOUT = fmtest.TIMEOUT * 2  # sanitizer builds are slow


class Client:
    """A paho client (3.1.1 unless v5) recording (topic, payload, qos,
    retain) for every message."""

    def __init__(self, port, client_id, subscribe=(), qos=1, clean=True, v5=False):
        self.cond = threading.Condition()
        self.got = []
        self.connected = threading.Event()
        self.subacks = 0
        proto = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        kw = {} if v5 else {"clean_session": clean}
        self.c = mqtt.Client(client_id=client_id, protocol=proto, **kw)
        self.c.on_message = self._on_message
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = self._on_subscribe
        self.filters = list(subscribe)
        self.qos = qos
        self.c.reconnect_delay_set(0.1, 0.5)
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        if not self.connected.wait(TIMEOUT):
            fmtest.fail("%s: no CONNACK" % client_id)
        self.wait(lambda: self.subacks >= len(self.filters), "%s: no SUBACK" % client_id)

    def _on_connect(self, c, u, flags, rc, props=None):
        for f in self.filters:
            c.subscribe(f, qos=self.qos)
        self.connected.set()

    def _on_subscribe(self, *a):
        with self.cond:
            self.subacks += 1
            self.cond.notify_all()

    def _on_message(self, c, u, msg):
        with self.cond:
            self.got.append((msg.topic, msg.payload.decode(), msg.qos, bool(msg.retain)))
            self.cond.notify_all()

    def wait(self, pred, what, timeout=TIMEOUT):
        with self.cond:
            if not self.cond.wait_for(pred, timeout):
                fmtest.fail("%s (got %d: %s)" % (what, len(self.got), self.got[-5:]))

    def wait_topic(self, topic, payload, what):
        self.wait(lambda: any(t == topic and p == payload for t, p, _, _ in self.got), what)

    def publish(self, topic, payload, qos=1, retain=False):
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        if qos:
            info.wait_for_publish(TIMEOUT)
            if not info.is_published():
                fmtest.fail("PUBLISH %s not acknowledged" % topic)

    def payloads(self, topic_prefix):
        with self.cond:
            return [p for t, p, _, _ in self.got if t.startswith(topic_prefix)]

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def mosquitto_conf(port, persist_dir=None):
    text = "listener %d 127.0.0.1\nallow_anonymous true\n" % port
    if persist_dir:
        text += "persistence true\npersistence_location %s/\nautosave_interval 1\n" % persist_dir
    if os.geteuid() == 0:
        text += "user root\n"  # else it drops to 'mosquitto', which cannot write our directory
    return text


def start_mosquitto(tmp, port, persist=False):
    conf = os.path.join(tmp, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(mosquitto_conf(port, tmp if persist else None))
    log = open(os.path.join(tmp, "mosquitto.log"), "a")
    proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=log, stderr=log, cwd=tmp)
    log.close()
    fmtest.wait_listening(port, proc, "mosquitto")
    return proc


def start_fleetmq_on(tmp, port, extra=""):
    """fleetmq in tmp on a given port (a restart keeps its port and store)."""
    conf = os.path.join(tmp, "fleetmq.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\n%s\n" % (port, extra))
    log = open(os.path.join(tmp, "broker.log"), "a")
    proc = subprocess.Popen([fmtest.broker_binary(), "-c", conf], stdout=log, stderr=log, cwd=tmp)
    log.close()
    fmtest.wait_listening(port, proc, "fleetmq in " + tmp, tmp)
    return proc


def kill(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def bridges_api(http_port):
    status, _, body = fmtest.http_request(http_port, "/api/v1/bridges")
    if status != 200:
        fmtest.fail("/api/v1/bridges: HTTP %d" % status)
    return {b["name"]: b for b in json.loads(body)["bridges"]}


def wait_bridge(http_port, name, pred, what):
    deadline = time.monotonic() + TIMEOUT
    last = None
    while time.monotonic() < deadline:
        try:
            last = bridges_api(http_port).get(name)
        except OSError:  # the HTTP listener starts a moment after MQTT's
            last = None
        if last and pred(last):
            return last
        time.sleep(0.05)
    fmtest.fail("%s (bridge %s: %s)" % (what, name, last))


def bridge_block(name, remote_port, extra="", version="mqttv311", topics=()):
    lines = ["connection %s" % name, "address 127.0.0.1:%d" % remote_port,
             "remote_clientid %s-remote" % name, "bridge_protocol_version %s" % version,
             "restart_timeout 1", "keepalive_interval 5"]
    lines += ["topic %s" % t for t in topics]
    return "\n".join(lines) + "\n" + extra


DIRECTION_TOPICS = ("sensors/# out 1 local/ remote/", "cmd/# in 1 local/ remote/", "chat/# both 1")


def check_directions(local_port, remote_port, name, tag):
    """Publish each way and check what arrives where, exactly once."""
    here = Client(local_port, "here-" + tag, ["local/#", "chat/#"])
    there = Client(remote_port, "there-" + tag, ["remote/#", "chat/#"])
    here.publish("local/sensors/t1", "out-1")
    there.wait_topic("remote/sensors/t1", "out-1", "%s: out with prefixes did not arrive" % tag)
    there.publish("remote/cmd/reboot", "in-1")
    here.wait_topic("local/cmd/reboot", "in-1", "%s: in with prefixes did not arrive" % tag)
    here.publish("chat/room", "from-here")
    there.wait_topic("chat/room", "from-here", "%s: both, local to remote" % tag)
    there.publish("chat/room", "from-there")
    here.wait_topic("chat/room", "from-there", "%s: both, remote to local" % tag)
    time.sleep(1.0)  # a loop would bring copies back within this time
    for who, c in (("local", here), ("remote", there)):
        for payload in ("from-here", "from-there"):
            n = c.payloads("chat/").count(payload)
            if n != 1:
                fmtest.fail("%s: %s subscriber got %r %d times (a loop) [MQTT-3.8.3-3]" % (tag, who, payload, n))
    if here.payloads("local/sensors/") != ["out-1"] or there.payloads("remote/cmd/") != ["in-1"]:
        fmtest.fail("%s: a one-way topic crossed back" % tag)
    # a topic no line names stays where it was published
    here.publish("other/x", "stays")
    time.sleep(0.3)
    if any(t == "other/x" for t, _, _, _ in there.got):
        fmtest.fail("%s: a topic without a bridge line crossed" % tag)
    here.close()
    there.close()


def test_directions_with_mosquitto():
    with tempfile.TemporaryDirectory() as rtmp, tempfile.TemporaryDirectory() as ltmp:
        rport = fmtest.free_port()
        remote = start_mosquitto(rtmp, rport)
        http = fmtest.free_port()
        local, lport = fmtest.start_broker(ltmp, "http_listener %d\n" % http +
                                           bridge_block("tomosq", rport, topics=DIRECTION_TOPICS))
        try:
            wait_bridge(http, "tomosq", lambda b: b["connected"], "bridge to mosquitto did not connect")
            check_directions(lport, rport, "tomosq", "mosq")
            b = bridges_api(http)["tomosq"]
            if b["sent"] < 2 or b["received"] < 2 or b["connects"] != 1:
                fmtest.fail("bridge counters do not match the traffic: %s" % b)
        finally:
            kill(local)
            kill(remote)


def test_directions_with_fleetmq(version):
    with tempfile.TemporaryDirectory() as rtmp, tempfile.TemporaryDirectory() as ltmp:
        remote, rport = fmtest.start_broker(rtmp)
        http = fmtest.free_port()
        local, lport = fmtest.start_broker(ltmp, "http_listener %d\n" % http +
                                           bridge_block("tofm", rport, version=version, topics=DIRECTION_TOPICS))
        try:
            wait_bridge(http, "tofm", lambda b: b["connected"], "bridge to fleetmq did not connect")
            check_directions(lport, rport, "tofm", "fleetmq-" + version)
        finally:
            fmtest.stop(local, "local fleetmq")
            fmtest.stop(remote, "remote fleetmq")


def start_remote(kind, tmp, port=None):
    """A remote broker of kind 'fleetmq' or 'mosquitto' (persistent, so a
    SIGTERM restart keeps its sessions): (proc, port)."""
    port = port or fmtest.free_port()
    if kind == "mosquitto":
        return start_mosquitto(tmp, port, persist=True), port
    return start_fleetmq_on(tmp, port), port


def stop_remote(kind, proc):
    if kind == "mosquitto":
        proc.send_signal(signal.SIGTERM)  # mosquitto keeps its state on SIGTERM only
        proc.wait(TIMEOUT)
    else:
        kill(proc)  # fleetmq's store survives SIGKILL


def test_qos2_and_retained_end_to_end(kind, version):
    with tempfile.TemporaryDirectory() as rtmp, tempfile.TemporaryDirectory() as ltmp:
        remote, rport = start_remote(kind, rtmp)
        http = fmtest.free_port()
        local, lport = fmtest.start_broker(ltmp, "http_listener %d\n" % http +
                                           bridge_block("q2", rport, version=version,
                                                        topics=("q/# out 2", "r/# in 2")))
        try:
            wait_bridge(http, "q2", lambda b: b["connected"], "%s bridge to %s did not connect" % (version, kind))
            there = Client(rport, "q2-there", ["q/#"], qos=2, v5=True)
            here = Client(lport, "q2-here", ["r/#"], qos=2, v5=True)
            for i in range(20):
                here.publish("q/%d" % i, "q2-%d" % i, qos=2)
                there.publish("r/%d" % i, "r2-%d" % i, qos=2)
            there.wait(lambda: len(there.got) >= 20, "QoS 2 out did not all arrive")
            here.wait(lambda: len(here.got) >= 20, "QoS 2 in did not all arrive")
            time.sleep(0.5)
            if [p for _, p, _, _ in there.got] != ["q2-%d" % i for i in range(20)] or \
               any(q != 2 for _, _, q, _ in there.got):
                fmtest.fail("QoS 2 out: not exactly once, in order, at QoS 2: %s" % there.got)
            if [p for _, p, _, _ in here.got] != ["r2-%d" % i for i in range(20)]:
                fmtest.fail("QoS 2 in: not exactly once, in order: %s" % here.got)
            # a retained message stays retained on the remote [MQTT-3.3.1-12]
            here.publish("q/kept", "retained-1", qos=1, retain=True)
            there.wait_topic("q/kept", "retained-1", "retained message did not cross")
            late = Client(rport, "q2-late", ["q/kept"], v5=True)
            late.wait(lambda: any(r for _, _, _, r in late.got), "not retained on the remote")
            for c in (there, here, late):
                c.close()
            fmtest.stop(local, "local fleetmq")
        finally:
            kill(local)
            kill(remote)


def in_order(payloads, n, what):
    """Every seq 0..n-1 present; duplicates (QoS 1 resends) allowed only
    as repeats, the first copies in order [MQTT-4.6.0-6]."""
    seen, order = set(), []
    for p in payloads:
        i = int(p.split("-")[1])
        if i not in seen:
            seen.add(i)
            order.append(i)
    if order != list(range(n)):
        missing = sorted(set(range(n)) - seen)
        fmtest.fail("%s: %d of %d arrived, missing %s, first out of order at %s" %
                    (what, len(seen), n, missing[:10],
                     next((k for k, (a, b) in enumerate(zip(order, range(n))) if a != b), None)))


def test_remote_killed_while_publishing(kind):
    """The remote is stopped (fleetmq: SIGKILL; mosquitto: SIGTERM, the
    only way it keeps its state) and restarted in the middle of a stream
    of QoS 1 messages: its subscriber (a persistent session there) gets
    every one the local broker acknowledged, in order."""
    n = 300
    with tempfile.TemporaryDirectory() as rtmp, tempfile.TemporaryDirectory() as ltmp:
        remote, rport = start_remote(kind, rtmp)
        local, lport = fmtest.start_broker(ltmp, bridge_block("flap", rport, topics=("seq/# out 1",)))
        try:
            there = Client(rport, "flap-sub", ["seq/#"], clean=False)
            here = Client(lport, "flap-pub")
            for i in range(n):
                here.publish("seq/a", "m-%d" % i)  # returns once the local broker acknowledged it
                if i == n // 3:
                    stop_remote(kind, remote)
                if i == n // 3 + 50:
                    remote, _ = start_remote(kind, rtmp, rport)
                time.sleep(0.005)
            there.wait(lambda: len(set(there.payloads("seq/"))) >= n,
                       "not every message arrived after the %s remote's restart" % kind)
            in_order(there.payloads("seq/"), n, kind + " remote restart")
            here.close()
            there.close()
        finally:
            kill(local)
            kill(remote)


def test_local_killed_with_queue():
    """Messages acknowledged by the local broker while the remote is down,
    then the local broker SIGKILLed and restarted: the remote gets all of
    them, in order, once it is back."""
    n = 200
    with tempfile.TemporaryDirectory() as rtmp, tempfile.TemporaryDirectory() as ltmp:
        rport, lport, http = fmtest.free_port(), fmtest.free_port(), fmtest.free_port()
        remote = start_fleetmq_on(rtmp, rport)
        sub = Client(rport, "queue-sub", ["dur/#"], clean=False)
        sub.close()
        fmtest.stop(remote, "remote fleetmq")
        conf = "http_listener %d\n" % http + bridge_block("dur", rport, topics=("dur/# out 1",))
        local = start_fleetmq_on(ltmp, lport, conf)
        try:
            pub = Client(lport, "queue-pub")
            for i in range(n):
                pub.publish("dur/x", "m-%d" % i)
            pub.close()
            wait_bridge(http, "dur", lambda b: b["queued"] >= n, "the bridge does not show the queue")
            b = bridges_api(http)["dur"]
            if b["connected"] or not b["last_error"]:
                fmtest.fail("an unreachable remote should show as not connected with an error: %s" % b)
            kill(local)  # SIGKILL: the queue must come back from the store
            local = start_fleetmq_on(ltmp, lport, conf)
            remote = start_fleetmq_on(rtmp, rport)
            sub = Client(rport, "queue-sub", ["dur/#"], clean=False)
            sub.wait(lambda: len(set(sub.payloads("dur/"))) >= n, "messages queued before the SIGKILL were lost")
            in_order(sub.payloads("dur/"), n, "local SIGKILL")
            wait_bridge(http, "dur", lambda b: b["queued"] == 0 and b["connected"], "queue not drained")
            sub.close()
        finally:
            kill(local)
            kill(remote)


def test_tls_bridge():
    """TLS to the remote: the CA checked, the certificate's name checked
    unless bridge_insecure, a client certificate where the remote requires
    one (and refused without it)."""
    with tempfile.TemporaryDirectory() as rtmp, tempfile.TemporaryDirectory() as ltmp:
        certs = fmtest.make_certs(rtmp)
        tport, other_ip_port, mtls_port = fmtest.free_port(), fmtest.free_port(), fmtest.free_port()
        tls = "certfile %s/server.crt\nkeyfile %s/server.key\n" % (certs, certs)
        remote, rport = fmtest.start_broker(rtmp, "listener %d 127.0.0.1\n%s" % (tport, tls) +
                                            "listener %d 127.0.0.2\n%s" % (other_ip_port, tls) +
                                            "listener %d 127.0.0.1\n%scafile %s/ca.crt\nrequire_certificate true\n"
                                            % (mtls_port, tls, certs))
        ca = "bridge_cafile %s/ca.crt\n" % certs
        client_cert = "bridge_certfile %s/client.crt\nbridge_keyfile %s/client.key\n" % (certs, certs)

        def at(block, port, ip):
            return block.replace("127.0.0.1:%d" % port, "%s:%d" % (ip, port))
        http = fmtest.free_port()
        conf = ("http_listener %d\n" % http +
                bridge_block("secure", tport, ca, topics=("tls/# out 1",)) +
                at(bridge_block("wrongname", other_ip_port, ca, topics=("x/# out 1",)), other_ip_port, "127.0.0.2") +
                at(bridge_block("insecure", other_ip_port, ca + "bridge_insecure true\n", topics=("y/# out 1",)),
                   other_ip_port, "127.0.0.2") +
                bridge_block("mtls", mtls_port, ca + client_cert, topics=("z/# out 1",)) +
                bridge_block("nocert", mtls_port, ca, topics=("w/# out 1",)))
        local, lport = fmtest.start_broker(ltmp, conf)
        try:
            wait_bridge(http, "secure", lambda b: b["connected"], "TLS bridge did not connect")
            there = Client(rport, "tls-sub", ["tls/#", "z/#"])
            here = Client(lport, "tls-pub")
            here.publish("tls/a", "over-tls")
            there.wait_topic("tls/a", "over-tls", "message over the TLS bridge did not arrive")
            # the certificate names 127.0.0.1 and localhost, not 127.0.0.2
            wait_bridge(http, "wrongname", lambda b: b["last_error"] and not b["connected"] and b["connects"] == 0,
                        "a host name mismatch must not connect")
            wait_bridge(http, "insecure", lambda b: b["connected"], "bridge_insecure did not skip the name check")
            wait_bridge(http, "mtls", lambda b: b["connected"], "the bridge's client certificate was not taken")
            here.publish("z/a", "with-cert")
            there.wait_topic("z/a", "with-cert", "message over the client-certificate bridge did not arrive")
            wait_bridge(http, "nocert", lambda b: b["last_error"] and b["connects"] == 0,
                        "a remote requiring a certificate accepted a bridge without one")
            here.close()
            there.close()
        finally:
            kill(local)
            kill(remote)


def test_failover_notifications_metrics_sys():
    with tempfile.TemporaryDirectory() as rtmp, tempfile.TemporaryDirectory() as ltmp:
        remote, rport = fmtest.start_broker(rtmp)
        dead = fmtest.free_port()  # nothing listens there
        http = fmtest.free_port()
        block = bridge_block("fo", rport, "notifications true\nsys_interval 1\n", topics=("fo/# out 0",))
        block = block.replace("address 127.0.0.1:%d" % rport, "address 127.0.0.1:%d 127.0.0.1:%d" % (dead, rport))
        watcher_remote = Client(rport, "fo-remote-watch", ["$SYS/broker/connection/+/state"])
        local, lport = fmtest.start_broker(ltmp, "http_listener %d\n" % http + block)
        try:
            b = wait_bridge(http, "fo", lambda b: b["connected"], "failover to the second address did not happen")
            if not b["address"].endswith(":%d" % rport):
                fmtest.fail("connected to %s, not the second address" % b["address"])
            watcher_remote.wait_topic("$SYS/broker/connection/fo-remote/state", "1", "remote notification '1' missing")
            watcher = Client(lport, "fo-watch", ["$SYS/broker/connection/+/state", "$SYS/broker/bridge/#"])
            watcher.wait_topic("$SYS/broker/connection/fo-remote/state", "1", "local notification '1' missing")
            watcher.wait_topic("$SYS/broker/bridge/fo/state", "connected", "$SYS bridge state missing")
            status, _, body = fmtest.http_request(http, "/metrics")
            body = body.decode()
            if 'fleetmq_bridge_connected{bridge="fo"} 1' not in body:
                fmtest.fail("/metrics has no fleetmq_bridge_connected for the bridge")
            kill(remote)
            watcher.wait_topic("$SYS/broker/connection/fo-remote/state", "0", "local notification '0' missing")
            wait_bridge(http, "fo", lambda b: not b["connected"] and b["last_error"], "a lost remote not shown")
            watcher.wait(lambda: any(t == "$SYS/broker/bridge/fo/last_error" and "connection lost" in p
                                     for t, p, _, _ in watcher.got), "$SYS last_error missing")
            watcher.close()
            watcher_remote.close()
        finally:
            kill(local)
            kill(remote)


def test_back_to_the_first_address():
    """round_robin false (the default): on the second address the bridge
    probes the first every restart_timeout BASE and goes back to it once
    it takes connections, as mosquitto does; messages then flow there."""
    with tempfile.TemporaryDirectory() as ptmp, tempfile.TemporaryDirectory() as stmp, \
            tempfile.TemporaryDirectory() as ltmp:
        second, sport = fmtest.start_broker(stmp)
        pport = fmtest.free_port()  # the first address: nothing there yet
        http = fmtest.free_port()
        block = bridge_block("back", sport, topics=("bk/# out 1",)).replace(
            "address 127.0.0.1:%d" % sport, "address 127.0.0.1:%d 127.0.0.1:%d" % (pport, sport))
        local, lport = fmtest.start_broker(ltmp, "http_listener %d\n" % http + block)
        primary = None
        try:
            wait_bridge(http, "back", lambda b: b["connected"] and b["address"].endswith(":%d" % sport),
                        "the bridge did not fail over to the second address")
            primary = start_fleetmq_on(ptmp, pport)
            wait_bridge(http, "back", lambda b: b["connected"] and b["address"].endswith(":%d" % pport),
                        "the bridge did not go back to the first address once it was up")
            there = Client(pport, "back-sub", ["bk/#"])
            time.sleep(0.3)  # the subscription is in place before the message
            here = Client(lport, "back-pub")
            here.publish("bk/x", "via-first")
            there.wait_topic("bk/x", "via-first", "a message did not go through the first address")
            here.close()
            there.close()
            fmtest.stop(local, "local fleetmq")
        finally:
            kill(local)
            kill(second)
            if primary:
                kill(primary)


def test_lazy_and_once():
    """start_type lazy connects once `threshold` messages wait and leaves
    after idle_timeout; start_type once never reconnects."""
    with tempfile.TemporaryDirectory() as rtmp, tempfile.TemporaryDirectory() as ltmp:
        remote, rport = fmtest.start_broker(rtmp)
        http = fmtest.free_port()
        conf = ("http_listener %d\n" % http +
                bridge_block("lazy", rport, "start_type lazy\nthreshold 5\nidle_timeout 2\n", topics=("lz/# out 1",)) +
                bridge_block("once", rport, "start_type once\n", topics=("on/# out 1",)))
        local, lport = fmtest.start_broker(ltmp, conf)
        try:
            there = Client(rport, "lazy-sub", ["lz/#", "$SYS/broker/connection/lazy-remote/state"])
            here = Client(lport, "lazy-pub")
            for i in range(4):
                here.publish("lz/a", "m-%d" % i)
            b = wait_bridge(http, "lazy", lambda b: b["queued"] == 4, "4 messages not queued for the lazy bridge")
            time.sleep(1.5)
            b = bridges_api(http)["lazy"]
            if b["state"] != "idle" or b["connects"] != 0 or there.payloads("lz/"):
                fmtest.fail("a lazy bridge connected below its threshold: %s" % b)
            here.publish("lz/a", "m-4")
            there.wait(lambda: len(there.payloads("lz/")) >= 5, "the lazy bridge did not deliver at its threshold")
            in_order(there.payloads("lz/"), 5, "lazy bridge")
            wait_bridge(http, "lazy", lambda b: b["state"] == "idle" and b["connects"] == 1,
                        "the lazy bridge did not leave after idle_timeout")
            # leaving on purpose still says "0" on the remote (3.1.1: published before DISCONNECT)
            there.wait(lambda: [p for t, p, _, _ in there.got if t.endswith("/lazy-remote/state")][-1:] == ["0"],
                       "the remote's notification still says 1 after the lazy bridge left")
            wait_bridge(http, "once", lambda b: b["connected"], "start_type once did not connect")
            kill(remote)
            wait_bridge(http, "once", lambda b: b["state"] == "stopped", "start_type once did not stop")
            remote = start_fleetmq_on(rtmp, rport)
            time.sleep(2.5)  # restart_timeout 1: a reconnect would have happened
            b = bridges_api(http)["once"]
            if b["state"] != "stopped" or b["connects"] != 1:
                fmtest.fail("start_type once reconnected: %s" % b)
            here.close()
            there.close()
        finally:
            kill(local)
            kill(remote)


def raw_connect(client_id):
    """3.1.1 CONNECT, clean session, keepalive 30."""
    return fmtest.raw_packet(0x10, fmtest.mqtt_str("MQTT") + bytes([4, 0x02, 0, 30]) + fmtest.mqtt_str(client_id))


def raw_publish_qos1(topic, payload, packet_id):
    return fmtest.raw_packet(0x32, fmtest.mqtt_str(topic) + struct.pack(">H", packet_id) + payload)


def test_lazy_subscribed_before_any_client():
    """A lazy bridge's local subscriptions are in place before the broker
    serves its first client, whichever worker the bridge and the client
    are on: a message published at once is queued for the bridge, not
    lost (it was, when a worker ran its loop before another worker had
    set up its bridges). Eight workers, a bridge homed on each."""
    n = 8
    with tempfile.TemporaryDirectory() as rtmp, tempfile.TemporaryDirectory() as ltmp:
        remote, rport = fmtest.start_broker(rtmp)
        http = fmtest.free_port()
        conf = "workers %d\nhttp_listener %d\n" % (n, http) + "".join(
            bridge_block("early%d" % i, rport, "start_type lazy\nthreshold 100\n", topics=("e%d/# out 1" % i,))
            for i in range(n))
        local, lport = fmtest.start_broker(ltmp, conf)
        try:
            # raw and at once, the moment the port accepts: CONNECT and the
            # PUBLISHes may reach a worker before another has run its start
            # hooks (they did, often, before the start gate); a pass does not
            # prove the race was hit, a failure shows it is back
            here = socket.create_connection(("127.0.0.1", lport), timeout=TIMEOUT)
            here.sendall(raw_connect("early-pub") +
                         b"".join(raw_publish_qos1("e%d/x" % i, b"first", i + 1) for i in range(n)))
            for i in range(n):
                wait_bridge(http, "early%d" % i, lambda b: b["queued"] == 1,
                            "a message published at start was not queued for lazy bridge early%d" % i)
            here.close()
            fmtest.stop(local, "local fleetmq")
        finally:
            kill(local)
            kill(remote)


def test_local_max_packet_size_told_to_the_remote():
    """Over 5.0 the bridge's CONNECT carries the local max_packet_size, so
    the remote (fleetmq) does not send it a larger message
    [MQTT-3.1.2-24] and the link stays up; the smaller ones arrive."""
    with tempfile.TemporaryDirectory() as rtmp, tempfile.TemporaryDirectory() as ltmp:
        remote, rport = fmtest.start_broker(rtmp)
        http = fmtest.free_port()
        local, lport = fmtest.start_broker(ltmp, "http_listener %d\nmax_packet_size 1000\n" % http +
                                           bridge_block("mps", rport, version="mqttv50", topics=("big/# in 1",)))
        try:
            wait_bridge(http, "mps", lambda b: b["connected"], "a 5.0 bridge with max_packet_size did not connect")
            here = Client(lport, "mps-sub", ["big/#"])
            time.sleep(0.3)  # the bridge's SUBSCRIBE reaches the remote
            there = Client(rport, "mps-pub")
            there.publish("big/a", "x" * 2000)
            there.publish("big/b", "small")
            here.wait_topic("big/b", "small", "a message under max_packet_size did not come over the bridge")
            if here.payloads("big/a"):
                fmtest.fail("the remote sent a packet over the bridge's Maximum Packet Size")
            b = bridges_api(http)["mps"]
            if b["connects"] != 1 or not b["connected"]:
                fmtest.fail("the link dropped over a message the remote should have kept: %s" % b)
            here.close()
            there.close()
            fmtest.stop(local, "local fleetmq")
        finally:
            kill(local)
            kill(remote)


def test_retained_sent_on_every_connect():
    """As mosquitto does, each time the bridge connects it sends the local
    retained messages its out lines match, retained [MQTT-3.3.1-5]: a
    remote restarted without a store has them again, and a new subscriber
    there gets them [MQTT-3.3.1-6]."""
    with tempfile.TemporaryDirectory() as rtmp, tempfile.TemporaryDirectory() as ltmp:
        rport = fmtest.free_port()
        remote = start_fleetmq_on(rtmp, rport, "persistence false")
        http = fmtest.free_port()
        local, lport = fmtest.start_broker(ltmp, "http_listener %d\n" % http +
                                           bridge_block("ret", rport, topics=("st/# out 1",)))
        try:
            wait_bridge(http, "ret", lambda b: b["connected"], "the bridge did not connect")
            here = Client(lport, "ret-pub")
            here.publish("st/a", "on", retain=True)
            first = Client(rport, "ret-sub1", ["st/#"])
            first.wait_topic("st/a", "on", "the retained message did not reach the remote")
            first.close()
            kill(remote)  # no store: the remote forgets st/a
            remote = start_fleetmq_on(rtmp, rport, "persistence false")
            wait_bridge(http, "ret", lambda b: b["connected"] and b["connects"] >= 2,
                        "the bridge did not connect to the restarted remote")
            # the bridge sends it just after its CONNACK: a subscriber there
            # first gets it live (RETAIN 0 [MQTT-3.3.1-9]), one after it
            # from the remote's retained store; so wait for it either way,
            # then ask a new subscriber, which must get it retained
            again = Client(rport, "ret-sub2", ["st/#"])
            again.wait(lambda: any(t == "st/a" and p == "on" for t, p, _, _ in again.got),
                       "the retained message did not reach the restarted remote")
            again.close()
            third = Client(rport, "ret-sub3", ["st/#"])
            third.wait(lambda: any(t == "st/a" and p == "on" and r for t, p, _, r in third.got),
                       "the restarted remote did not get the retained message back")
            third.close()
            here.close()
            fmtest.stop(local, "local fleetmq")
        finally:
            kill(local)
            kill(remote)


def test_reserved_id_and_remote_max_qos():
    """A client cannot take a bridge's local client id (it holds what waits
    for the remote); a remote whose CONNACK says Maximum QoS 1 gets QoS 2
    messages at QoS 1 instead of being sent what it refuses."""
    with tempfile.TemporaryDirectory() as rtmp, tempfile.TemporaryDirectory() as ltmp:
        rport = fmtest.free_port()
        conf = os.path.join(rtmp, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(mosquitto_conf(rport) + "max_qos 1\n")
        log = open(os.path.join(rtmp, "mosquitto.log"), "a")
        remote = subprocess.Popen(["mosquitto", "-c", conf], stdout=log, stderr=log, cwd=rtmp)
        log.close()
        fmtest.wait_listening(rport, remote, "mosquitto max_qos 1")
        http = fmtest.free_port()
        local, lport = fmtest.start_broker(ltmp, "http_listener %d\n" % http +
                                           bridge_block("mq", rport, version="mqttv50", topics=("mq/# out 2",)))
        try:
            wait_bridge(http, "mq", lambda b: b["connected"], "bridge to mosquitto max_qos 1 did not connect")
            for v5, want_code in ((True, 0x85), (False, 2)):  # Client Identifier not valid / identifier rejected
                codes = []
                c = mqtt.Client(client_id="local.mq-remote", protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
                got = threading.Event()

                def on_connect(cl, u, flags, rc, props=None):
                    codes.append(rc.value if hasattr(rc, "value") else rc)
                    got.set()
                c.on_connect = on_connect
                c.connect("127.0.0.1", lport, keepalive=10)
                c.loop_start()
                got.wait(TIMEOUT)
                c.loop_stop()
                if codes[:1] != [want_code]:
                    fmtest.fail("the bridge's local client id was not refused (%s): %s" % ("5.0" if v5 else "3.1.1", codes))
            there = Client(rport, "mq-sub", ["mq/#"], qos=2)
            here = Client(lport, "mq-pub")
            for i in range(10):
                here.publish("mq/x", "m-%d" % i, qos=2)
            there.wait(lambda: len(there.got) >= 10, "QoS 2 messages to a Maximum QoS 1 remote did not arrive")
            if any(q != 1 for _, _, q, _ in there.got):
                fmtest.fail("not capped to the remote's Maximum QoS 1: %s" % there.got)
            in_order(there.payloads("mq/"), 10, "Maximum QoS 1")
            b = bridges_api(http)["mq"]
            if b["connects"] != 1:
                fmtest.fail("the link to the Maximum QoS 1 remote was dropped: %s" % b)
            here.close()
            there.close()
        finally:
            kill(local)
            kill(remote)


def test_host_names():
    """A host name is resolved off the worker (its resolver thread): a
    name that resolves connects, one that does not gives a clear error and
    is retried, and the broker serves its clients meanwhile."""
    with tempfile.TemporaryDirectory() as rtmp, tempfile.TemporaryDirectory() as ltmp:
        remote, rport = fmtest.start_broker(rtmp)
        http = fmtest.free_port()
        byname = bridge_block("byname", rport, topics=("n/# out 1",)).replace(
            "address 127.0.0.1:%d" % rport, "address localhost:%d" % rport)
        noname = bridge_block("noname", rport, topics=("m/# out 1",)).replace(
            "address 127.0.0.1:%d" % rport, "address no-such-host.invalid:%d" % rport)
        local, lport = fmtest.start_broker(ltmp, "http_listener %d\n" % http + byname + noname)
        try:
            b = wait_bridge(http, "byname", lambda b: b["connected"], "a bridge to localhost did not connect")
            if b["address"] != "localhost:%d" % rport:
                fmtest.fail("address shown as %r" % b["address"])
            there = Client(rport, "name-sub", ["n/#"])
            here = Client(lport, "name-pub")
            here.publish("n/a", "by-name")
            there.wait_topic("n/a", "by-name", "message over a bridge to a host name did not arrive")
            wait_bridge(http, "noname", lambda b: b["last_error"] and "resolv" in b["last_error"],
                        "an unresolvable host name gives no clear error")
            here.close()
            there.close()
            fmtest.stop(local, "local fleetmq")  # the resolver threads end with it
        finally:
            kill(local)
            kill(remote)


class FakeRemote:
    """A listening socket that answers each bridge CONNECT with the bytes
    a scenario gives (None: say nothing), counting the connections."""

    def __init__(self, answer):
        self.answer = answer
        self.port = fmtest.free_port()
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", self.port))
        self.srv.listen(8)
        self.srv.settimeout(0.2)
        self.accepted = 0
        self.done = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        conns = []
        while not self.done:
            try:
                c, _ = self.srv.accept()
            except OSError:
                continue
            self.accepted += 1
            conns.append(c)
            try:
                c.settimeout(2)
                c.recv(4096)  # the CONNECT
                if self.answer is not None:
                    c.sendall(self.answer)
            except OSError:
                pass
        for c in conns:
            c.close()

    def close(self):
        self.done = True
        self.thread.join()
        self.srv.close()


HOSTILE_REMOTES = (
    ("refused", bytes([0x20, 2, 0, 5]), "remote refused the connection: code 0x05"),
    ("garbage", bytes([0xFF] * 16), "handshake failed"),
    ("publish-first", bytes([0x30, 5, 0, 1, 0x61, 0x68, 0x69]), "other than CONNACK first"),
    ("bad-length", bytes([0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]), "handshake failed"),
    ("subscribe-after-connack", bytes([0x20, 2, 0, 0, 0x82, 6, 0, 1, 0, 1, 0x61, 0]), "a broker may not send"),
    ("silent", None, "no CONNACK within connect_timeout"),
)

CONNACK_OK = bytes([0x20, 2, 0, 0])

# Remotes that accept the bridge, then break the protocol: each must end
# that connection with a clear error, never reach a local subscriber, and
# the bridge tries again.
HOSTILE_AFTER_CONNACK = (
    # QoS 3 [MQTT-3.3.1-4]
    ("qos3", CONNACK_OK + bytes([0x36, 7, 0, 3]) + b"h/q" + bytes([0, 1]), "malformed fixed header"),
    # a wildcard in a PUBLISH topic [MQTT-3.3.2-2]
    ("wildcard", CONNACK_OK + bytes([0x30, 5, 0, 3]) + b"h/+", "malformed PUBLISH"),
    # a topic that is not UTF-8 (an overlong encoding of '/') [MQTT-1.5.3-1]
    ("bad-utf8", CONNACK_OK + bytes([0x30, 6, 0, 4]) + b"h" + bytes([0xC0, 0xAF]) + b"x", "malformed PUBLISH"),
    # a QoS 1 PUBLISH with packet id 0 [MQTT-2.3.1-1]
    ("packet-id-0", CONNACK_OK + bytes([0x32, 7, 0, 3]) + b"h/z" + bytes([0, 0]), "malformed PUBLISH"),
    # reserved flags in a PUBACK [MQTT-2.2.2-2]
    ("puback-flags", CONNACK_OK + bytes([0x41, 2, 0, 1]), "malformed fixed header"),
    # a second CONNACK [MQTT-3.2.0-1]: the server sends one
    ("connack-twice", CONNACK_OK + CONNACK_OK, "a broker may not send"),
    # garbage after a good CONNACK
    ("garbage-after", CONNACK_OK + bytes([0xFF] * 8), "malformed fixed header"),
)

# A 5.0 remote that ignores the Maximum Packet Size of our CONNECT
# (max_packet_size 1000 on the local broker) [MQTT-3.1.2-24]: a PUBLISH of
# 1,500 bytes ends the link with 0x95 Packet too large.
OVERSIZED_V5_REMOTE = ("oversized-v5", bytes([0x20, 3, 0, 0, 0]) +
                       bytes([0x30, 0xDC, 0x0B, 0, 3]) + b"h/o" + bytes([0]) + b"x" * 1494,
                       "packet too large")


def test_hostile_remotes():
    """Each broken or hostile remote, at the handshake or after it: the
    bridge reports why, retries with backoff, nothing the remote sent
    reaches a local subscriber, and the local broker keeps serving a canary
    connected throughout."""
    remotes = HOSTILE_REMOTES + HOSTILE_AFTER_CONNACK + (OVERSIZED_V5_REMOTE,)
    fakes = [FakeRemote(answer) for _, answer, _ in remotes]
    blocks = "connect_timeout 1\nmax_packet_size 1000\n"
    for (name, _, _), fake in zip(remotes, fakes):
        version = "mqttv50" if name.endswith("-v5") else "mqttv311"
        blocks += bridge_block(name, fake.port, version=version, topics=("h/# both 1",))
    http = fmtest.free_port()
    with tempfile.TemporaryDirectory() as ltmp:
        local, lport = fmtest.start_broker(ltmp, "http_listener %d\n" % http + blocks)
        try:
            canary = Client(lport, "hostile-canary", ["canary/#", "h/#"])
            for (name, answer, want), fake in zip(remotes, fakes):
                b = wait_bridge(http, name, lambda b: b["last_error"] and want in b["last_error"] and
                                b["state"] in ("backoff", "connecting"),
                                "hostile remote %s: no clear error (want %r)" % (name, want))
                # only those that sent a good CONNACK first connected
                if (b["connects"] > 0) != (answer is not None and answer[:1] == CONNACK_OK[:1] and answer[3] == 0):
                    fmtest.fail("hostile remote %s: wrong connect count: %s" % (name, b))
            for (name, _, _), fake in zip(remotes, fakes):
                deadline = time.monotonic() + TIMEOUT
                while fake.accepted < 2 and time.monotonic() < deadline:
                    time.sleep(0.05)
                if fake.accepted < 2:
                    fmtest.fail("bridge %s did not try again after its remote failed" % name)
            canary.publish("canary/x", "alive")
            canary.wait_topic("canary/x", "alive", "the local broker stopped serving its clients")
            with canary.cond:
                leaked = [t for t, _, _, _ in canary.got if not t.startswith("canary/")]
            if leaked:
                fmtest.fail("a hostile remote's PUBLISH reached a local subscriber: %s" % leaked)
            canary.close()
            fmtest.stop(local, "local fleetmq")
        finally:
            kill(local)
            for f in fakes:
                f.close()


def lane_directions_and_qos():
    test_directions_with_mosquitto()
    print("ok - in/out/both with prefixes against mosquitto, no loop")
    test_directions_with_fleetmq("mqttv311")
    print("ok - in/out/both against fleetmq over 3.1.1 (try_private), no loop")
    test_directions_with_fleetmq("mqttv50")
    print("ok - in/out/both against fleetmq over 5.0 (No Local), no loop")
    for kind, version in (("fleetmq", "mqttv50"), ("mosquitto", "mqttv311"), ("mosquitto", "mqttv50")):
        test_qos2_and_retained_end_to_end(kind, version)
        print("ok - QoS 2 both ways exactly once in order, retained kept (%s over %s)" % (kind, version))


def lane_durability_and_tls():
    test_remote_killed_while_publishing("fleetmq")
    print("ok - remote fleetmq SIGKILLed mid-stream: every message, in order")
    test_remote_killed_while_publishing("mosquitto")
    print("ok - remote mosquitto restarted mid-stream: every message, in order")
    test_local_killed_with_queue()
    print("ok - local SIGKILLed with a queue: none lost, in order")
    test_tls_bridge()
    print("ok - TLS bridge: CA, name check, bridge_insecure, client certificate")


def lane_link_and_state():
    test_failover_notifications_metrics_sys()
    print("ok - failover, notifications, /metrics, $SYS")
    test_back_to_the_first_address()
    print("ok - round_robin false: back to the first address once it is up")
    test_host_names()
    print("ok - host names resolved off the worker; an unresolvable one reported")
    test_reserved_id_and_remote_max_qos()
    print("ok - the bridge's local client id is reserved; the remote's Maximum QoS is obeyed")
    test_local_max_packet_size_told_to_the_remote()
    print("ok - over 5.0 the remote is told the local max_packet_size and keeps to it")
    test_retained_sent_on_every_connect()
    print("ok - local retained messages go to the remote on every connect")
    test_lazy_and_once()
    print("ok - start_type lazy (threshold, idle_timeout) and once")
    test_lazy_subscribed_before_any_client()
    print("ok - a lazy bridge's subscriptions are in place before the first client, on every worker")
    test_hostile_remotes()
    print("ok - hostile and broken remotes: a clear error each, retried, the broker serving")


def main():
    # three lanes at once: the scenarios are independent (their own
    # brokers, ports and directories) and mostly wait on timers, so the
    # suite takes a third of the time; a failure in any lane (SystemExit
    # from fmtest.fail included) is raised here by result()
    lanes = (lane_directions_and_qos, lane_durability_and_tls, lane_link_and_state)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(lanes)) as pool:
        for future in [pool.submit(lane) for lane in lanes]:
            future.result()
    print("bridge: ok")


if __name__ == "__main__":
    main()
