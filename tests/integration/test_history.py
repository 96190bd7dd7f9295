#!/usr/bin/python3
"""The history stream <prefix>.attempts and `hsbridge logs SUB` (issue 11).
A ctest entry of its own (integration_history); shared fixtures: hsb_cases.py.
"""

import datetime
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import BridgeCase, BrokerCase, T_DELIVER, self_sub  # noqa: E402
from hsb_harness import Env, R, clean_env, rand_alnum, wait_until  # noqa: E402

STREAM = "hsbridge.attempts"
SHORT = ["200ms", "300ms"]          # 3 attempts, then parked
NO_BREAKER = {"enabled": False}     # every failed attempt counts: exact attempts


def records(cp):
    """The JSON records `logs --json` printed, one per line."""
    return [json.loads(line) for line in cp.stdout.splitlines() if line.strip()]


def brief(r):
    return (r["event"], r["attempt"], r["status"], r["outcome"], r["next"])


class HistoryCase(BridgeCase):
    def hlogs(self, *args, conf=None):
        """`hsbridge logs ...` on the running bridge's config (exit 0)."""
        cp = self.cli(conf or self.bridge.conf, "logs", *args)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return cp

    def wait_records(self, sub, n, *args, conf=None, timeout=T_DELIVER):
        """Polls `logs SUB --json ARGS` until it prints n records; returns them.
        (Without --follow, logs stops after 1 s without a record: a record
        still on its way shows up in the next poll.)"""
        got = []

        def pred():
            got[:] = records(self.hlogs(sub, "--json", *args, conf=conf))
            return len(got) >= n
        wait_until(pred, timeout, "%d record(s) of %s in the stream" % (n, sub), interval=0.2,
                   detail=lambda: got)
        self.assertEqual(len(got), n, "more records than expected: %r" % (got,))
        return got


