#!/usr/bin/env python3
"""Eclipse paho 1.6 (Python) speaking MQTT 5.0 against the real fleetmq
binary: CONNACK properties, session expiry and clean start, PUBLISH
properties, message expiry, topic aliases, reason codes, subscription
options and identifiers, wills and Will Delay Interval, server DISCONNECT
reason codes, the client's Receive Maximum and Maximum Packet Size, and
3.1.1 and 5.0 clients mixed on the same topics.

One function per behaviour, named after the normative statement of the
MQTT 5.0 standard it checks (check_MQTT_x_y_z_n_...) or, where the standard
has no numbered statement, after its section (check_sec_x_y_z_...). Most
checks share one broker; those needing their own configuration, a SIGTERM or
a restart start a broker of their own (fmtest.broker: own temp dir, stopped
by PID, exit status checked).

The checks mostly wait on the broker's timers, so the runner runs JOBS of
them at once (threads; --jobs N, 1 for one after the other), those marked
@slow first; after a failure it starts no further check. Every check
therefore uses client ids and topics of its own (p5-<name>..., p5/<name>/...,
never a filter reaching into another check's topics): a new check must too.

paho 1.6 does not hand everything to its callbacks; ProbeClient hooks its
internals (see there) for: the reason codes of PUBACK / PUBREC / PUBCOMP;
holding back acknowledgements paho sends by itself (PUBACK, PUBCOMP,
PUBREL), to see the broker respect the client's Receive Maximum and to
exceed its own; the reason code of a DISCONNECT without properties and of
a CONNACK 0x99, which paho 1.6 drops or cannot parse.

Timing: expiry intervals and delays are 1-4 s, checked with margins of at
least 1 s; "nothing arrives" is watched for QUIET seconds; a client id is
reused SETTLE seconds after its DISCONNECT (the broker may still be closing
the old connection). Fine for a ThreadSanitizer broker too.

Starts $FLEETMQ_TEST_BIN or $FLEETMQ_BIN; every wait is bounded. Run a
subset with: paho5_test.py [--jobs N] check_name [check_name...]"""
import concurrent.futures
import queue
import socket
import struct
import sys
import threading
import time
import traceback

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCodes
from paho.mqtt.subscribeoptions import SubscribeOptions

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import fmtest
from fmtest import TIMEOUT

V5 = mqtt.MQTTv5
V311 = mqtt.MQTTv311
QUIET = 0.5    # how long "nothing arrives" is watched
SETTLE = 0.25  # after a client's DISCONNECT, before its client id is reused
JOBS = 8       # checks run at once (--jobs)

# the check running in this thread, for failure messages
CURRENT = threading.local()


def fail(msg):
    fmtest.fail("%s: %s" % (getattr(CURRENT, "name", "setup"), msg))


def slow(check):
    """Mark a check that waits out timers for seconds: started first, so the
    run does not end with it alone."""
    check.slow = True
    return check


def props(packet_type, **values):
    """A paho Properties for packet_type with the given properties set."""
    p = Properties(packet_type)
    for name, value in values.items():
        setattr(p, name, value)
    return p


def connect_props(**values):
    return props(PacketTypes.CONNECT, **values)


def pub_props(**values):
    return props(PacketTypes.PUBLISH, **values)


def prop(p, name, default=None):
    """Property name of p (a received Properties or None), or default."""
    if p is None:
        return default
    return getattr(p, name, default)


def prop_names(p):
    """The names of the properties present in p."""
    if p is None:
        return []
    return sorted(n.replace(" ", "") for n in p.names
                  if hasattr(p, n.replace(" ", "")))


def code(rc):
    """A reason code (paho ReasonCodes or int) as an int."""
    return rc.value if isinstance(rc, ReasonCodes) else int(rc)


class ProbeClient(mqtt.Client):
    """paho's Client with test hooks on paho 1.6 internals:

    - ack_reasons: (packet, packet id, reason code) of every PUBACK, PUBREC
      and PUBCOMP received; paho 1.6 parses the reason code but does not
      pass it to on_publish.
    - hold: the kinds of acknowledgement ("PUBACK", "PUBREC", "PUBCOMP", "PUBREL")
      paho would send by itself that are kept back in held instead (paho
      1.6 has no manual acknowledgement); release() sends the oldest one.
    - on_connect_unparsed(session_present, reason): a CONNACK whose reason
      code paho 1.6 cannot name (0x99).
    - a server DISCONNECT without properties keeps its reason code (paho
      1.6 reports it as a lost connection)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ack_reasons = queue.Queue()
        self.hold = set()
        self.held = []
        self.held_lock = threading.Lock()
        self.on_connect_unparsed = None
        self.last_ack_props = None

    def _handle_connack(self):
        # paho 1.6's reason code table lacks CONNACK 0x99 (Payload format
        # invalid): it would raise in its network thread. Such a CONNACK is
        # reported to on_connect_unparsed with its raw reason code.
        raw = self._in_packet["packet"]
        try:
            return super()._handle_connack()
        except (AssertionError, KeyError):
            if self.on_connect_unparsed is None or len(raw) < 2:
                raise
            self.on_connect_unparsed(raw[0] & 1, raw[1])
            return mqtt.MQTT_ERR_PROTOCOL

    def _handle_disconnect(self):
        # paho 1.6 drops the reason code of a DISCONNECT without properties
        # (remaining length 1 or 2): it reports a lost connection instead
        raw = self._in_packet["packet"]
        if 1 <= len(raw) <= 2:
            self._loop_rc_handle(ReasonCodes(PacketTypes.DISCONNECT, identifier=raw[0]))
            return mqtt.MQTT_ERR_SUCCESS
        return super()._handle_disconnect()

    def _note_ack(self, packet):
        raw = self._in_packet["packet"]
        mid = struct.unpack("!H", raw[:2])[0]
        p = None
        if len(raw) > 3:
            p = Properties({"PUBACK": PacketTypes.PUBACK, "PUBREC": PacketTypes.PUBREC,
                            "PUBCOMP": PacketTypes.PUBCOMP}[packet])
            p.unpack(raw[3:])
        self.last_ack_props = p
        self.ack_reasons.put((packet, mid, raw[2] if len(raw) > 2 else 0))

    def _handle_pubackcomp(self, cmd):
        self._note_ack(cmd)
        return super()._handle_pubackcomp(cmd)

    def _handle_pubrec(self):
        self._note_ack("PUBREC")
        return super()._handle_pubrec()

    def _keep(self, kind, mid):
        with self.held_lock:
            if kind in self.hold:
                self.held.append((kind, mid))
                return True
        return False

    def _send_puback(self, mid):
        if self._keep("PUBACK", mid):
            return mqtt.MQTT_ERR_SUCCESS
        return super()._send_puback(mid)

    def _send_pubrec(self, mid):
        if self._keep("PUBREC", mid):
            return mqtt.MQTT_ERR_SUCCESS
        return super()._send_pubrec(mid)

    def _send_pubcomp(self, mid):
        if self._keep("PUBCOMP", mid):
            return mqtt.MQTT_ERR_SUCCESS
        return super()._send_pubcomp(mid)

    def _send_pubrel(self, mid):
        if self._keep("PUBREL", mid):
            return mqtt.MQTT_ERR_SUCCESS
        return super()._send_pubrel(mid)

    def held_count(self):
        with self.held_lock:
            return len(self.held)

    def release(self):
        """Send the oldest acknowledgement kept back."""
        with self.held_lock:
            kind, mid = self.held.pop(0)
        send = {"PUBACK": super()._send_puback, "PUBREC": super()._send_pubrec,
                "PUBCOMP": super()._send_pubcomp, "PUBREL": super()._send_pubrel}[kind]
        return send(mid)

    def release_all(self):
        """Stop keeping acknowledgements back and send those kept."""
        with self.held_lock:
            self.hold = set()
        while self.held_count():
            self.release()


class NoPingClient(ProbeClient):
    """A client that never sends PINGREQ (paho's keepalive bookkeeping goes
    on, so paho itself never gives up on the connection)."""

    def _send_pingreq(self):
        return mqtt.MQTT_ERR_SUCCESS


class Client:
    """A paho client (5.0 unless proto=V311) connected at construction, its
    callbacks feeding queues. expect_rc: the CONNACK reason code wanted (0),
    None for no check."""

    def __init__(self, port, client_id, proto=V5, clean_start=True, session_expiry=None,
                 cprops=None, will=None, keepalive=30, expect_rc=0, cls=ProbeClient, hold=()):
        self.client_id = client_id
        self.proto = proto
        self.messages = queue.Queue()
        self.connacks = queue.Queue()
        self.subacks = queue.Queue()
        self.unsubacks = queue.Queue()
        self.disconnects = queue.Queue()
        # properties of the last SUBACK, UNSUBACK, server DISCONNECT
        self.suback_props = self.unsuback_props = self.disconnect_props = None
        if proto == V5:
            self.c = cls(client_id=client_id, protocol=V5, reconnect_on_failure=False)
        else:
            self.c = cls(client_id=client_id, protocol=proto, clean_session=clean_start,
                         reconnect_on_failure=False)
        self.c.hold = set(hold)
        if will:
            topic, payload, qos, retain = will[:4]
            self.c.will_set(topic, payload, qos, retain,
                            properties=will[4] if len(will) > 4 else None)
        c = self.c
        if proto == V5:
            c.on_connect = lambda _c, _u, flags, rc, p: self.connacks.put(
                (flags["session present"], code(rc), p))
            if isinstance(c, ProbeClient):
                c.on_connect_unparsed = lambda present, rc: self.connacks.put((present, rc, None))

            def on_subscribe(_c, _u, mid, rcs, p):
                self.suback_props = p
                self.subacks.put((mid, [code(r) for r in rcs]))

            def on_unsubscribe(_c, _u, mid, p, rcs):
                self.unsuback_props = p
                self.unsubacks.put(
                    (mid, [code(r) for r in (rcs if isinstance(rcs, list) else [rcs])]))

            def on_disconnect(_c, _u, rc, p=None):
                if isinstance(rc, ReasonCodes):
                    self.disconnect_props = p
                self.disconnects.put(
                    ("server" if isinstance(rc, ReasonCodes) else "local", code(rc)))
            c.on_subscribe = on_subscribe
            c.on_unsubscribe = on_unsubscribe
            c.on_disconnect = on_disconnect
        else:
            c.on_connect = lambda _c, _u, flags, rc: self.connacks.put(
                (flags["session present"], rc, None))
            c.on_subscribe = lambda _c, _u, mid, granted: self.subacks.put((mid, list(granted)))
            c.on_unsubscribe = lambda _c, _u, mid: self.unsubacks.put((mid, []))
            c.on_disconnect = lambda _c, _u, rc: self.disconnects.put(("local", rc))
        c.on_message = lambda _c, _u, m: self.messages.put(m)
        if proto == V5:
            if session_expiry is not None:
                cprops = cprops or connect_props()
                cprops.SessionExpiryInterval = session_expiry
            c.connect("127.0.0.1", port, keepalive=keepalive, clean_start=clean_start,
                      properties=cprops)
        else:
            c.connect("127.0.0.1", port, keepalive=keepalive)
        c.loop_start()
        try:
            self.session_present, self.rc, self.connack_props = \
                self.connacks.get(timeout=TIMEOUT)
        except queue.Empty:
            fail("no CONNACK for %s" % client_id)
        if expect_rc is not None and self.rc != expect_rc:
            fail("CONNECT of %s: CONNACK reason 0x%02x, want 0x%02x"
                 % (client_id, self.rc, expect_rc))

    def expect_session(self, present):
        if bool(self.session_present) != present:
            fail("%s: CONNACK session present %d, want %d"
                 % (self.client_id, self.session_present, present))

    def subscribe(self, topic, qos=0, options=None, properties=None, want=None):
        """SUBSCRIBE topic (a filter, or a list of (filter, SubscribeOptions or
        QoS)); check the SUBACK's reason codes (default: the QoS asked)."""
        if options is not None:
            result, mid = self.c.subscribe(topic, options=options, properties=properties)
        else:
            result, mid = self.c.subscribe(topic, qos, properties=properties)
        if result != mqtt.MQTT_ERR_SUCCESS:
            fail("%s: subscribe %r: error %d" % (self.client_id, topic, result))
        try:
            got_mid, codes = self.subacks.get(timeout=TIMEOUT)
        except queue.Empty:
            fail("%s: no SUBACK for %r" % (self.client_id, topic))
        if want is None:
            want = [options.QoS if options is not None else qos]
        if got_mid != mid or codes != list(want):
            fail("%s: SUBACK for %r: mid %d reason codes %s, want mid %d %s"
                 % (self.client_id, topic, got_mid, hexlist(codes), mid, hexlist(want)))

    def unsubscribe(self, topics, want):
        result, mid = self.c.unsubscribe(topics)
        if result != mqtt.MQTT_ERR_SUCCESS:
            fail("%s: unsubscribe %r: error %d" % (self.client_id, topics, result))
        try:
            got_mid, codes = self.unsubacks.get(timeout=TIMEOUT)
        except queue.Empty:
            fail("%s: no UNSUBACK for %r" % (self.client_id, topics))
        if got_mid != mid or codes != list(want):
            fail("%s: UNSUBACK for %r: mid %d reason codes %s, want mid %d %s"
                 % (self.client_id, topics, got_mid, hexlist(codes), mid, hexlist(want)))

    def publish(self, topic, payload, qos=0, retain=False, properties=None, want_rc=None):
        """PUBLISH; for QoS 1/2 wait (bounded) for the flow to complete and,
        with want_rc, check the reason code of the PUBACK / PUBREC."""
        info = self.c.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            fail("%s: publish on %r: error %d" % (self.client_id, topic, info.rc))
        if qos == 0:
            return None
        info.wait_for_publish(timeout=TIMEOUT)
        if not info.is_published():
            fail("%s: QoS %d PUBLISH on %r not acknowledged" % (self.client_id, qos, topic))
        ack = self.ack_for(info.mid, "PUBACK" if qos == 1 else "PUBREC")
        if want_rc is not None and ack != want_rc:
            fail("%s: QoS %d PUBLISH on %r answered %s 0x%02x, want 0x%02x"
                 % (self.client_id, qos, topic, "PUBACK" if qos == 1 else "PUBREC",
                    ack, want_rc))
        return ack

    def ack_for(self, mid, packet):
        """The reason code of the packet (PUBACK, PUBREC, PUBCOMP) received
        for packet id mid; earlier acks are dropped."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                got = self.c.ack_reasons.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                fail("%s: no %s for packet id %d" % (self.client_id, packet, mid))
            if got[0] == packet and got[1] == mid:
                return got[2]

    def get(self, what, timeout=TIMEOUT):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            fail("%s: no message (%s) within %.0f s" % (self.client_id, what, timeout))

    def expect(self, topic, payload, qos=None, retain=None, timeout=TIMEOUT):
        """The next message must be on topic with payload (and qos, retain
        when given); returns it."""
        m = self.get("%s %r" % (topic, payload), timeout)
        got = (m.topic, m.payload)
        if got != (topic, payload):
            fail("%s: got message %r, want %r" % (self.client_id, got, (topic, payload)))
        if qos is not None and m.qos != qos:
            fail("%s: message on %s has QoS %d, want %d" % (self.client_id, topic, m.qos, qos))
        if retain is not None and bool(m.retain) != retain:
            fail("%s: message on %s has RETAIN %d, want %d"
                 % (self.client_id, topic, m.retain, retain))
        return m

    def expect_nothing(self, quiet=QUIET):
        try:
            m = self.messages.get(timeout=quiet)
        except queue.Empty:
            return
        fail("%s: unexpected message %r on %s (properties %s)"
             % (self.client_id, m.payload, m.topic, getattr(m, "properties", None)))

    def expect_disconnect(self, kind, rc, timeout=TIMEOUT):
        """The connection must end: kind 'server' is a DISCONNECT from the
        broker with reason rc."""
        try:
            got = self.disconnects.get(timeout=timeout)
        except queue.Empty:
            fail("%s: connection not closed within %.0f s (want %s DISCONNECT 0x%02x)"
                 % (self.client_id, timeout, kind, rc))
        if got != (kind, rc):
            fail("%s: connection ended with %s 0x%02x, want %s DISCONNECT 0x%02x"
                 % (self.client_id, got[0], got[1], kind, rc))
        self.c.loop_stop()

    def close(self, reasoncode=None, properties=None):
        """DISCONNECT (with an optional reason code and properties), and wait
        (bounded) until paho has sent it."""
        self.c.disconnect(reasoncode=reasoncode, properties=properties)
        try:
            self.disconnects.get(timeout=TIMEOUT)
        except queue.Empty:
            fail("%s: DISCONNECT not completed" % self.client_id)
        self.c.loop_stop()

    def drop(self):
        """Close the socket without DISCONNECT (a network failure); paho's
        thread then sees the close and ends."""
        self.c.socket().shutdown(socket.SHUT_RDWR)
        self.c.loop_stop()


def hexlist(codes):
    return "[" + ", ".join("0x%02x" % c for c in codes) + "]"


def disconnect_props(**values):
    return props(PacketTypes.DISCONNECT, **values)


def will_props(**values):
    return props(PacketTypes.WILLMESSAGE, **values)


def check_props(client, m, **want):
    """The received message m must carry exactly the properties in want
    (name=value; value None: absent), and no other."""
    p = getattr(m, "properties", None)
    for name, value in want.items():
        got = prop(p, name)
        if got != value:
            fail("%s: message on %s: %s is %r, want %r"
                 % (client.client_id, m.topic, name, got, value))
    extra = [n for n in prop_names(p) if n not in want]
    if extra:
        fail("%s: message on %s has properties %s it should not (%s)"
             % (client.client_id, m.topic, extra, p))


def forwarding_pair(port, name):
    """A 5.0 subscriber on p5/<name>/# at QoS 1 and a 5.0 publisher."""
    sub = Client(port, "p5-%s-sub" % name)
    sub.subscribe("p5/%s/#" % name, 1)
    pub = Client(port, "p5-%s-pub" % name)
    return sub, pub


