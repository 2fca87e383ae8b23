"""The HTTP stats listener (http_listener, http_token) of the real broker,
driven with Python's own HTTP client: health and readiness, the bearer
token, JSON errors for bad paths and methods, HEAD, and the startup errors
of a bad http_* line. What the API reports is checked against what the
test did with real MQTT clients (paho)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

import fmtest

TOKEN = "s3cret-token-for-tests-0123"


request = fmtest.http_request  # (status, lowercase headers, body)


def get_json(port, path, token=None, want=200):
    status, headers, body = request(port, path, token=token)
    if status != want:
        fmtest.fail("GET %s: %d, wanted %d: %s" % (path, status, want, body[:300]))
    if headers.get("content-type") != "application/json":
        fmtest.fail("GET %s: content-type %r" % (path, headers.get("content-type")))
    try:
        return json.loads(body)
    except ValueError:
        fmtest.fail("GET %s: not JSON: %r" % (path, body[:300]))


def check(cond, what):
    if not cond:
        fmtest.fail(what)


def health_and_readiness(http_port):
    fmtest.wait_http_ready(http_port)
    h = get_json(http_port, "/healthz")
    check(h["status"] == "ok" and h["workers"] == 2 and h["workers_not_answering"] == [], "healthz: %r" % h)
    r = get_json(http_port, "/readyz")
    check(r == {"ready": True, "reasons": []}, "readyz: %r" % r)


def errors_are_json(http_port):
    e = get_json(http_port, "/no/such/thing", want=404)
    check(e["status"] == 404 and e["error"], "404 body: %r" % e)
    for method in ("POST", "PUT", "DELETE"):
        status, headers, body = request(http_port, "/healthz", method=method)
        check(status == 405, "%s /healthz: %d" % (method, status))
        check(headers.get("allow") == "GET, HEAD", "%s: Allow %r" % (method, headers.get("allow")))
        check(json.loads(body)["status"] == 405, "%s: body %r" % (method, body))
    status, headers, body = request(http_port, "/healthz", method="HEAD")
    check(status == 200 and body == b"" and int(headers.get("content-length", "0")) > 0,
          "HEAD: %d, %r, %r" % (status, headers, body))
    status, headers, body = request(http_port, "/healthz?" + "&".join("a%d=1" % i for i in range(40)))
    check(status == 400, "too many query arguments: %d" % status)
    check(headers.get("cache-control") == "no-store", "live data must not be cached: %r" % headers)


class Client:
    """A connected paho client (protocol 3.1.1 or 5) that counts what it
    receives."""

    def __init__(self, port, client_id, v5=False):
        self.received = 0
        self.cond = threading.Condition()
        proto = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        self.c = mqtt.Client(client_id=client_id, protocol=proto)
        connected = threading.Event()
        self.c.on_connect = lambda *a: connected.set()
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        check(connected.wait(fmtest.TIMEOUT), "%s: no CONNACK" % client_id)

    def _on_message(self, c, u, msg):
        with self.cond:
            self.received += 1
            self.cond.notify_all()

    def subscribe(self, topic, qos):
        done = threading.Event()
        self.c.on_subscribe = lambda *a: done.set()
        self.c.subscribe(topic, qos)
        check(done.wait(fmtest.TIMEOUT), "no SUBACK for " + topic)

    def wait_received(self, n):
        with self.cond:
            check(self.cond.wait_for(lambda: self.received >= n, fmtest.TIMEOUT),
                  "received %d of %d messages" % (self.received, n))

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def api_agrees_with_clients(port, http_port):
    """N clients (some 5.0), M QoS 0 and K QoS 1 messages to one subscriber,
    one retained message: the API and /metrics say exactly that."""
    n31, n5 = 4, 3
    clients = [Client(port, "c311-%d" % i) for i in range(n31)] + [Client(port, "c5-%d" % i, v5=True)
                                                                   for i in range(n5)]
    sub = clients[0]
    sub.subscribe("api/#", 1)
    pub = clients[-1]
    m, k = 25, 15
    for i in range(m):
        pub.c.publish("api/qos0", "m%d" % i, qos=0)
    for i in range(k):
        pub.c.publish("api/qos1", "k%d" % i, qos=1).wait_for_publish(fmtest.TIMEOUT)
    pub.c.publish("api/state", "on", qos=1, retain=True).wait_for_publish(fmtest.TIMEOUT)
    sub.wait_received(m + k + 1)
    b = get_json(http_port, "/api/v1/broker", token=TOKEN)
    conns = b["connections"]
    check(conns["clients_connected"] == n31 + n5 and conns["current"] == n31 + n5, "connections: %r" % conns)
    check(conns["connects_total"] == n31 + n5 and conns["peak"] >= n31 + n5, "connections: %r" % conns)
    lst = conns["by_listener"]
    check(len(lst) == 1 and lst[0]["port"] == port and lst[0]["protocol"] == "mqtt", "listeners: %r" % lst)
    check(lst[0]["clients_by_version"] == {"3.1": 0, "3.1.1": n31, "5.0": n5}, "by version: %r" % lst)
    check(lst[0]["peak"] >= n31 + n5 and lst[0]["accepted_total"] >= n31 + n5, "listener totals: %r" % lst)
    check(conns["connects_by_version"] == {"3.1": 0, "3.1.1": n31, "5.0": n5}, "connects: %r" % conns)
    check(b["sessions"]["online"] == n31 + n5 and b["sessions"]["total"] == n31 + n5, "sessions: %r" % b["sessions"])
    check(b["subscriptions"] == 1 and b["retained"]["count"] == 1, "subscriptions, retained: %r" % b)
    check(b["retained"]["bytes"] == len("api/state") + len("on"), "retained bytes: %r" % b["retained"])
    rx = b["messages"]["received"]
    check(rx == {"qos0": m, "qos1": k + 1, "qos2": 0, "total": m + k + 1}, "received: %r" % rx)
    tx = b["messages"]["sent"]
    check(tx["qos0"] == m and tx["qos1"] == k + 1 and tx["total"] == m + k + 1, "sent: %r" % tx)
    check(b["dropped"]["total"] == 0 and b["store"]["enabled"] and b["memory"]["rss_bytes"] > 0, "other: %r" % b)
    check(b["store"]["queue_depth"] >= 0 and b["store"]["commits"] >= 1, "store: %r" % b["store"])
    lat = b["messages"]["delivery_latency"]
    # one first send in 8 is timed, the first of each worker among them
    check(1 <= lat["count"] <= (m + k + 1 + 7) // 8 + 2 and lat["p50_at_most_us"] > 0, "latency: %r" % lat)
    check(b["version"] and b["workers"] == 2 and b["uptime_s"] >= 0, "version, workers: %r" % b)
    metrics_agree(http_port, n31 + n5, m, k + 1)
    for c in clients:
        c.close()


def metrics_agree(http_port, connected, qos0, qos1):
    status, headers, body = request(http_port, "/metrics", token=TOKEN)
    check(status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4"),
          "/metrics: %d %r" % (status, headers))
    promtool = shutil.which("promtool")
    check(promtool is not None, "promtool is not installed (scripts/deps.sh installs prometheus)")
    r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    check(r.returncode == 0, "promtool check metrics: %s %s" % (r.stdout.decode()[-500:], r.stderr.decode()[-500:]))
    values = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    for name, want in (("fleetmq_clients_connected", connected), ('fleetmq_connects_total{version="3.1"}', 0),
                       ('fleetmq_publish_received_total{qos="0"}', qos0),
                       ('fleetmq_publish_received_total{qos="1"}', qos1), ("fleetmq_retained_messages", 1),
                       ("fleetmq_subscriptions", 1)):
        check(values.get(name) == want, "%s is %r, wanted %r" % (name, values.get(name), want))
    check(values.get('fleetmq_store_commit_duration_seconds_bucket{le="+Inf"}', 0) >= 1, "no store commit observed")
    timed = values.get("fleetmq_delivery_latency_seconds_count", 0)
    check(1 <= timed <= (qos0 + qos1 + 7) // 8 + 2, "deliveries timed: %r" % timed)


def token_is_enforced(proc, tmp, http_port):
    for path in ("/api/v1/broker", "/metrics"):
        status, headers, body = request(http_port, path)
        check(status == 401 and headers.get("www-authenticate", "").startswith("Bearer"),
              "%s without a token: %d %r" % (path, status, headers))
        check(request(http_port, path, token="wrong-" + TOKEN)[0] == 401, "%s: a wrong token let in" % path)
        check(request(http_port, path, token=TOKEN[:-1])[0] == 401, "%s: a token's prefix let in" % path)
        check(request(http_port, path, token=TOKEN)[0] == 200, "%s: the token refused" % path)
    # SIGHUP: the new token in force at once, the old one refused
    conf = os.path.join(tmp, "fleetmq.conf")
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace(TOKEN, TOKEN + "-rotated"))
    log = os.path.join(tmp, "broker.log")
    before = os.path.getsize(log)
    proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + fmtest.TIMEOUT
    while time.monotonic() < deadline:
        with open(log, errors="replace") as f:
            f.seek(before)
            if "SIGHUP: reloaded" in f.read():
                break
        time.sleep(0.05)
    check(request(http_port, "/metrics", token=TOKEN)[0] == 401, "the old token still works after SIGHUP")
    check(request(http_port, "/metrics", token=TOKEN + "-rotated")[0] == 200, "the new token refused after SIGHUP")


def raw_connect(port, client_id, clean=True):
    """A raw 3.1.1 CONNECT (keepalive 600); returns the socket once the
    CONNACK said yes."""
    cid = client_id.encode()
    body = b"\x00\x04MQTT\x04" + bytes([0x02 if clean else 0x00]) + b"\x02\x58" + len(cid).to_bytes(2, "big") + cid
    s = socket.create_connection(("127.0.0.1", port), timeout=fmtest.TIMEOUT)
    s.sendall(bytes([0x10, len(body)]) + body)
    return s


def read_connack(s):
    got = b""
    while len(got) < 4:
        chunk = s.recv(4 - len(got))
        check(chunk, "closed before CONNACK")
        got += chunk
    check(got == b"\x20\x02\x00\x00", "CONNACK %r" % got)


def many_clients(port, n):
    """n raw clients fleet-00000 ...: CONNECTs first, CONNACKs after (the
    kernel holds them), so the test does not wait n round trips."""
    socks = [raw_connect(port, "fleet-%05d" % i) for i in range(n)]
    for s in socks:
        read_connack(s)
    return socks


def clients_list(port, http_port, n):
    """A fleet of n clients plus one parked persistent session with a queue:
    the list's totals, paging, prefix and sort, and one client's detail."""
    c = mqtt.Client(client_id="parked-1", protocol=mqtt.MQTTv311, clean_session=False)
    connected = threading.Event()
    c.on_connect = lambda *a: connected.set()
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    check(connected.wait(fmtest.TIMEOUT), "parked-1: no CONNACK")
    subscribed = threading.Event()
    c.on_subscribe = lambda *a: subscribed.set()
    c.subscribe("parked/#", 1)
    check(subscribed.wait(fmtest.TIMEOUT), "parked-1: no SUBACK")
    c.disconnect()
    c.loop_stop()
    pub = Client(port, "pub-1")
    queued = 7
    for i in range(queued):
        pub.c.publish("parked/x", "q%d" % i, qos=1).wait_for_publish(fmtest.TIMEOUT)
    started = time.monotonic()
    socks = many_clients(port, n)
    print("%d clients connected in %.1f s" % (n, time.monotonic() - started))
    started = time.monotonic()
    page = get_json(http_port, "/api/v1/clients?online=true&limit=1000", token=TOKEN)
    print("first page of %d online clients in %.2f s" % (page["total"], time.monotonic() - started))
    check(page["total"] == n + 1 and len(page["clients"]) == 1000, "online: total %d, page %d"
          % (page["total"], len(page["clients"])))
    ids = [x["client_id"] for x in page["clients"]]
    check(ids == sorted(ids), "the default order is by client id")
    page2 = get_json(http_port, "/api/v1/clients?online=true&limit=1000&offset=1000", token=TOKEN)
    check(page2["clients"][0]["client_id"] > ids[-1], "page 2 does not follow page 1")
    every = get_json(http_port, "/api/v1/clients?limit=1000&offset=%d" % (n - 1), token=TOKEN)
    check(every["total"] == n + 2, "all sessions: %d" % every["total"])
    pre = get_json(http_port, "/api/v1/clients?prefix=fleet-0001", token=TOKEN)
    check(pre["total"] == 10 and [x["client_id"] for x in pre["clients"]] == ["fleet-%05d" % i for i in range(10, 20)],
          "prefix: %r" % pre)
    top = get_json(http_port, "/api/v1/clients?sort=queued&limit=3", token=TOKEN)["clients"]
    check(top[0]["client_id"] == "parked-1" and top[0]["queued"] == queued and not top[0]["online"],
          "top by queue: %r" % top[0])
    off = get_json(http_port, "/api/v1/clients?online=false", token=TOKEN)
    check(off["total"] == 1 and off["clients"][0]["client_id"] == "parked-1", "offline: %r" % off)
    one = get_json(http_port, "/api/v1/clients/fleet-00042", token=TOKEN)
    check(one["online"] and one["protocol_version"] == 4 and one["keepalive_s"] == 600 and
          one["address"].startswith("127.0.0.1:") and one["listener_port"] == port, "detail: %r" % one)
    parked_detail = get_json(http_port, "/api/v1/clients/parked-1", token=TOKEN)
    subs = parked_detail["subscription_list"]
    check(subs == [{"filter": "parked/#", "qos": 1, "no_local": False, "retain_as_published": False,
                    "retain_handling": 0}] and parked_detail["queued"] == queued, "parked: %r" % parked_detail)
    get_json(http_port, "/api/v1/clients/nobody", token=TOKEN, want=404)
    for bad in ("limit=0", "limit=1001", "offset=-1", "sort=size", "order=up", "online=maybe", "listener=x"):
        e = get_json(http_port, "/api/v1/clients?" + bad, token=TOKEN, want=400)
        check(bad.split("=")[0] in e["error"], "%s: %r" % (bad, e))
    for s in socks:
        s.close()
    pub.close()


def subscriptions_and_retained(port, http_port):
    sub = Client(port, "subs-1", v5=True)
    sub.subscribe("site/+/temp", 1)
    sub.subscribe("site/7/#", 0)
    pub = Client(port, "ret-1")
    for topic, payload in (("site/1/temp", "20.5"), ("site/2/temp", "21"), ("other/x", "y")):
        pub.c.publish(topic, payload, qos=1, retain=True).wait_for_publish(fmtest.TIMEOUT)
    subs = get_json(http_port, "/api/v1/subscriptions?prefix=site/", token=TOKEN)
    check(subs["total"] == 2 and [x["filter"] for x in subs["subscriptions"]] == ["site/+/temp", "site/7/#"],
          "subscriptions: %r" % subs)
    check(subs["subscriptions"][0]["client_id"] == "subs-1" and subs["subscriptions"][0]["qos"] == 1, "%r" % subs)
    ret = get_json(http_port, "/api/v1/retained?prefix=site", token=TOKEN)
    check(ret["total"] == 2 and [(x["topic"], x["payload_preview"]) for x in ret["retained"]] ==
          [("site/1/temp", "20.5"), ("site/2/temp", "21")], "retained: %r" % ret)
    # with api/state from api_agrees_with_clients: api/state, other/x, site/1/temp, site/2/temp
    paged = get_json(http_port, "/api/v1/retained?limit=1&offset=2", token=TOKEN)
    check(paged["total"] == 4 and [x["topic"] for x in paged["retained"]] == ["site/1/temp"], "paged: %r" % paged)
    get_json(http_port, "/api/v1/retained?prefix=site/%23", token=TOKEN, want=400)
    sub.close()
    pub.close()


def startup_error(conf_text, needle):
    """The broker refuses conf_text at start, naming the file, line and option."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bad.conf")
        with open(path, "w") as f:
            f.write(conf_text)
        r = subprocess.run([fmtest.broker_binary(), "-c", path], capture_output=True, text=True,
                           timeout=fmtest.TIMEOUT, cwd=tmp)
        check(r.returncode != 0, "started with %r" % conf_text)
        check(path in r.stderr and needle in r.stderr, "the error does not say %r with the file: %r"
              % (needle, r.stderr))


