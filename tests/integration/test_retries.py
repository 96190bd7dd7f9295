#!/usr/bin/python3
"""Failures, the retry schedule and parking (DESIGN section 4).
A ctest entry of its own (integration_retries); shared fixtures: hsb_cases.py.
"""

import os
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import (  # noqa: E402
    BridgeCase, DELAY_LABELS, T_DELIVER, hdr_int)
from hsb_harness import (  # noqa: E402
    R, Receiver)


class RetryTests(BridgeCase):
    """Failures, the retry schedule and parking (DESIGN section 4)."""

    def parked(self, sub, n=1, timeout=T_DELIVER):
        return self.drain("hsbridge.%s.parked" % sub, n, timeout)

    def test_failure_retried_after_each_delay_with_same_delivery_id(self):
        self.rx.script("/a", [500, 502], default=200)
        self.start_bridge([self.hook("a", ["document.*"])])
        eid, body, ts = self.publish_event("document.uploaded")
        reqs = self.rx.wait_count("/a", 3, T_DELIVER)
        self.assertEqual([r.attempt for r in reqs], [1, 2, 3])
        self.assertEqual(len({r.delivery for r in reqs}), 1, "same delivery id on every retry")
        self.assertEqual({r.h("webhook-id") for r in reqs}, {reqs[0].delivery})
        self.assertTrue(all(r.body == body for r in reqs))
        self.assertGreaterEqual(reqs[1].t - reqs[0].t, 0.18, "retry before the 200ms delay")
        self.assertGreaterEqual(reqs[2].t - reqs[1].t, 0.27, "retry before the 300ms delay")
        self.wait_logged(1, event=eid, outcome="delivered")
        self.assert_settled(["a"])
        self.assertEqual(len(self.rx.for_path("/a")), 3)

    def test_redirect_is_a_failure_and_not_followed(self):
        self.rx.script("/a", [R(302, {"Location": self.rx.url("/elsewhere")})], default=200)
        self.rx.script("/elsewhere", [], default=200)
        self.start_bridge([self.hook("a", ["document.*"])])
        eid, body, ts = self.publish_event("document.uploaded")
        reqs = self.rx.wait_count("/a", 2, T_DELIVER)
        self.assertEqual([r.attempt for r in reqs[:2]], [1, 2])
        self.assertEqual(self.rx.for_path("/elsewhere"), [], "redirect must not be followed")
        self.wait_logged(1, event=eid, outcome="delivered")
        line = self.bridge.deliveries(event=eid, attempt=1)
        self.assertTrue(line and line[0].get("status") == 302 and line[0].get("outcome") == "retry",
                        line)
        self.assert_settled(["a"])
        self.assertEqual(len(self.rx.for_path("/a")), 2)

    def test_untrusted_tls_certificate_is_a_failure_and_nothing_is_sent(self):
        cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        tls_rx = Receiver(tls=(cert, key))
        self.addCleanup(tls_rx.stop)
        tls_rx.script("/a", [], default=200)
        self.start_bridge([self.sub("a", ["document.*"], url=tls_rx.url("/a"))])
        eid, body, ts = self.publish_event("document.uploaded")
        first = self.wait_logged(1, event=eid, attempt=1)[0]
        self.assertEqual((first.get("status"), first.get("outcome")), (0, "retry"))
        self.assertIn("certificate", first.get("error", "").lower())
        self.assertEqual(tls_rx.all(), [], "no request may reach an endpoint whose certificate "
                                           "does not verify")

    def test_timeout_is_a_failure_and_retried(self):
        self.rx.script("/a", [R(200, sleep=2.0)], default=200)
        self.start_bridge([self.hook("a", ["document.*"], timeout_ms=300)])
        eid, body, ts = self.publish_event("document.uploaded")
        reqs = self.rx.wait_count("/a", 2, T_DELIVER)
        self.assertEqual([r.attempt for r in reqs[:2]], [1, 2])
        self.assertLess(reqs[1].t - reqs[0].t, 1.9, "attempt 2 must not wait for the slow answer")
        first = self.wait_logged(1, event=eid, attempt=1)[0]
        self.assertEqual(first.get("status"), 0)
        self.assertEqual(first.get("outcome"), "retry")
        self.wait_logged(1, event=eid, outcome="delivered")
        self.assert_settled(["a"])
        self.assertEqual(len(self.rx.for_path("/a")), 2)

    def test_connection_refused_retried_then_parked_with_status_0(self):
        s = self.sub("down", ["document.*"])   # url on a closed port
        # Parks after the schedule with the endpoint down throughout: only
        # without the breaker (with it, an outage parks nothing).
        self.start_bridge([s], breaker={"enabled": False})
        eid, body, ts = self.publish_event("document.deleted")
        m = self.parked("down")[0]
        h = m["properties"].get("headers") or {}
        self.assertEqual(hdr_int(h.get("hsbridge-attempts")), 5)
        self.assertEqual(hdr_int(h.get("hsbridge-last-status")), 0)
        self.assertTrue(str(h.get("hsbridge-last-error") or ""), "last error must be recorded")
        self.assertEqual(h.get("hsbridge-parked-reason"), "retries_exhausted")
        self.wait_logged(1, event=eid, outcome="parked")
        lines = sorted(self.bridge.deliveries(event=eid), key=lambda o: o.get("attempt", 0))
        self.assertEqual([(o.get("attempt"), o.get("status"), o.get("outcome")) for o in lines],
                         [(1, 0, "retry"), (2, 0, "retry"), (3, 0, "retry"), (4, 0, "retry"),
                          (5, 0, "parked")])
        self.assertEqual([o.get("next") for o in lines[:4]], DELAY_LABELS)
        self.assertEqual(lines[4].get("reason"), "retries_exhausted")
        self.assert_settled(["down"])

    def test_retries_exhausted_parks_with_headers_and_original_properties(self):
        self.rx.script("/a", [], default=R(500, body=b"boom"))
        # Parks after the schedule with the endpoint down throughout: only
        # without the breaker (with it, an outage parks nothing).
        self.start_bridge([self.hook("a", ["analysis.*"])], breaker={"enabled": False})
        t0 = time.time()
        eid, body, ts = self.publish_event("analysis.failed")
        m = self.parked("a")[0]
        reqs = self.rx.for_path("/a")
        self.assertEqual([r.attempt for r in reqs], [1, 2, 3, 4, 5])
        self.assertEqual(len({r.delivery for r in reqs}), 1)
        self.assertEqual(m["body"], body, "parked body must be unchanged")
        p = m["properties"]
        self.assertEqual(p.get("message_id"), eid)
        self.assertEqual(p.get("timestamp"), ts)
        self.assertEqual(p.get("type"), "analysis.failed")
        self.assertEqual(p.get("content_type"), "application/json")
        h = p.get("headers") or {}
        self.assertEqual(hdr_int(h.get("hsbridge-attempts")), 5)
        self.assertEqual(hdr_int(h.get("hsbridge-last-status")), 500)
        self.assertTrue(str(h.get("hsbridge-last-error") or ""))
        self.assertEqual(h.get("hsbridge-parked-reason"), "retries_exhausted")
        for k in ("hsbridge-first-failure-at", "hsbridge-parked-at"):
            self.assertIn(k, h)
            self.assertTrue(h[k], "%s empty" % k)
        last = self.wait_logged(1, event=eid, attempt=5)
        self.assertTrue(last and last[0].get("outcome") == "parked"
                        and last[0].get("reason") == "retries_exhausted", last)
        self.assertLess(time.time() - t0, 30)
        self.assert_settled(["a"])
        self.assertEqual(len(self.rx.for_path("/a")), 5, "no attempt after parking")

    def test_410_gone_parks_at_once(self):
        self.rx.script("/a", [], default=410)
        self.start_bridge([self.hook("a", ["share.*"])])
        eid, body, ts = self.publish_event("share.revoked")
        m = self.parked("a")[0]
        h = m["properties"].get("headers") or {}
        self.assertEqual(h.get("hsbridge-parked-reason"), "gone")
        self.assertEqual(hdr_int(h.get("hsbridge-last-status")), 410)
        self.assertEqual(hdr_int(h.get("hsbridge-attempts")), 1)
        self.assertEqual(m["body"], body)
        self.wait_logged(1, event=eid, outcome="parked")
        self.assert_settled(["a"])
        self.assertEqual(len(self.rx.for_path("/a")), 1, "410 must not be retried")
        line = self.bridge.deliveries(event=eid)
        self.assertEqual([(o.get("outcome"), o.get("reason")) for o in line], [("parked", "gone")])

    # One case per answer with Retry-After: the retry waits for the smallest
    # delay of the schedule not below it, or for the largest if none is.
    RETRY_AFTER = [
        dict(case="test_503_retry_after_picks_smallest_delay_not_below_it",
             sub="a503", answer=R(503, {"Retry-After": "1"}),
             delays=["200ms", "300ms", "1s", "2s"], next="1s",
             min_gap=0.95, min_why="Retry-After: 1 must delay >= 1s",
             max_gap=1.9, max_why="should use 1s, not 2s"),
        dict(case="test_429_retry_after_beyond_schedule_uses_largest_delay",
             sub="a429", answer=R(429, {"Retry-After": "30"}),
             delays=["200ms", "300ms", "400ms", "1s"], next="1s",
             min_gap=0.95, min_why="largest delay is 1s",
             max_gap=10, max_why="not the 30s asked for"),
        # Found by tests/fuzz/fuzz_retry_after.c. A value that is neither
        # seconds nor an HTTP-date is no Retry-After: the schedule's delay
        # (1s), not the shortest one as if it said 0.
        dict(case="test_503_unparseable_retry_after_keeps_schedule",
             sub="junk", answer=R(503, {"Retry-After": "soon"}),
             delays=["1s", "200ms", "2s"], next="1s",
             min_gap=0.95, min_why="the schedule's first delay is 1s",
             max_gap=1.9, max_why="should use 1s, not 2s"),
        # A header line that merely begins with "HTTP/" after Retry-After
        # is no new response: the Retry-After still counts.
        dict(case="test_retry_after_survives_header_starting_with_http",
             sub="http", answer=R(503, {"Retry-After": "1", "HTTP/1.1-Note": "x"}),
             delays=["200ms", "300ms", "1s", "2s"], next="1s",
             min_gap=0.95, min_why="Retry-After: 1 must delay >= 1s",
             max_gap=1.9, max_why="should use 1s, not 2s"),
    ]

    def test_retry_after_picks_delay_from_schedule(self):
        for c in self.RETRY_AFTER:
            with self.subTest(case=c["case"]):
                path = "/" + c["sub"]
                self.rx.script(path, [c["answer"]], default=200)
                self.start_bridge([self.hook(c["sub"], ["document.*"])],
                                  delivery={"retry_delays": c["delays"]},
                                  name="bridge-" + c["sub"])
                eid, body, ts = self.publish_event("document.uploaded")
                reqs = self.rx.wait_count(path, 2, T_DELIVER)
                self.wait_logged(1, event=eid, outcome="delivered")
                first = self.bridge.deliveries(event=eid, attempt=1)
                self.assertTrue(first and first[0].get("next") == c["next"], first)
                gap = reqs[1].t - reqs[0].t
                self.assertGreaterEqual(gap, c["min_gap"], "%s (got %.2fs)" % (c["min_why"], gap))
                self.assertLess(gap, c["max_gap"], "%s (got %.2fs)" % (c["max_why"], gap))
                self.assertEqual(reqs[1].attempt, 2)
                # the cases share the vhost: each settles the queues it uses
                self.assert_settled([c["sub"]], c["delays"])


if __name__ == "__main__":
    unittest.main()