# ---------------------------------------------------------------------------
# CONNACK and CONNECT refusals


def check_sec_3_2_2_3_connack_properties(port):
    """CONNACK: Receive Maximum 20, Topic Alias Maximum 10, nothing else (shared subscriptions available by default)."""
    c = Client(port, "p5-connack")
    c.expect_session(False)
    p = c.connack_props
    for name, value in (("ReceiveMaximum", 20), ("TopicAliasMaximum", 10)):
        if prop(p, name) != value:
            fail("CONNACK %s is %r, want %d (properties %s)" % (name, prop(p, name), value, p))
    for absent in ("RetainAvailable", "MaximumPacketSize", "AssignedClientIdentifier",
                   "ServerKeepAlive", "MaximumQoS", "AuthenticationMethod",
                   "ResponseInformation", "SessionExpiryInterval", "SharedSubscriptionAvailable"):
        if prop(p, absent) is not None:
            fail("CONNACK has %s %r with the default config (properties %s)"
                 % (absent, prop(p, absent), p))
    c.close()


def check_MQTT_3_2_2_16_assigned_client_identifier(port):
    """An empty client id gets a new Assigned Client Identifier each time, usable for a session, with either Clean Start."""
    a = Client(port, "", clean_start=True)
    b = Client(port, "", clean_start=False, session_expiry=60)
    ida = prop(a.connack_props, "AssignedClientIdentifier")
    idb = prop(b.connack_props, "AssignedClientIdentifier")
    if not ida or not idb:
        fail("no Assigned Client Identifier: %r %r" % (ida, idb))
    if ida == idb:
        fail("two connections got the same Assigned Client Identifier %r" % ida)
    b.expect_session(False)
    b.subscribe("p5/assigned/t", 1)
    b.close()
    c = Client(port, "", clean_start=False, session_expiry=60)   # a new id, not b's session
    idc = prop(c.connack_props, "AssignedClientIdentifier")
    if not idc or idc in (ida, idb):
        fail("third empty client id assigned %r (earlier %r, %r)" % (idc, ida, idb))
    c.expect_session(False)
    c.close(properties=disconnect_props(SessionExpiryInterval=0))
    time.sleep(SETTLE)
    pub = Client(port, "p5-assigned-pub")
    pub.publish("p5/assigned/t", b"for the assigned id", 1, want_rc=0x00)
    again = Client(port, idb, clean_start=False, session_expiry=0)
    again.expect_session(True)
    if prop(again.connack_props, "AssignedClientIdentifier") is not None:
        fail("Assigned Client Identifier sent although the client gave its id")
    again.expect("p5/assigned/t", b"for the assigned id", 1)
    for c in (a, pub, again):
        c.close()


@slow
def check_MQTT_3_2_2_21_server_keep_alive():
    """max_keepalive 2: Server Keep Alive 2 for keepalive 60 or 0, none for 1, 2; enforced (0x8D); 3.1.1 above it: CONNACK 2."""
    with fmtest.broker("max_keepalive 2") as (port, _proc, _tmp):
        for keepalive, want in ((60, 2), (0, 2), (1, None), (2, None)):
            c = Client(port, "p5-ka-%d" % keepalive, keepalive=keepalive)
            got = prop(c.connack_props, "ServerKeepAlive")
            if got != want:
                fail("keepalive %d: CONNACK Server Keep Alive %r, want %r"
                     % (keepalive, got, want))
            c.close()
        # asked for 60, told 2: silent for 3 s is a keepalive timeout
        silent = Client(port, "p5-ka-silent", keepalive=60, cls=NoPingClient)
        silent.expect_disconnect("server", 0x8D)
        Client(port, "p5-ka-311-60", proto=V311, keepalive=60, expect_rc=2)
        Client(port, "p5-ka-311-0", proto=V311, keepalive=0).close()


def check_sec_3_2_2_3_connack_limits_from_config():
    """max_inflight_messages 5, max_topic_alias 2: CONNACK Receive Maximum 5 (a 6th QoS 1: 0x93), Topic Alias Maximum 2 (3: 0x94)."""
    with fmtest.broker("max_inflight_messages 5\nmax_topic_alias 2") as (port, _proc, _tmp):
        sub = Client(port, "p5-lim-sub")
        for name, value in (("ReceiveMaximum", 5), ("TopicAliasMaximum", 2)):
            if prop(sub.connack_props, name) != value:
                fail("CONNACK %s %r, want %d" % (name, prop(sub.connack_props, name), value))
        sub.subscribe("p5/lim/#", 2)
        pub = Client(port, "p5-lim-pub")
        pub.publish("p5/lim/a", b"alias 2", 1, properties=pub_props(TopicAlias=2), want_rc=0x00)
        pub.publish("", b"alias 2 again", 1, properties=pub_props(TopicAlias=2), want_rc=0x00)
        sub.expect("p5/lim/a", b"alias 2", 1)
        sub.expect("p5/lim/a", b"alias 2 again", 1)
        pub.publish("p5/lim/b", b"alias 3", 0, properties=pub_props(TopicAlias=3))
        pub.expect_disconnect("server", 0x94)
        pub = Client(port, "p5-lim-rm", hold={"PUBREL"})
        pub.c.max_inflight_messages_set(0)
        for i in range(5):
            info = pub.c.publish("p5/lim/q", b"m%d" % i, qos=2)
            pub.ack_for(info.mid, "PUBREC")
        pub.c.publish("p5/lim/q", b"one too many", qos=1)   # QoS 1 counts too
        pub.expect_disconnect("server", 0x93)
        sub.close()


