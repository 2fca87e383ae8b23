"""Edges of the HTTP API found in review, each a separate check (the test
reports every one that fails):

1. no query argument is silently dropped: one after an empty ("&&") or a
   256-byte fragment still counts, and a too long one is a 400;
2. a path of 1,024 bytes or more is answered 414, never cut (a cut path
   could name another client);
3. a client id the path cannot carry ("a//b": the server collapses "//"
   after decoding %2F) is reached with /api/v1/client?id=;
4. retained messages sent on SUBSCRIBE are not timed as publish-to-
   delivery latency (their age is not a delivery's);
5. "queued" counts the part of a queue spilled to the store."""
import json
import socket
import sys
import time

import paho.mqtt.client as mqtt

import fmtest

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAILED CHECK: " + what, file=sys.stderr)


def get(http_port, path):
    status, headers, body = fmtest.http_request(http_port, path)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def raw_connect(port, client_id, clean=True):
    cid = client_id.encode()
    body = b"\x00\x04MQTT\x04" + bytes([0x02 if clean else 0x00]) + b"\x02\x58" + len(cid).to_bytes(2, "big") + cid
    rem = len(body)
    varint = b""
    while True:
        d = rem % 128
        rem //= 128
        varint += bytes([d | (0x80 if rem else 0)])
        if not rem:
            break
    s = socket.create_connection(("127.0.0.1", port), timeout=fmtest.TIMEOUT)
    s.sendall(b"\x10" + varint + body)
    got = b""
    while len(got) < 4:
        chunk = s.recv(4 - len(got))
        if not chunk:
            fmtest.fail("%s: closed before CONNACK" % client_id[:20])
        got += chunk
    if got != b"\x20\x02\x00\x00":
        fmtest.fail("%s: CONNACK %r" % (client_id[:20], got))
    return s


def args_not_dropped(port, http_port):
    socks = [raw_connect(port, "online-%d" % i) for i in range(3)]
    for query in ("x=" + "y" * 300 + "&online=false", "limit=1&&online=false", "prefix=" + "Z" * 240):
        status, j = get(http_port, "/api/v1/clients?" + query)
        ok = status == 400 if "y" * 300 in query else status == 200 and j["total"] == 0
        check(ok, "GET /api/v1/clients?%s...: %d with total %s (a filter was silently dropped; want 0 or a 400)"
              % (query[:24], status, j and j.get("total")))
    for s in socks:
        s.close()


def long_path_not_cut(port, http_port):
    s = raw_connect(port, "A" * 1007)
    status, j = get(http_port, "/api/v1/clients/" + "A" * 1100)
    check(status == 414, "GET /api/v1/clients/A*1100: %d with client_id of %d bytes (the path was cut; want 414)"
          % (status, len((j or {}).get("client_id", ""))))
    s.close()


def slashes_kept(port, http_port):
    socks = [raw_connect(port, "a/b"), raw_connect(port, "a//b")]
    status, j = get(http_port, "/api/v1/client?id=a%2F%2Fb")
    check(status == 200 and j["client_id"] == "a//b",
          "GET /api/v1/client?id=a%%2F%%2Fb: %d, client_id %r (want a//b)" % (status, (j or {}).get("client_id")))
    status, j = get(http_port, "/api/v1/client")
    check(status == 400, "GET /api/v1/client without an id: %d (want 400)" % status)
    for s in socks:
        s.close()


def spilled_queue_counted(port, http_port):
    c = mqtt.Client(client_id="parked", protocol=mqtt.MQTTv311, clean_session=False)
    c.connect("127.0.0.1", port)
    c.loop_start()
    c.subscribe("q/t", 1)
    time.sleep(0.3)
    c.disconnect()
    c.loop_stop()
    p = mqtt.Client(client_id="pub", protocol=mqtt.MQTTv311)
    p.connect("127.0.0.1", port)
    p.loop_start()
    for i in range(100):
        p.publish("q/t", b"m%d" % i, qos=1).wait_for_publish()
    p.disconnect()
    p.loop_stop()
    time.sleep(0.3)
    status, j = get(http_port, "/api/v1/clients/parked")
    check(status == 200 and j["queued"] == 100,
          "parked session with 100 queued (max_queued_in_memory 10): API says queued %r" % (j or {}).get("queued"))


def retained_not_timed():
    hp = fmtest.free_port()
    with fmtest.broker("workers 1\nsys_interval 0\nhttp_listener %d\n" % hp) as (port, proc, tmp):
        fmtest.wait_http_ready(hp)
        p = mqtt.Client(client_id="pub", protocol=mqtt.MQTTv311)
        p.connect("127.0.0.1", port)
        p.loop_start()
        p.publish("r/t", b"x", qos=1, retain=True).wait_for_publish()
        p.disconnect()
        p.loop_stop()
        time.sleep(2.0)
        got = []
        s = mqtt.Client(client_id="sub", protocol=mqtt.MQTTv311)
        s.on_message = lambda *a: got.append(1)
        s.connect("127.0.0.1", port)
        s.loop_start()
        s.subscribe("r/t", 0)
        deadline = time.monotonic() + fmtest.TIMEOUT
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
        s.disconnect()
        s.loop_stop()
        status, j = get(hp, "/api/v1/broker")
        lat = j["messages"]["delivery_latency"]
        check(lat["count"] == 0 or lat["mean_us"] < 1000000,
              "a 2 s old retained message delivered on SUBSCRIBE counted as delivery latency: %r" % lat)


def main():
    hp = fmtest.free_port()
    with fmtest.broker("workers 2\nsys_interval 0\nmax_queued_in_memory 10\nmax_queued_messages 1000\n"
                       "http_listener %d\n" % hp) as (port, proc, tmp):
        fmtest.wait_http_ready(hp)
        args_not_dropped(port, hp)
        long_path_not_cut(port, hp)
        slashes_kept(port, hp)
        spilled_queue_counted(port, hp)
    retained_not_timed()
    if failures:
        fmtest.fail("%d review check(s) failed:\n  " % len(failures) + "\n  ".join(failures))
    print("http_edges: all checks passed")


if __name__ == "__main__":
    main()
