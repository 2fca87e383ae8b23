#!/usr/bin/env python3
"""fleetmq-bench against the real broker, each scenario small: the numbers
docs/BENCHMARKS.md quotes come from this tool, so the suite checks that
every scenario runs to the end, counts what it should, finds nothing lost,
duplicated or out of order on a broker that loses nothing, and measures
the broker it was given (its CPU), not nothing. Rates are never asserted:
the machine is shared.

Also that the tool's own checks fail a run: a broker that refuses the
generator's connections must give exit status 1 and say why."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmtest  # noqa: E402

BENCH_LIMIT_S = 30


def bench_binary():
    binary = os.environ.get("FLEETMQ_BENCH_BIN")
    if not binary:
        fmtest.fail("FLEETMQ_BENCH_BIN is not set (run through meson test)")
    return binary


def run_bench(port, pid, args):
    cmd = [bench_binary()] + args.split() + [
        "--port", str(port), "--broker-pid", str(pid), "--json",
        "--duration-limit", str(BENCH_LIMIT_S)]
    done = subprocess.run(cmd, capture_output=True, text=True,
                          timeout=BENCH_LIMIT_S + 15)
    return done.returncode, done.stdout, done.stderr


def expect_clean_run(port, pid, args, expected_count):
    rc, out, err = run_bench(port, pid, args)
    if rc != 0:
        fmtest.fail("fleetmq-bench %s: exit %d: %s" % (args, rc, err.strip()))
    r = json.loads(out)
    if r["count"] != expected_count:
        fmtest.fail("fleetmq-bench %s: counted %d, expected %d"
                    % (args, r["count"], expected_count))
    for key in ("lost", "dups", "reordered", "failures"):
        if r[key] != 0:
            fmtest.fail("fleetmq-bench %s: %s %d on a broker that loses nothing"
                        % (args, key, r[key]))
    if not r["rate"] > 0 or not r["elapsed_s"] > 0:
        fmtest.fail("fleetmq-bench %s: no rate measured: %s" % (args, out))
    return r


def expect_broker_measured(args, r):
    if not r["broker_cpu_us_per_msg"] > 0 or not r["broker_rss_kb"] > 0:
        fmtest.fail("fleetmq-bench %s: the broker's CPU and RSS were not sampled: %s"
                    % (args, json.dumps(r)))


# (arguments, deliveries or cycles a clean run counts, samples the broker)
SCENARIOS = [
    ("fanin --pubs 10 --msgs 2000 --qos 0", 10 * 2000, True),
    ("fanin --pubs 10 --msgs 500 --qos 1 --window 5", 10 * 500, True),
    ("fanin --pubs 10 --msgs 300 --qos 2 --window 5", 10 * 300, True),
    ("fanout --subs 50 --msgs 200 --qos 0", 50 * 200, True),
    ("fanout --subs 20 --msgs 100 --qos 1", 20 * 100, True),
    ("shared --pubs 4 --subs 4 --msgs 500 --qos 1 --window 5", 4 * 500, True),
    ("retained --msgs 500 --subs 3 --qos 1", 3 * 500, True),
    ("churn --conns 300 --window 20", 300, True),
    ("churn --conns 200 --window 20 --clean 0", 200, True),
    ("idle --conns 300 --procs 2", 300, True),
    ("latency --msgs 300 --rate 0", 300, False),
    ("latency --msgs 200 --rate 1000", 200, False),
]


def test_every_scenario_counts_everything(port, pid):
    for args, count, samples_broker in SCENARIOS:
        r = expect_clean_run(port, pid, args, count)
        if samples_broker:
            expect_broker_measured(args, r)
        if args.startswith("latency"):
            if not 0 < r["p50_us"] <= r["p99_us"] <= r["max_us"]:
                fmtest.fail("fleetmq-bench %s: one-way percentiles out of order: %s"
                            % (args, out_of(r, "p50_us", "p99_us", "max_us")))
            if not 0 < r["rtt_p50_us"] <= r["rtt_p99_us"] <= r["rtt_max_us"]:
                fmtest.fail("fleetmq-bench %s: round trip percentiles out of order: %s"
                            % (args, out_of(r, "rtt_p50_us", "rtt_p99_us", "rtt_max_us")))
        if args.startswith("shared") and not 0 < r["share_min_pct"] <= r["share_max_pct"] < 100:
            fmtest.fail("fleetmq-bench %s: every consumer should get a share: %s"
                        % (args, out_of(r, "share_min_pct", "share_max_pct")))
        if args.startswith("retained") and not r["set_rate"] > 0:
            fmtest.fail("fleetmq-bench %s: no set rate measured" % args)


def out_of(r, *keys):
    return ", ".join("%s %s" % (k, r[k]) for k in keys)


def test_refused_connections_fail_the_run():
    with fmtest.broker("allow_anonymous false\npassword_file /dev/null\n") as (port, proc, _tmp):
        rc, out, err = run_bench(port, proc.pid, "fanin --pubs 2 --msgs 10 --qos 0")
        if rc != 1 or "refused" not in err:
            fmtest.fail("a refused generator should exit 1 saying so; got %d, stdout %r, stderr %r"
                        % (rc, out, err))


def test_tls_scenarios_handshake_and_resume():
    with tempfile.TemporaryDirectory() as certtmp:
        certs = fmtest.make_certs(certtmp)
        tls_port = fmtest.free_port()
        conf = ("persistence false\nlistener %d 127.0.0.1\ncertfile %s/server.crt\nkeyfile %s/server.key\n"
                % (tls_port, certs, certs))
        with fmtest.broker(conf) as (_port, proc, _tmp):
            fmtest.wait_listening(tls_port, proc, "the TLS listener")
            ca = os.path.join(certs, "ca.crt")
            args = "fanin --pubs 4 --msgs 500 --qos 1 --window 5 --tls " + ca
            r = expect_clean_run(tls_port, proc.pid, args, 4 * 500)
            if not r["tls"] or r["tls_handshakes"] < 5 or r["tls_failed"] or not r["tls_suite"]:
                fmtest.fail("fleetmq-bench %s: expected 5 TLS handshakes: %s" % (args, json.dumps(r)))
            args = "churn --conns 60 --window 10 --tls-resume 1 --tls " + ca
            r = expect_clean_run(tls_port, proc.pid, args, 60)
            if r["tls_resumed"] < 1 or r["tls_failed"]:
                fmtest.fail("fleetmq-bench %s: no session resumed: %s" % (args, json.dumps(r)))


def test_wake_measures_both_placements():
    """The broker-less floor: both round trips measured, in order, as many
    as asked; a run with no rounds is refused."""
    if len(os.sched_getaffinity(0)) < 2:
        print("# wake: skipped, this process may run on one CPU only")
        return
    cmd = [bench_binary(), "wake", "--msgs", "200", "--rate", "2000", "--json", "--duration-limit", "20"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=40)
    if done.returncode != 0:
        fmtest.fail("fleetmq-bench wake: exit %d: %s" % (done.returncode, done.stderr.strip()))
    r = json.loads(done.stdout)
    if r["count"] != 200:
        fmtest.fail("fleetmq-bench wake: %d round trips, asked for 200" % r["count"])
    if not 0 < r["wake_same_p50_us"] <= r["wake_same_p99_us"]:
        fmtest.fail("fleetmq-bench wake: one-CPU percentiles: %s" % out_of(r, "wake_same_p50_us", "wake_same_p99_us"))
    if not 0 < r["p50_us"] <= r["p99_us"] <= r["max_us"]:
        fmtest.fail("fleetmq-bench wake: two-CPU percentiles: %s" % out_of(r, "p50_us", "p99_us", "max_us"))
    done = subprocess.run([bench_binary(), "wake", "--msgs", "0"], capture_output=True, text=True, timeout=20)
    if done.returncode != 2 or "--msgs" not in done.stderr:
        fmtest.fail("fleetmq-bench wake --msgs 0 should be refused: %d %r" % (done.returncode, done.stderr))


def main():
    with fmtest.broker("persistence false") as (port, proc, _tmp):
        test_every_scenario_counts_everything(port, proc.pid)
    test_tls_scenarios_handshake_and_resume()
    test_refused_connections_fail_the_run()
    test_wake_measures_both_placements()
    print("bench_smoke: %d scenarios clean, TLS handshakes and resumption, a refused run fails, "
          "the wake floor measured"
          % len(SCENARIOS))


if __name__ == "__main__":
    main()