def check_MQTT_3_2_2_13_retain_not_available():
    """With retain_available false: CONNACK Retain Available 0; a retained PUBLISH gets DISCONNECT 0x9A; a retained will CONNACK 0x9A."""
    with fmtest.broker("retain_available false") as (port, _proc, _tmp):
        c = Client(port, "p5-ra")
        if prop(c.connack_props, "RetainAvailable") != 0:
            fail("CONNACK Retain Available %r, want 0" % prop(c.connack_props, "RetainAvailable"))
        c.publish("p5/ra/t", b"not retained", 1)
        c.publish("p5/ra/t", b"retained", 0, retain=True)
        c.expect_disconnect("server", 0x9A)
        Client(port, "p5-ra-will", will=("p5/ra/will", b"w", 1, True), expect_rc=0x9A)


def check_sec_3_2_2_2_connect_refused_not_authorized_0x87():
    """With allow_anonymous false: a 5.0 CONNECT without username gets CONNACK 0x87, a 3.1.1 one 0x05."""
    with fmtest.broker("allow_anonymous false") as (port, _proc, _tmp):
        Client(port, "p5-anon", expect_rc=0x87)
        Client(port, "p5-anon-311", proto=V311, expect_rc=5)


def check_MQTT_4_12_0_1_authentication_method_0x8C(port):
    """A CONNECT with an Authentication Method gets CONNACK 0x8C (no authentication method is supported)."""
    Client(port, "p5-auth", cprops=connect_props(AuthenticationMethod="SCRAM-SHA-1"),
           expect_rc=0x8C)


def check_sec_3_2_2_2_will_refusals(port):
    """CONNACK 0x99 (will PFI 1, payload not UTF-8), 0x90 (will topic wildcard), 0x82 (will Response Topic wildcard); 3.1.1: no CONNACK."""
    sub = Client(port, "p5-wr-sub")
    sub.subscribe("p5/wr/#", 1)
    Client(port, "p5-wr-pfi", expect_rc=0x99, will=(
        "p5/wr/will", b"\xff\xfe", 1, False, will_props(PayloadFormatIndicator=1)))
    Client(port, "p5-wr-topic", expect_rc=0x90, will=("p5/wr/+/will", b"w", 1, False))
    Client(port, "p5-wr-resp", expect_rc=0x82, will=(
        "p5/wr/will", b"w", 1, False, will_props(ResponseTopic="p5/wr/#")))
    c = mqtt.Client(client_id="p5-wr-311", protocol=V311, reconnect_on_failure=False)
    connacks, closed = queue.Queue(), queue.Queue()
    c.on_connect = lambda _c, _u, _f, rc: connacks.put(rc)
    c.on_disconnect = lambda _c, _u, rc: closed.put(rc)
    c.will_set("p5/wr/#", b"w", 1)
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    try:
        closed.get(timeout=TIMEOUT)
    except queue.Empty:
        fail("3.1.1 CONNECT with will topic p5/wr/# not closed")
    c.loop_stop()
    if not connacks.empty():
        fail("3.1.1 CONNECT with will topic p5/wr/# answered CONNACK %d" % connacks.get())
    sub.expect_nothing(0.3)
    sub.close()


# ---------------------------------------------------------------------------
# Sessions


def check_MQTT_4_1_0_2_session_expiry_0_ends_with_connection(port):
    """Session Expiry Interval 0 (absent): the session ends with the connection, even with Clean Start 0."""
    c = Client(port, "p5-se0", clean_start=False)
    c.subscribe("p5/se0/t", 1)
    c.close()
    time.sleep(SETTLE)
    pub = Client(port, "p5-se0-pub")
    pub.publish("p5/se0/t", b"nobody", 1, want_rc=0x10)
    c = Client(port, "p5-se0", clean_start=False)
    c.expect_session(False)
    c.expect_nothing()
    pub.close()
    c.close()


def check_MQTT_3_1_2_5_session_resumed_within_expiry(port):
    """Reconnect within the Session Expiry Interval (10 s, 0xFFFFFFFF): session present, queued QoS 1/2 messages in order with properties."""
    for expiry in (10, 0xFFFFFFFF):
        cid, topic = "p5-seq-%x" % expiry, "p5/seq/%x" % expiry
        c = Client(port, cid, clean_start=False, session_expiry=expiry)
        c.subscribe(topic, 2)
        c.close()
        time.sleep(SETTLE)
        pub = Client(port, cid + "-pub")
        sent = []
        for i in range(6):
            qos = 1 + i % 2
            pub.publish(topic, b"queued %d" % i, qos, want_rc=0x00, properties=pub_props(
                UserProperty=[("n", str(i))], ContentType="text/plain"))
            sent.append((b"queued %d" % i, qos))
        c = Client(port, cid, clean_start=False, session_expiry=expiry)
        c.expect_session(True)
        got = []
        for _ in sent:
            m = c.get("queued messages on " + topic)
            check_props(c, m, UserProperty=[("n", m.payload.decode()[-1])], ContentType="text/plain")
            got.append((m.payload, m.qos))
        for qos in (1, 2):   # order is kept per QoS [MQTT-4.6.0-6]
            if [g for g in got if g[1] == qos] != [s for s in sent if s[1] == qos]:
                fail("queued messages (payload, QoS) arrived as %r, sent %r" % (got, sent))
        c.expect_nothing(0.3)
        pub.close()
        c.close(properties=disconnect_props(SessionExpiryInterval=0))


@slow
def check_MQTT_4_1_0_2_session_discarded_after_expiry(port):
    """Session Expiry Interval 2: 3.5 s after the disconnect the session is gone (session present 0, subscription and queue gone)."""
    c = Client(port, "p5-segone", clean_start=False, session_expiry=2)
    c.subscribe("p5/segone/t", 1)
    c.close()
    time.sleep(SETTLE)
    pub = Client(port, "p5-segone-pub")
    pub.publish("p5/segone/t", b"queued then dropped", 1, want_rc=0x00)
    time.sleep(3.5)
    pub.publish("p5/segone/t", b"after the end", 1, want_rc=0x10)
    c = Client(port, "p5-segone", clean_start=False, session_expiry=2)
    c.expect_session(False)
    c.expect_nothing()
    pub.close()
    c.close()


def check_MQTT_3_1_2_4_clean_start_discards_session(port):
    """Clean Start 1 discards the stored session (queue and subscriptions); session present 0; the new session is then resumable."""
    c = Client(port, "p5-cs", clean_start=False, session_expiry=60)
    c.subscribe("p5/cs/t", 1)
    c.close()
    time.sleep(SETTLE)
    pub = Client(port, "p5-cs-pub")
    pub.publish("p5/cs/t", b"queued", 1, want_rc=0x00)
    c = Client(port, "p5-cs", clean_start=True, session_expiry=60)
    c.expect_session(False)
    c.expect_nothing()
    pub.publish("p5/cs/t", b"old subscription", 1, want_rc=0x10)
    c.expect_nothing(0.3)
    c.close()
    time.sleep(SETTLE)
    c = Client(port, "p5-cs", clean_start=False, session_expiry=0)
    c.expect_session(True)   # the session Clean Start 1 created [MQTT-3.2.2-3]
    pub.close()
    c.close()


def check_sec_3_14_2_2_2_disconnect_session_expiry_to_0(port):
    """DISCONNECT with Session Expiry Interval 0 ends a session that had 60."""
    c = Client(port, "p5-sd0", clean_start=False, session_expiry=60)
    c.subscribe("p5/sd0/t", 1)
    c.close(properties=disconnect_props(SessionExpiryInterval=0))
    time.sleep(SETTLE)
    pub = Client(port, "p5-sd0-pub")
    pub.publish("p5/sd0/t", b"nobody", 1, want_rc=0x10)
    c = Client(port, "p5-sd0", clean_start=False)
    c.expect_session(False)
    pub.close()
    c.close()


@slow
def check_sec_3_14_2_2_2_disconnect_session_expiry_change(port):
    """DISCONNECT changes a non-zero Session Expiry Interval: 60 -> 1 ends it after 1 s, 1 -> 60 keeps it."""
    short = Client(port, "p5-sd-short", clean_start=False, session_expiry=60)
    short.close(properties=disconnect_props(SessionExpiryInterval=1))
    longer = Client(port, "p5-sd-long", clean_start=False, session_expiry=1)
    longer.close(properties=disconnect_props(SessionExpiryInterval=60))
    time.sleep(2.5)
    short = Client(port, "p5-sd-short", clean_start=False)
    short.expect_session(False)
    longer = Client(port, "p5-sd-long", clean_start=False)
    longer.expect_session(True)
    short.close()
    longer.close()


def check_sec_3_14_2_2_2_disconnect_session_expiry_0_to_n_refused(port):
    """A session with interval 0 cannot get one at DISCONNECT (protocol error): it still ends."""
    c = Client(port, "p5-sdz", clean_start=False)
    c.subscribe("p5/sdz/t", 1)
    # the broker answers DISCONNECT 0x82, which paho (already closing) does
    # not read; what shows is that the session did not survive
    c.close(properties=disconnect_props(SessionExpiryInterval=60))
    time.sleep(SETTLE)
    c = Client(port, "p5-sdz", clean_start=False)
    c.expect_session(False)
    c.close()


# ---------------------------------------------------------------------------
# PUBLISH properties


def check_MQTT_3_3_2_18_user_property_order(port):
    """User Properties forwarded unaltered, in order, duplicates kept [MQTT-3.3.2-17/18], at QoS 0 and 1; also 100 of them, long ones."""
    sub, pub = forwarding_pair(port, "up")
    up = [("k", "1"), ("a", "2"), ("k", "3"), ("k", "1"), ("empty", ""),
          ("", "empty name"), ("ü-ñ", "ünïcödé"), ("a", "2")]
    many = [("k%d" % (i % 7), "v%d" % i * (1 + i % 3)) for i in range(100)]
    many += [("long", "x" * 2000), ("long", "y" * 3000)]
    for qos, props_sent in ((0, up), (1, up), (1, many)):
        payload = b"user props %d %d" % (qos, len(props_sent))
        pub.publish("p5/up/t", payload, qos, properties=pub_props(UserProperty=props_sent))
        m = sub.expect("p5/up/t", payload, qos)
        check_props(sub, m, UserProperty=props_sent)
    sub.close()
    pub.close()


def check_MQTT_3_3_2_20_content_type(port):
    """Content Type forwarded unaltered (also an empty one)."""
    sub, pub = forwarding_pair(port, "ct")
    for ct in ("application/json; charset=utf-8", ""):
        pub.publish("p5/ct/t", b"{}", 1, properties=pub_props(ContentType=ct))
        m = sub.expect("p5/ct/t", b"{}", 1)
        check_props(sub, m, ContentType=ct)
    sub.close()
    pub.close()


def check_MQTT_3_3_2_15_response_topic(port):
    """Response Topic forwarded unaltered."""
    sub, pub = forwarding_pair(port, "rt")
    pub.publish("p5/rt/t", b"request", 1, properties=pub_props(ResponseTopic="p5/rt/reply/ü"))
    m = sub.expect("p5/rt/t", b"request", 1)
    check_props(sub, m, ResponseTopic="p5/rt/reply/ü")
    sub.close()
    pub.close()