def warns_when_open_off_loopback():
    """An API on a public address without a token is legal but worth a
    warning at start."""
    http_port = fmtest.free_port()
    with fmtest.broker("http_listener %d 0.0.0.0\n" % http_port) as (port, proc, tmp):
        fmtest.wait_http_ready(http_port)
        with open(os.path.join(tmp, "broker.log"), errors="replace") as f:
            check("without http_token" in f.read(), "no warning for an open API on 0.0.0.0")


def bad_config():
    base = "listener %d 127.0.0.1\npersistence false\n" % fmtest.free_port()
    startup_error(base + "http_token short\n", "bad.conf:3: option 'http_token'")
    startup_error(base + "http_token has blank\n", "bad.conf:3: option 'http_token': too many")
    startup_error(base + "http_listener 0\n", "bad.conf:3")
    startup_error(base + "http_listener 8080\nhttp_listener 8081\n", "bad.conf:4: option 'http_listener' given twice")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "busy.conf")
            with open(path, "w") as f:
                f.write(base + "http_listener %d\n" % port)
            r = subprocess.run([fmtest.broker_binary(), "-c", path], capture_output=True, text=True,
                               timeout=fmtest.TIMEOUT, cwd=tmp)
            check(r.returncode != 0 and "http_listener" in r.stderr and str(port) in r.stderr,
                  "a taken HTTP port: rc %d, %r" % (r.returncode, r.stderr))


def main():
    http_port = fmtest.free_port()
    with fmtest.broker("http_listener %d\nhttp_token %s\nworkers 2\nlog_type all\nsys_interval 0\n"
                       % (http_port, TOKEN)) as (port, proc, tmp):
        health_and_readiness(http_port)
        errors_are_json(http_port)
        print("ok health, readiness, errors")
        api_agrees_with_clients(port, http_port)
        print("ok API and metrics agree with the clients")
        subscriptions_and_retained(port, http_port)
        print("ok subscriptions, retained")
        token_is_enforced(proc, tmp, http_port)
        print("ok token")
    http_port = fmtest.free_port()
    with fmtest.broker("http_listener %d\nhttp_token %s\nsys_interval 0\nmax_connections -1\n"
                       % (http_port, TOKEN)) as (port, proc, tmp):
        clients_list(port, http_port, 10000)
        print("ok 10,000 clients listed")
    warns_when_open_off_loopback()
    print("ok warning for an open API off loopback")
    bad_config()
    print("ok bad config")


if __name__ == "__main__":
    main()