class LifecycleTests(HistoryCase):
    def test_each_attempt_is_one_record_in_order_and_the_filters_select_subsets(self):
        s = self.hook("clinic", secret="whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQ=")
        maintenance = b'{"error":"maintenance"}'
        # a: 200; b: 503, 503, 200; c: 500 three times (parked); then the test event
        self.rx.script("/clinic", [R(200, body=b"thanks"), R(503, body=maintenance), 503,
                                   R(200, body=b"ok now"), 500, 500, 500],
                       default=R(200, body=b"test ok"))
        self.start_bridge([s], delivery={"retry_delays": SHORT}, breaker=NO_BREAKER)
        a, body_a, _ = self.publish_event("document.uploaded")
        self.wait_logged(event=a, outcome="delivered")
        b, _, _ = self.publish_event("analysis.completed")
        self.wait_logged(event=b, outcome="delivered")
        # --since at the next whole second, and c's attempts after it
        cut = int(time.time()) + 1
        wait_until(lambda: time.time() >= cut + 0.05, 3, "the next second")
        c, _, _ = self.publish_event("share.accessed")
        self.wait_logged(event=c, outcome="parked")
        cp = self.cli(self.bridge.conf, "test-event", "clinic")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        test_delivery = [line.split()[1] for line in cp.stdout.splitlines()
                         if line.startswith("delivery:")][0]
        test_event = cp.stdout.split()[1]

        got = self.wait_records("clinic", 8)
        self.assertEqual([brief(r) for r in got], [
            (a, 1, 200, "delivered", None),
            (b, 1, 503, "retry", "200ms"),
            (b, 2, 503, "retry", "300ms"),
            (b, 3, 200, "delivered", None),
            (c, 1, 500, "retry", "200ms"),
            (c, 2, 500, "retry", "300ms"),
            (c, 3, 500, "parked", None),
            (test_event, 1, 200, "delivered", None)])
        self.assertEqual(got[-1]["type"], "webhook.test")
        self.assertEqual(got[-1]["delivery"], test_delivery)
        self.assertEqual(got[1]["response"], maintenance.decode())
        self.assertEqual(got[1]["error"], "HTTP 503")
        self.assertEqual(got[0]["response"], "thanks")
        self.assertEqual(got[0]["type"], "document.uploaded")
        deliveries = {r.delivery for r in self.rx.for_path("/clinic")}
        self.assertLessEqual({r["delivery"] for r in got}, deliveries)
        for r in got:
            self.assertEqual(sorted(r), sorted(["ts", "sub", "event", "delivery", "type",
                                                "attempt", "status", "ms", "outcome", "next",
                                                "error", "response", "bridge"]))
            self.assertEqual(r["sub"], "clinic")
            self.assertEqual(set(r["bridge"]), {"host", "pid"})
        self.assertEqual({r["bridge"]["pid"] for r in got[:-1]}, {self.bridge.proc.pid})
        # never a secret, never the request body
        raw = self.hlogs("clinic", "--json").stdout
        self.assertNotIn(json.loads(body_a)["data"]["object"]["id"], raw)
        self.assert_no_secret(raw)

        failed = records(self.hlogs("clinic", "--json", "--failed"))
        self.assertEqual([brief(r) for r in failed], [brief(r) for r in got[1:3] + got[4:7]])
        only_b = records(self.hlogs("clinic", "--json", "--event", b))
        self.assertEqual([brief(r) for r in only_b], [brief(r) for r in got[1:4]])
        since = datetime.datetime.fromtimestamp(cut, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        later = records(self.hlogs("clinic", "--json", "--since", since))
        self.assertEqual([brief(r) for r in later], [brief(r) for r in got[4:]])
        one = records(self.hlogs("clinic", "--json", "--delivery", test_delivery))
        self.assertEqual([brief(r) for r in one], [brief(got[-1])])
        last2 = records(self.hlogs("clinic", "--json", "--limit", "2"))
        self.assertEqual([brief(r) for r in last2], [brief(r) for r in got[-2:]])
        # the readable table: a header, then time, event, type, attempt, status, ms,
        # outcome and next, and the endpoint's answer under a row
        table = self.hlogs("clinic", "--event", b).stdout.splitlines()
        self.assertEqual(table[0].split(), ["TIME", "EVENT", "TYPE", "ATTEMPT", "STATUS", "MS",
                                            "OUTCOME", "NEXT"])
        rows = [line.split() for line in table[1:] if not line.startswith(" ")]
        self.assertEqual([(r[1], r[2], r[3], r[4], r[6], r[7]) for r in rows], [
            (b, "analysis.completed", "1", "503", "retry", "200ms"),
            (b, "analysis.completed", "2", "503", "retry", "300ms"),
            (b, "analysis.completed", "3", "200", "delivered", "-")])
        self.assertIn("    response: " + maintenance.decode(), table)
        self.assertEqual(self.hlogs("other-sub").stdout.splitlines()[1:], [])

    def test_response_bytes_cut_the_answer_and_0_leaves_it_out(self):
        # "abcdé…": é is 2 bytes at 4-5, so a cut at 5 bytes leaves half of it
        answer = "abcdé and more".encode()
        for n, want in ((5, "abcd\ufffd"), (0, None)):
            with self.subTest(response_bytes=n):
                sub = "r%d" % n
                self.rx.script("/" + sub, [], default=R(200, body=answer))
                self.start_bridge([self.hook(sub)], history={"response_bytes": n})
                e, _, _ = self.publish_event("document.uploaded")
                got = self.wait_records(sub, 1)
                self.assertEqual((got[0]["event"], got[0]["response"]), (e, want))

    def test_an_invalid_payload_is_one_record_without_an_attempt(self):
        self.start_bridge([self.hook("clinic")])
        self.publish("document.uploaded", b"not json", message_id="evt_bad1",
                     type_="document.uploaded")
        got = self.wait_records("clinic", 1)
        self.assertEqual((got[0]["event"], got[0]["attempt"], got[0]["status"],
                          got[0]["outcome"]), ("evt_bad1", 0, 0, "parked"))
        self.assertTrue(got[0]["error"])


    def test_a_changed_retention_warns_and_deliveries_and_records_go_on(self):
        # issue 11 review: with max_age changed in the config, run exited 78
        # and no subscription got anything, for the sake of the history
        self.start_bridge([self.hook("clinic")])
        self.bridge.stop()
        self.old_bridges.append(self.bridge)
        self.bridge = None
        self.start_bridge([self.hook("clinic")], history={"max_age": "3d"})
        line = self.bridge.wait_log("history", outcome="stream kept as declared")[0][1]
        self.assertIn("inequivalent arg 'x-max-age'", line["error"])
        eid, _, _ = self.publish_event("document.uploaded")
        self.wait_logged(1, event=eid, outcome="delivered")
        got = self.wait_records("clinic", 1, "--event", eid)
        self.assertEqual(got[0]["outcome"], "delivered")
        self.assertEqual(self.mgmt.queue(self.vhost, STREAM)["arguments"]["x-max-age"], "7D")


    def test_an_echoed_header_value_is_not_kept_in_the_record(self):
        # issue 11 attack review: an endpoint echoing the request put the
        # subscription's Authorization value into the stream; then, one that
        # echoed it JSON-escaped (PHP's json_encode writes "\/") or
        # URL-encoded kept it there, and test-event's record and its
        # printout kept even the plain echo
        token = "Bearer tok/" + rand_alnum(16)
        self.secrets.append(token)
        escaped = token.replace("/", "\\/")
        encoded = urllib.parse.quote_plus(token)
        echo = "raw %s, json %s, form %s, X-Team: cardio" % (token, escaped, encoded)
        self.rx.script("/clinic", [], default=R(200, body=echo))
        self.start_bridge([self.hook("clinic", headers={"Authorization": token,
                                                        "X-Team": "cardio"})])
        scrubbed = "raw %s, json %s, form %s, X-Team: %s" % (
            "*" * len(token), "*" * len(escaped), "*" * len(encoded), "*" * len("cardio"))
        eid, _, _ = self.publish_event("document.uploaded")
        got = self.wait_records("clinic", 1, "--event", eid)
        self.assertEqual(got[0]["response"], scrubbed)
        cp = self.cli(self.bridge.conf, "test-event", "clinic")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("body:     %s\n" % scrubbed, cp.stdout)
        test_event = cp.stdout.split()[1]
        got = self.wait_records("clinic", 1, "--event", test_event)
        self.assertEqual(got[0]["response"], scrubbed)

    def test_a_failed_attempts_log_line_shows_no_echoed_header_value(self):
        # issue 12 attack review: the run log's "response" (non-2xx attempts)
        # printed the echo unscrubbed; tearDown fails on the token in stderr
        token = "Bearer tok/" + rand_alnum(16)
        self.secrets.append(token)
        self.rx.script("/clinic", [R(500, body="echo: " + token)], default=200)
        self.start_bridge([self.hook("clinic", headers={"Authorization": token})])
        eid, _, _ = self.publish_event("document.uploaded")
        line = self.wait_logged(1, event=eid, outcome="retry")[0]
        self.assertEqual(line["response"], "echo: " + "*" * len(token))
        self.wait_logged(1, event=eid, outcome="delivered")

    def test_a_header_value_cut_by_the_4_kib_capture_is_overwritten_too(self):
        # issue 11 user review: an answer of 4080 bytes and then the value
        # kept the value's first 16 bytes in the record and the printout
        token = "Bearer tok/" + rand_alnum(24)
        self.secrets.append(token[:16])
        self.rx.script("/clinic", [], default=R(200, body="x" * 4080 + token))
        self.start_bridge([self.hook("clinic", headers={"Authorization": token})],
                          history={"response_bytes": 4096})
        eid, _, _ = self.publish_event("document.uploaded")
        got = self.wait_records("clinic", 1, "--event", eid)
        self.assertEqual(got[0]["response"], "x" * 4080 + "*" * 16)
        cp = self.cli(self.bridge.conf, "test-event", "clinic")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("x" * 4080 + "*" * 16 + "\n", cp.stdout)

    def test_logs_starts_at_the_chunk_of_since_not_at_the_start_of_the_stream(self):
        # issue 11 audit: nothing noticed if logs read the whole stream and
        # filtered on the client. A record stamped in the future (JSON ts)
        # but stored two seconds before --since passes the client's filter:
        # only the broker's x-stream-offset keeps it out.
        self.start_bridge([self.hook("clinic")])
        early = "evt_early" + rand_alnum(8)
        self.publish(STREAM, {"ts": "2030-01-01T00:00:00.000Z", "sub": "clinic",
                              "event": early, "attempt": 1, "status": 200,
                              "outcome": "delivered"},
                     exchange="", timestamp=int(time.time()),
                     headers={"sub": "clinic", "outcome": "delivered"})
        cut = int(time.time()) + 2
        wait_until(lambda: time.time() >= cut + 0.05, 4, "two seconds later")
        eid, _, _ = self.publish_event("document.uploaded")
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cut))
        got = self.wait_records("clinic", 1, "--since", since)
        self.assertEqual([r["event"] for r in got], [eid])
        # the record is there for a reader that starts before it
        got = self.wait_records("clinic", 2, "--since", "1h")
        self.assertEqual(sorted(r["event"] for r in got), sorted([early, eid]))

    def test_logs_ends_on_a_busy_stream(self):
        # issue 11 attack review: the end was 1 s without any record, so
        # with attempts of other subscriptions arriving it never came
        self.start_bridge([self.hook("clinic")])
        eid, _, _ = self.publish_event("document.uploaded")
        self.wait_records("clinic", 1, "--event", eid)
        stop = threading.Event()

        def noise():
            n = 0
            while not stop.is_set():
                n += 1
                rec = {"ts": "2030-01-01T00:00:00.000Z", "sub": "noise", "event": "evt_n%d" % n,
                       "attempt": 1, "status": 200, "outcome": "delivered"}
                self.publish(STREAM, rec, exchange="", timestamp=int(time.time()),
                             headers={"sub": "noise", "outcome": "delivered"})
                stop.wait(0.05)
        t = threading.Thread(target=noise, daemon=True)
        t.start()
        self.addCleanup(t.join)
        self.addCleanup(stop.set)
        stop.wait(1.5)
        cp = self.cli(self.bridge.conf, "logs", "clinic", "--limit", "5")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn(eid, cp.stdout)
        self.assertTrue(t.is_alive(), "the stream must still be busy when logs ends")
        # a limit beyond what a ring should hold is a usage error, not an
        # allocation (it was exit 75 and nothing said)
        cp = self.cli(self.bridge.conf, "logs", "clinic", "--limit", "100000000000")
        self.assertEqual(cp.returncode, 64, cp.stderr)
        self.assertIn("--limit takes a whole number, 0 to 1000000", cp.stderr)