def check_MQTT_3_3_2_16_correlation_data(port):
    """Correlation Data (binary, also empty) forwarded unaltered."""
    sub, pub = forwarding_pair(port, "cd")
    for data in (b"\x00\x01\xff\xfecorr\x00", b""):
        pub.publish("p5/cd/t", b"request", 1, properties=pub_props(CorrelationData=data))
        m = sub.expect("p5/cd/t", b"request", 1)
        check_props(sub, m, CorrelationData=data)
    sub.close()
    pub.close()


def check_MQTT_3_3_2_4_payload_format_indicator(port):
    """Payload Format Indicator 1 forwarded unaltered; a message without properties arrives without any."""
    sub, pub = forwarding_pair(port, "pfi")
    pub.publish("p5/pfi/t", "héllo".encode(), 1, properties=pub_props(PayloadFormatIndicator=1))
    m = sub.expect("p5/pfi/t", "héllo".encode(), 1)
    check_props(sub, m, PayloadFormatIndicator=1)
    pub.publish("p5/pfi/t", b"\xff\xfe binary", 1, properties=pub_props(PayloadFormatIndicator=0))
    m = sub.expect("p5/pfi/t", b"\xff\xfe binary", 1)
    if prop(m.properties, "PayloadFormatIndicator", 0) != 0:
        fail("Payload Format Indicator 0 forwarded as %r" % m.properties.PayloadFormatIndicator)
    pub.publish("p5/pfi/t", b"plain", 1)
    m = sub.expect("p5/pfi/t", b"plain", 1)
    check_props(sub, m)
    sub.close()
    pub.close()


def check_MQTT_3_3_2_17_retained_message_keeps_properties(port):
    """A retained message is sent to later subscribers with the properties it was published with."""
    pub = Client(port, "p5-rp-pub")
    up = [("r", "1"), ("q", "2"), ("r", "1")]
    pub.publish("p5/rp/t", "kept ✓".encode(), 1, retain=True, properties=pub_props(
        UserProperty=up, ContentType="text/plain", ResponseTopic="p5/rp/reply",
        CorrelationData=b"\x07", PayloadFormatIndicator=1))
    late = Client(port, "p5-rp-late")
    late.subscribe("p5/rp/t", 1)
    m = late.expect("p5/rp/t", "kept ✓".encode(), 1, retain=True)
    check_props(late, m, UserProperty=up, ContentType="text/plain", ResponseTopic="p5/rp/reply",
                CorrelationData=b"\x07", PayloadFormatIndicator=1)
    pub.publish("p5/rp/t", b"", 1, retain=True)
    pub.close()
    late.close()


def check_sec_3_3_2_3_2_payload_format_invalid_0x99(port):
    """Payload Format Indicator 1 with a non-UTF-8 payload: PUBACK/PUBREC 0x99 and not delivered; at QoS 0 DISCONNECT 0x99."""
    sub, pub = forwarding_pair(port, "pfx")
    bad = pub_props(PayloadFormatIndicator=1)
    pub.publish("p5/pfx/t", b"\xff\xfe not utf-8", 1, properties=bad, want_rc=0x99)
    pub.publish("p5/pfx/t", b"\xc3\x28 not utf-8", 2, properties=bad, want_rc=0x99)
    # paho 1.6 sends PUBREL even after a PUBREC >= 0x80; the broker, holding
    # no such QoS 2 flow, answers PUBCOMP 0x92 (packet identifier not found)
    pubcomp = pub.ack_for(pub.c._last_mid, "PUBCOMP")
    if pubcomp != 0x92:
        fail("PUBREL after PUBREC 0x99 answered PUBCOMP 0x%02x, want 0x92" % pubcomp)
    pub.publish("p5/pfx/kept", b"\xff retained", 1, retain=True, properties=bad, want_rc=0x99)
    pub.publish("p5/pfx/t", b"valid", 1, properties=bad, want_rc=0x00)
    sub.expect("p5/pfx/t", b"valid", 1)
    sub.expect_nothing(0.3)
    late = Client(port, "p5-pfx-late")
    late.subscribe("p5/pfx/kept", 1)   # the refused retained message was not stored
    late.expect_nothing(0.3)
    late.close()
    pub.publish("p5/pfx/t", b"\xff qos 0", 0, properties=bad)
    pub.expect_disconnect("server", 0x99)
    sub.expect_nothing(0.3)
    sub.close()


# ---------------------------------------------------------------------------
# Message expiry


@slow
def check_MQTT_3_3_2_6_message_expiry_remaining(port):
    """Message Expiry Interval is forwarded as the remaining time: at most the value sent live, smaller after 2.5 s queued."""
    live = Client(port, "p5-mei-live")
    live.subscribe("p5/mei/t", 1)
    q = Client(port, "p5-mei-q", clean_start=False, session_expiry=60)
    q.subscribe("p5/mei/t", 1)
    q.close()
    time.sleep(SETTLE)
    pub = Client(port, "p5-mei-pub")
    pub.publish("p5/mei/t", b"expiring", 1, properties=pub_props(MessageExpiryInterval=20))
    sent = time.monotonic()
    pub.publish("p5/mei/t", b"lasting", 1)
    m = live.expect("p5/mei/t", b"expiring", 1)
    got = prop(m.properties, "MessageExpiryInterval")
    if got is None or not 1 <= got <= 20:
        fail("live delivery: Message Expiry Interval %r, want 1..20" % got)
    m = live.expect("p5/mei/t", b"lasting", 1)
    if prop(m.properties, "MessageExpiryInterval") is not None:
        fail("a message sent without expiry arrived with Message Expiry Interval %r"
             % m.properties.MessageExpiryInterval)
    time.sleep(max(0, 2.5 - (time.monotonic() - sent)))
    q = Client(port, "p5-mei-q", clean_start=False, session_expiry=0)
    q.expect_session(True)
    m = q.expect("p5/mei/t", b"expiring", 1)
    got = prop(m.properties, "MessageExpiryInterval")
    if got is None or not 1 <= got <= 18:
        fail("after 2.5 s queued: Message Expiry Interval %r, want 1..18 (sent 20)" % got)
    q.expect("p5/mei/t", b"lasting", 1)
    for c in (live, pub, q):
        c.close()


@slow
def check_MQTT_3_3_2_5_expired_message_not_delivered(port):
    """A queued message whose expiry (1 s) passed before the persistent subscriber reconnects is not delivered; the next one is."""
    c = Client(port, "p5-mx", clean_start=False, session_expiry=60)
    c.subscribe("p5/mx/t", 1)
    c.close()
    time.sleep(SETTLE)
    pub = Client(port, "p5-mx-pub")
    pub.publish("p5/mx/t", b"expires", 1, want_rc=0x00, properties=pub_props(MessageExpiryInterval=1))
    pub.publish("p5/mx/t", b"stays", 1, want_rc=0x00)
    time.sleep(2.5)
    c = Client(port, "p5-mx", clean_start=False, session_expiry=0)
    c.expect_session(True)
    m = c.get("the unexpired one")
    if m.payload != b"stays":
        fail("after its expiry: got %r (properties %s), want only b'stays'"
             % (m.payload, m.properties))
    c.expect_nothing(0.3)
    pub.close()
    c.close()


@slow
def check_MQTT_3_3_2_5_expired_retained_not_sent(port):
    """A retained message with Message Expiry Interval 2 goes to new subscribers before it expires, not after; another's interval counts down."""
    pub = Client(port, "p5-rx-pub")
    pub.publish("p5/rx/a", b"short-lived", 1, retain=True, properties=pub_props(MessageExpiryInterval=2))
    sent = time.monotonic()
    pub.publish("p5/rx/b", b"kept", 1, retain=True, properties=pub_props(MessageExpiryInterval=20))
    early = Client(port, "p5-rx-early")
    early.subscribe("p5/rx/a", 1)
    m = early.expect("p5/rx/a", b"short-lived", 1, retain=True)
    got = prop(m.properties, "MessageExpiryInterval")
    if got is None or not 1 <= got <= 2:
        fail("retained delivery: Message Expiry Interval %r, want 1..2" % got)
    time.sleep(max(0, 3.5 - (time.monotonic() - sent)))
    late = Client(port, "p5-rx-late")
    late.subscribe("p5/rx/#", 1)
    m = late.get("the retained p5/rx/b")
    if (m.topic, m.payload) != ("p5/rx/b", b"kept"):
        fail("3.5 s later: got retained %r on %s, want only b'kept' on p5/rx/b"
             % (m.payload, m.topic))
    got = prop(m.properties, "MessageExpiryInterval")
    if got is None or not 1 <= got <= 17:
        fail("retained 3.5 s later: Message Expiry Interval %r, want 1..17 (sent 20)" % got)
    late.expect_nothing(0.5)
    pub.publish("p5/rx/b", b"", 1, retain=True)
    for c in (pub, early, late):
        c.close()


@slow
def check_MQTT_3_3_2_5_expired_while_waiting_for_receive_maximum(port):
    """A message that expires (1 s) while waiting behind the client's Receive Maximum (1) is not sent."""
    c = Client(port, "p5-rmx", cprops=connect_props(ReceiveMaximum=1), hold={"PUBACK"})
    c.subscribe("p5/rmx/t", 1)
    pub = Client(port, "p5-rmx-pub")
    pub.publish("p5/rmx/t", b"first", 1)
    pub.publish("p5/rmx/t", b"expires waiting", 1, properties=pub_props(MessageExpiryInterval=1))
    sent = time.monotonic()
    pub.publish("p5/rmx/t", b"last", 1)
    c.expect("p5/rmx/t", b"first", 1)
    time.sleep(max(0, 2.5 - (time.monotonic() - sent)))
    c.c.release_all()
    m = c.get("b'last'")
    if m.payload != b"last":
        fail("after its expiry behind Receive Maximum: got %r (properties %s), want b'last'"
             % (m.payload, m.properties))
    c.expect_nothing(0.3)
    pub.close()
    c.close()


@slow
def check_MQTT_4_3_3_7_no_expiry_once_sent(port):
    """A QoS 1/2 message sent but unacknowledged when the subscriber drops is resent on resumption even though its expiry (1 s) passed."""
    flows = [(1, "PUBACK"), (2, "PUBREC")]
    # both QoS at once: one wait for the expiry to pass
    for qos, ack in flows:
        c = Client(port, "p5-nx-%d" % qos, clean_start=False, session_expiry=60)
        c.subscribe("p5/nx/%d" % qos, qos)
        c.close()
    time.sleep(SETTLE)
    pubs = []
    for qos, ack in flows:
        cid, topic = "p5-nx-%d" % qos, "p5/nx/%d" % qos
        c = Client(port, cid, clean_start=False, session_expiry=60, hold={ack})
        pub = Client(port, cid + "-pub")
        pubs.append(pub)
        pub.publish(topic, b"in flight", qos, properties=pub_props(MessageExpiryInterval=1))
        sent = time.monotonic()
        deadline = sent + TIMEOUT
        while not c.c.held_count() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not c.c.held_count():
            fail("QoS %d PUBLISH never reached the subscriber" % qos)
        c.drop()
    time.sleep(max(0, 2.5 - (time.monotonic() - sent)))   # 2.5 s after the last one
    for qos, ack in flows:
        cid, topic = "p5-nx-%d" % qos, "p5/nx/%d" % qos
        c = Client(port, cid, clean_start=False, session_expiry=0)
        c.expect_session(True)
        m = c.expect(topic, b"in flight", qos)
        if qos == 1 and not m.dup:
            fail("resent QoS 1 PUBLISH without DUP")
        c.expect_nothing(0.3)
        c.close()
    for pub in pubs:
        pub.close()


