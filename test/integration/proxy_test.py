#!/usr/bin/env python3
"""The PROXY protocol (enable_proxy_protocol 1|2) on plain, TLS and
WebSocket listeners, over raw sockets: each connection must start with
HAProxy's header (haproxy doc/proxy-protocol.txt, "The PROXY protocol,
Versions 1 & 2", 2020/03/05; sections cited as "PP 2.1" and so on), v1
text or v2 binary whichever number the listener names (PP 2: "it is
recommended that [version 2 receivers] also implement the human-readable
header format"). The broker logs the client's address from it
("client ID connected from 203.0.113.9:4567 (...)").

One broker (fmtest's plain listener without the header, for the canary
and the publisher; four with it) and connect_timeout 1, so a silent
connection is dropped quickly. Checked: v1 TCP4/TCP6 and v2 TCP4/TCP6 then
an MQTT CONNECT (CONNACK, the logged address, a message delivered); the
header byte by byte; header + CONNECT + PINGREQ in one send; LOCAL and
UNKNOWN keep the socket's 127.0.0.1; garbage and malformed headers close
the connection with "no valid PROXY protocol header" while a canary client
stays connected and still receives; a silent connection (and one stopping
inside a header) is closed after connect_timeout; PROXY before TLS (the
header, then Python's ssl over the same socket; and the header with the
ClientHello in one segment) and before a WebSocket upgrade (raw HTTP and
frames). Then the broker's log, and exit 0 on SIGTERM (fmtest).

Exits nonzero with a message on the first failure."""
import base64
import os
import re
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from fmtest import TIMEOUT, fail, free_port, log_tail, start_broker, stop

STEP = 5.0  # s: any single wait for the broker's answer


# --- MQTT 3.1.1 bytes --------------------------------------------------------------