class ManyBridgesTests(HistoryCase):
    def test_two_bridges_write_into_one_stream_and_logs_shows_both(self):
        s = self.hook("shared", max_in_flight=1)
        # slow answers keep each bridge's one slot busy, so both get events
        self.rx.script("/shared", [], default=R(200, sleep=0.05))
        first = self.start_bridge([s], name="b1")
        self.old_bridges.append(first)
        self.bridge = None
        second = self.start_bridge([s], name="b2")
        ids = [self.publish_event("document.uploaded")[0] for _ in range(12)]
        self.rx.wait_count("/shared", 12, T_DELIVER)
        got = self.wait_records("shared", 12, conf=second.conf)
        self.assertEqual(sorted(r["event"] for r in got), sorted(ids))
        by_pid = {}
        for r in got:
            by_pid.setdefault(r["bridge"]["pid"], []).append(r["event"])
        self.assertEqual(set(by_pid), {first.proc.pid, second.proc.pid})
        for b in (first, second):
            logged = sorted(o["event"] for o in b.deliveries())
            self.assertEqual(sorted(by_pid[b.proc.pid]), logged)
        first.stop()


class StreamDeletedTests(HistoryCase):
    def test_deliveries_go_on_records_are_dropped_then_flow_after_the_topology_is_back(self):
        self.start_bridge([self.hook("clinic")], metrics={"listen": "127.0.0.1:0"})
        e1, _, _ = self.publish_event("document.uploaded")
        self.wait_records("clinic", 1)
        self.mgmt.delete_queue(self.vhost, STREAM)
        n_topology = len(self.bridge.logs("topology"))
        e2, _, _ = self.publish_event("document.uploaded")
        # delivered and acked although its record found no stream
        self.wait_logged(event=e2, outcome="delivered")
        _, drop = self.wait_log("history dropped")[0]
        self.assertGreaterEqual(drop["unroutable"], 1)
        self.assertEqual(self.metric("hsbridge_history_dropped_total", reason="unroutable"),
                         drop["unroutable"])
        # the returned record declares the topology again, as a returned copy does
        self.wait_log("topology", n=n_topology + 1, outcome="declared again")
        self.assertIsNotNone(self.mgmt.queue(self.vhost, STREAM))
        e3, _, _ = self.publish_event("document.uploaded")
        got = self.wait_records("clinic", 1)
        self.assertEqual([r["event"] for r in got], [e3], "e1 went with the deleted stream, "
                         "e2's record was dropped")
        self.assertNotIn(e2, [r["event"] for r in got])
        self.assert_settled(["clinic"])

    def metric(self, name, **labels):
        _, line = self.wait_log("metrics listening")[-1]
        host, _, port = line["listen"].rpartition(":")
        c = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            c.request("GET", "/metrics")
            text = c.getresponse().read().decode()
        finally:
            c.close()
        key = name + "{" + ",".join('%s="%s"' % kv for kv in labels.items()) + "}"
        for line in text.splitlines():
            if line.startswith(key + " "):
                return float(line.split()[-1])
        self.fail("no series %s in:\n%s" % (key, text))


