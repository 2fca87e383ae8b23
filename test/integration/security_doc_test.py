"""docs/SECURITY.md is true: its two recipes (client certificates; passwords
over TLS), taken out of the page itself (the ```conf recipe-NAME and
```acl recipe-NAME blocks), run in a real broker with real certificates
(test/support/tls_fixture.sh, plus a 'backend' client certificate made
here from the fixture's CA), and Eclipse paho clients get exactly the access
the page promises. Only the paths and the port are replaced.

Deliveries that must not happen are checked with a fence: the forbidden
message first, then an allowed one from the same publisher; the next
message the subscriber gets must be the allowed one (one publisher's
messages arrive in order [MQTT-4.6.0-6])."""
import os
import re
import ssl
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

import fmtest

TIMEOUT = fmtest.TIMEOUT


def page_block(lang, name):
    src = os.environ.get("FLEETMQ_SOURCE_ROOT") or fmtest.fail("FLEETMQ_SOURCE_ROOT is not set")
    with open(os.path.join(src, "docs", "SECURITY.md")) as f:
        text = f.read()
    m = re.search(r"^```%s %s\n(.*?)^```" % (lang, name), text, re.S | re.M)
    if not m:
        fmtest.fail("docs/SECURITY.md has no ```%s %s block" % (lang, name))
    return m.group(1)



def issue_client_cert(certs, cn):
    """A client certificate with CN=cn from the fixture's CA."""
    key, csr, crt = (os.path.join(certs, cn + ext) for ext in (".key", ".csr", ".crt"))
    ext = os.path.join(certs, cn + ".ext")
    with open(ext, "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for cmd in (["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key],
                ["openssl", "req", "-new", "-key", key, "-subj", "/CN=" + cn, "-out", csr],
                ["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(certs, "ca.crt"),
                 "-CAkey", os.path.join(certs, "ca.key"), "-CAcreateserial", "-days", "30",
                 "-extfile", ext, "-out", crt]):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            fmtest.fail("%s failed: %s" % (" ".join(cmd[:2]), r.stderr[-300:]))
    return crt, key


def start(tmp, recipe, certs, passwd=None):
    """The recipe's config and ACL with this test's paths and port."""
    port = fmtest.free_port()
    paths = {"/etc/fleetmq/server.crt": os.path.join(certs, "server.crt"),
             "/etc/fleetmq/server.key": os.path.join(certs, "server.key"),
             "/etc/fleetmq/ca.crt": os.path.join(certs, "ca.crt"),
             "/etc/fleetmq/ca.crl": os.path.join(certs, "crl.pem"),
             "/etc/fleetmq/acl": os.path.join(tmp, "acl"),
             "/etc/fleetmq/passwd": passwd or "/nonexistent"}
    conf = page_block("conf", recipe)
    for path, ours in paths.items():
        conf = conf.replace(path, ours)
    if "listener 8883\n" not in conf:
        fmtest.fail("recipe %s has no 'listener 8883' line" % recipe)
    conf = conf.replace("listener 8883\n", "listener %d 127.0.0.1\n" % port)
    with open(os.path.join(tmp, "acl"), "w") as f:
        f.write(page_block("acl", "recipe-certs"))
    conf_path = os.path.join(tmp, recipe + ".conf")
    with open(conf_path, "w") as f:
        f.write(conf + "log_type all\n")
    log = open(os.path.join(tmp, "broker.log"), "a")
    proc = subprocess.Popen([fmtest.broker_binary(), "-c", conf_path], stdout=log, stderr=log, cwd=tmp)
    log.close()
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fmtest.fail("broker exited at start with %s: %s" % (proc.returncode, fmtest.log_tail(tmp)))
        with open(os.path.join(tmp, "broker.log"), errors="replace") as f:
            if "running with" in f.read():
                return proc, port
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    fmtest.fail("broker did not start: " + fmtest.log_tail(tmp))


class Device:
    """A paho client over TLS that records what it receives."""

    def __init__(self, name, port, certs, cert=None, user=None, password=None):
        self.name = name
        self.got = []
        self.granted = None
        self.cond = threading.Condition()
        self.c = mqtt.Client(client_id=name, protocol=mqtt.MQTTv311)
        self.c.tls_set(ca_certs=os.path.join(certs, "ca.crt"), certfile=cert and cert[0], keyfile=cert and cert[1],
                       cert_reqs=ssl.CERT_REQUIRED)
        if user:
            self.c.username_pw_set(user, password)
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.rc = None
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        self.wait(lambda: self.rc is not None, "CONNACK")

    def _on_connect(self, client, userdata, flags, rc):
        with self.cond:
            self.rc = rc
            self.cond.notify_all()

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.got.append((msg.topic, msg.payload.decode()))
            self.cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, granted):
        with self.cond:
            self.granted = list(granted)
            self.cond.notify_all()

    def wait(self, pred, what):
        with self.cond:
            if not self.cond.wait_for(pred, timeout=TIMEOUT):
                fmtest.fail("%s: no %s" % (self.name, what))

    def subscribe(self, topic):
        """SUBACK code for topic at QoS 1 (128: refused)."""
        self.granted = None
        self.c.subscribe(topic, 1)
        self.wait(lambda: self.granted is not None, "SUBACK for " + topic)
        return self.granted[0]

    def publish(self, topic, payload):
        self.c.publish(topic, payload, qos=1).wait_for_publish(TIMEOUT)

    def next_message(self):
        self.wait(lambda: self.got, "message")
        with self.cond:
            return self.got.pop(0)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def expect(device, topic, payload, why):
    got = device.next_message()
    if got != (topic, payload):
        fmtest.fail("%s: %s got %r, wanted %r" % (why, device.name, got, (topic, payload)))