def mqtt_str(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def packet(first, body):
    n, rl = len(body), b""
    while True:
        byte, n = n % 128, n // 128
        rl += bytes([byte | (0x80 if n else 0)])
        if not n:
            return bytes([first]) + rl + body


def connect_pkt(client_id, keepalive=60):
    """3.1.1 CONNECT, clean session."""
    return packet(0x10, mqtt_str("MQTT") + bytes([4, 0x02]) + struct.pack("!H", keepalive) + mqtt_str(client_id))


def subscribe_pkt(pid, topic, qos=0):
    return packet(0x82, struct.pack("!H", pid) + mqtt_str(topic) + bytes([qos]))


def publish_pkt(topic, payload):
    return packet(0x30, mqtt_str(topic) + payload)


CONNACK_OK = bytes([0x20, 0x02, 0x00, 0x00])
PINGREQ = bytes([0xC0, 0x00])
PINGRESP = bytes([0xD0, 0x00])
DISCONNECT = bytes([0xE0, 0x00])


def suback(pid, qos=0):
    return bytes([0x90, 0x03]) + struct.pack("!H", pid) + bytes([qos])


# --- PROXY headers (PP 2.1, PP 2.2) -------------------------------------------------

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"  # PP 2.2: the 12-byte signature


def v1(family, src, dst, sport, dport):
    """PP 2.1: "PROXY" SP TCP4|TCP6 SP src SP dst SP sport SP dport CRLF."""
    return ("PROXY %s %s %s %d %d\r\n" % (family, src, dst, sport, dport)).encode()


def v2(src, dst, sport, dport, tlvs=b""):
    """PP 2.2: signature, ver_cmd 0x21 (version 2, PROXY), family 0x11
    (TCP over IPv4) or 0x21 (TCP over IPv6), the 16-bit length of what
    follows, the addresses, then the ports; TLVs after them count in the
    length (a receiver may skip them)."""
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    addrs = socket.inet_pton(fam, src) + socket.inet_pton(fam, dst) + struct.pack("!HH", sport, dport)
    body = addrs + tlvs
    return V2_SIG + bytes([0x21, 0x21 if fam == socket.AF_INET6 else 0x11]) + struct.pack("!H", len(body)) + body


def v2_local(addr_block=b""):
    """PP 2.2: command LOCAL (0x20): a proxy's own connection (a health
    check); the receiver "must use the real connection endpoints and
    discard the protocol block including the family", and "must not assume
    zero is presented for LOCAL connections" in the length."""
    return V2_SIG + bytes([0x20, 0x11 if addr_block else 0x00]) + struct.pack("!H", len(addr_block)) + addr_block


# PP 2.2.4: PP2_TYPE_NOOP, a TLV "to be ignored when parsed"
TLV_NOOP = bytes([0x04, 0x00, 0x03]) + b"abc"


# --- sockets -----------------------------------------------------------------------

def dial(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=STEP)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def local_addr(s):
    return "127.0.0.1:%d" % s.getsockname()[1]


def recv_exact(s, n, what):
    """n bytes from s (a socket or an ssl socket), within STEP."""
    out = b""
    deadline = time.monotonic() + STEP
    while len(out) < n:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(n - len(out))
        except socket.timeout:
            fail("%s: got %r within %.0f s, want %d bytes" % (what, out, STEP, n))
        except OSError as e:
            fail("%s: %s after %r" % (what, e, out))
        if not chunk:
            fail("%s: connection closed after %r" % (what, out))
        out += chunk
    return out


def expect(s, want, what):
    got = recv_exact(s, len(want), what)
    if got != want:
        fail("%s: got %s, want %s" % (what, got.hex(" "), want.hex(" ")))


def closed_by_broker(s, what, within=STEP):
    """The broker closes s (EOF or a reset) within `within` s, sending
    nothing first; returns the seconds it took."""
    t0 = time.monotonic()
    s.settimeout(within)
    try:
        data = s.recv(64)
    except socket.timeout:
        fail("%s: still open after %.1f s" % (what, within))
    except ConnectionResetError:
        data = b""
    if data:
        fail("%s: the broker sent %r instead of closing" % (what, data))
    return time.monotonic() - t0


def mqtt_session(s, client_id, what):
    """CONNECT on s (after whatever header was sent), CONNACK, then
    PINGREQ/PINGRESP: the stream after the header is intact."""
    s.sendall(connect_pkt(client_id))
    expect(s, CONNACK_OK, "%s: CONNACK for %s" % (what, client_id))
    s.sendall(PINGREQ)
    expect(s, PINGRESP, "%s: PINGRESP for %s" % (what, client_id))


# --- the broker ---------------------------------------------------------------------

def make_cert(tmp):
    """A self-signed server certificate (EC P-256, CN and SAN localhost,
    SAN 127.0.0.1): the Python client trusts exactly it."""
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", "server.key", "-out", "server.crt", "-days", "2",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       cwd=tmp, capture_output=True, text=True, timeout=TIMEOUT)
    if r.returncode != 0:
        fail("openssl: " + r.stderr.strip())


def conf(ports, certs):
    return """log_type all
connect_timeout 1
listener {p1} 127.0.0.1
enable_proxy_protocol 1
listener {p2} 127.0.0.1
enable_proxy_protocol 2
listener {tls} 127.0.0.1
enable_proxy_protocol 2
certfile {d}/server.crt
keyfile {d}/server.key
listener {ws} 127.0.0.1
protocol websockets
enable_proxy_protocol 1
""".format(d=certs, **ports)


def read_log(tmp):
    with open(os.path.join(tmp, "broker.log"), errors="replace") as f:
        return f.read()


def wait_log(tmp, pattern, what):
    """A line matching pattern in the broker's log, waited for (bounded):
    the broker logs a close when it tears the connection down, which may
    be just after the client saw it."""
    deadline = time.monotonic() + TIMEOUT
    while not re.search(pattern, read_log(tmp), re.M):
        if time.monotonic() > deadline:
            fail("broker log: no line for %s (/%s/); log ends:\n%s" % (what, pattern, log_tail(tmp, 30)))
        time.sleep(0.05)


def connected_from(tmp, client_id, addr):
    wait_log(tmp, r"client %s connected from %s \(" % (re.escape(client_id), re.escape(addr)),
             "%s connected from %s" % (client_id, addr))


# --- scenarios ---------------------------------------------------------------------

def headers_then_connect(ports, tmp, pub):
    """v1 and v2, TCP4 and TCP6, each on both listeners (the number in
    enable_proxy_protocol does not restrict the version: PP 2 recommends
    version 2 receivers also take version 1), the header in one send and
    CONNECT in the next; the address logged is the header's source. The
    first one also subscribes and receives a message from a plain client."""
    cases = [
        ("p1", v1("TCP4", "203.0.113.9", "198.51.100.1", 4567, 1883), "pp-v1-tcp4", "203.0.113.9:4567"),
        ("p1", v1("TCP6", "2001:db8::9", "2001:db8::1", 4568, 1883), "pp-v1-tcp6", "[2001:db8::9]:4568"),
        ("p2", v2("203.0.113.10", "198.51.100.1", 4569, 1883), "pp-v2-tcp4", "203.0.113.10:4569"),
        ("p2", v2("2001:db8::a", "2001:db8::1", 4570, 1883), "pp-v2-tcp6", "[2001:db8::a]:4570"),
        ("p2", v1("TCP4", "203.0.113.11", "198.51.100.1", 4571, 1883), "pp-v1-on-2", "203.0.113.11:4571"),
        ("p1", v2("203.0.113.12", "198.51.100.1", 4572, 1883), "pp-v2-on-1", "203.0.113.12:4572"),
        # PP 2.2: TLVs after the addresses are part of the header; skipped
        ("p2", v2("203.0.113.13", "198.51.100.1", 4573, 1883, TLV_NOOP), "pp-v2-tlv", "203.0.113.13:4573"),
        # PP 2.1: the longest v1 line, 104 bytes with CRLF
        ("p1", v1("TCP6", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                  65535, 65535), "pp-v1-longest", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535"),
    ]
    for i, (lst, header, cid, addr) in enumerate(cases):
        with dial(ports[lst]) as s:
            s.sendall(header)
            time.sleep(0.02)  # the header alone first
            mqtt_session(s, cid, "header then CONNECT")
            if i == 0:
                s.sendall(subscribe_pkt(1, "pp/first"))
                expect(s, suback(1), "SUBACK over a PROXY connection")
                pub.sendall(publish_pkt("pp/first", b"to the proxied client"))
                expect(s, publish_pkt("pp/first", b"to the proxied client"), "a message to the proxied client")
            s.sendall(DISCONNECT)
        connected_from(tmp, cid, addr)


def byte_by_byte(ports, tmp):
    """PP 2: "the receiver may be tolerant to partial headers ...
    Recommendation is to be tolerant": each byte of the header in a send
    of its own (TCP_NODELAY, a pause between), then CONNECT."""
    cases = [
        ("p1", v1("TCP4", "203.0.113.20", "198.51.100.1", 5001, 1883), "pp-bytes-v1", "203.0.113.20:5001"),
        ("p2", v2("2001:db8::14", "2001:db8::1", 5002, 1883, TLV_NOOP), "pp-bytes-v2", "[2001:db8::14]:5002"),
    ]
    for lst, header, cid, addr in cases:
        with dial(ports[lst]) as s:
            for b in header:
                s.sendall(bytes([b]))
                time.sleep(0.003)
            mqtt_session(s, cid, "header byte by byte")
            s.sendall(DISCONNECT)
        connected_from(tmp, cid, addr)


def one_send(ports, tmp):
    """The header and the client's first bytes in one segment (PP 2.1's
    example: the header line, then the request): CONNECT and PINGREQ
    right behind the header must reach MQTT untouched."""
    cases = [
        ("p1", v1("TCP4", "203.0.113.30", "198.51.100.1", 5101, 1883), "pp-one-v1", "203.0.113.30:5101"),
        ("p2", v2("203.0.113.31", "198.51.100.1", 5102, 1883), "pp-one-v2", "203.0.113.31:5102"),
    ]
    for lst, header, cid, addr in cases:
        with dial(ports[lst]) as s:
            s.sendall(header + connect_pkt(cid) + PINGREQ)
            expect(s, CONNACK_OK, "CONNACK (header + CONNECT + PINGREQ in one send)")
            expect(s, PINGRESP, "PINGRESP (header + CONNECT + PINGREQ in one send)")
            s.sendall(DISCONNECT)
        connected_from(tmp, cid, addr)


def local_unknown(ports, tmp):
    """v2 LOCAL (PP 2.2: "use the real connection endpoints"), with an
    empty and with a non-empty address block, and v1 UNKNOWN (PP 2.1: "use
    the real connection's parameters as if there were no PROXY protocol
    header"), short and with the optional fields: the log names the
    socket's 127.0.0.1 and its port."""
    cases = [
        ("p2", v2_local(), "pp-local"),
        ("p2", v2_local(socket.inet_aton("203.0.113.40") * 2 + struct.pack("!HH", 5201, 1883)), "pp-local-addr"),
        ("p1", b"PROXY UNKNOWN\r\n", "pp-unknown"),
        ("p1", b"PROXY UNKNOWN 203.0.113.41 198.51.100.1 5202 1883\r\n", "pp-unknown-long"),
    ]
    for lst, header, cid in cases:
        with dial(ports[lst]) as s:
            addr = local_addr(s)
            s.sendall(header)
            mqtt_session(s, cid, "LOCAL/UNKNOWN")
            s.sendall(DISCONNECT)
        connected_from(tmp, cid, addr)
    log = read_log(tmp)
    for bad in ("203.0.113.40", "203.0.113.41"):
        if bad in log:
            fail("broker log names %s from a LOCAL/UNKNOWN header" % bad)


def invalid_headers(ports, tmp, canary, pub):
    """PP 2.1: "Any sequence which does not exactly match the protocol must
    be discarded and cause the receiver to abort the connection"; PP 2.2:
    version must be 2, commands other than LOCAL/PROXY dropped; PP 2 (the
    receiver "MUST not try to guess whether the protocol header is
    present"): an MQTT CONNECT without a header is refused too. Each is
    closed without an answer and logged; the canary (on the listener
    without PROXY) stays connected and still receives."""
    cases = [
        ("p1", connect_pkt("pp-no-header"), "a CONNECT without a header"),
        ("p2", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP instead of a header"),
        ("p1", b"PROXY TCP4 203.0.113.50 198.51.100.1 5301\r\n", "v1 with a field missing"),
        ("p1", b"PROXY TCP4 2001:db8::32 198.51.100.1 5302 1883\r\n", "v1 TCP4 with an IPv6 source"),
        ("p1", b"PROXY TCP4 203.0.113.50 198.51.100.1 70000 1883\r\n", "v1 with port 70000"),
        ("p1", b"PROXY " + b"X" * 120, "v1 without CRLF in 107 bytes"),
        ("p2", V2_SIG + bytes([0x31, 0x11, 0x00, 0x0C]) + bytes(12), "v2 with version 3"),
        ("p2", V2_SIG + bytes([0x22, 0x11, 0x00, 0x0C]) + bytes(12), "v2 with command 2"),
        ("p2", V2_SIG + bytes([0x21, 0x11, 0x00, 0x04]) + bytes(4), "v2 TCP4 with a 4-byte address block"),
    ]
    for lst, data, what in cases:
        with dial(ports[lst]) as s:
            addr = local_addr(s)
            s.sendall(data)
            closed_by_broker(s, what)
        wait_log(tmp, r"connection from %s closed: no valid PROXY protocol header$" % re.escape(addr), what)
    # PP 2.1: the receiver "must not tolerate a single CR or LF character to
    # end the line". The broker does not take the line; it goes on waiting
    # for a CR (up to 107 bytes), so the connection ends at connect_timeout
    # (1 s here) rather than at once: either reason will do.
    with dial(ports["p1"]) as s:
        addr = local_addr(s)
        s.sendall(b"PROXY TCP4 203.0.113.50 198.51.100.1 5303 1883\n" + connect_pkt("pp-lf-alone"))
        closed_by_broker(s, "v1 ending in LF alone, then CONNECT")
    wait_log(tmp, r"connection from %s closed: no (valid PROXY protocol header|PROXY header within connect_timeout)$"
             % re.escape(addr), "v1 ending in LF alone")
    if "pp-lf-alone" in read_log(tmp):
        fail("a CONNECT behind a v1 line ending in LF alone reached MQTT")
    pub.sendall(publish_pkt("pp/canary", b"after the garbage"))
    expect(canary, publish_pkt("pp/canary", b"after the garbage"), "the canary's message after the bad headers")
    canary.sendall(PINGREQ)
    expect(canary, PINGRESP, "the canary's PINGRESP after the bad headers")


def silent(ports, tmp):
    """PP 2: the receiver "may apply a short timeout and decide to abort
    the connection if the protocol header is not seen"; here
    connect_timeout (1 s): one connection sends nothing, one stops inside
    a v1 header, one inside a v2 header. All closed in about a second."""
    socks = []
    for lst, data in (("p1", b""), ("p1", b"PROXY TCP4 203.0.1"), ("p2", V2_SIG[:7])):
        s = dial(ports[lst])
        opened = time.monotonic()
        if data:
            s.sendall(data)
        socks.append((s, local_addr(s), data, opened))
    try:
        for s, addr, data, opened in socks:
            what = "a connection that sent %r" % data
            closed_by_broker(s, what, within=4.0)
            took = time.monotonic() - opened
            if took < 0.5:
                fail("%s: closed after %.2f s, before connect_timeout 1" % (what, took))
            wait_log(tmp, r"connection from %s closed: no PROXY header within connect_timeout$" % re.escape(addr), what)
    finally:
        for s, _, _, _ in socks:
            s.close()


def tls_ctx(certs):
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "server.crt"))
    ctx.check_hostname = True
    return ctx


def proxy_tls(ports, tmp, certs):
    """PROXY before TLS: the header on the plain socket, then Python's ssl
    over the same socket and MQTT inside; the broker reads the header
    before the TLS handshake (PP 1: stunnel-like "dumb proxies" relay raw
    TLS and prepend the header)."""
    for header, cid, addr in (
        (v2("203.0.113.60", "198.51.100.1", 5401, 8883), "pp-tls-v2", "203.0.113.60:5401"),
        (v1("TCP6", "2001:db8::3c", "2001:db8::1", 5402, 8883), "pp-tls-v1", "[2001:db8::3c]:5402"),
    ):
        raw = dial(ports["tls"])
        raw.sendall(header)
        with tls_ctx(certs).wrap_socket(raw, server_hostname="localhost") as s:
            mqtt_session(s, cid, "PROXY then TLS")
            s.sendall(DISCONNECT)
        connected_from(tmp, cid, addr)


def proxy_tls_one_segment(ports, tmp, certs):
    """The header and the ClientHello in one send (a memory-BIO TLS client
    drives the handshake over the plain socket)."""
    cid, addr = "pp-tls-one", "203.0.113.61:5403"
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = tls_ctx(certs).wrap_bio(inc, out, server_hostname="localhost")
    with dial(ports["tls"]) as s:
        first = True
        deadline = time.monotonic() + STEP
        while True:
            try:
                tls.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            data = out.read()
            if first:
                data = v2("203.0.113.61", "198.51.100.1", 5403, 8883) + data
                first = False
            if data:
                s.sendall(data)
            if done:
                break
            if time.monotonic() > deadline:
                fail("TLS handshake after header + ClientHello in one send: not done within %.0f s" % STEP)
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                got = s.recv(65536)
            except socket.timeout:
                continue
            if not got:
                fail("TLS handshake after header + ClientHello in one send: connection closed (log: %s)"
                     % log_tail(tmp))
            inc.write(got)
        tls.write(connect_pkt(cid))
        s.sendall(out.read())
        got = b""
        while len(got) < 4:
            try:
                got += tls.read(4 - len(got))
            except ssl.SSLWantReadError:
                chunk = s.recv(65536)
                if not chunk:
                    fail("TLS after header + ClientHello in one send: closed before CONNACK")
                inc.write(chunk)
        if got != CONNACK_OK:
            fail("TLS after header + ClientHello in one send: got %s, want CONNACK" % got.hex(" "))
        tls.write(DISCONNECT)
        s.sendall(out.read())
    connected_from(tmp, cid, addr)


def ws_frame(payload):
    """A masked binary frame (RFC 6455 5.2; a client masks every frame, 5.3)."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x82]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_ws_binary(s, what):
    """One unmasked binary frame from the server (RFC 6455 5.1: a server
    does not mask), small payloads only."""
    head = recv_exact(s, 2, what)
    if head[0] != 0x82 or head[1] & 0x80 or (head[1] & 0x7F) >= 126:
        fail("%s: frame header %s, want a small unmasked binary frame [MQTT-6.0.0-1]" % (what, head.hex(" ")))
    return recv_exact(s, head[1] & 0x7F, what)


def upgrade_request(port):
    key = base64.b64encode(os.urandom(16)).decode()
    return ("GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
            % (port, key)).encode()


def read_http_head(s, what):
    head = b""
    deadline = time.monotonic() + STEP
    while b"\r\n\r\n" not in head:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(1)  # byte by byte: what follows belongs to the frames
        except socket.timeout:
            fail("%s: no complete HTTP response within %.0f s (got %r)" % (what, STEP, head))
        if not chunk:
            fail("%s: closed after %r (log: %s)" % (what, head, log_tail(TMP[0])))
        head += chunk
    return head.decode("latin-1")


def proxy_ws(ports, tmp):
    """PROXY before a WebSocket upgrade: the header and the HTTP request in
    one send (v1) and apart (v2); 101 with subprotocol mqtt [MQTT-6.0.0-4],
    then CONNECT in a binary frame, CONNACK back in one [MQTT-6.0.0-1]. And
    an upgrade without a header is closed like any other connection."""
    for header, cid, addr, apart in (
        (v1("TCP4", "203.0.113.70", "198.51.100.1", 5501, 80), "pp-ws-v1", "203.0.113.70:5501", False),
        (v2("2001:db8::46", "2001:db8::1", 5502, 80), "pp-ws-v2", "[2001:db8::46]:5502", True),
    ):
        with dial(ports["ws"]) as s:
            req = upgrade_request(ports["ws"])
            if apart:
                s.sendall(header)
                time.sleep(0.02)
                s.sendall(req)
            else:
                s.sendall(header + req)
            head = read_http_head(s, "upgrade after a PROXY header")
            if not head.startswith("HTTP/1.1 101"):
                fail("upgrade after a PROXY header: %r" % head.splitlines()[0])
            if not re.search(r"(?im)^sec-websocket-protocol:\s*mqtt\s*$", head):
                fail("upgrade after a PROXY header: no Sec-WebSocket-Protocol: mqtt [MQTT-6.0.0-4] in %r" % head)
            s.sendall(ws_frame(connect_pkt(cid)))
            got = read_ws_binary(s, "CONNACK over ws after a PROXY header")
            if got != CONNACK_OK:
                fail("CONNACK over ws after a PROXY header: got %s" % got.hex(" "))
            s.sendall(ws_frame(DISCONNECT))
        connected_from(tmp, cid, addr)
    with dial(ports["ws"]) as s:
        addr = local_addr(s)
        s.sendall(upgrade_request(ports["ws"]))
        closed_by_broker(s, "a WebSocket upgrade without a PROXY header")
    wait_log(tmp, r"connection from %s closed: no valid PROXY protocol header$" % re.escape(addr),
             "a WebSocket upgrade without a PROXY header")


def check_sanitizers(tmp):
    reports = [l for l in read_log(tmp).splitlines() if "runtime error:" in l or "Sanitizer" in l]
    if reports:
        fail("sanitizer reports in the broker log:\n" + "\n".join(reports[:20]))


TMP = [None]  # the broker's directory, for failure messages


def main():
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as certs, tempfile.TemporaryDirectory() as tmp:
        TMP[0] = tmp
        make_cert(certs)
        ports = {}
        while len(ports) < 4:
            p = free_port()
            if p not in ports.values():
                ports[("p1", "p2", "tls", "ws")[len(ports)]] = p
        proc, ports["plain"] = start_broker(tmp, conf(ports, certs))
        try:
            # start_broker waited for the first listener only; every
            # listener is open once the broker says it runs
            wait_log(tmp, r"fleetmq \S+ running with", "the broker running")
            for name in ("p1", "p2", "tls", "ws"):
                socket.create_connection(("127.0.0.1", ports[name]), timeout=STEP).close()
            wait_log(tmp, r"listening on 127\.0\.0\.1:%d \(mqtt over websockets\)$" % ports["ws"], "the ws listener")
            # the canary and the publisher: the listener without PROXY
            canary, pub = dial(ports["plain"]), dial(ports["plain"])
            mqtt_session(canary, "pp-canary", "canary")
            canary.sendall(subscribe_pkt(1, "pp/canary"))
            expect(canary, suback(1), "the canary's SUBACK")
            mqtt_session(pub, "pp-publisher", "publisher")
            for name, fn, args in (
                ("v1/v2, TCP4/TCP6, then CONNECT", headers_then_connect, (ports, tmp, pub)),
                ("header byte by byte", byte_by_byte, (ports, tmp)),
                ("header + CONNECT in one send", one_send, (ports, tmp)),
                ("LOCAL / UNKNOWN keep the socket's address", local_unknown, (ports, tmp)),
                ("invalid headers closed, canary unaffected", invalid_headers, (ports, tmp, canary, pub)),
                ("silent connections closed after connect_timeout", silent, (ports, tmp)),
                ("PROXY then TLS", proxy_tls, (ports, tmp, certs)),
                ("PROXY + ClientHello in one send", proxy_tls_one_segment, (ports, tmp, certs)),
                ("PROXY then a WebSocket upgrade", proxy_ws, (ports, tmp)),
            ):
                t = time.monotonic()
                fn(*args)
                print("ok %s (%.2f s)" % (name, time.monotonic() - t))
            canary.close()
            pub.close()
        except BaseException:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            raise
        try:
            stop(proc)  # exit status 0 (a LeakSanitizer report makes it nonzero)
        finally:
            check_sanitizers(tmp)
    print("proxy: all checks passed (%.1f s)" % (time.monotonic() - t0))


if __name__ == "__main__":
    main()