class RetentionTests(BrokerCase):
    def conf_with(self, history_lines):
        return self.write_conf(
            'broker: { url = "%s"; };\nhistory: {\n%s\n};\nsubscriptions = ({ name = "x"; '
            'url = "http://127.0.0.1:9/x"; events = ["#"]; secret = "s"; });\n'
            % (self.broker_url, history_lines))

    def test_invalid_history_keys_are_config_errors_with_file_and_line(self):
        cases = [
            ('  max_age = "7x";', "max_age"),
            ('  max_age = "0d";', "max_age"),
            ('  max_age = 7;', "max_age"),
            ('  max_bytes = "1GB";', "max_bytes"),
            ('  max_bytes = 1000;', "max_bytes"),
            ('  max_bytes = "2TiB";', "max_bytes"),
            ('  response_bytes = 5000;', "response_bytes"),
            ('  response_bytes = -1;', "response_bytes"),
            ('  enabled = "yes";', "enabled"),
            ('  retention = "7d";', 'unknown key "history.retention"'),
        ]
        for line, what in cases:
            with self.subTest(line=line):
                conf = self.conf_with(line)
                cp = self.cli(conf, "check")
                self.assertEqual(cp.returncode, 78, cp.stdout + cp.stderr)
                self.assertIn("%s:3: " % conf, cp.stderr)
                self.assertIn(what, cp.stderr)
        cp = self.cli(self.write_conf(
            'broker: { url = "%s"; };\nsubscriptions = ({ name = "attempts"; url = '
            '"http://127.0.0.1:9/x"; events = ["#"]; secret = "s"; });\n' % self.broker_url),
            "check")
        self.assertEqual(cp.returncode, 78)
        self.assertIn('"attempts" is reserved', cp.stderr)

    def test_the_stream_is_declared_with_the_retention_and_a_change_is_named(self):
        conf = self.conf_with('  max_age = "36h";\n  max_bytes = "64MiB";')
        cp = self.cli(conf, "topology")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        q = self.mgmt.queue(self.vhost, STREAM)
        self.assertEqual(q["arguments"], {"x-queue-type": "stream", "x-max-age": "36h",
                                          "x-max-length-bytes": 64 << 20,
                                          "x-stream-max-segment-size-bytes": 16 << 20})
        self.assertEqual(q["type"], "stream")
        cp = self.cli(conf, "check")
        self.assertIn("history:  every attempt in stream hsbridge.attempts (kept 36h, at most "
                      "64MiB; 256 bytes of each answer)", cp.stdout)
        # a changed retention names the queue and the argument, as a warning:
        # the history never stops the topology (or deliveries)
        for lines, arg in (('  max_age = "12h";\n  max_bytes = "64MiB";', "x-max-age"),
                           ('  max_age = "36h";\n  max_bytes = "128MiB";',
                            "x-max-length-bytes")):
            cp = self.cli(self.conf_with(lines), "topology")
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assertIn("hsbridge: warning: queue hsbridge.attempts already exists with "
                          "other arguments", cp.stderr)
            self.assertIn("inequivalent arg '%s'" % arg, cp.stderr)
            self.assertIn("records still go to the stream hsbridge.attempts", cp.stderr)
            # the queue's "delete it once drained" advice does not fit a stream
            self.assertNotIn("drained", cp.stderr)
        # the defaults: 7 days, 1 GiB
        self.mgmt.delete_queue(self.vhost, STREAM)
        self.assertEqual(self.cli(self.conf_with(""), "topology").returncode, 0)
        q = self.mgmt.queue(self.vhost, STREAM)
        self.assertEqual((q["arguments"]["x-max-age"], q["arguments"]["x-max-length-bytes"]),
                         ("7D", 1 << 30))
        # enabled = false declares no stream; logs then says there is none (69)
        self.mgmt.delete_queue(self.vhost, STREAM)
        off = self.conf_with("  enabled = false;")
        self.assertEqual(self.cli(off, "topology").returncode, 0)
        self.assertIsNone(self.mgmt.queue(self.vhost, STREAM))
        cp = self.cli(off, "logs", "x")
        self.assertEqual(cp.returncode, 69)
        self.assertIn("no history stream hsbridge.attempts", cp.stderr)

    def test_logs_exit_codes(self):
        conf = self.write_conf(
            'broker: { url = "%s"; };\nsubscriptions = ({ name = "x"; url = '
            '"http://127.0.0.1:9/x"; events = ["#"]; secret_env = "UNSET_FOR_LOGS"; });\n'
            % self.broker_url)
        for args in ([], ["x", "--since", "yesterday"], ["x", "--limit", "-1"], ["x", "y"],
                     ["x", "--bogus"], ["x", "--event"]):
            with self.subTest(args=args):
                cp = self.cli(conf, "logs", *args)
                self.assertEqual(cp.returncode, 64, cp.stderr)
                self.assertIn("usage: logs SUB", cp.stderr)
        # logs signs nothing: no secret needed; an empty stream prints the header only
        self.assertEqual(self.cli(conf, "topology").returncode, 0)
        cp = self.cli(conf, "logs", "x")
        self.assertEqual((cp.returncode, len(cp.stdout.splitlines())), (0, 1), cp.stderr)
        down = self.write_conf(
            'broker: { url = "amqp://guest:guest@127.0.0.1:1/%2f"; };\n'
            'subscriptions = ({ name = "x"; url = "http://127.0.0.1:9/x"; events = ["#"]; '
            'secret = "s"; });\n', name="down.conf")
        self.assertEqual(self.cli(down, "logs", "x").returncode, 69)