# ---------------------------------------------------------------------------
# Topic aliases (client to server)


def check_MQTT_3_3_2_12_topic_alias_accepted(port):
    """Topic Alias 1..10 set with a topic, used with an empty one, at QoS 0/1/2; remapped; a retained PUBLISH by alias kept under its topic."""
    sub = Client(port, "p5-ta-sub")
    sub.subscribe("p5/ta/#", 2)
    pub = Client(port, "p5-ta-pub")
    steps = [("p5/ta/one", 1, b"set 1"), ("", 1, b"use 1"),
             ("p5/ta/ten", 10, b"set 10"), ("", 10, b"use 10"),
             ("p5/ta/two", 1, b"remap 1"), ("", 1, b"use remapped 1")]
    topic_of = {}
    for qos in (0, 1, 2):
        for topic, alias, payload in steps:
            if topic:
                topic_of[alias] = topic
            pub.publish(topic, payload, qos, properties=pub_props(TopicAlias=alias),
                        want_rc=0x00 if qos else None)
            m = sub.expect(topic_of[alias], payload, qos)
            check_props(sub, m)   # no Topic Alias towards the client [MQTT-3.1.2-27]
    pub.publish("p5/ta/kept", b"set 4", 1, properties=pub_props(TopicAlias=4))
    pub.publish("", b"retained by alias", 1, retain=True, properties=pub_props(TopicAlias=4))
    sub.expect("p5/ta/kept", b"set 4", 1)
    sub.expect("p5/ta/kept", b"retained by alias", 1)
    late = Client(port, "p5-ta-late")
    late.subscribe("p5/ta/kept", 1)
    m = late.expect("p5/ta/kept", b"retained by alias", 1, retain=True)
    check_props(late, m)
    pub.publish("p5/ta/kept", b"", 1, retain=True)
    for c in (sub, pub, late):
        c.close()


def check_MQTT_3_3_2_7_topic_alias_not_carried_over(port):
    """A Topic Alias set on one connection is unknown on the next: empty topic with it gives DISCONNECT 0x82."""
    pub = Client(port, "p5-tacarry", clean_start=False, session_expiry=60)
    pub.publish("p5/tacarry/t", b"set", 1, properties=pub_props(TopicAlias=3))
    pub.close()
    time.sleep(SETTLE)
    pub = Client(port, "p5-tacarry", clean_start=False, session_expiry=0)
    pub.expect_session(True)
    pub.publish("", b"stale alias", 0, properties=pub_props(TopicAlias=3))
    pub.expect_disconnect("server", 0x82)


def check_sec_3_3_2_3_4_topic_alias_invalid(port):
    """Topic Alias 11 (above the maximum 10) gives DISCONNECT 0x94; an empty topic without alias gives 0x82."""
    sub = Client(port, "p5-tax-sub")
    sub.subscribe("p5/tax/#", 1)
    a = Client(port, "p5-tax-big")
    a.publish("p5/tax/t", b"alias 11", 0, properties=pub_props(TopicAlias=11))
    a.expect_disconnect("server", 0x94)
    b = Client(port, "p5-tax-none")
    b.publish("", b"no topic", 0)
    b.expect_disconnect("server", 0x82)
    sub.expect_nothing(0.3)
    sub.close()


# ---------------------------------------------------------------------------
# Reason codes of acks


def check_sec_3_4_2_1_puback_no_matching_subscribers(port):
    """PUBACK/PUBREC 0x10 when nobody subscribed, 0x00 once somebody has."""
    pub = Client(port, "p5-nm-pub")
    pub.publish("p5/nm/t", b"nobody", 1, want_rc=0x10)
    pub.publish("p5/nm/t", b"nobody", 2, want_rc=0x10)
    sub = Client(port, "p5-nm-sub")
    sub.subscribe("p5/nm/+", 0)
    pub.publish("p5/nm/t", b"somebody", 1, want_rc=0x00)
    pub.publish("p5/nm/t", b"somebody", 2, want_rc=0x00)
    sub.expect("p5/nm/t", b"somebody", 0)
    sub.expect("p5/nm/t", b"somebody", 0)
    sub.close()
    pub.close()


# ---------------------------------------------------------------------------
# Subscription options and identifiers


def check_MQTT_3_8_3_3_no_local(port):
    """No Local: own messages not sent back through that subscription; others' are; other and overlapping plain subscriptions get them."""
    me = Client(port, "p5-nl")
    me.subscribe("p5/nl/t", options=SubscribeOptions(qos=1, noLocal=True))
    other = Client(port, "p5-nl-other")
    other.subscribe("p5/nl/t", 1)
    me.publish("p5/nl/t", b"mine", 1)
    other.expect("p5/nl/t", b"mine", 1)
    other.publish("p5/nl/t", b"theirs", 1)
    m = me.get("p5/nl/t b'theirs'")
    if m.payload != b"theirs":
        fail("No Local subscriber got %r, want only b'theirs'" % m.payload)
    other.expect("p5/nl/t", b"theirs", 1)
    me.expect_nothing(0.5)
    me.subscribe("p5/nl/#", 0)   # overlapping, without No Local
    me.publish("p5/nl/t", b"mine again", 1)
    me.expect("p5/nl/t", b"mine again", 0)
    other.expect("p5/nl/t", b"mine again", 1)
    me.expect_nothing(0.5)
    me.close()
    other.close()


def check_MQTT_3_3_1_12_13_retain_as_published(port):
    """Retain As Published 1 keeps RETAIN 1 on live deliveries; 0 clears it."""
    rap = Client(port, "p5-rap-1")
    rap.subscribe("p5/rap/t", options=SubscribeOptions(qos=1, retainAsPublished=True))
    plain = Client(port, "p5-rap-0")
    plain.subscribe("p5/rap/t", options=SubscribeOptions(qos=1, retainAsPublished=False))
    pub = Client(port, "p5-rap-pub")
    pub.publish("p5/rap/t", b"retained", 1, retain=True)
    rap.expect("p5/rap/t", b"retained", 1, retain=True)
    plain.expect("p5/rap/t", b"retained", 1, retain=False)
    pub.publish("p5/rap/t", b"not retained", 1)
    rap.expect("p5/rap/t", b"not retained", 1, retain=False)
    plain.expect("p5/rap/t", b"not retained", 1, retain=False)
    pub.publish("p5/rap/t", b"", 1, retain=True)
    for c in (rap, plain, pub):
        c.close()


@slow
def check_MQTT_3_3_1_9_10_11_retain_handling(port):
    """Retain Handling 0: retained on every SUBSCRIBE; 1: only if new (not if kept in a resumed session; again after UNSUBSCRIBE); 2: never."""
    pub = Client(port, "p5-rh-pub")
    pub.publish("p5/rh/t", b"retained", 1, retain=True)
    rh0 = Client(port, "p5-rh0")
    for _ in range(2):
        rh0.subscribe("p5/rh/t", options=SubscribeOptions(
            qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE))
        rh0.expect("p5/rh/t", b"retained", 1, retain=True)
    rh1_opts = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
    rh1 = Client(port, "p5-rh1", clean_start=False, session_expiry=60)
    rh1.subscribe("p5/rh/t", options=rh1_opts)
    rh1.expect("p5/rh/t", b"retained", 1, retain=True)
    rh1.subscribe("p5/rh/t", options=rh1_opts)
    rh2 = Client(port, "p5-rh2")
    rh2.subscribe("p5/rh/t", options=SubscribeOptions(
        qos=1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND))
    rh1.expect_nothing()
    rh2.expect_nothing(0.1)
    rh1.close()
    time.sleep(SETTLE)
    rh1 = Client(port, "p5-rh1", clean_start=False, session_expiry=0)
    rh1.expect_session(True)
    rh1.subscribe("p5/rh/t", options=rh1_opts)   # exists in the resumed session
    rh1.expect_nothing(0.5)
    pub.publish("p5/rh/t", b"live", 1)
    for c in (rh0, rh1, rh2):
        c.expect("p5/rh/t", b"live", 1, retain=False)
        c.expect_nothing(0.1)
    pub.publish("p5/rh/t", b"retained again", 1, retain=True)
    for c in (rh0, rh1, rh2):
        c.expect("p5/rh/t", b"retained again", 1, retain=False)
    rh1.unsubscribe("p5/rh/t", want=[0x00])
    rh1.subscribe("p5/rh/t", options=rh1_opts)   # new again
    rh1.expect("p5/rh/t", b"retained again", 1, retain=True)
    pub.publish("p5/rh/t", b"", 1, retain=True)
    for c in (pub, rh0, rh1, rh2):
        c.close()


def check_MQTT_3_3_4_3_subscription_identifier(port):
    """The matching subscription's Subscription Identifier comes with each message (retained too), replaced by a new SUBSCRIBE; none if none."""
    def sid(n):
        return props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=n)
    c = Client(port, "p5-si")
    c.subscribe("p5/si/a/+", 1, properties=sid(5))
    c.subscribe("p5/si/big", 1, properties=sid(268435455))
    c.subscribe("p5/si/none", 1)
    pub = Client(port, "p5-si-pub")
    for topic, ids in (("p5/si/a/x", [5]), ("p5/si/big", [268435455]), ("p5/si/none", None)):
        pub.publish(topic, b"id", 1)
        m = c.expect(topic, b"id", 1)
        check_props(c, m, SubscriptionIdentifier=ids)
    c.subscribe("p5/si/a/+", 1, properties=sid(6))   # replaces the subscription [MQTT-3.8.4-3]
    pub.publish("p5/si/a/y", b"replaced", 1)
    check_props(c, c.expect("p5/si/a/y", b"replaced", 1), SubscriptionIdentifier=[6])
    c.subscribe("p5/si/a/+", 1)
    pub.publish("p5/si/a/z", b"no id now", 1)
    check_props(c, c.expect("p5/si/a/z", b"no id now", 1))
    pub.publish("p5/si/kept", b"retained", 1, retain=True)
    c.subscribe("p5/si/kept", 1, properties=sid(9))
    m = c.expect("p5/si/kept", b"retained", 1, retain=True)
    check_props(c, m, SubscriptionIdentifier=[9])
    pub.publish("p5/si/kept", b"", 1, retain=True)
    c.expect("p5/si/kept", b"", 1)
    c.close()
    pub.close()


def check_MQTT_3_3_4_5_overlapping_subscriptions_different_ids(port):
    """Two overlapping subscriptions with identifiers 1 and 2 each deliver their own copy with their own identifier and QoS."""
    c = Client(port, "p5-so")
    c.subscribe("p5/so/#", 1, properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=1))
    c.subscribe("p5/so/+/x", 0, properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=2))
    pub = Client(port, "p5-so-pub")
    pub.publish("p5/so/a/x", b"twice", 2)
    got = []
    for _ in range(2):
        m = c.get("a copy of p5/so/a/x")
        if (m.topic, m.payload) != ("p5/so/a/x", b"twice"):
            fail("got %r on %s, want b'twice' on p5/so/a/x" % (m.payload, m.topic))
        got.append((prop(m.properties, "SubscriptionIdentifier"), m.qos))
    got.sort()
    if got != [([1], 1), ([2], 0)]:
        fail("copies (Subscription Identifiers, QoS): %r, want [([1], 1), ([2], 0)]" % got)
    c.expect_nothing(0.5)
    c.close()
    pub.close()


