#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_decode and fuzz_session: hand-built MQTT
packet streams.
fuzz_decode: version selector byte, split byte, then the packet stream.
fuzz_session: knob byte, then segments joined by SPLIT, each a client byte
(bits 0-1 the client, bit 7 close its socket afterwards) and the bytes that
client sends (fuzz_session.c describes the format)."""
import os
import struct

def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)

def s(text):
    b = text.encode()
    return struct.pack(">H", len(b)) + b

def pkt(first, body):
    return bytes([first]) + varint(len(body)) + body

def connect(level=4, name="MQTT", flags=0x02, cid="c1", extra=b"", props=b""):
    body = s(name) + bytes([level, flags]) + struct.pack(">H", 60)
    if level == 5:
        body += varint(len(props)) + props
    return pkt(0x10, body + s(cid) + extra)

seeds = {
    "connect311": (1, 5, connect()),
    "connect31": (0, 3, connect(3, "MQIsdp")),
    "connect5": (2, 9, connect(5, props=b"\x11\x00\x00\x00\x3c")),
    "connect_will_user_pass": (1, 20, connect(flags=0xEE, extra=s("w/t") + s("bye") + s("u") + s("p"))),
    "publish_qos0": (1, 2, connect() + pkt(0x30, s("a/b") + b"hello")),
    "publish_qos1": (1, 7, connect() + pkt(0x32, s("a/b") + b"\x00\x01" + b"x")),
    "publish_qos2_flow": (1, 11, connect() + pkt(0x34, s("a") + b"\x00\x02" + b"y") + pkt(0x62, b"\x00\x02")),
    "publish5_props": (2, 4, connect(5) + pkt(0x32, s("t") + b"\x00\x05" + b"\x02\x01\x01" + b"p")),
    "subscribe": (1, 13, connect() + pkt(0x82, b"\x00\x03" + s("a/+") + b"\x01" + s("#") + b"\x02")),
    "unsubscribe": (1, 6, connect() + pkt(0xA2, b"\x00\x04" + s("a/+"))),
    "ping_disconnect": (1, 1, connect() + pkt(0xC0, b"") + pkt(0xE0, b"")),
    "acks": (1, 3, pkt(0x40, b"\x00\x01") + pkt(0x50, b"\x00\x02") + pkt(0x70, b"\x00\x02")),
    "acks5": (2, 3, pkt(0x40, b"\x00\x01\x10\x00") + pkt(0x50, b"\x00\x02\x80")),
    "connack_suback": (1, 2, pkt(0x20, b"\x00\x00") + pkt(0x90, b"\x00\x01\x00\x01\x80")),
    "disconnect5": (2, 2, pkt(0xE0, b"\x8e\x00")),
    "bad_varint": (1, 1, b"\x30\xff\xff\xff\xff\x01"),
    # 5.0 property sections the protocol layer reads and forwards
    "publish5_forwarded": (2, 6, connect(5) + pkt(0x32, s("t/u") + b"\x00\x07" +
        varint(33) + b"\x01\x01" + b"\x02\x00\x00\x00\x0a" + b"\x03" + s("text") +
        b"\x08" + s("r/t") + b"\x09" + s("id") + b"\x23\x00\x01" + b"\x26" + s("k") + s("v") +
        b"") + pkt(0x30, b"\x00\x00" + b"\x03\x23\x00\x01" + b"again")),
    "connect5_will_props": (2, 12, connect(5, flags=0x0E, props=b"\x21\x00\x02\x22\x00\x05\x27\x00\x00\x10\x00",
        extra=varint(10) + b"\x18\x00\x00\x00\x05\x02\x00\x00\x00\x3c" + s("w/t") + s("bye"))),
    "subscribe5_options": (2, 8, connect(5) + pkt(0x82, b"\x00\x03" + b"\x02\x0b\x07" + s("$share/g/a/#") + b"\x2d" +
        s("b") + b"\x1e")),
    "auth5": (2, 3, pkt(0xF0, b"\x18\x05\x15" + s("xx"))),
    "bad_utf8": (1, 4, connect() + pkt(0x30, b"\x00\x02\xed\xa0" + b"x")),
}

def write_corpus(target, files):
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", target)
    os.makedirs(here, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(here, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(files)} seeds to {here}")

write_corpus("decode", {name: bytes([ver, split]) + stream for name, (ver, split, stream) in seeds.items()})

# --- fuzz_session: clients talking to a broker ----------------------------

SPLIT = b"|FM|"
CLOSE = 0x80
# after the segment, the worker's clock moves ahead by 1 s, 6 s, 100 s or a day
LATER_1S, LATER_6S, LATER_100S, LATER_DAY = 0x40, 0x50, 0x60, 0x70

def props(*items):
    body = b"".join(items)
    return varint(len(body)) + body

def p_byte(pid, v): return bytes([pid, v])
def p_u16(pid, v): return bytes([pid]) + struct.pack(">H", v)
def p_u32(pid, v): return bytes([pid]) + struct.pack(">I", v)
def p_str(pid, text): return bytes([pid]) + s(text)

def conn(cid, v=4, clean=True, will=None, user=None, password=None, keepalive=60, cprops=b""):
    """CONNECT; will = (topic, payload, qos, retain[, will properties])."""
    flags = (0x02 if clean else 0) | (0x80 if user is not None else 0) | (0x40 if password is not None else 0)
    payload = s(cid)
    if will:
        flags |= 0x04 | (will[2] << 3) | (0x20 if will[3] else 0)
        if v == 5:
            payload += props(*(will[4] if len(will) > 4 else ()))
        payload += s(will[0]) + s(will[1])
    if user is not None:
        payload += s(user)
    if password is not None:
        payload += s(password)
    body = s("MQIsdp" if v == 3 else "MQTT") + bytes([v, flags]) + struct.pack(">H", keepalive)
    if v == 5:
        body += props(cprops)
    return pkt(0x10, body + payload)

def pub(topic, payload=b"", qos=0, pid=1, retain=False, dup=False, v=4, pprops=b""):
    first = 0x30 | (qos << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    body = s(topic) + (struct.pack(">H", pid) if qos else b"")
    if v == 5:
        body += props(pprops)
    return pkt(first, body + payload)

def ack(kind, pid, v=4, rc=None):
    """PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70."""
    return pkt(kind, struct.pack(">H", pid) + (bytes([rc]) if v == 5 and rc is not None else b""))

def sub(pid, filters, v=4, sprops=b""):
    body = struct.pack(">H", pid) + (props(sprops) if v == 5 else b"")
    return pkt(0x82, body + b"".join(s(f) + bytes([o]) for f, o in filters))

def unsub(pid, filters, v=4):
    return pkt(0xA2, struct.pack(">H", pid) + (props() if v == 5 else b"") + b"".join(s(f) for f in filters))

PING = pkt(0xC0, b"")

def disc(rc=None, dprops=b""):
    return pkt(0xE0, b"" if rc is None else bytes([rc]) + props(dprops))

def auth(rc, method, data):
    return pkt(0xF0, bytes([rc]) + props(p_str(0x15, method), bytes([0x16]) + s(data)))

def session_seed(knobs, *segments):
    """segments: (client byte, bytes it sends)."""
    return bytes([knobs]) + SPLIT.join(bytes([c]) + data for c, data in segments)

V5 = dict(v=5)
session = {
    # 3.1.1: subscribe, publish at each QoS with every acknowledgement
    "qos0_fanout": session_seed(0,
        (0, conn("s1") + sub(1, [("a/+", 0)])), (1, conn("s2") + sub(1, [("a/#", 0)])),
        (2, conn("p") + pub("a/b", b"hi") + PING + disc())),
    "qos1_flow": session_seed(0,
        (0, conn("s") + sub(1, [("a/#", 1)])), (1, conn("p") + pub("a/x", b"one", 1, 5)),
        (0, ack(0x40, 1)), (1, disc())),
    "qos2_flow": session_seed(0,
        (0, conn("s") + sub(1, [("a/#", 2)])), (1, conn("p") + pub("a/x", b"two", 2, 7)),
        (1, ack(0x62, 7)), (0, ack(0x50, 1)), (0, ack(0x70, 1)), (1, disc()), (0, disc())),
    "qos2_flow5": session_seed(0,
        (0, conn("s", **V5) + sub(1, [("a/#", 2)], sprops=b"\x0b\x07", **V5)),
        (1, conn("p", **V5) + pub("a/x", b"two", 2, 7, pprops=p_u32(0x02, 30) + p_str(0x03, "text"), **V5)),
        (1, ack(0x62, 7, rc=0, **V5)), (0, ack(0x50, 1, rc=0, **V5)), (0, ack(0x70, 1, rc=0, **V5)),
        (1, ack(0x62, 99, rc=0, **V5)), (1, disc(0))),
    "qos2_duplicate": session_seed(0,
        (0, conn("s") + sub(1, [("a/#", 2)])),
        (1, conn("p") + pub("a/x", b"d", 2, 3) + pub("a/x", b"d", 2, 3, dup=True) + ack(0x62, 3) + ack(0x62, 3))),
    "mqtt31": session_seed(0,
        (0, conn("old", v=3) + sub(1, [("t/#", 1)], v=3)), (1, conn("new") + pub("t/1", b"x", 1, 2)),
        (0, ack(0x40, 1, v=3))),
    # retained messages: set, delivered on subscribe, cleared
    "retained": session_seed(0,
        (0 | CLOSE, conn("p") + pub("r/1", b"v1", 1, 1, retain=True) + pub("r/2", b"v2", 0, retain=True) + disc()),
        (1, conn("s") + sub(1, [("r/#", 1)])), (1, ack(0x40, 1)),
        (0, conn("p2") + pub("r/1", b"", 0, retain=True)), (1, sub(2, [("r/+", 0)]))),
    "retained5_handling": session_seed(0,
        (0, conn("p", **V5) + pub("r/a", b"v", 1, 1, retain=True, **V5)),
        (1, conn("s", **V5) + sub(1, [("r/#", 0x01 | 0x08)], **V5) + sub(2, [("r/#", 0x11)], **V5) +
            sub(3, [("r/#", 0x21)], **V5) + sub(4, [("r/#", 0x05)], **V5))),
    # wills: on a lost connection, after DISCONNECT 0x04, delayed and cancelled
    "will": session_seed(0,
        (1, conn("s") + sub(1, [("w/#", 1)])),
        (0 | CLOSE, conn("w", will=("w/gone", "bye", 1, True)))),
    "will5_disconnect_with_will": session_seed(0,
        (1, conn("s", **V5) + sub(1, [("w/#", 0)], **V5)),
        (0, conn("w", will=("w/x", "bye", 0, False, [p_u32(0x02, 10), p_byte(0x01, 1)]), **V5) + disc(0x04))),
    "will5_delay_cancelled": session_seed(0,
        (1, conn("s", **V5) + sub(1, [("w/#", 1)], **V5)),
        (0 | CLOSE, conn("w", clean=False, will=("w/x", "late", 1, False, [p_u32(0x18, 30)]),
                         cprops=p_u32(0x11, 60), **V5)),
        (0, conn("w", clean=False, cprops=p_u32(0x11, 60), **V5) + disc(0, p_u32(0x11, 0)))),
    "will5_delay_session_end": session_seed(0,
        (1, conn("s", **V5) + sub(1, [("w/#", 1)], **V5)),
        (0 | CLOSE, conn("w", clean=False, will=("w/x", "late", 1, True, [p_u32(0x18, 30)]),
                         cprops=p_u32(0x11, 60), **V5))),
    # 5.0 topic aliases both ways
    "topic_alias5": session_seed(0,
        (0, conn("s", cprops=p_u16(0x22, 2), **V5) + sub(1, [("t/#", 0)], **V5)),
        (1, conn("p", **V5) + pub("t/one", b"1", pprops=p_u16(0x23, 1), **V5) + pub("", b"2", pprops=p_u16(0x23, 1), **V5) +
            pub("t/two", b"3", pprops=p_u16(0x23, 1), **V5) + pub("t/three", b"4", **V5) + pub("t/four", b"5", **V5) +
            pub("", b"6", pprops=p_u16(0x23, 9), **V5))),
    "topic_alias5_zero": session_seed(0, (0, conn("p", **V5) + pub("t/x", b"x", pprops=p_u16(0x23, 0), **V5))),
    # shared subscriptions, both versions in one group
    "shared": session_seed(0,
        (0, conn("g1", **V5) + sub(1, [("$share/g/s/#", 1)], **V5)), (1, conn("g2") + sub(1, [("$share/g/s/#", 1)])),
        (2, conn("p") + pub("s/1", b"1", 1, 1) + pub("s/2", b"2", 1, 2) + pub("s/3", b"3", 1, 3)),
        (0, ack(0x40, 1, **V5)), (1, unsub(2, ["$share/g/s/#"])), (2, pub("s/4", b"4", 1, 4))),
    "unsubscribe": session_seed(0,
        (0, conn("s") + sub(1, [("u/+", 1), ("u/#", 0)]) + unsub(2, ["u/+", "nothing"])),
        (1, conn("p") + pub("u/1", b"x", 1, 1)), (0, unsub(3, ["u/#"]) + PING)),
    # sessions: persistent, resumed with what waited, expired, taken over
    "persistent": session_seed(0,
        (0 | CLOSE, conn("q", clean=False) + sub(1, [("q/#", 1)])),
        (1, conn("p") + pub("q/1", b"1", 1, 1) + pub("q/2", b"2", 1, 2) + pub("q/3", b"3", 0)),
        (0, conn("q", clean=False)), (0, ack(0x40, 1) + ack(0x40, 2))),
    "session5_expiry": session_seed(0,
        (0 | CLOSE, conn("e", clean=False, cprops=p_u32(0x11, 30), **V5) + sub(1, [("e/#", 2)], **V5)),
        (1, conn("p", **V5) + pub("e/1", b"x", 2, 1, **V5) + ack(0x62, 1, **V5)),
        (0, conn("e", clean=False, cprops=p_u32(0x11, 30), **V5) + ack(0x50, 1, **V5))),
    "takeover": session_seed(0,
        (0, conn("same", clean=False) + sub(1, [("x/#", 1)])), (1, conn("same", clean=False)),
        (2, conn("p") + pub("x/1", b"y", 1, 1)), (0, PING)),
    "receive_max5": session_seed(0,
        (0, conn("s", cprops=p_u16(0x21, 1) + p_u32(0x27, 64), **V5) + sub(1, [("m/#", 1)], **V5)),
        (1, conn("p", **V5) + b"".join(pub("m/1", b"x" * n, 1, n + 1, **V5) for n in (1, 2, 100))),
        (0, ack(0x40, 1, **V5)), (0, ack(0x40, 2, **V5))),
    # connection rules
    "second_connect": session_seed(0, (0, conn("c") + conn("c"))),
    "second_connect5": session_seed(0, (0, conn("c", **V5) + conn("c", **V5))),
    "before_connect": session_seed(0, (0, pub("a", b"x")), (1, PING), (2, sub(1, [("a", 0)]))),
    "empty_id": session_seed(0, (0, conn("")), (1, conn("", **V5) + disc()), (2, conn("", clean=False))),
    "user_password": session_seed(0, (0, conn("u", user="alice", password="pw") + pub("a/b", b"x"))),
    # enhanced authentication with the test plugin's methods
    "auth5_challenge": session_seed(0,
        (0, conn("a", cprops=p_str(0x15, "TEST-CHALLENGE") + bytes([0x16]) + s("hello"), **V5)),
        (0, auth(0x18, "TEST-CHALLENGE", "response-1")), (0, auth(0x18, "TEST-CHALLENGE", "response-2")),
        (0, auth(0x19, "TEST-CHALLENGE", "hello") + auth(0x18, "TEST-CHALLENGE", "response-1") +
            auth(0x18, "TEST-CHALLENGE", "response-2") + pub("a/1", b"x", **V5))),
    "auth5_oneshot": session_seed(0,
        (0, conn("a", cprops=p_str(0x15, "TEST-ONESHOT") + bytes([0x16]) + s("secret"), **V5) + PING),
        (1, conn("b", cprops=p_str(0x15, "TEST-ONESHOT") + bytes([0x16]) + s("wrong"), **V5)),
        (2, conn("c", cprops=p_str(0x15, "TEST-NAMED") + bytes([0x16]) + s("secret"), **V5) +
            auth(0x19, "TEST-NAMED", "secret"))),
    "auth5_unknown_method": session_seed(0,
        (0, conn("a", cprops=p_str(0x15, "SCRAM-SHA-1"), **V5)), (1, conn("b", **V5) + auth(0x19, "X", "y"))),
    # hostile packets after CONNECT
    "bad_packets": session_seed(0,
        (0, conn("b1") + pkt(0x36, s("a") + b"\x00\x01")), (1, conn("b2") + pub("a/+", b"x")),
        (2, conn("b3") + pkt(0x32, s("a") + b"\x00\x00")), (0, conn("b4") + b"\x30\xff\xff\xff\xff\x01"),
        (1, conn("b5") + pkt(0x30, b"\x00\x02\xed\xa0x")), (2, conn("b6") + pkt(0x80, b"\x00\x01"))),
    "bad_props5": session_seed(0,
        (0, conn("b", **V5) + pkt(0x30, s("t") + b"\x06\x23\x00\x01\x23\x00\x01")),
        (1, conn("c", **V5) + pkt(0x30, s("t") + b"\x7f"))),
    # knobs: byte by byte, interleaved; tight limits and the ACL (broker 1)
    "bytewise": session_seed(0x02,
        (0, conn("s", **V5) + sub(1, [("a/#", 1)], **V5)), (1, conn("p") + pub("a/1", b"x", 1, 1)),
        (0, ack(0x40, 1, **V5))),
    "tight_queue": session_seed(0x01,
        (0, conn("s", clean=False) + sub(1, [("a/#", 1)])),
        (1, conn("p") + b"".join(pub("a/q", b"m%d" % i, 1, i + 1) for i in range(8))),
        (0, ack(0x40, 1) + ack(0x40, 2) + ack(0x40, 9))),
    "tight_acl": session_seed(0x01,
        (0, conn("c1") + sub(1, [("#", 0), ("r/#", 0), ("c/c1/#", 1), ("a/secret", 0)]) +
            pub("a/secret", b"no") + pub("w/ok", b"yes", 1, 2) + pub("r/no", b"no", 1, 3)),
        (1, conn("x", user="alice") + sub(1, [("#", 1)]) + pub("z/any", b"ok", 1, 1))),
    "tight_limits5": session_seed(0x01,
        (0, conn("l", cprops=p_u16(0x22, 3), **V5) +
            sub(1, [("a/1", 0), ("a/2", 0), ("a/3", 0), ("a/4", 0), ("a/5", 0), ("a/6", 0), ("a/7", 0)], **V5) +
            sub(2, [("a/b/c/d/e/f", 0)], **V5) + pub("a/1", b"x", pprops=p_u16(0x23, 4), **V5) +
            pub("a/1", b"x" * 300, **V5) + pub("a/t", b"r", retain=True, **V5)),
        (1, conn("k", keepalive=0, **V5) + pub("a/big", b"y" * 1100, **V5))),
}
# A subscriber that reads nothing (knob bit 5) asks for a retained set
# again and again until its output passes the high watermark; the
# publisher then pauses on it. Closed first, or (bit 4) last.
SLOW = ((1, conn("p") + b"".join(pub("f/%d" % i, b"z" * 600, retain=True) for i in range(8))),
        (0, conn("s") + b"".join(sub(i + 1, [("f/#", 0)]) for i in range(250))),
        (1, b"".join(pub("f/x", b"y" * 100) for i in range(4))))
session["slow_subscriber"] = session_seed(0x20 | 0x40, *SLOW)
session["slow_subscriber_closed_last"] = session_seed(0x30 | 0x40, *SLOW)
# ... and the stuck-consumer watch closes it
session["slow_subscriber_stalled"] = session_seed(0x20 | 0x40, *SLOW[:2], (SLOW[2][0] | LATER_6S, SLOW[2][1]),
                                                   (1 | LATER_6S, pub("f/y", b"after")), (1, PING))

# timers: the clock moves on after a segment
session.update({
    "keepalive_timeout": session_seed(0,
        (0, conn("k", keepalive=1) + PING), (1 | LATER_1S, conn("k2", keepalive=2, **V5)), (2 | LATER_100S, b"")),
    "will5_delay_fires": session_seed(0,
        (1, conn("s", **V5) + sub(1, [("w/#", 1)], **V5)),
        (0 | CLOSE | LATER_6S, conn("w", clean=False, will=("w/x", "late", 1, False, [p_u32(0x18, 5)]),
                                    cprops=p_u32(0x11, 60), **V5)),
        (1 | LATER_100S, ack(0x40, 1, **V5))),
    "session5_expires": session_seed(0,
        (0 | CLOSE | LATER_100S, conn("e", clean=False, cprops=p_u32(0x11, 10), **V5) + sub(1, [("e/#", 1)], **V5)),
        (1, conn("p") + pub("e/1", b"gone", 1, 1)), (0, conn("e", clean=False, **V5))),
    "rate_limit": session_seed(0x01,
        (0, conn("s") + sub(1, [("a/#", 0)])),
        (1 | LATER_1S, conn("p") + b"".join(pub("a/r", b"%d" % i, 1, i + 1) for i in range(14))),
        (1, pub("a/r", b"more", 1, 20) + disc())),
    "keepalive_rearm": session_seed(0,
        (0 | LATER_1S, conn("k", keepalive=2) + PING), (0 | LATER_1S, PING), (0 | LATER_1S, PING), (0 | LATER_6S, b"")),
    "auth5_disconnect_during": session_seed(0,
        (0, conn("a", cprops=p_str(0x15, "TEST-CHALLENGE") + bytes([0x16]) + s("hello"), **V5) + disc(0))),
    "auth5_endless_timeout": session_seed(0,
        (0 | LATER_100S, conn("a", cprops=p_str(0x15, "TEST-ENDLESS"), **V5) + auth(0x18, "TEST-ENDLESS", "x"))),
    "inflight_retry": session_seed(0x01,
        (0, conn("s", clean=False) + sub(1, [("a/#", 2)])),
        (1, conn("p") + b"".join(pub("a/i", b"%d" % i, 2, i + 1) + ack(0x62, i + 1) for i in range(6))),
        (0 | CLOSE, ack(0x50, 1)), (0, conn("s", clean=False) + ack(0x70, 1) + ack(0x40, 2) + ack(0x50, 2))),
})
# 5.0 PUBLISH and CONNECT rules, each on a client of its own (most close it)
session.update({
    "publish5_rules": session_seed(0,
        (0, conn("a", **V5) + pub("t", b"x", 1, 1, pprops=p_byte(0x0B, 3), **V5)),
        (1, conn("b", **V5) + pub("t", b"x", 1, 1, pprops=p_str(0x08, "r/#"), **V5)),
        (2, conn("c", **V5) + pub("t", b"\xff\xfe", 1, 1, pprops=p_byte(0x01, 1), **V5) +
            pub("t", b"\xc3\xa9", 1, 2, pprops=p_byte(0x01, 1), **V5) + pub("t", b"\xff", 0, pprops=p_byte(0x01, 1), **V5)),
        (0, conn("d", **V5) + pub("t/d", b"x", 2, 1, **V5) + pub("t/d", b"x", 2, 2, **V5) + ack(0x62, 1, **V5) +
            ack(0x62, 5, **V5))),
    "connect5_rules": session_seed(0,
        (0, conn("a", cprops=p_u32(0x27, 5), **V5)),
        (1, conn("b", will=("w/x", "y", 0, False, [p_str(0x08, "w/+")]), **V5)),
        (2, conn("c", will=("w/+", "y", 0, False), **V5)), (0, conn("d", will=("w/+", "y", 0, False))),
        (1, conn("e", keepalive=0, cprops=p_u16(0x21, 0), **V5)), (2, conn("f", v=6))),
    "tight_receive_max5": session_seed(0x01,
        (0, conn("r", **V5) + b"".join(pub("a/r", b"x", 2, i + 1, **V5) for i in range(3))),
        (1, conn("l") + pub("a/1/2/3/4/5/6", b"deep", 1, 1)),
        (2, conn("x") + sub(1, [("a/1/2/3/4/5/#", 0), ("u/x/+", 0)]) + unsub(2, ["a/+"]))),
    "overlapping_subs5": session_seed(0,
        (0, conn("s", **V5) + sub(1, [("o/#", 0)], sprops=b"\x0b\x01", **V5) + sub(2, [("o/+", 2)], sprops=b"\x0b\x02", **V5) +
            sub(3, [("+/b", 1)], **V5) + sub(4, [("$share/g/o/b", 1)], **V5)),
        (1, conn("p", **V5) + pub("o/b", b"x", 2, 1, **V5) + ack(0x62, 1, **V5)),
        (0, ack(0x50, 1, **V5) + ack(0x70, 1, **V5) + ack(0x40, 2, **V5))),
    "offline_queue_tight": session_seed(0x01,
        (0 | CLOSE, conn("q", clean=False) + sub(1, [("a/#", 1)])),
        (1, conn("p") + pub("a/0", b"zero") + b"".join(pub("a/%d" % i, b"q", 1, i + 1) for i in range(7))),
        (0, conn("q", clean=False)), (0, ack(0x40, 1) + ack(0x40, 2) + ack(0x40, 3))),
})
write_corpus("session", session)