class StopTests(HistoryCase):
    def test_sigterm_waits_for_the_records_of_the_last_attempts(self):
        """Found by scripts/bench: the loop ended as soon as nothing was in
        flight, one turn after the last record was published and before its
        confirm was read, so the last records of every stop were counted as
        dropped (and may have been lost)."""
        release = threading.Event()
        self.rx.script("/clinic", [R(200, hold=release)])
        self.start_bridge([self.hook("clinic")])
        e, _, _ = self.publish_event("document.uploaded")
        self.rx.wait_count("/clinic", 1, T_DELIVER)
        self.bridge.signal()
        self.wait_log("shutdown", phase="stop consuming")
        release.set()
        self.assertEqual(self.bridge.wait_exit(), 0)
        self.assertEqual(self.bridge.logs("history dropped"), [])
        got = self.wait_records("clinic", 1, conf=self.bridge.conf)
        self.assertEqual(brief(got[0]), (e, 1, 200, "delivered", None))


class FollowTests(HistoryCase):
    def test_follow_shows_a_new_attempt_within_a_second(self):
        self.start_bridge([self.hook("clinic")])
        proc = subprocess.Popen([Env.bin, "-c", self.bridge.conf, "logs", "clinic", "--follow"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=clean_env())
        self.addCleanup(proc.stderr.close)
        self.addCleanup(proc.stdout.close)
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.kill)
        lines = []

        def read():
            for line in proc.stdout:
                lines.append((time.time(), line.rstrip("\n")))
        threading.Thread(target=read, daemon=True).start()
        wait_until(lambda: lines, 10, "the table's header")
        # past the catch-up (1 s without a record), so this is a new attempt
        time.sleep(1.2)
        e, _, _ = self.publish_event("document.uploaded")
        got = self.rx.wait_count("/clinic", 1, T_DELIVER)
        wait_until(lambda: any(e in line for _, line in lines), T_DELIVER,
                   "the attempt in logs --follow", detail=lambda: lines)
        shown = [t for t, line in lines if e in line][0]
        self.assertLess(shown - got[0].t, 1.0, "logs --follow showed the attempt %.3f s after "
                        "the endpoint received it" % (shown - got[0].t))
        self.assertIsNone(proc.poll(), "--follow keeps running")


if __name__ == "__main__":
    unittest.main()
