#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_decode: hand-built MQTT packet streams.
Each seed is: version selector byte, split byte, then the packet stream."""
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

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "decode")
os.makedirs(here, exist_ok=True)
for name, (ver, split, stream) in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(bytes([ver, split]) + stream)
print(f"wrote {len(seeds)} seeds to {here}")
