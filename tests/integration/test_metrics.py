#!/usr/bin/python3
"""metrics.listen (issue 8): /metrics, /healthz and /readyz served from the
bridge's own loop. Scrapes are checked with the real `promtool check
metrics` (Debian's prometheus package; no server is started) and against
what the test's endpoints really received; hostile clients must not stall
deliveries nor grow the bridge. A ctest entry of its own
(integration_metrics); the broker-outage test is in test_health.py
(RUN_SERIAL). Shared fixtures: hsb_cases.py.
"""

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import (  # noqa: E402
    Base, ReloadCase, T_DELIVER, self_sub)
from hsb_harness import (  # noqa: E402
    BridgeProc, R, free_port, new_event_id, render_config, take_held_port, wait_until)

METRICS = {"listen": "127.0.0.1:0"}
NO_BREAKER = {"enabled": False}
N_DELAYS = 4          # DELAYS of hsb_cases: attempt 5 is the last


def promtool():
    path = shutil.which("promtool") or "/usr/bin/promtool"
    if not os.access(path, os.X_OK):
        raise AssertionError("promtool not found: scripts/setup installs Debian's prometheus")
    return path


def parse_exposition(text):
    """{series: value} of the sample lines ("name{labels} value")."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        out[series] = float(value)
    return out


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


class MetricsCase(ReloadCase):
    def addr(self, after=-1):
        """host, port of the listener from its last "metrics listening" line."""
        _, line = self.wait_log("metrics listening", after=after)[-1]
        host, _, port = line["listen"].rpartition(":")
        return host.strip("[]"), int(port)

    def get(self, path, method="GET", addr=None, timeout=10):
        host, port = addr or self.addr()
        c = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            c.request(method, path)
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read().decode()
        finally:
            c.close()

    def scrape(self, addr=None):
        """GET /metrics: checked by promtool; returns (text, {series: value})."""
        status, headers, text = self.get("/metrics", addr=addr)
        self.assertEqual(status, 200, text)
        self.assertEqual(headers.get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        cp = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=60)
        self.assertEqual((cp.returncode, cp.stdout + cp.stderr), (0, ""),
                         "promtool check metrics on:\n" + text)
        return text, parse_exposition(text)

    def v(self, m, name, **labels):
        key = name + ("{" + ",".join('%s="%s"' % kv for kv in labels.items()) + "}"
                      if labels else "")
        self.assertIn(key, m, "series %s missing" % key)
        return m[key]

    def settled(self, subs):
        """Scrapes until nothing is in flight for subs; returns the last one."""
        def pred():
            text, m = self.scrape()
            return m if all(self.v(m, "hsbridge_in_flight", sub=s) == 0 for s in subs) else None
        return wait_until(pred, T_DELIVER, "nothing in flight for %s" % (subs,), interval=0.2)


class ScrapeTests(MetricsCase):
    def test_counters_match_what_the_endpoints_received(self):
        n = 4
        self.rx.script("/failing", default=500)
        cred_url = self.rx.url("/cred").replace("http://", "http://scraper:pa55word@")
        subs = [self.hook("healthy", ["document.*"]), self.hook("failing", ["document.*"]),
                self.sub("cred", ["document.*"], url=cred_url)]
        self.start_bridge(subs, breaker=NO_BREAKER, metrics=METRICS)
        for _ in range(n):
            self.publish_event("document.uploaded")
        self.publish("document.uploaded", b"{not json", message_id=new_event_id(),
                     type_="document.uploaded")
        # a scrape while deliveries and retries are under way
        self.rx.wait_count("/failing", 2, T_DELIVER)
        self.scrape()
        self.wait_log("delivery", n=n, sub="healthy", outcome="delivered")
        self.wait_log("delivery", n=n, sub="cred", outcome="delivered")
        self.wait_log("delivery", n=n, sub="failing", outcome="parked", timeout=30)
        for s in ("healthy", "failing", "cred"):
            self.wait_log("parked", sub=s, reason="invalid_payload")
        m = self.settled(["healthy", "failing", "cred"])
        text, _ = self.scrape()

        got = {p: len(self.rx.for_path(p)) for p in ("/healthy", "/failing", "/cred")}
        self.assertEqual(got, {"/healthy": n, "/failing": n * (N_DELAYS + 1), "/cred": n})
        for s in ("healthy", "cred"):
            self.assertEqual(self.v(m, "hsbridge_deliveries_total", sub=s, outcome="delivered"), n)
            self.assertEqual(self.v(m, "hsbridge_deliveries_total", sub=s, outcome="retry"), 0)
            self.assertEqual(self.v(m, "hsbridge_attempts_total", sub=s, **{"class": "2xx"}), n)
            self.assertEqual(self.v(m, "hsbridge_attempt_duration_seconds_count", sub=s), n)
            # the invalid event: parked, never POSTed
            self.assertEqual(self.v(m, "hsbridge_deliveries_total", sub=s, outcome="parked"), 1)
            self.assertEqual(self.v(m, "hsbridge_parked_total", sub=s, reason="invalid_payload"),
                             1)
        f = got["/failing"]
        self.assertEqual(self.v(m, "hsbridge_attempts_total", sub="failing", **{"class": "5xx"}),
                         f)
        self.assertEqual(self.v(m, "hsbridge_attempt_duration_seconds_count", sub="failing"), f)
        self.assertEqual(self.v(m, 'hsbridge_attempt_duration_seconds_bucket', sub="failing",
                                le="+Inf"), f)
        self.assertEqual(self.v(m, "hsbridge_deliveries_total", sub="failing", outcome="retry"),
                         n * N_DELAYS)
        self.assertEqual(self.v(m, "hsbridge_deliveries_total", sub="failing", outcome="parked"),
                         n + 1)
        self.assertEqual(self.v(m, "hsbridge_parked_total", sub="failing",
                                reason="retries_exhausted"), n)
        self.assertEqual(self.v(m, "hsbridge_deliveries_total", sub="failing",
                                outcome="delivered"), 0)
        for s in ("healthy", "failing", "cred"):
            self.assertEqual(self.v(m, "hsbridge_copies_held", sub=s), 0)
            self.assertEqual(self.v(m, "hsbridge_copies_unconfirmed", sub=s), 0)
            self.assertEqual(self.v(m, "hsbridge_breaker_state", sub=s, state="closed"), 1)
        self.assertEqual(self.v(m, "hsbridge_broker_connected", connection="consuming"), 1)
        self.assertEqual(self.v(m, "hsbridge_broker_connected", connection="copies"), 1)
        self.assertEqual(self.v(m, "hsbridge_ready"), 1)
        self.assertEqual(self.v(m, "hsbridge_build_info", version="0.2.0"), 1)
        # sub names only: no URL, no credential, no secret
        for leak in ("pa55word", "scraper", "127.0.0.1", "http", "amqp", "guest") + tuple(
                s["secret"] for s in subs):
            self.assertNotIn(leak, text)

    def test_breaker_state_and_opens_follow_the_breaker(self):
        self.rx.script("/down", default=503)
        self.start_bridge([self.hook("down", ["document.*"]), self.hook("up", ["document.*"])],
                          breaker={"failures": 2, "cooldown": "1h", "max_cooldown": "1h"},
                          metrics=METRICS)
        for _ in range(3):
            self.publish_event("document.uploaded")
        self.wait_log("breaker", sub="down", state="open")
        self.wait_log("delivery", n=3, sub="up", outcome="delivered")

        def opened():
            _, m = self.scrape()
            return m if self.v(m, "hsbridge_in_flight", sub="down") == 0 else None
        m = wait_until(opened, T_DELIVER, "the open breaker's deliveries to settle", interval=0.2)
        self.assertEqual(self.v(m, "hsbridge_breaker_state", sub="down", state="open"), 1)
        self.assertEqual(self.v(m, "hsbridge_breaker_state", sub="down", state="closed"), 0)
        self.assertEqual(self.v(m, "hsbridge_breaker_state", sub="down", state="half_open"), 0)
        self.assertEqual(self.v(m, "hsbridge_breaker_opens_total", sub="down"), 1)
        self.assertEqual(self.v(m, "hsbridge_breaker_state", sub="up", state="closed"), 1)
        self.assertEqual(self.v(m, "hsbridge_breaker_opens_total", sub="up"), 0)
        self.assertEqual(self.v(m, "hsbridge_attempts_total", sub="down", **{"class": "5xx"}),
                         len(self.rx.for_path("/down")))
        # the outage parks nothing: the breaker spares the attempts
        self.assertEqual(self.v(m, "hsbridge_deliveries_total", sub="down", outcome="parked"), 0)

    def test_health_paths_methods_and_unknown_paths(self):
        self.start_bridge([self.hook("a")], metrics=METRICS)
        addr = self.addr()
        self.assertEqual(self.get("/healthz", addr=addr)[::2], (200, "ok\n"))
        self.assertEqual(self.get("/readyz", addr=addr)[::2], (200, "ready\n"))
        # Answered at once: the loop's wait includes the listener (an idle
        # bridge otherwise sleeps up to 1 s per turn).
        took = []
        for _ in range(15):
            t0 = time.monotonic()
            self.get("/healthz", addr=addr)
            took.append(time.monotonic() - t0)
        self.assertLess(sorted(took)[len(took) // 2], 0.1, "median answer time, connected")
        status, headers, body = self.get("/metrics", method="HEAD", addr=addr)
        self.assertEqual((status, body), (200, ""))
        self.assertEqual(self.get("/metrics?x=1", addr=addr)[0], 200)
        for path in ("/", "/metric", "/metrics/", "/healthz/x", "/../metrics", "/favicon.ico"):
            self.assertEqual(self.get(path, addr=addr)[0], 404, path)
        for method in ("POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "BREW"):
            status, headers, _ = self.get("/metrics", method=method, addr=addr)
            self.assertEqual(status, 405, method)
            self.assertEqual(headers.get("Allow"), "GET, HEAD")


class ReadinessTests(MetricsCase):
    def test_readyz_is_503_disconnected_while_the_broker_cannot_be_reached(self):
        # Nothing listens on the broker port: the bridge waits and retries,
        # and the listener answers meanwhile (the disconnected wait polls it).
        conf = self.write_conf(render_config(
            {"url": "amqp://guest:guest@127.0.0.1:%d/%%2f" % free_port()},
            [self.hook("a")], metrics=METRICS))
        self.bridge = BridgeProc(conf, self.tmp).start()
        addr = self.addr()
        self.wait_log("reconnecting")
        self.assertEqual(self.get("/healthz", addr=addr)[::2], (200, "ok\n"))
        self.assertEqual(self.get("/readyz", addr=addr)[::2], (503, "not ready: disconnected\n"))
        # Answered at once, not at the next 200 ms turn of the reconnect wait.
        took = []
        for _ in range(15):
            t0 = time.monotonic()
            self.get("/healthz", addr=addr)
            took.append(time.monotonic() - t0)
        took.sort()
        print("\n/healthz while disconnected, ms: %s" % [round(t * 1000) for t in took],
              file=sys.stderr)
        self.assertLess(took[len(took) // 2], 0.1, "median answer time while disconnected")
        _, m = self.scrape(addr)
        self.assertEqual(self.v(m, "hsbridge_broker_connected", connection="consuming"), 0)
        self.assertEqual(self.v(m, "hsbridge_ready"), 0)

    def test_readyz_says_reloading_then_stopping_while_a_request_is_in_flight(self):
        release = threading.Event()
        self.addCleanup(release.set)
        self.rx.script("/a", [R(200, hold=release)], default=200)
        self.start_bridge([self.hook("a", timeout_ms=30000)], metrics=METRICS)
        addr = self.addr()
        self.publish_event("document.uploaded")
        self.rx.wait_count("/a", 1, T_DELIVER)
        self.rewrite([self.hook("a", timeout_ms=30000)])
        self.sighup("accepted", wait_ready=False)
        self.assertEqual(self.get("/readyz", addr=addr)[::2], (503, "not ready: reloading\n"))
        self.bridge.signal(signal.SIGTERM)
        wait_until(lambda: self.get("/readyz", addr=addr)[2] == "not ready: stopping\n",
                   T_DELIVER, "/readyz to say stopping")
        self.assertEqual(self.get("/healthz", addr=addr)[0], 200)
        release.set()
        self.assertEqual(self.bridge.wait_exit(), 0)


class ReloadTests(MetricsCase):
    def test_reload_keeps_counters_of_kept_subs_and_rebinds_a_new_listen(self):
        self.start_bridge([self.hook("keep"), self.hook("drop")], metrics=METRICS)
        first = self.addr()
        for _ in range(2):
            self.publish_event("document.uploaded")
        self.wait_log("delivery", n=2, sub="keep", outcome="delivered")
        self.wait_log("delivery", n=2, sub="drop", outcome="delivered")
        self.settled(["keep", "drop"])
        # A new listen that cannot be bound (the port is taken): the old
        # listen is bound again, and the reload is applied otherwise.
        port = free_port()
        self.config([self.hook("keep"), self.hook("new")], delivery=dict(self.DELIVERY),
                    metrics={"listen": "127.0.0.1:%d" % port})
        idx, _ = self.sighup("accepted")
        self.wait_log("metrics closed", after=idx)
        self.wait_log("metrics", after=idx, pred=lambda o: "Address already in use" in
                      o.get("error", ""))
        self.wait_log("metrics", after=idx, pred=lambda o: "previous address" in
                      o.get("error", ""))
        fallback = self.addr(after=idx)
        self.assertEqual(self.get("/healthz", addr=fallback)[0], 200)
        # Once the port is free, the next reload binds it.
        take_held_port(port).close()
        idx, _ = self.sighup("accepted")
        self.wait_log("metrics closed", after=idx)
        second = self.addr(after=idx)
        self.assertEqual(second, ("127.0.0.1", port))
        for gone in (first, fallback):
            with self.assertRaises(OSError):
                self.get("/healthz", addr=gone, timeout=2)
        _, m = self.scrape(second)
        self.assertEqual(self.v(m, "hsbridge_deliveries_total", sub="keep", outcome="delivered"), 2)
        self.assertEqual(self.v(m, "hsbridge_deliveries_total", sub="new", outcome="delivered"), 0)
        self.assertFalse([k for k in m if 'sub="drop"' in k], "a removed sub's series")
        # an unchanged listen keeps its socket: no new "metrics listening"
        n = len(self.logs("metrics listening"))
        idx, _ = self.sighup("accepted")
        self.publish_event("document.uploaded")
        self.wait_log("delivery", after=idx, sub="keep", outcome="delivered")
        self.assertEqual(len(self.logs("metrics listening")), n)
        _, m = self.scrape(second)
        self.assertEqual(self.v(m, "hsbridge_deliveries_total", sub="keep", outcome="delivered"), 3)


class HostileClientTests(MetricsCase):
    """A scraper that trickles, sends garbage or floods connections must not
    stall the loop: deliveries go on, the bridge neither crashes nor grows."""

    def attack(self, addr, stop):
        """Slowloris, garbage and 1,000 quick connections until stop is set
        (the quick ones end by themselves). Returns the threads."""
        def slowloris():
            socks = []
            try:
                for _ in range(40):
                    s = socket.create_connection(addr, timeout=5)
                    socks.append(s)
                    s.sendall(b"GET /metrics HTTP/1.1\r\n")
                while not stop.wait(0.2):
                    for s in list(socks):
                        try:
                            s.sendall(b"X")
                        except OSError:
                            socks.remove(s)
                            s.close()
            finally:
                for s in socks:
                    s.close()

        def garbage():
            junk = [b"\x00\xff" * 500 + b"\r\n\r\n", b"GET " + b"/a" * 20000 + b" HTTP/1.1\r\n\r\n",
                    b"GET /metrics HTTP/1.1\r\nX: " + b"y" * 40000 + b"\r\n\r\n",
                    b"BREW /pot HTCPCP/1.0\r\n\r\n", b"\r\n\r\n\r\n", b"GET /metrics\r\n\r\n",
                    b"POST /metrics HTTP/1.1\r\nContent-Length: 99999999\r\n\r\nabc",
                    b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]
            while not stop.is_set():
                for j in junk:
                    try:
                        with socket.create_connection(addr, timeout=5) as s:
                            s.sendall(j)
                            s.settimeout(1)
                            s.recv(4096)
                    except OSError:
                        pass

        def quick():
            for i in range(1000):
                try:
                    with socket.create_connection(addr, timeout=5) as s:
                        if i % 3 == 1:
                            s.sendall(b"GET /metr")
                        elif i % 3 == 2:
                            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                         b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
                except OSError:
                    pass

        threads = [threading.Thread(target=f, daemon=True) for f in (slowloris, garbage, quick)]
        for t in threads:
            t.start()
        return threads

    def round(self, addr, n_events):
        stop = threading.Event()
        self.addCleanup(stop.set)
        threads = self.attack(addr, stop)
        before = len(self.rx.for_path("/a"))
        t0 = time.monotonic()
        for _ in range(n_events):    # spread over 2 s of attack
            self.publish_event("document.uploaded")
            time.sleep(2.0 / n_events)
        self.rx.wait_count("/a", before + n_events, T_DELIVER,
                           "events published during the attack to be delivered")
        took = time.monotonic() - t0
        # 2 s of publishing; the rest is the bridge (generous: a busy machine)
        self.assertLess(took, 12, "deliveries stalled during the attack")
        threads[2].join(60)
        self.assertFalse(threads[2].is_alive(), "1,000 quick connections took over 60 s")
        stop.set()
        for t in threads:
            t.join(30)
        self.assertTrue(self.bridge.running(), "the bridge died under the attack")
        return took

    def test_slowloris_garbage_and_connection_floods_do_not_stall_or_grow_it(self):
        self.start_bridge([self.hook("a")], metrics=METRICS)
        addr = self.addr()
        pid = self.bridge.proc.pid
        self.scrape(addr)
        rss0 = rss_kib(pid)
        t1 = self.round(addr, 20)
        rss1 = rss_kib(pid)
        t2 = self.round(addr, 20)
        rss2 = rss_kib(pid)
        print("\nRSS KiB: before %d, after round 1 %d, after round 2 %d; delivery of 20 "
              "events under attack took %.2f s and %.2f s" % (rss0, rss1, rss2, t1, t2),
              file=sys.stderr)
        # Generous: the second round adds (almost) nothing to the first one.
        self.assertLess(rss1 - rss0, 32 * 1024, "RSS grew %d KiB in round 1" % (rss1 - rss0))
        self.assertLess(rss2 - rss1, 8 * 1024, "RSS grew %d KiB in round 2" % (rss2 - rss1))
        # Once the attackers are gone, it answers again, and counted all.
        # (Their last sockets may still count against the per-address limit
        # until the listener has read their close: a scrape then is closed
        # at once, as the limit says. CI saw that once.)
        self.wait_log("delivery", n=40, sub="a", outcome="delivered")

        def answers():
            try:
                return self.get("/healthz", addr=addr)[0] == 200
            except (OSError, http.client.HTTPException):
                return False
        wait_until(answers, T_DELIVER, "the listener answering once the attackers are gone",
                   interval=0.2)
        m = self.settled(["a"])
        self.assertEqual(self.v(m, "hsbridge_deliveries_total", sub="a", outcome="delivered"), 40)
        self.assertEqual(self.get("/healthz", addr=addr)[0], 200)


class ConfigErrorTests(Base):
    """metrics.listen errors name the file and line (exit 78); a listen the
    bridge cannot bind ends `run` with 69 and says why."""

    def conf(self, listen_line):
        s = self_sub("a")
        self.secrets.append(s["secret"])
        text = render_config({"url": "amqp://guest:guest@127.0.0.1:%d/%%2f" % free_port()}, [s])
        return self.write_conf("metrics: {\n" + listen_line + "\n};\n" + text)

    def test_invalid_listen_values_are_config_errors_with_file_and_line(self):
        for value in ('"9464"', '"127.0.0.1"', '"127.0.0.1:65536"', '"example.com:80"',
                      '"[::1]"', '"::1:9464"', '"garbage"', '"127.0.0.1:-1"', "9464", "true"):
            with self.subTest(value=value):
                conf = self.conf("  listen = %s;" % value)
                for args in (("check",), ("run",)):
                    cp = self.cli(conf, *args)
                    self.assertEqual(cp.returncode, 78, cp.stderr)
                    text = self.error_text(cp.stderr)
                    self.assertIn("%s:2:" % os.path.basename(conf), text)
                    self.assertIn("metrics.listen", text)

    def test_a_listen_address_in_use_ends_run_with_69(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            conf = self.conf('  listen = "127.0.0.1:%d";' % s.getsockname()[1])
            cp = self.cli(conf, "run")
        self.assertEqual(cp.returncode, 69, cp.stderr)
        self.assertIn("cannot listen on 127.0.0.1:", cp.stderr)
        self.assertIn("Address already in use", cp.stderr)


def readme_section():
    """The README's "Metrics, health and readiness" section."""
    src = os.environ.get("HSB_SOURCE_DIR") or os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(src, "README.md")) as f:
        text = f.read()
    start = text.index("### Metrics, health and readiness")
    return text[start:text.index("\n### ", start + 1)]