def refused_at_handshake(port, certs, cert, what):
    """The TLS handshake itself fails (not a CONNACK refusal later)."""
    c = mqtt.Client(client_id="refused", protocol=mqtt.MQTTv311)
    c.tls_set(ca_certs=os.path.join(certs, "ca.crt"), certfile=cert and cert[0], keyfile=cert and cert[1])
    try:
        c.connect("127.0.0.1", port, keepalive=30)  # paho shakes hands inside connect()
    except (ssl.SSLError, ConnectionError):
        return
    c.loop(timeout=1.0)
    fmtest.fail("%s: the TLS handshake went through" % what)


def check_isolation(devices, backend):
    """The access both recipes promise, with devices dev1 and dev2."""
    dev1, dev2 = devices
    if backend.subscribe("fleet/+/telemetry") != 1:
        fmtest.fail("the backend may not read fleet/+/telemetry")
    for d in devices:
        if d.subscribe("fleet/%s/cmd/#" % d.name) != 1:
            fmtest.fail("%s may not read its own commands" % d.name)
    for foreign in ("fleet/dev2/cmd/#", "fleet/#", "fleet/+/telemetry"):
        if dev1.subscribe(foreign) != 128:
            fmtest.fail("dev1 was granted %s" % foreign)
    dev1.publish("fleet/dev2/telemetry", "forged")  # dropped: not dev1's
    dev1.publish("fleet/dev1/telemetry", "21.5")
    expect(backend, "fleet/dev1/telemetry", "21.5", "telemetry (a forged one must not come first)")
    backend.publish("fleet/dev2/cmd/reboot", "now")
    backend.publish("fleet/dev1/cmd/fence", "after")
    expect(dev2, "fleet/dev2/cmd/reboot", "now", "a command for dev2")
    expect(dev1, "fleet/dev1/cmd/fence", "after", "dev1 saw dev2's command first")


def recipe_certs(tmp, certs):
    proc, port = start(tmp, "recipe-certs", certs)
    backend_cert = issue_client_cert(certs, "backend")
    try:
        refused_at_handshake(port, certs, None, "no client certificate")
        refused_at_handshake(port, certs, (os.path.join(certs, "rogue.crt"), os.path.join(certs, "rogue.key")),
                             "a certificate from another CA")
        refused_at_handshake(port, certs, (os.path.join(certs, "revoked.crt"), os.path.join(certs, "revoked.key")),
                             "a revoked certificate")
        # dev1's certificate (CN=dev1); dev2's comes through an intermediate CA
        dev1 = Device("dev1", port, certs, cert=(os.path.join(certs, "client.crt"), os.path.join(certs, "client.key")),
                      user="claims-to-be-backend")  # the CN wins over the CONNECT's username
        dev2 = Device("dev2", port, certs, cert=(os.path.join(certs, "chain_client.crt"),
                                                 os.path.join(certs, "chain_client.key")))
        backend = Device("backend", port, certs, cert=backend_cert)
        for d in (dev1, dev2, backend):
            if d.rc != 0:
                fmtest.fail("%s refused with %d" % (d.name, d.rc))
        check_isolation((dev1, dev2), backend)
        for d in (dev1, dev2, backend):
            d.close()
    finally:
        fmtest.stop(proc)


def recipe_passwords(tmp, certs):
    passwd = os.path.join(tmp, "passwd")
    tool = os.environ.get("FLEETMQ_PASSWD_BIN") or fmtest.fail("FLEETMQ_PASSWD_BIN is not set")
    for user in ("dev1", "dev2", "backend"):
        args = [tool] + (["-c"] if user == "dev1" else []) + ["-b", passwd, user, user + "-pw"]
        r = subprocess.run(args, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            fmtest.fail("fleetmq_passwd failed: " + r.stderr)
    proc, port = start(tmp, "recipe-passwords", certs, passwd=passwd)
    try:
        wrong = Device("dev1", port, certs, user="dev1", password="guess")
        if wrong.rc != 4:
            fmtest.fail("a wrong password got return code %s, wanted 4" % wrong.rc)
        wrong.close()
        anon = Device("anon", port, certs)
        if anon.rc != 5:
            fmtest.fail("an anonymous client got return code %s, wanted 5" % anon.rc)
        anon.close()
        devs = [Device(u, port, certs, user=u, password=u + "-pw") for u in ("dev1", "dev2", "backend")]
        for d in devs:
            if d.rc != 0:
                fmtest.fail("%s refused with %d" % (d.name, d.rc))
        check_isolation(devs[:2], devs[2])
        for d in devs:
            d.close()
    finally:
        fmtest.stop(proc)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        certs = fmtest.make_certs(tmp)
        for recipe in (recipe_certs, recipe_passwords):
            sub = os.path.join(tmp, recipe.__name__)
            os.mkdir(sub)
            recipe(sub, certs)
            print("ok", recipe.__name__)


if __name__ == "__main__":
    main()