def check_MQTT_3_3_4_2_overlapping_subscriptions_same_id(port):
    """Two overlapping subscriptions with the same identifier deliver one copy at the highest QoS."""
    c = Client(port, "p5-ss")
    c.subscribe("p5/ss/#", 0, properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=7))
    c.subscribe("p5/ss/+", 1, properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=7))
    pub = Client(port, "p5-ss-pub")
    pub.publish("p5/ss/a", b"once", 2)
    m = c.expect("p5/ss/a", b"once", 1)
    ids = prop(m.properties, "SubscriptionIdentifier")
    if ids not in ([7], [7, 7]):
        fail("Subscription Identifiers %r, want [7]" % ids)
    c.expect_nothing(0.5)
    c.close()
    pub.close()


# ---------------------------------------------------------------------------
# SUBACK / UNSUBACK


def check_MQTT_3_9_3_1_suback_shared_subscriptions_granted(port):
    """SUBACK grants $share filters like the others, in order; the client, sole member of two groups and an ordinary subscriber, gets one copy per subscription (4.8.2)."""
    c = Client(port, "p5-share")
    c.subscribe([("$share/g/p5/share/t", SubscribeOptions(qos=1)),
                 ("p5/share/t", SubscribeOptions(qos=2)),
                 ("$share/g2/p5/share/#", SubscribeOptions(qos=0))], want=[1, 2, 0])
    pub = Client(port, "p5-share-pub")
    pub.publish("p5/share/t", b"once", 1)
    qos = sorted(c.expect("p5/share/t", b"once").qos for _ in range(3))
    if qos != [0, 1, 1]:
        fail("copies at QoS %r, want [0, 1, 1] (group g at 1, the ordinary subscription at 1, group g2 at 0)" % qos)
    c.expect_nothing(0.5)
    c.close()
    pub.close()


def check_MQTT_3_11_3_1_unsuback_reason_codes(port):
    """UNSUBACK: 0x00 per removed filter, 0x11 for one not subscribed, in order."""
    c = Client(port, "p5-us")
    c.subscribe("p5/us/a", 1)
    c.subscribe("p5/us/+", 1)
    c.unsubscribe(["p5/us/a", "p5/us/b", "p5/us/+"], want=[0x00, 0x11, 0x00])
    c.unsubscribe("p5/us/a", want=[0x11])
    pub = Client(port, "p5-us-pub")
    pub.publish("p5/us/a", b"unsubscribed", 1, want_rc=0x10)
    c.expect_nothing(0.3)
    c.close()
    pub.close()


# ---------------------------------------------------------------------------
# Wills


def check_MQTT_3_1_3_10_will_properties_forwarded(port):
    """Will properties forwarded like a PUBLISH's, User Properties in order, Will Delay Interval not; a retained will keeps them."""
    sub = Client(port, "p5-wp-sub")
    sub.subscribe("p5/wp/#", 1)
    up = [("w", "1"), ("x", "2"), ("w", "3"), ("w", "1")]
    fields = dict(UserProperty=up, ContentType="text/plain", ResponseTopic="p5/wp/reply",
                  CorrelationData=b"\x01\x02", PayloadFormatIndicator=1)
    for retain in (False, True):
        topic = "p5/wp/will%d" % retain
        dying = Client(port, "p5-wp%d" % retain, will=(
            topic, "gone ✝".encode(), 1, retain,
            will_props(MessageExpiryInterval=60, WillDelayInterval=0, **fields)))
        dying.drop()
        m = sub.expect(topic, "gone ✝".encode(), 1, retain=False)
        mei = prop(m.properties, "MessageExpiryInterval")
        if mei is None or not 50 <= mei <= 60:
            fail("will Message Expiry Interval %r, want 50..60" % mei)
        check_props(sub, m, MessageExpiryInterval=mei, **fields)
    late = Client(port, "p5-wp-late")
    late.subscribe("p5/wp/will1", 1)
    m = late.expect("p5/wp/will1", "gone ✝".encode(), 1, retain=True)
    check_props(late, m, MessageExpiryInterval=prop(m.properties, "MessageExpiryInterval"),
                **fields)
    late.publish("p5/wp/will1", b"", 1, retain=True)
    sub.expect("p5/wp/will1", b"", 1)
    sub.close()
    late.close()


@slow
def check_MQTT_3_1_2_8_will_delay_interval(port):
    """A will with Will Delay Interval 2 is not sent at once but after the delay; its expiry is counted from publication."""
    sub = Client(port, "p5-wd-sub")
    sub.subscribe("p5/wd/#", 1)
    dying = Client(port, "p5-wd", session_expiry=60, will=(
        "p5/wd/will", b"late", 1, False,
        will_props(WillDelayInterval=2, MessageExpiryInterval=60)))
    dying.drop()
    dropped = time.monotonic()
    sub.expect_nothing(1.0)   # well within the 2 s delay
    m = sub.expect("p5/wd/will", b"late", 1)
    if time.monotonic() - dropped < 1.5:
        fail("will with delay 2 s sent %.1f s after the close" % (time.monotonic() - dropped))
    mei = prop(m.properties, "MessageExpiryInterval")
    if mei is None or mei < 58:
        fail("will Message Expiry Interval %r after a 2 s delay, want >= 58 of 60 "
             "(counted from publication)" % mei)
    sub.close()
    c = Client(port, "p5-wd", clean_start=True)   # end the stored session
    c.close()


@slow
def check_MQTT_3_1_3_9_will_cancelled_by_reconnect(port):
    """A new connection with the same client id within the Will Delay Interval (after a drop, or taking over) cancels the will."""
    sub = Client(port, "p5-wc-sub")
    sub.subscribe("p5/wc/#", 1)
    dying = Client(port, "p5-wc", session_expiry=60, will=(
        "p5/wc/will", b"cancelled", 1, False, will_props(WillDelayInterval=2)))
    dying.drop()
    time.sleep(0.3)
    back = Client(port, "p5-wc", clean_start=False, session_expiry=60)
    back.expect_session(True)
    first = Client(port, "p5-wc-tk", session_expiry=60, will=(
        "p5/wc/will-tk", b"cancelled by takeover", 1, False, will_props(WillDelayInterval=2)))
    second = Client(port, "p5-wc-tk", clean_start=False, session_expiry=60)
    first.expect_disconnect("server", 0x8E)
    second.expect_session(True)
    sub.expect_nothing(3.0)
    back.close()     # DISCONNECT 0x00, and these connections had no will
    second.close()
    sub.expect_nothing(0.5)
    sub.close()
    for cid in ("p5-wc", "p5-wc-tk"):
        Client(port, cid, clean_start=True).close()


@slow
def check_sec_3_1_3_2_2_will_sent_at_session_end(port):
    """A will delayed 30 s goes when the session ends first: Session Expiry 0, 1, or 60 shortened to 1 by DISCONNECT 0x04."""
    sub = Client(port, "p5-we-sub")
    sub.subscribe("p5/we/#", 1)
    for expiry in (0, 1):
        dying = Client(port, "p5-we-%d" % expiry, session_expiry=expiry, will=(
            "p5/we/%d" % expiry, b"session over", 1, False, will_props(WillDelayInterval=30)))
        dying.drop()
        sub.expect("p5/we/%d" % expiry, b"session over", 1, timeout=expiry + TIMEOUT)
    c = Client(port, "p5-we-d", session_expiry=60, will=(
        "p5/we/d", b"session shortened", 1, False, will_props(WillDelayInterval=30)))
    c.close(reasoncode=ReasonCodes(PacketTypes.DISCONNECT, "Disconnect with will message"),
            properties=disconnect_props(SessionExpiryInterval=1))
    sub.expect("p5/we/d", b"session shortened", 1, timeout=1 + TIMEOUT)
    sub.close()


def check_MQTT_3_14_4_3_disconnect_0x04_sends_will_0x00_not(port):
    """DISCONNECT 0x04 (Disconnect with Will Message) publishes the will; DISCONNECT 0x00 discards it."""
    sub = Client(port, "p5-w4-sub")
    sub.subscribe("p5/w4/#", 1)
    c = Client(port, "p5-w4", will=("p5/w4/will", b"asked for", 1, False))
    c.close(reasoncode=ReasonCodes(PacketTypes.DISCONNECT, "Disconnect with will message"))
    sub.expect("p5/w4/will", b"asked for", 1)
    c = Client(port, "p5-w0", will=("p5/w4/will0", b"discarded", 1, False))
    c.close(reasoncode=ReasonCodes(PacketTypes.DISCONNECT, "Normal disconnection"))
    sub.expect_nothing()
    sub.close()


@slow
def check_MQTT_3_1_2_8_disconnect_0x04_honours_will_delay(port):
    """DISCONNECT 0x04 with Will Delay Interval 2 and Session Expiry 60: the will goes after the delay, not at once."""
    sub = Client(port, "p5-w4d-sub")
    sub.subscribe("p5/w4d/#", 1)
    c = Client(port, "p5-w4d", session_expiry=60, will=(
        "p5/w4d/will", b"delayed", 1, False, will_props(WillDelayInterval=2)))
    c.close(reasoncode=ReasonCodes(PacketTypes.DISCONNECT, "Disconnect with will message"))
    closed = time.monotonic()
    sub.expect_nothing(1.0)   # well within the 2 s delay
    sub.expect("p5/w4d/will", b"delayed", 1)
    if time.monotonic() - closed < 1.5:
        fail("will with delay 2 s sent %.1f s after DISCONNECT 0x04" % (time.monotonic() - closed))
    sub.close()
    c = Client(port, "p5-w4d", clean_start=True)
    c.close()


# ---------------------------------------------------------------------------
# DISCONNECT from the server


def check_MQTT_3_1_4_3_session_takeover_0x8E(port):
    """Same client id again: the first connection gets DISCONNECT 0x8E with a Reason String; the second resumes the session."""
    first = Client(port, "p5-tk", clean_start=False, session_expiry=60)
    first.subscribe("p5/tk/t", 1)
    second = Client(port, "p5-tk", clean_start=False, session_expiry=0)
    first.expect_disconnect("server", 0x8E)
    if not prop(first.disconnect_props, "ReasonString"):
        fail("DISCONNECT 0x8E without Reason String (properties %s)" % first.disconnect_props)
    second.expect_session(True)
    pub = Client(port, "p5-tk-pub")
    pub.publish("p5/tk/t", b"still subscribed", 1, want_rc=0x00)
    second.expect("p5/tk/t", b"still subscribed", 1)
    second.close()
    pub.close()


def check_MQTT_3_1_2_29_request_problem_information_0(port):
    """Request Problem Information 0: no Reason String on PUBACK 0x10, SUBACK 0x8F, UNSUBACK 0x11, nor (fleetmq) on DISCONNECT 0x8E."""
    quiet = connect_props(RequestProblemInformation=0)
    c = Client(port, "p5-rpi", cprops=quiet)
    c.publish("p5/rpi/nobody", b"x", 1, want_rc=0x10)
    if c.c.last_ack_props is not None and prop(c.c.last_ack_props, "ReasonString") is not None:
        fail("PUBACK 0x10 with Reason String %r" % c.c.last_ack_props.ReasonString)
    c.subscribe("$share//p5/rpi", 1, want=[0x8F])  # an empty Share Name [MQTT-4.8.2-1]
    if prop(c.suback_props, "ReasonString") is not None:
        fail("SUBACK 0x8F with Reason String %r" % c.suback_props.ReasonString)
    c.unsubscribe("p5/rpi/none", want=[0x11])
    if prop(c.unsuback_props, "ReasonString") is not None:
        fail("UNSUBACK 0x11 with Reason String %r" % c.unsuback_props.ReasonString)
    Client(port, "p5-rpi", cprops=connect_props(RequestProblemInformation=0)).close()
    c.expect_disconnect("server", 0x8E)
    if prop(c.disconnect_props, "ReasonString") is not None:
        fail("DISCONNECT 0x8E with Reason String %r although Request Problem Information 0"
             % c.disconnect_props.ReasonString)


