#!/usr/bin/env python3
"""Hostile input on a WebSocket listener (issue 9, the WebSocket surface),
from raw sockets that do the HTTP upgrade and RFC 6455 framing by hand
(masked client frames), Python's standard library only:

1. malformed MQTT inside binary frames: bad remaining lengths, a 5-byte
   varint, reserved flags, QoS 3, invalid UTF-8, a packet over
   max_packet_size, a PUBLISH before CONNECT, a second CONNECT: the
   connection is closed, a 5.0 one after DISCONNECT with the reason code
   the spec gives (and a length past what follows is waited for, and
   dropped with the connection);
2. an MQTT packet split across many tiny frames and a fragmented message
   with a ping inside it, and many packets in one frame: all served
   [MQTT-6.0.0-2];
3. frames past the broker's limit: a declared 2^62-byte frame streamed
   into (served as it arrives, then closed at a PUBLISH over
   max_packet_size, 0x95), a length with bit 63 set, a real 32 MiB frame
   holding one oversized PUBLISH, and a 16 MiB frame of packets that each
   fit: RSS stays bounded (nothing buffers a whole frame);
4. a slow upgrade (the request byte by byte, never finished), a request
   without its blank line, an upgrade with no CONNECT after it: each closed
   after connect_timeout;
5. RFC 6455 violations: an unmasked frame, RSV bits, reserved opcodes, a
   fragmented or over-long control frame, a stray continuation, a data
   frame inside a fragmented message, a text frame;
6. a WebSocket subscriber that stops reading while a publisher floods it
   at QoS 0: RSS bounded, the canary keeps receiving, the subscriber is
   closed as a slow consumer and its socket really goes;
7. 500 half-open WebSocket sockets, while a real client still connects.

Throughout: a canary (a plain-TCP subscriber and publisher on raw sockets,
connected for the whole run, the publisher sending a numbered QoS 1
sequence every 20 ms) must receive every message in order and never wait
long, and a WebSocket bystander must keep answering PINGREQs. After each
case the broker's open files come back to their baseline and its RSS near
its own (not under a sanitizer, whose allocator keeps what is freed:
LeakSanitizer checks at exit instead). At the end the broker must exit 0
on SIGTERM (fmtest).

libwebsockets (Debian's 4.1.6) answers most framing violations itself:
close 1002, then it waits 5 s for the client's close frame. It does not
check the mask bit (RFC 6455 5.1 says the server MUST close on an unmasked
frame; later libwebsockets releases do): case 5 accepts either behaviour
and says which it saw."""
import base64
import os
import resource
import selectors
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import fmtest

CONNECT_TIMEOUT_S = 2
MAX_PACKET = 1 << 20       # max_packet_size
LINGER_S = 5               # WS_CLOSE_LINGER_S (src/net/ws_int.h)
CLOSE_ACK_S = 5            # libwebsockets' wait for the answer to its close frame
STEP = 5.0                 # s: one wait for an answer the broker owes now
RSS_SLACK_KB = 8 * 1024    # what "back near the baseline" allows
CANARY_MAX_WAIT_S = 2.0    # longest a canary message may take (a stall)


class Failure(Exception):
    """A check failed (raised from any thread; main() reports it)."""


def check(cond, what):
    if not cond:
        raise Failure(what)


# --- MQTT bytes ------------------------------------------------------------------------

def varint(n):
    out = b""
    while True:
        byte, n = n % 128, n // 128
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def mqtt_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def connect_pkt(client_id, version=5, keepalive=0):
    """CONNECT, clean start; 5.0 with no properties."""
    props = b"\x00" if version == 5 else b""
    return packet(0x10, mqtt_str("MQTT") + bytes([version, 0x02]) + struct.pack("!H", keepalive) + props
                  + mqtt_str(client_id))


def publish_pkt(topic, payload, version=5, qos=0, pid=0):
    body = mqtt_str(topic) + (struct.pack("!H", pid) if qos else b"") + (b"\x00" if version == 5 else b"")
    return packet(0x30 | qos << 1, body + payload)


def subscribe_pkt(pid, topic_filter, qos=0, version=5):
    props = b"\x00" if version == 5 else b""
    return packet(0x82, struct.pack("!H", pid) + props + mqtt_str(topic_filter) + bytes([qos]))


def puback_pkt(pid):
    return packet(0x40, struct.pack("!H", pid))


PINGREQ = b"\xc0\x00"
PINGRESP = b"\xd0\x00"


def split_packets(data):
    """Whole MQTT packets at the start of data, and what is left."""
    out = []
    while len(data) >= 2:
        length, mult, i = 0, 1, 1
        while i < len(data) and i < 5:
            length += (data[i] & 0x7F) * mult
            mult *= 128
            i += 1
            if not data[i - 1] & 0x80:
                break
        else:
            break
        if len(data) < i + length:
            break
        out.append(data[:i + length])
        data = data[i + length:]
    return out, data


def disconnect_reason(pkt):
    """The reason code of a 5.0 DISCONNECT (0x00 when it has none)."""
    return pkt[2] if len(pkt) > 2 else 0