class DocTests(Base):
    def test_readme_alerts_are_valid_prometheus_rules(self):
        section = readme_section()
        block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
        for name in ("HsbridgeWebhookFailureRate", "HsbridgeEventsParked", "HsbridgeBreakerOpen"):
            self.assertIn(name, block)
        path = os.path.join(self.tmp, "hsbridge.rules.yml")
        with open(path, "w") as f:
            f.write(block)
        cp = subprocess.run([promtool(), "check", "rules", path], capture_output=True,
                            text=True, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertIn("SUCCESS: 3 rules found", cp.stdout)

    def test_readme_scrape_config_is_a_valid_prometheus_config(self):
        section = readme_section()
        blocks = [b.split("```", 1)[0] for b in section.split("```yaml\n")[1:]]
        self.assertEqual(len(blocks), 2, "the rules, then the scrape config")
        with open(os.path.join(self.tmp, "hsbridge.rules.yml"), "w") as f:
            f.write(blocks[0])
        path = os.path.join(self.tmp, "prometheus.yml")
        with open(path, "w") as f:
            f.write(blocks[1])
        cp = subprocess.run([promtool(), "check", "config", path], capture_output=True,
                            text=True, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertIn("SUCCESS: 3 rules found", cp.stdout)
        self.assertIn("127.0.0.1:9464", blocks[1])


class ReadmeMetricsTests(MetricsCase):
    def test_readme_lists_every_metric_the_bridge_serves(self):
        conf = self.write_conf(render_config(
            {"url": "amqp://guest:guest@127.0.0.1:%d/%%2f" % free_port()},
            [self.hook("a")], metrics=METRICS))
        self.bridge = BridgeProc(conf, self.tmp).start()
        text, _ = self.scrape()
        served = set(re.findall(r"^# TYPE (hsbridge_[a-z_]+) ", text, re.M))
        listed = set(re.findall(r"`(hsbridge_[a-z_]+)`", readme_section()))
        self.assertEqual(len(served), 16)  # 13, and the three of history (issue 11)
        self.assertEqual(served, listed, "the README's metrics table and /metrics differ")

class SlowlorisTests(MetricsCase):
    def test_a_request_trickled_past_the_header_deadline_is_closed(self):
        """MHD's idle timeout alone would keep this connection for ever."""
        self.start_bridge([self.hook("a")], metrics=METRICS)
        s = socket.create_connection(self.addr(), timeout=2)
        self.addCleanup(s.close)
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
        start = time.monotonic()
        closed = False
        while not closed and time.monotonic() - start < 15:
            try:
                s.sendall(b"X")
                closed = s.recv(100) == b""
            except socket.timeout:
                pass
            except OSError:
                closed = True
        self.assertTrue(closed, "a trickling request outlived the header deadline")
        self.assertGreater(time.monotonic() - start, 4, "closed before its deadline")

    def test_trickling_clients_from_two_addresses_do_not_lock_scrapers_out(self):
        """64 connections (32 from 127.0.0.1, 32 from 127.0.0.2) each send a
        byte of their request headers every 3 s: MHD's idle timeout (10 s)
        never fires, the 64-connection limit is reached, and a scraper from a
        third address must still get an answer within a reasonable time."""
        self.start_bridge([self.hook("a")], metrics=METRICS)
        addr = self.addr()
        stop = threading.Event()
        self.addCleanup(stop.set)
        socks = []
        for i in range(64):
            s = socket.socket()
            s.bind(("127.0.0.%d" % (1 + i % 2), 0))
            s.settimeout(5)
            s.connect(addr)
            s.sendall(b"GET /metrics HTTP/1.1\r\n")
            socks.append(s)
        self.addCleanup(lambda: [s.close() for s in socks])

        def trickle():
            while not stop.wait(3):
                for s in socks:
                    try:
                        s.sendall(b"X")
                    except OSError:
                        pass
        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        time.sleep(1)
        n = 5
        for _ in range(n):
            self.publish_event("document.uploaded")
        self.rx.wait_count("/a", n, T_DELIVER, "deliveries during the slowloris")
        # A scraper from another address, for 40 s: at least one answer.
        answered = []
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not answered:
            try:
                c = socket.socket()
                c.bind(("127.0.0.3", 0))
                c.settimeout(5)
                c.connect(addr)
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if c.recv(100).startswith(b"HTTP/1.1 200"):
                    answered.append(time.monotonic())
            except OSError:
                pass
            finally:
                c.close()
        stop.set()
        self.assertTrue(answered, "a scraper was locked out for 40 s by 64 trickling clients")


if __name__ == "__main__":
    unittest.main()