@slow
def check_MQTT_3_1_2_22_keepalive_timeout_0x8D(port):
    """A client silent for 1.5 x its keepalive (1 s) gets DISCONNECT 0x8D."""
    c = Client(port, "p5-kt", keepalive=1, cls=NoPingClient)
    c.expect_disconnect("server", 0x8D)


def check_sec_4_13_server_shutting_down_0x8B():
    """SIGTERM: a 5.0 client gets DISCONNECT 0x8B, a 3.1.1 client just the close; the broker exits 0."""
    with fmtest.broker() as (port, proc, _tmp):
        c5 = Client(port, "p5-term")
        c3 = Client(port, "p5-term-311", proto=V311)
        fmtest.stop(proc)
        c5.expect_disconnect("server", 0x8B)
        try:
            got = c3.disconnects.get(timeout=TIMEOUT)
        except queue.Empty:
            fail("3.1.1 client not disconnected on SIGTERM")
        if got[1] == 0:
            fail("3.1.1 client saw a clean disconnect")


# ---------------------------------------------------------------------------
# Receive Maximum and Maximum Packet Size


@slow
def check_MQTT_3_3_4_9_client_receive_maximum(port):
    """Client Receive Maximum 2: at most 2 QoS 1/2 PUBLISH without PUBACK/PUBCOMP towards it; the rest go as acks arrive."""
    for qos, ack in ((1, "PUBACK"), (2, "PUBCOMP")):
        topic = "p5/rm/q%d" % qos
        sub = Client(port, "p5-rm-%d" % qos, cprops=connect_props(ReceiveMaximum=2))
        sub.subscribe(topic, qos)
        sub.c.hold = {ack}
        pub = Client(port, "p5-rm-pub-%d" % qos)
        for i in range(6):
            pub.publish(topic, b"m%d" % i, qos)
        for i in range(2):
            sub.expect(topic, b"m%d" % i, qos)
        sub.expect_nothing()   # m2.. wait for an acknowledgement
        sub.c.release()
        sub.expect(topic, b"m2", qos)
        sub.expect_nothing()
        sub.c.release_all()
        for i in range(3, 6):
            sub.expect(topic, b"m%d" % i, qos)
        sub.expect_nothing(0.3)
        sub.close()
        pub.close()


def check_MQTT_3_3_4_9_client_receive_maximum_on_resume(port):
    """Queued messages sent on session resumption also respect the client's Receive Maximum (2)."""
    c = Client(port, "p5-rmr", clean_start=False, session_expiry=60)
    c.subscribe("p5/rmr/t", 1)
    c.close()
    time.sleep(SETTLE)
    pub = Client(port, "p5-rmr-pub")
    for i in range(5):
        pub.publish("p5/rmr/t", b"q%d" % i, 1, want_rc=0x00)
    c = Client(port, "p5-rmr", clean_start=False, session_expiry=0,
               cprops=connect_props(ReceiveMaximum=2), hold={"PUBACK"})
    c.expect_session(True)
    c.expect("p5/rmr/t", b"q0", 1)
    c.expect("p5/rmr/t", b"q1", 1)
    c.expect_nothing()
    c.c.release_all()
    for i in range(2, 5):
        c.expect("p5/rmr/t", b"q%d" % i, 1)
    c.expect_nothing(0.3)
    pub.close()
    c.close()


def check_MQTT_3_3_4_7_receive_maximum_exceeded_0x93(port):
    """A client with 20 QoS 2 PUBLISH unreleased (no PUBREL) that sends one more gets DISCONNECT 0x93."""
    sub = Client(port, "p5-rmq-sub")
    sub.subscribe("p5/rmq/t", 2)
    pub = Client(port, "p5-rmq-pub", hold={"PUBREL"})
    pub.c.max_inflight_messages_set(0)   # paho 1.6 ignores the CONNACK's Receive Maximum
    for i in range(20):
        info = pub.c.publish("p5/rmq/t", b"m%d" % i, qos=2)
        rc = pub.ack_for(info.mid, "PUBREC")
        if rc != 0x00:
            fail("QoS 2 PUBLISH %d of 20 answered PUBREC 0x%02x, want 0x00" % (i + 1, rc))
    if not pub.disconnects.empty():
        fail("disconnected with 20 QoS 2 PUBLISH unreleased: %r" % (pub.disconnects.get(),))
    pub.c.publish("p5/rmq/t", b"one too many", qos=2)
    pub.expect_disconnect("server", 0x93)
    sub.close()   # (QoS 2 may be delivered on PUBLISH or on PUBREL: not checked)


@slow
def check_MQTT_3_1_2_25_client_maximum_packet_size(port):
    """Client Maximum Packet Size 200: a larger PUBLISH (QoS 0/1, retained) is not sent, QoS 1 counts as delivered; smaller ones are."""
    pub = Client(port, "p5-mps-pub")
    pub.publish("p5/mps/big", b"r" * 400, 1, retain=True)
    pub.publish("p5/mps/small", b"small retained", 1, retain=True)
    sub = Client(port, "p5-mps", clean_start=False, session_expiry=60,
                 cprops=connect_props(MaximumPacketSize=200))
    sub.subscribe("p5/mps/+", 1)
    sub.expect("p5/mps/small", b"small retained", 1, retain=True)
    sub.expect_nothing(0.3)
    pub.publish("p5/mps/t", b"x" * 400, 1, want_rc=0x00)
    pub.publish("p5/mps/t", b"small", 1)
    sub.expect("p5/mps/t", b"small", 1)
    pub.publish("p5/mps/t", b"y" * 150, 0,
                properties=pub_props(UserProperty=[("pad", "z" * 60)]))
    pub.publish("p5/mps/t", b"small again", 0)
    sub.expect("p5/mps/t", b"small again", 0)
    sub.close()
    time.sleep(SETTLE)
    # the oversized QoS 1 message counts as delivered: nothing left queued
    sub = Client(port, "p5-mps", clean_start=False, session_expiry=60)
    sub.expect_session(True)
    sub.expect_nothing()
    sub.close()
    time.sleep(SETTLE)
    # queued while offline, then resumed by a connection with a limit
    pub.publish("p5/mps/t", b"q" * 400, 1, want_rc=0x00)
    pub.publish("p5/mps/t", b"queued small", 1, want_rc=0x00)
    sub = Client(port, "p5-mps", clean_start=False, session_expiry=0,
                 cprops=connect_props(MaximumPacketSize=200))
    sub.expect_session(True)
    sub.expect("p5/mps/t", b"queued small", 1)
    sub.expect_nothing()
    for topic in ("p5/mps/big", "p5/mps/small"):
        pub.publish(topic, b"", 1, retain=True)
    sub.close()
    pub.close()


def check_sec_3_2_2_3_6_server_maximum_packet_size_0x95():
    """max_packet_size 1000, message_size_limit 500: CONNACK Maximum Packet Size 1000; larger packet or payload: DISCONNECT 0x95."""
    with fmtest.broker("max_packet_size 1000\nmessage_size_limit 500") as (port, _proc, _tmp):
        sub = Client(port, "p5-smps-sub")
        got = prop(sub.connack_props, "MaximumPacketSize")
        if got != 1000:
            fail("CONNACK Maximum Packet Size %r, want 1000" % got)
        sub.subscribe("p5/smps/t", 1)
        pub = Client(port, "p5-smps-pub")
        pub.publish("p5/smps/t", b"x" * 500, 1)
        sub.expect("p5/smps/t", b"x" * 500, 1)
        pub.publish("p5/smps/t", b"x" * 100, 0,
                    properties=pub_props(UserProperty=[("pad", "y" * 900)]))
        pub.expect_disconnect("server", 0x95)
        pub = Client(port, "p5-smps-pub2")
        pub.publish("p5/smps/t", b"x" * 501, 0)
        pub.expect_disconnect("server", 0x95)
        sub.expect_nothing(0.3)
        sub.close()


# ---------------------------------------------------------------------------
# 3.1.1 and 5.0 mixed


def check_mixed_311_subscriber_gets_v5_publish(port):
    """A 3.1.1 subscriber gets 5.0 publishes (with properties) as plain 3.1.1 messages, and a 5.0 will."""
    sub = Client(port, "p5-mx3-sub", proto=V311)
    sub.subscribe("p5/mx3/#", 2)
    pub = Client(port, "p5-mx3-pub")
    full = pub_props(UserProperty=[("a", "1"), ("a", "2")], ContentType="text/plain",
                     ResponseTopic="p5/mx3/reply", CorrelationData=b"\x00c",
                     PayloadFormatIndicator=1, MessageExpiryInterval=60)
    for qos in (0, 1, 2):
        pub.publish("p5/mx3/t", b"from 5.0 q%d" % qos, qos, properties=full)
        sub.expect("p5/mx3/t", b"from 5.0 q%d" % qos, qos, retain=False)
    pub.publish("p5/mx3/alias", b"via alias", 1, properties=pub_props(TopicAlias=2))
    pub.publish("", b"via alias again", 1, properties=pub_props(TopicAlias=2))
    sub.expect("p5/mx3/alias", b"via alias", 1)
    sub.expect("p5/mx3/alias", b"via alias again", 1)
    pub.publish("p5/mx3/kept", b"retained 5.0", 1, retain=True, properties=full)
    sub.expect("p5/mx3/kept", b"retained 5.0", 1, retain=False)
    late = Client(port, "p5-mx3-late", proto=V311)
    late.subscribe("p5/mx3/kept", 1)
    late.expect("p5/mx3/kept", b"retained 5.0", 1, retain=True)
    dying = Client(port, "p5-mx3-dying", will=("p5/mx3/will", b"5.0 will", 1, False,
                                                will_props(UserProperty=[("w", "1")])))
    dying.drop()
    sub.expect("p5/mx3/will", b"5.0 will", 1)
    pub.publish("p5/mx3/kept", b"", 1, retain=True)
    for c in (sub, pub, late):
        c.close()


def check_mixed_v5_subscriber_gets_311_publish(port):
    """A 5.0 subscriber gets 3.1.1 publishes and a 3.1.1 will, without properties."""
    sub = Client(port, "p5-mx5-sub")
    sub.subscribe("p5/mx5/#", 2)
    pub = Client(port, "p5-mx5-pub", proto=V311)
    for qos in (0, 1, 2):
        pub.publish("p5/mx5/t", b"from 3.1.1 q%d" % qos, qos)
        m = sub.expect("p5/mx5/t", b"from 3.1.1 q%d" % qos, qos, retain=False)
        check_props(sub, m)
    pub.publish("p5/mx5/kept", b"retained 3.1.1", 1, retain=True)
    sub.expect("p5/mx5/kept", b"retained 3.1.1", 1, retain=False)
    late = Client(port, "p5-mx5-late")
    late.subscribe("p5/mx5/kept", 1)
    m = late.expect("p5/mx5/kept", b"retained 3.1.1", 1, retain=True)
    check_props(late, m)
    dying = Client(port, "p5-mx5-dying", proto=V311, will=("p5/mx5/will", b"3.1.1 will", 1, False))
    dying.drop()
    m = sub.expect("p5/mx5/will", b"3.1.1 will", 1)
    check_props(sub, m)
    pub.publish("p5/mx5/kept", b"", 1, retain=True)
    for c in (sub, pub, late):
        c.close()