# --- WebSocket framing (RFC 6455 5.2) --------------------------------------------------------

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


ZERO_KEY = bytes(4)  # a legal masking key that changes nothing: for bulk frames


def mask(data, key, offset=0):
    """data XOR the 4-byte key, starting at byte `offset` of the key stream
    (one big-integer XOR). Building a 32 MiB frame that way holds Python's
    GIL for a second, stalling the canary's threads: bulk frames use
    ZERO_KEY instead."""
    if key == ZERO_KEY:
        return data
    n = len(data)
    stream = (key * ((n + offset) // 4 + 2))[offset:offset + n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def frame_header(length, opcode=OP_BINARY, fin=True, rsv=0, key=None):
    b0 = (0x80 if fin else 0) | rsv << 4 | opcode
    m = 0x80 if key else 0
    if length < 126:
        head = bytes([b0, m | length])
    elif length < 65536:
        head = bytes([b0, m | 126]) + struct.pack("!H", length)
    else:
        head = bytes([b0, m | 127]) + struct.pack("!Q", length)
    return head + (key or b"")


def frame(payload, opcode=OP_BINARY, fin=True, rsv=0, masked=True, key=None):
    key = (key or os.urandom(4)) if masked else None
    return frame_header(len(payload), opcode, fin, rsv, key) + (mask(payload, key) if masked else payload)


class Ws:
    """A WebSocket client on a raw socket: the upgrade, masked frames out,
    the server's (unmasked) frames in, the MQTT bytes they carry."""

    def __init__(self, port, upgrade=True, rcvbuf=None):
        self.port = port
        self.s = socket.socket()
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: the window
        self.s.settimeout(STEP)
        self.s.connect(("127.0.0.1", port))
        self.raw = b""        # received, not yet parsed as frames
        self.frames = []      # (opcode, fin, payload) from the server
        self.mqtt = b""       # binary frames' payloads, not yet taken as packets
        self.packets = []     # MQTT packets received
        self.closed = None    # "eof" or "reset" once the broker closed
        if upgrade:
            self.upgrade()

    def request(self):
        key = base64.b64encode(os.urandom(16)).decode()
        return ("GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
                % (self.port, key)).encode()

    def upgrade(self):
        self.s.sendall(self.request())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.s.recv(4096)
            check(chunk, "the broker closed during the upgrade: %r" % head)
            head += chunk
        head, self.raw = head.split(b"\r\n\r\n", 1)
        check(head.startswith(b"HTTP/1.1 101"), "upgrade refused: %r" % head[:80])
        check(b"sec-websocket-protocol: mqtt" in head.lower(), "the server did not select mqtt [MQTT-6.0.0-4]")
        self._parse()

    def send(self, data, timeout=STEP):
        self.s.settimeout(timeout)  # pump() leaves a short one
        self.s.sendall(data)

    def send_mqtt(self, pkt, **kw):
        self.send(frame(pkt, **kw))

    def connect(self, client_id, version=5):
        self.send_mqtt(connect_pkt(client_id, version))
        got = self.expect_packets(1, "CONNACK for " + client_id)
        check(got[0][0] == 0x20 and got[0][3] == 0, "%s: CONNACK %r" % (client_id, got[0]))

    def _parse(self):
        while len(self.raw) >= 2:
            b0, b1 = self.raw[0], self.raw[1]
            n, off = b1 & 0x7F, 2
            if n == 126:
                if len(self.raw) < 4:
                    return
                n, off = struct.unpack("!H", self.raw[2:4])[0], 4
            elif n == 127:
                if len(self.raw) < 10:
                    return
                n, off = struct.unpack("!Q", self.raw[2:10])[0], 10
            check(not b1 & 0x80, "the server sent a masked frame (RFC 6455 5.1)")
            if len(self.raw) < off + n:
                return
            payload = self.raw[off:off + n]
            self.raw = self.raw[off + n:]
            self.frames.append((b0 & 0x0F, bool(b0 & 0x80), payload))
            if b0 & 0x0F in (OP_BINARY, OP_CONT):
                self.mqtt += payload
                pkts, self.mqtt = split_packets(self.mqtt)
                self.packets += pkts

    def pump(self, timeout, until=lambda: False):
        """Read until until() holds, the broker closes or timeout passes."""
        deadline = time.monotonic() + timeout
        while not until() and not self.closed and time.monotonic() < deadline:
            self.s.settimeout(max(0.01, min(0.2, deadline - time.monotonic())))
            try:
                chunk = self.s.recv(1 << 20)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                self.closed = "reset"
                break
            if not chunk:
                self.closed = "eof"
                break
            self.raw += chunk
            self._parse()
        return until()

    def expect_packets(self, n, what, timeout=STEP):
        check(self.pump(timeout, lambda: len(self.packets) >= n),
              "%s: got %d of %d packets (%s)" % (what, len(self.packets), n, self.closed or "still open"))
        got, self.packets = self.packets[:n], self.packets[n:]
        return got

    def wait_closed(self, timeout, what):
        self.pump(timeout)
        check(self.closed, "%s: still open after %.1f s" % (what, timeout))

    def close_code(self):
        """The status of the server's close frame, None without one."""
        for op, _, payload in self.frames:
            if op == OP_CLOSE:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        return None

    def shut(self):
        self.s.close()


def parallel(*fns):
    """Run fns in threads; raise the first Failure any of them raised."""
    errors = []

    def run(fn):
        try:
            fn()
        except Failure as e:
            errors.append(e)
        except Exception as e:  # a socket error is a failure too, with its name
            errors.append(Failure("%s: %r" % (getattr(fn, "__name__", "?"), e)))
    threads = [threading.Thread(target=run, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


# --- the canary (plain TCP, raw MQTT 3.1.1) ---------------------------------------------------

class Tcp:
    """A plain-TCP MQTT 3.1.1 client: packets in and out."""

    def __init__(self, port, client_id):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=STEP)
        self.buf = b""
        self.send(connect_pkt(client_id, version=4))
        check(self.recv(STEP)[0] == 0x20, client_id + ": no CONNACK")

    def send(self, data):
        self.s.settimeout(STEP)  # recv() leaves what was left of its own
        self.s.sendall(data)

    def recv(self, timeout):
        """The next packet; Failure if none within timeout or the broker closed."""
        deadline = time.monotonic() + timeout
        while True:
            pkts, _ = split_packets(self.buf)
            if pkts:
                self.buf = self.buf[len(pkts[0]):]
                return pkts[0]
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                raise Failure("no packet within %.1f s" % timeout)
            if not chunk:
                raise Failure("the broker closed the connection")
            self.buf += chunk


class Canary:
    """A subscriber to canary/seq and a publisher sending it numbered QoS 1
    messages, one every 20 ms (each acknowledged before the next), from the
    first case to the last. Nothing may go missing, come twice, come out of
    order or take longer than CANARY_MAX_WAIT_S."""

    def __init__(self, port):
        self.sub = Tcp(port, "canary-sub")
        self.sub.send(subscribe_pkt(1, "canary/seq", 1, version=4))
        check(self.sub.recv(STEP)[0] == 0x90, "canary: no SUBACK")
        self.pub = Tcp(port, "canary-pub")
        self.sent = {}        # seq -> time sent
        self.got = []         # (seq, time received)
        self.error = None
        self.checked = 0      # messages the last checkpoint saw arrive
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._publish, daemon=True),
                        threading.Thread(target=self._receive, daemon=True)]
        for t in self.threads:
            t.start()

    def _publish(self):
        seq = 0
        try:
            while not self.stopping.is_set():
                pid = seq % 65535 + 1
                with self.lock:
                    self.sent[seq] = time.monotonic()
                self.pub.send(publish_pkt("canary/seq", b"%d" % seq, version=4, qos=1, pid=pid))
                ack = self.pub.recv(fmtest.TIMEOUT)
                check(ack == puback_pkt(pid), "publisher: %r instead of PUBACK %d" % (ack, pid))
                seq += 1
                time.sleep(0.02)
        except (Failure, OSError) as e:
            self.error = "canary publisher: %s" % e

    def _receive(self):
        try:
            while not (self.stopping.is_set() and len(self.got) >= len(self.sent)):
                pkt = self.sub.recv(fmtest.TIMEOUT)
                check(pkt[0] & 0xF0 == 0x30, "subscriber: unexpected %r" % pkt[:8])
                tlen = struct.unpack("!H", pkt[2:4])[0]
                pid = pkt[4 + tlen:6 + tlen]
                self.got.append((int(pkt[6 + tlen:]), time.monotonic()))
                self.sub.send(packet(0x40, pid))
        except (Failure, OSError, ValueError) as e:
            self.error = "canary subscriber: %s" % e

    def checkpoint(self, what):
        """Everything published so far has arrived (waits up to TIMEOUT).
        Returns the longest a message took since the last checkpoint."""
        with self.lock:
            want = len(self.sent)
        deadline = time.monotonic() + fmtest.TIMEOUT
        while len(self.got) < want and not self.error and time.monotonic() < deadline:
            time.sleep(0.02)
        check(not self.error, "%s (during: %s)" % (self.error, what))
        check(len(self.got) >= want, "canary: %d of %d messages arrived (during: %s)" % (len(self.got), want, what))
        got = self.got[self.checked:want]
        self.checked = want
        return max((t - self.sent[s] for s, t in got), default=0.0)

    def finish(self):
        """Stop publishing and check the whole sequence."""
        self.stopping.set()
        self.threads[0].join(fmtest.TIMEOUT)
        self.checkpoint("the end")
        seqs = [s for s, _ in self.got]
        check(seqs == list(range(len(self.sent))),
              "canary: the sequence has gaps, repeats or reordering (%d sent, %d received)"
              % (len(self.sent), len(seqs)))
        worst = max(t - self.sent[s] for s, t in self.got)
        check(worst < CANARY_MAX_WAIT_S, "canary: a message took %.1f s" % worst)
        for c in (self.sub, self.pub):
            c.send(b"\xe0\x00")  # DISCONNECT
            c.s.close()
        return len(seqs), worst


# --- the broker's resources --------------------------------------------------------------------

def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise Failure("no VmRSS for the broker")


class PeakRss:
    """The broker's RSS growth over a block, at its highest (sampled every
    20 ms by a thread of its own)."""

    def __init__(self, pid):
        self.pid = pid
        self.before = self.peak = rss_kb(pid)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample)

    def _sample(self):
        while not self.done.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            time.sleep(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()

    def grown_kb(self):
        return self.peak - self.before


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def sanitized(pid):
    """A sanitizer build: RSS says nothing about leaks there."""
    env = os.environ.get("FLEETMQ_TEST_SANITIZED", "")
    if env and env != "0":
        return True
    with open("/proc/%d/maps" % pid) as f:
        if any(lib in f.read() for lib in ("libasan", "libtsan")):
            return True
    with open(fmtest.broker_binary(), "rb") as f:  # statically linked runtimes (clang)
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


class Broker:
    """The broker under test: ports, pid, log and baselines."""

    def __init__(self, port, ws_port, proc, tmp):
        self.port, self.ws_port, self.pid, self.tmp = port, ws_port, proc.pid, tmp
        self.proc = proc
        self.sanitized = sanitized(self.pid)
        self.base_fds = self.base_rss = None
        self.canary = None

    def log(self):
        with open(os.path.join(self.tmp, "broker.log"), errors="replace") as f:
            return f.read()

    def logged(self, *parts):
        """Whether one line of the log holds all of parts."""
        return any(all(p in line for p in parts) for line in self.log().splitlines())

    def wait_log(self, text, count, what, timeout=STEP):
        deadline = time.monotonic() + timeout
        while self.log().count(text) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        check(self.log().count(text) >= count, "%s: the log does not say %r %d times" % (what, text, count))

    def baseline(self):
        self.base_fds, self.base_rss = open_fds(self.pid), rss_kb(self.pid)

    def settles(self, what, slack_kb=RSS_SLACK_KB, timeout=fmtest.TIMEOUT):
        """Open files back to the baseline and RSS back near it."""
        check(self.proc.poll() is None, "the broker died during: " + what)
        deadline = time.monotonic() + timeout
        while open_fds(self.pid) > self.base_fds and time.monotonic() < deadline:
            time.sleep(0.05)
        fds = open_fds(self.pid)
        check(fds <= self.base_fds, "%s: the broker has %d files open, %d before" % (what, fds, self.base_fds))
        rss = rss_kb(self.pid)
        while not self.sanitized and rss > self.base_rss + slack_kb and time.monotonic() < deadline:
            time.sleep(0.1)
            rss = rss_kb(self.pid)
        if not self.sanitized:
            check(rss <= self.base_rss + slack_kb, "%s: broker RSS %d kB, baseline %d kB (allowed +%d kB)"
                  % (what, rss, self.base_rss, slack_kb))
        return rss


# --- the cases ------------------------------------------------------------------------------------

def malformed_mqtt(b):
    """Case 1. Each connection sends one bad packet in a binary frame. 5.0
    ones get DISCONNECT with the spec's reason code [MQTT-4.13.1-1] (0x81
    Malformed Packet, 0x82 Protocol Error, 0x95 Packet too large), then
    the close; 3.1.1 has no DISCONNECT from the server: the connection just
    closes [MQTT-4.8.0-1]; before CONNECT there is nothing to answer with."""
    subscribe_no_flags = b"\x80" + subscribe_pkt(1, "a")[1:]
    full = subscribe_pkt(1, "abcde")
    subscribe_cut = full[:1] + b"\x05" + full[2:]  # the length ends inside the topic filter
    cases = [
        # (what, version or None for no CONNECT, bytes, DISCONNECT reason or None)
        ("a 5-byte remaining length (1.5.5: four bytes at most)", 5, b"\x30\xff\xff\xff\xff\x01", 0x81),
        ("a remaining length shorter than SUBSCRIBE's contents", 5, subscribe_cut, 0x81),
        ("a PINGREQ with a remaining length of 2", 5, b"\xc0\x02\x00\x00", 0x81),
        ("reserved flags set on PINGREQ [MQTT-2.1.3-1]", 5, b"\xc2\x00", 0x81),
        ("SUBSCRIBE's reserved flags 0000 instead of 0010 [MQTT-2.1.3-1]", 5, subscribe_no_flags, 0x81),
        ("a PUBLISH with QoS 3 [MQTT-3.3.1-4]", 5, b"\x36\x06\x00\x01a\x00\x01\x00", 0x81),
        ("invalid UTF-8 in a topic name [MQTT-1.5.4-1]", 5, publish_pkt(b"a\xc3(", b"x"), 0x81),
        ("a PUBLISH over max_packet_size (3.2.2.3.6)", 5, b"\x30\xff\xff\x7f", 0x95),
        ("a second CONNECT [MQTT-3.1.0-2]", 5, connect_pkt("again"), 0x82),
        ("a PUBLISH before CONNECT [MQTT-3.1.0-1]", None, publish_pkt("a", b"x"), None),
        ("3.1.1: a 5-byte remaining length [MQTT-4.8.0-1]", 4, b"\x30\xff\xff\xff\xff\x01", None),
        ("3.1.1: a second CONNECT [MQTT-3.1.0-2]", 4, connect_pkt("again", 4), None),
        ("3.1.1: reserved flags on PUBACK [MQTT-2.2.2-2]", 4, b"\x42\x02\x00\x01", None),
    ]

    def one(i, what, version, data, reason):
        def run():
            ws = Ws(b.ws_port)
            if version:
                ws.connect("bad-%d" % i, version)
            ws.send_mqtt(data)
            ws.wait_closed(STEP, what)
            if reason is None:
                check(not ws.packets, "%s: answered %r instead of just closing" % (what, ws.packets))
            else:
                check(len(ws.packets) == 1 and ws.packets[0][0] == 0xE0,
                      "%s: %r instead of one DISCONNECT" % (what, ws.packets))
                got = disconnect_reason(ws.packets[0])
                check(got == reason, "%s: DISCONNECT 0x%02x, not 0x%02x" % (what, got, reason))
            ws.shut()
        run.__name__ = what
        return run
    def longer_than_sent():
        # a remaining length past what follows is not an error: the broker
        # waits for the rest; the client closing then frees the partial packet
        what = "a remaining length past what follows, then a close frame"
        ws = Ws(b.ws_port)
        ws.connect("waits-for-more")
        ws.send_mqtt(b"\x30\xe8\x07" + mqtt_str("t") + b"only some")  # 1000 bytes announced
        ws.pump(0.5)
        check(not ws.closed and not ws.packets, "%s: %s %r" % (what, ws.closed, ws.packets))
        ws.send(frame(struct.pack("!H", 1000), opcode=OP_CLOSE))
        ws.wait_closed(STEP, what)
        check(ws.close_code() == 1000, "%s: the close answered with %s" % (what, ws.close_code()))
        ws.shut()
    parallel(longer_than_sent, *[one(i, *c) for i, c in enumerate(cases)])
    b.wait_log("first packet was not CONNECT", 1, "PUBLISH before CONNECT")
    return "%d connections" % (len(cases) + 1)


def split_and_batched(b):
    """Case 2 (all must work) [MQTT-6.0.0-2]: a CONNECT sent one byte per
    frame; a SUBSCRIBE as one fragmented message of 1-byte frames with a
    ping between them (RFC 6455 5.4 allows control frames there); a PUBLISH
    cut at odd places across three frames; then one frame of 200 PINGREQs,
    a PUBLISH and the first half of another, whose second half comes in
    the next frame."""
    ws = Ws(b.ws_port)
    for byte in connect_pkt("split"):
        ws.send(frame(bytes([byte])))
    connack = ws.expect_packets(1, "CONNACK (CONNECT one byte per frame)")[0]
    check(connack[0] == 0x20 and connack[3] == 0, "CONNACK %r" % connack)
    sub = subscribe_pkt(7, "split/#", 0)
    ws.send(frame(sub[:1], fin=False))
    for i, byte in enumerate(sub[1:]):
        if i == 3:
            ws.send(frame(b"inside", opcode=OP_PING))
        ws.send(frame(bytes([byte]), opcode=OP_CONT, fin=i == len(sub) - 2))
    suback = ws.expect_packets(1, "SUBACK (fragmented SUBSCRIBE)")[0]
    check(suback[0] == 0x90 and suback[-1] == 0x00, "SUBACK %r" % suback)
    check((OP_PONG, True, b"inside") in ws.frames, "no PONG for the ping inside a fragmented message")
    pub = publish_pkt("split/a", b"three frames")
    for part in (pub[:1], pub[1:5], pub[5:]):
        ws.send(frame(part))
    got = ws.expect_packets(1, "the PUBLISH split across frames, delivered back")[0]
    check(got == pub, "delivered %r, sent %r" % (got, pub))
    tail = publish_pkt("split/b", b"y" * 300)
    ws.send(frame(PINGREQ * 200 + publish_pkt("split/b", b"x") + tail[:150]))
    ws.send(frame(tail[150:]))
    got = ws.expect_packets(202, "200 PINGREQs and 2 PUBLISHes in two frames")
    check(got[:200] == [PINGRESP] * 200, "the PINGRESPs")
    check(got[200] == publish_pkt("split/b", b"x") and got[201] == tail, "the PUBLISHes")
    ws.send_mqtt(b"\xe0\x00")
    ws.wait_closed(STEP, "after DISCONNECT")
    ws.shut()
    return "byte-wise, fragmented and batched packets all served"


def large_frames(b):
    """Case 3. Frames are streamed into the MQTT reader, never held whole:
    max_packet_size (1 MiB) is what bounds memory."""
    with PeakRss(b.pid) as rss:
        large_frames_sent(b)
    if not b.sanitized:
        check(rss.grown_kb() < 16 * 1024, "RSS grew %d kB while 32 MiB and 16 MiB frames came in" % rss.grown_kb())
    return "RSS peak +%d kB" % rss.grown_kb()


def large_frames_sent(b):
    # a declared 2^62-byte frame (bit 63 clear: legal), streamed into
    ws = Ws(b.ws_port)
    key = os.urandom(4)
    ws.send(frame_header(1 << 62, key=key))
    sent = [0]

    def stream(data):
        ws.send(mask(data, key, sent[0] % 4))
        sent[0] += len(data)
    stream(connect_pkt("huge-frame") + PINGREQ)
    got = ws.expect_packets(2, "CONNACK and PINGRESP inside a 2^62-byte frame")
    check(got[1] == PINGRESP, "inside a 2^62-byte frame: %r" % got)
    stream(b"\x30\xff\xff\xff\x7f")  # a PUBLISH of 256 MiB
    got = ws.expect_packets(1, "DISCONNECT for a 256 MiB PUBLISH in a 2^62-byte frame")[0]
    check(disconnect_reason(got) == 0x95, "DISCONNECT %r, not 0x95 (Packet too large)" % got)
    ws.wait_closed(STEP, "the 2^62-byte frame")
    ws.shut()

    # bit 63 set: RFC 6455 5.2 says it MUST be 0; libwebsockets closes
    ws = Ws(b.ws_port)
    ws.connect("b63")
    ws.send(frame_header(1 << 63, key=os.urandom(4)) + b"\x00" * 64)
    ws.wait_closed(STEP, "a length with bit 63 set")
    ws.shut()

    # a real 32 MiB frame holding one 32 MiB PUBLISH: closed at its header
    ws = Ws(b.ws_port)
    ws.connect("big-publish")
    big = frame(publish_pkt("big", b"z" * (32 << 20)), key=ZERO_KEY)
    try:
        ws.send(big)
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed before it all went: the point
    except socket.timeout:
        raise Failure("a 32 MiB PUBLISH in one frame: the broker stopped reading without closing")
    ws.pump(STEP)
    check(ws.closed, "a 32 MiB PUBLISH in a 32 MiB frame: still open")
    check([disconnect_reason(p) for p in ws.packets] == [0x95], "32 MiB PUBLISH: %r" % ws.packets[:2])
    ws.shut()

    # a 16 MiB frame of 512 KiB PUBLISHes (each under the limit) and a PINGREQ
    ws = Ws(b.ws_port)
    ws.connect("many-in-one")
    ws.send(frame(publish_pkt("nobody/listens", b"m" * (512 << 10)) * 32 + PINGREQ, key=ZERO_KEY))
    check(ws.expect_packets(1, "PINGRESP after a 16 MiB frame", fmtest.TIMEOUT) == [PINGRESP], "16 MiB frame")
    ws.send_mqtt(b"\xe0\x00")
    ws.shut()


def slow_upgrades(b):
    """Case 4. connect_timeout (2 s) bounds the upgrade as well as the
    CONNECT after it; libwebsockets' own limit would be 10 s."""
    log_upgrade = b.log().count("WebSocket upgrade not done within connect_timeout")
    log_connect = b.log().count("no CONNECT within connect_timeout")
    results = {}

    def timed_close(name, ws, drip=None):
        t0 = time.monotonic()
        while drip and not ws.closed and time.monotonic() - t0 < CONNECT_TIMEOUT_S + 3:
            try:
                ws.send(drip[:1])  # one byte each 100 ms: done in 18 s, if it were let
            except OSError:
                break
            drip = drip[1:]
            ws.pump(0.1)
        ws.wait_closed(CONNECT_TIMEOUT_S + 3, name)
        results[name] = time.monotonic() - t0
        ws.shut()

    def byte_by_byte():
        ws = Ws(b.ws_port, upgrade=False)
        timed_close("upgrade request byte by byte", ws, ws.request()[:-2])

    def no_blank_line():
        ws = Ws(b.ws_port, upgrade=False)
        ws.send(ws.request()[:-2])
        timed_close("upgrade request without its blank line", ws)

    def no_connect():
        timed_close("upgraded, no CONNECT", Ws(b.ws_port))
    parallel(byte_by_byte, no_blank_line, no_connect)
    for name, t in results.items():
        check(CONNECT_TIMEOUT_S - 0.5 <= t <= CONNECT_TIMEOUT_S + 2, "%s: closed after %.1f s, connect_timeout %d s"
              % (name, t, CONNECT_TIMEOUT_S))
    b.wait_log("WebSocket upgrade not done within connect_timeout", log_upgrade + 2, "slow upgrades")
    b.wait_log("no CONNECT within connect_timeout", log_connect + 1, "upgrade without CONNECT")
    return ", ".join("%s %.1f s" % kv for kv in sorted(results.items()))


def ws_violations(b):
    """Case 5. RFC 6455 says the server MUST fail the connection on each of
    these; libwebsockets sends close 1002 (Protocol error) and closes
    CLOSE_ACK_S later (its parser stays derailed by the bad frame, so a
    client's answering close frame does not end it sooner), or closes at
    once without a close frame. A text frame is the broker's own refusal:
    close 1003 [MQTT-6.0.0-1]."""
    notes = []
    ids = iter(range(100))

    def failing(what, data, code):
        client_id = "violation-%d" % next(ids)

        def run():
            ws = Ws(b.ws_port)
            ws.connect(client_id)
            t0 = time.monotonic()
            ws.send(data)
            ws.wait_closed(CLOSE_ACK_S + 2.5, what)
            check(ws.close_code() == code, "%s: close code %s, not %s (%.1f s)"
                  % (what, ws.close_code(), code, time.monotonic() - t0))
            check(not ws.packets, "%s: MQTT answered %r" % (what, ws.packets))
            ws.shut()
        run.__name__ = what
        return run

    def unmasked():
        # RFC 6455 5.1: "a server MUST close the connection upon receiving
        # a frame that is not masked". libwebsockets 4.1.6 does not check;
        # either it fails the connection (1002) or reads the bytes as sent.
        ws = Ws(b.ws_port)
        ws.connect("unmasked")
        ws.send(frame(PINGREQ, masked=False))
        ws.pump(CLOSE_ACK_S + 2.5, lambda: ws.packets or ws.closed)
        if ws.closed:
            check(ws.close_code() == 1002, "unmasked frame: close code %s" % ws.close_code())
            notes.append("unmasked: closed 1002")
        else:
            check(ws.packets == [PINGRESP], "unmasked frame: %r" % ws.packets)
            notes.append("unmasked: read as plain data (libwebsockets does not check the mask)")
            ws.send_mqtt(b"\xe0\x00")
        ws.shut()
    fragment_open = frame(b"\x30", fin=False)
    parallel(
        unmasked,
        failing("RSV1 set without an extension (5.2)", frame(PINGREQ, rsv=4), 1002),
        failing("RSV3 set (5.2)", frame(PINGREQ, rsv=1), 1002),
        failing("reserved data opcode 0x3 (5.2)", frame(PINGREQ, opcode=0x3), 1002),
        failing("reserved control opcode 0xB (5.2)", frame(b"", opcode=0xB), 1002),
        failing("a fragmented ping (5.5)", frame(b"x", opcode=OP_PING, fin=False), 1002),
        failing("a continuation with no message started (5.4)", frame(PINGREQ, opcode=OP_CONT), 1002),
        failing("a new data frame inside a fragmented message (5.4)", fragment_open + frame(PINGREQ), 1002),
        failing("a ping of 126 bytes (5.5: 125 at most)", frame(b"p" * 126, opcode=OP_PING), None),
        failing("a text frame [MQTT-6.0.0-1]", frame(PINGREQ, opcode=OP_TEXT), 1003),
    )
    b.wait_log("WebSocket text frame (MQTT needs binary frames)", 1, "text frame")
    return "; ".join(notes)


def stuck_subscriber(b):
    """Case 6. A 5.0 WebSocket subscriber stops reading; a plain publisher
    floods its topic with 10 kB QoS 0 messages. The broker's memory stays
    bounded (its output cap is 8 MiB a client), the canary keeps receiving
    meanwhile, the subscriber is closed as a slow consumer, and its socket
    is gone within LINGER_S after that even though it never reads again."""
    stuck = Ws(b.ws_port, rcvbuf=4096)
    stuck.connect("stuck-ws")
    stuck.send_mqtt(subscribe_pkt(1, "flood", 0))
    check(stuck.expect_packets(1, "stuck's SUBACK")[0][0] == 0x90, "stuck's SUBACK")
    flooder = Tcp(b.port, "flooder")
    flooder.s.setblocking(False)
    batch = publish_pkt("flood", b"f" * 10000, version=4) * 16
    t0 = time.monotonic()
    sent, pending, checked = 0, b"", False
    closed = lambda: b.logged("client stuck-ws (", "disconnected: slow consumer")  # noqa: E731
    with PeakRss(b.pid) as rss:
        while time.monotonic() - t0 < 25 and not closed():
            if not pending:
                pending, sent = batch, sent + 16
            try:
                pending = pending[flooder.s.send(pending):]
            except BlockingIOError:
                time.sleep(0.01)  # the broker pauses this publisher while stuck is over its watermark
            if not checked and time.monotonic() - t0 > 1.5:
                b.canary.checkpoint("a subscriber flooded while it stops reading")
                checked = True
    closed_after = time.monotonic() - t0
    check(closed(), "the stuck subscriber was not closed as a slow consumer in 25 s")
    b.canary.checkpoint("a subscriber flooded while it stops reading")
    grown = rss.grown_kb()
    if not b.sanitized:
        check(grown < 24 * 1024, "the broker grew %d kB buffering for a subscriber that does not read" % grown)
    flooder.s.close()
    # its socket must go although it reads nothing: back to the baseline
    t1 = time.monotonic()
    deadline = t1 + LINGER_S + 3
    while open_fds(b.pid) > b.base_fds and time.monotonic() < deadline:
        time.sleep(0.1)
    check(open_fds(b.pid) <= b.base_fds, "the stuck subscriber's socket still open %.1f s after its close"
          % (time.monotonic() - t1))
    gone_after = time.monotonic() - t1
    stuck.pump(fmtest.TIMEOUT)  # reading now: what was queued, then the end
    check(stuck.closed, "the stuck subscriber never saw its connection end")
    stuck.shut()
    return ("%d messages (%d MiB) sent; closed as a slow consumer after %.1f s, socket gone %.1f s later; "
            "RSS peak +%d kB" % (sent, sent * 10000 >> 20, closed_after, gone_after, grown))


HALF_OPEN = 500


def half_open(b):
    """Case 7. HALF_OPEN sockets connected to the WebSocket listener that
    send nothing: a real client still upgrades and connects meanwhile, and
    every one of them is closed after connect_timeout with nothing sent."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < HALF_OPEN + 256:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, HALF_OPEN + 256), hard))
    t0 = time.monotonic()
    socks = [socket.create_connection(("127.0.0.1", b.ws_port), timeout=STEP) for _ in range(HALF_OPEN)]
    real = Ws(b.ws_port)
    real.connect("beside-half-open")
    real.send_mqtt(PINGREQ)
    check(real.expect_packets(1, "PINGREQ beside %d half-open sockets" % HALF_OPEN) == [PINGRESP], "PINGRESP")
    took = time.monotonic() - t0
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    remaining, deadline = len(socks), time.monotonic() + CONNECT_TIMEOUT_S + 5
    while remaining and time.monotonic() < deadline:
        for key, _ in sel.select(0.5):
            try:
                data = key.fileobj.recv(64)
            except ConnectionResetError:
                data = b""
            check(not data, "a half-open socket was sent %r" % data)
            sel.unregister(key.fileobj)
            key.fileobj.close()
            remaining -= 1
    elapsed = time.monotonic() - t0
    sel.close()
    for s in socks:
        s.close()
    check(remaining == 0, "%d of %d half-open sockets still open after %.1f s" % (remaining, HALF_OPEN, elapsed))
    real.send_mqtt(b"\xe0\x00")
    real.shut()
    return "opened and served a client in %.1f s; all closed after %.1f s" % (took, elapsed)


# FLEETMQ_WS_HOSTILE_CASES=5,6 runs only those (for diagnosis)
CASES = [
    ("1 malformed MQTT in binary frames", malformed_mqtt),
    ("2 packets split across frames and batched in one", split_and_batched),
    ("3 frames past the limit", large_frames),
    ("4 slow upgrades and a missing CONNECT", slow_upgrades),
    ("5 RFC 6455 violations", ws_violations),
    ("6 a WebSocket subscriber that stops reading", stuck_subscriber),
    ("7 %d half-open WebSocket sockets" % HALF_OPEN, half_open),
]


def main():
    ws_port = fmtest.free_port()
    conf = ("connect_timeout %d\nmax_packet_size %d\nsys_interval 0\nlistener %d 127.0.0.1\nprotocol websockets\n"
            % (CONNECT_TIMEOUT_S, MAX_PACKET, ws_port))
    started = time.monotonic()
    with fmtest.broker(conf) as (port, proc, tmp):
        b = Broker(port, ws_port, proc, tmp)
        try:
            fmtest.wait_listening(ws_port, proc, "the WebSocket listener", tmp)
            # warm-up: libwebsockets sets itself up on first use, per worker
            for i in range(4):
                w = Ws(ws_port)
                w.connect("warm-up-%d" % i)
                w.send_mqtt(b"\xe0\x00")
                w.wait_closed(STEP, "warm-up")
                w.shut()
            b.canary = Canary(port)
            bystander = Ws(ws_port)
            bystander.connect("ws-bystander")
            time.sleep(0.3)
            b.baseline()
            print("baseline: %d files open, RSS %d kB%s" % (b.base_fds, b.base_rss,
                                                            " (sanitizer: RSS not checked)" if b.sanitized else ""))
            only = os.environ.get("FLEETMQ_WS_HOSTILE_CASES", "").split(",")
            for name, case in [c for c in CASES if only == [""] or c[0].split()[0] in only]:
                t0 = time.monotonic()
                result = case(b)
                slowest = b.canary.checkpoint(name)
                bystander.send_mqtt(PINGREQ)
                check(bystander.expect_packets(1, "the WebSocket bystander after " + name) == [PINGRESP],
                      "bystander after " + name)
                rss = b.settles(name, slack_kb=16 * 1024 if name.startswith("7") else RSS_SLACK_KB)
                print("ok %s (%.1f s; RSS %d kB; canary's slowest %.0f ms): %s"
                      % (name, time.monotonic() - t0, rss, slowest * 1000, result))
            n, worst = b.canary.finish()
            bystander.send_mqtt(b"\xe0\x00")
            bystander.shut()
            print("canary: %d messages in order, none missing, slowest %.0f ms" % (n, worst * 1000))
        except (Failure, OSError) as e:
            fmtest.fail("%s\nbroker log:\n%s" % (e, fmtest.log_tail(tmp)))
    print("ws_hostile: %.1f s" % (time.monotonic() - started))


if __name__ == "__main__":
    main()