def check_mixed_311_client_is_a_shared_subscription_member(port):
    """A 3.1.1 client's $share/g/f filter makes it a member of the shared subscription: it gets messages published on f (4.8.2)."""
    c = Client(port, "p5-sh311", proto=V311)
    c.subscribe("$share/g/p5/sh311/t", 1, want=[1])
    pub = Client(port, "p5-sh311-pub")
    pub.publish("p5/sh311/t", b"for the group", 1, want_rc=0x00)
    c.expect("p5/sh311/t", b"for the group", 1)
    c.expect_nothing(0.3)
    c.close()
    pub.close()


# ---------------------------------------------------------------------------
# Broker restart


@slow
def check_MQTT_3_1_2_23_session_state_survives_restart():
    """A restart keeps sessions, subscriptions (options, identifier), queued messages and properties, a waiting will; expiry clocks run on."""
    with fmtest.broker() as (port, proc, tmp):
        sub = Client(port, "p5-pr-sub", clean_start=False, session_expiry=300)
        sub.subscribe("p5/pr/#", options=SubscribeOptions(qos=1, noLocal=True),
                      properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=42))
        sub.close()
        short = Client(port, "p5-pr-short", clean_start=False, session_expiry=2)
        short.close()
        time.sleep(SETTLE)
        live = Client(port, "p5-pr-live")
        live.subscribe("p5/pr/#", 1)
        pub = Client(port, "p5-pr-pub")
        pp = pub_props(UserProperty=[("k", "1"), ("k", "2")], ContentType="text/plain",
                       CorrelationData=b"\x00\x01", MessageExpiryInterval=300)
        t0 = time.monotonic()
        pub.publish("p5/pr/t", b"expires", 1, want_rc=0x00,
                    properties=pub_props(MessageExpiryInterval=2))
        pub.publish("p5/pr/t", b"queued", 1, want_rc=0x00, properties=pp)
        pub.publish("p5/pr/kept", b"retained, expires", 1, retain=True,
                    properties=pub_props(MessageExpiryInterval=2))
        pub.publish("p5/pr/kept2", b"retained", 1, retain=True)
        for payload in (b"expires", b"queued", b"retained, expires", b"retained"):
            live.get(payload)
        dying = Client(port, "p5-pr-will", session_expiry=300, will=(
            "p5/pr/will", b"after restart", 1, False, will_props(WillDelayInterval=4)))
        dying.drop()
        time.sleep(0.3)
        pub.close()
        fmtest.stop(proc)
        live.expect_disconnect("server", 0x8B)
        live.expect_nothing(0.05)   # the delayed will was not published at shutdown

        proc, port = fmtest.start_broker(tmp)
        try:
            time.sleep(max(0, 3.5 - (time.monotonic() - t0)))
            short = Client(port, "p5-pr-short", clean_start=False)
            short.expect_session(False)
            short.close()
            sub = Client(port, "p5-pr-sub", clean_start=False, session_expiry=300)
            sub.expect_session(True)
            m = sub.get("the queued message")
            if m.payload != b"queued":
                fail("after restart and its expiry: got %r, want b'queued'" % m.payload)
            mei = prop(m.properties, "MessageExpiryInterval")
            if mei is None or not 200 <= mei <= 300:
                fail("after restart: Message Expiry Interval %r, want 200..300" % mei)
            check_props(sub, m, UserProperty=[("k", "1"), ("k", "2")], ContentType="text/plain",
                        CorrelationData=b"\x00\x01", MessageExpiryInterval=mei,
                        SubscriptionIdentifier=[42])
            # queued too (as a normal message): the retained one without expiry
            m = sub.get("the queued b'retained'")
            if (m.topic, m.payload, m.retain) != ("p5/pr/kept2", b"retained", 0):
                fail("after restart: got %r on %s (retain %d), want b'retained' on p5/pr/kept2 "
                     "(the one with expiry 2 s expired)" % (m.payload, m.topic, m.retain))
            m = sub.expect("p5/pr/will", b"after restart", 1)
            check_props(sub, m, SubscriptionIdentifier=[42])
            sub.publish("p5/pr/own", b"no local", 1)   # matches, but No Local
            other = Client(port, "p5-pr-other")
            other.publish("p5/pr/t", b"new", 1, want_rc=0x00)
            m = sub.expect("p5/pr/t", b"new", 1)
            check_props(sub, m, SubscriptionIdentifier=[42])
            other.subscribe("p5/pr/+", 1)
            m = other.get("the retained messages left")
            if (m.topic, m.payload) != ("p5/pr/kept2", b"retained"):
                fail("after restart: retained %r on %s, want only b'retained' on p5/pr/kept2"
                     % (m.payload, m.topic))
            other.expect_nothing(0.5)
            sub.close()
            other.close()
            time.sleep(SETTLE)
            again = Client(port, "p5-pr-sub", clean_start=False, session_expiry=0)
            again.expect_session(True)   # interval 300 survived too
            again.close()
        finally:
            if proc.poll() is None:
                fmtest.stop(proc)


# ---------------------------------------------------------------------------

CHECKS = [
    # CONNACK and CONNECT refusals
    check_sec_3_2_2_3_connack_properties,
    check_MQTT_3_2_2_16_assigned_client_identifier,
    check_MQTT_3_2_2_21_server_keep_alive,
    check_sec_3_2_2_3_connack_limits_from_config,
    check_MQTT_3_2_2_13_retain_not_available,
    check_sec_3_2_2_2_connect_refused_not_authorized_0x87,
    check_MQTT_4_12_0_1_authentication_method_0x8C,
    check_sec_3_2_2_2_will_refusals,
    # Sessions
    check_MQTT_4_1_0_2_session_expiry_0_ends_with_connection,
    check_MQTT_3_1_2_5_session_resumed_within_expiry,
    check_MQTT_4_1_0_2_session_discarded_after_expiry,
    check_MQTT_3_1_2_4_clean_start_discards_session,
    check_sec_3_14_2_2_2_disconnect_session_expiry_to_0,
    check_sec_3_14_2_2_2_disconnect_session_expiry_change,
    check_sec_3_14_2_2_2_disconnect_session_expiry_0_to_n_refused,
    # PUBLISH properties
    check_MQTT_3_3_2_18_user_property_order,
    check_MQTT_3_3_2_20_content_type,
    check_MQTT_3_3_2_15_response_topic,
    check_MQTT_3_3_2_16_correlation_data,
    check_MQTT_3_3_2_4_payload_format_indicator,
    check_MQTT_3_3_2_17_retained_message_keeps_properties,
    check_sec_3_3_2_3_2_payload_format_invalid_0x99,
    # Message expiry
    check_MQTT_3_3_2_6_message_expiry_remaining,
    check_MQTT_3_3_2_5_expired_message_not_delivered,
    check_MQTT_3_3_2_5_expired_retained_not_sent,
    check_MQTT_3_3_2_5_expired_while_waiting_for_receive_maximum,
    check_MQTT_4_3_3_7_no_expiry_once_sent,
    # Topic aliases (client to server)
    check_MQTT_3_3_2_12_topic_alias_accepted,
    check_MQTT_3_3_2_7_topic_alias_not_carried_over,
    check_sec_3_3_2_3_4_topic_alias_invalid,
    # Reason codes of acks
    check_sec_3_4_2_1_puback_no_matching_subscribers,
    # Subscription options and identifiers
    check_MQTT_3_8_3_3_no_local,
    check_MQTT_3_3_1_12_13_retain_as_published,
    check_MQTT_3_3_1_9_10_11_retain_handling,
    check_MQTT_3_3_4_3_subscription_identifier,
    check_MQTT_3_3_4_5_overlapping_subscriptions_different_ids,
    check_MQTT_3_3_4_2_overlapping_subscriptions_same_id,
    # SUBACK / UNSUBACK
    check_MQTT_3_9_3_1_suback_shared_subscriptions_granted,
    check_MQTT_3_11_3_1_unsuback_reason_codes,
    # Wills
    check_MQTT_3_1_3_10_will_properties_forwarded,
    check_MQTT_3_1_2_8_will_delay_interval,
    check_MQTT_3_1_3_9_will_cancelled_by_reconnect,
    check_sec_3_1_3_2_2_will_sent_at_session_end,
    check_MQTT_3_14_4_3_disconnect_0x04_sends_will_0x00_not,
    check_MQTT_3_1_2_8_disconnect_0x04_honours_will_delay,
    # DISCONNECT from the server
    check_MQTT_3_1_4_3_session_takeover_0x8E,
    check_MQTT_3_1_2_29_request_problem_information_0,
    check_MQTT_3_1_2_22_keepalive_timeout_0x8D,
    check_sec_4_13_server_shutting_down_0x8B,
    # Receive Maximum and Maximum Packet Size
    check_MQTT_3_3_4_9_client_receive_maximum,
    check_MQTT_3_3_4_9_client_receive_maximum_on_resume,
    check_MQTT_3_3_4_7_receive_maximum_exceeded_0x93,
    check_MQTT_3_1_2_25_client_maximum_packet_size,
    check_sec_3_2_2_3_6_server_maximum_packet_size_0x95,
    # 3.1.1 and 5.0 mixed
    check_mixed_311_subscriber_gets_v5_publish,
    check_mixed_v5_subscriber_gets_311_publish,
    check_mixed_311_client_is_a_shared_subscription_member,
    # Broker restart
    check_MQTT_3_1_2_23_session_state_survives_restart,
]


def run_check(check, port, stopped, report):
    """Run one check in this thread; True if it passed, None if skipped
    (an earlier check failed)."""
    if stopped.is_set():
        return None
    CURRENT.name = check.__name__
    t0 = time.monotonic()
    try:
        if check.__code__.co_argcount:
            check(port)
        else:
            check()
        ok = True
    except SystemExit:      # fail() has reported it
        ok = False
    except BaseException:   # a bug in the check: report it like a failure
        sys.stdout.flush()
        print("FAIL: %s raised:\n%s" % (check.__name__, traceback.format_exc()),
              file=sys.stderr, flush=True)
        ok = False
    if not ok:
        stopped.set()
    report("%s: %s\n  %s (%.1f s)" % (check.__name__, check.__doc__,
                                       "ok" if ok else "FAILED", time.monotonic() - t0))
    return ok


def main():
    args = sys.argv[1:]
    jobs = JOBS
    if args[:1] == ["--jobs"] and len(args) > 1 and args[1].isdigit() and int(args[1]) > 0:
        jobs, args = int(args[1]), args[2:]
    names = set(args)
    unknown = names - {c.__name__ for c in CHECKS}
    if unknown:
        fmtest.fail("unknown checks: %s" % ", ".join(sorted(unknown)))
    checks = [c for c in CHECKS if not names or c.__name__ in names]
    # the slow ones first (sorted() is stable: otherwise in CHECKS order)
    order = sorted(checks, key=lambda c: not getattr(c, "slow", False))
    started = time.monotonic()
    lock = threading.Lock()

    def report(text):
        with lock:
            print(text, flush=True)

    stopped = threading.Event()
    with fmtest.broker() as (port, _proc, tmp):
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(lambda c: run_check(c, port, stopped, report), order))
        failed = [c.__name__ for c, r in zip(order, results) if r is False]
        if failed:
            print("shared broker log, last lines:\n" + fmtest.log_tail(tmp), file=sys.stderr)
            print("paho5: failed: %s (%d checks not started after the failure)"
                  % (", ".join(failed), results.count(None)), file=sys.stderr)
            sys.exit(1)
    print("paho5: %d checks passed in %.1f s (%d at once)"
          % (len(checks), time.monotonic() - started, jobs))


if __name__ == "__main__":
    main()
