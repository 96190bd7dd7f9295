#!/usr/bin/python3
"""Breaking the topology under a running bridge, within the test's own vhost:
deleted retry, parked and subscription queues, a full parked queue that nacks
copies. Nothing here touches the node as a whole (that is test_node.py).
A ctest entry of its own (integration_resilience); shared fixtures: hsb_cases.py.
"""

import os
import sys
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import (  # noqa: E402
    ResilienceCase, T_DELIVER, hdr_int)
from hsb_harness import (  # noqa: E402
    R, wait_until)


class SelfHealingTopologyTests(ResilienceCase):
    """A retry/parked copy is published mandatory; a copy no queue takes comes
    back (basic.return), the topology is declared again and the same copy is
    published again after a backoff while the original stays unacked: an
    operator deleting queues loses nothing and the endpoint sees no extra POST."""

    def test_deleted_retry_and_parked_queues_are_declared_again_and_event_ends_parked(self):
        # requests: 1 (retry copy refused, published again) 2 3 4 5 (slow; parked copy
        # refused, published again) -> parked
        self.rx.script("/a", [500, 500, 500, 500, R(500, sleep=2.0, body=b"boom")],
                       default=R(500, body=b"boom"))
        # Parks after the schedule with the endpoint down throughout: only
        # without the breaker (with it, an outage parks nothing).
        self.start_bridge([self.hook("a", ["document.*"])], breaker={"enabled": False})
        for name in ("hsbridge.a.parked", "hsbridge.retry.200ms"):
            self.mgmt.delete_queue(self.vhost, name)
            self.assertIsNone(self.mgmt.queue(self.vhost, name), "precondition: %s deleted" % name)
        eid, body, ts = self.publish_event("document.uploaded")

        # phase 1: the first retry copy has no queue
        i1, refused1 = self.wait_log("copy refused", n=1, event=eid)[0]
        self.assertEqual(refused1.get("sub"), "a")
        self.wait_log("topology", after=i1, outcome="declared again")
        for name in ("hsbridge.a.parked", "hsbridge.retry.200ms"):
            wait_until(lambda: self.mgmt.queue(self.vhost, name), 10,
                       "queue %s to be declared again" % name)
        retry_q = self.mgmt.queue(self.vhost, "hsbridge.retry.200ms")
        self.assertEqual(retry_q["arguments"].get("x-queue-type"), "quorum")
        self.assertEqual(retry_q["arguments"].get("x-message-ttl"), 200)
        self.assertIn("hsbridge.retry.200ms",
                      [b["source"] for b in self.mgmt.bindings(self.vhost, "hsbridge.retry.200ms")],
                      "the recreated retry queue must be bound to its exchange again")
        self.assertEqual(self.mgmt.queue(self.vhost, "hsbridge.a.parked")["arguments"]
                         .get("x-queue-type"), "quorum")

        # phase 2: the parked queue disappears again while attempt 5 is in flight
        wait_until(lambda: [r for r in self.rx.for_path("/a") if r.attempt == 5], T_DELIVER,
                   "attempt 5 to be in flight", detail=lambda: self.rx.all())
        self.mgmt.delete_queue(self.vhost, "hsbridge.a.parked")
        self.assertIsNone(self.mgmt.queue(self.vhost, "hsbridge.a.parked"))
        refused = self.wait_log("copy refused", n=2, event=eid)
        self.wait_log("topology", after=refused[1][0], outcome="declared again")

        got = []
        wait_until(lambda: got.extend(self.queue_or_none_msgs("hsbridge.a.parked", 5)) or got,
                   T_DELIVER, "the event to end up in the recreated parked queue",
                   detail=lambda: "%s\n%s" % (self.rx.all(), self.bridge.stderr_text()[-3000:]))
        self.wait_log("delivery", n=1, event=eid, outcome="parked")
        self.assertEqual(len(got), 1, "exactly one parked copy: %r" % [m["body"] for m in got])
        m = got[0]
        self.assertEqual(m["body"], body, "parked body must be unchanged")
        p = m["properties"]
        self.assertEqual(p.get("message_id"), eid)
        self.assertEqual(p.get("type"), "document.uploaded")
        self.assertEqual(p.get("timestamp"), ts)
        self.assertEqual(p.get("content_type"), "application/json")
        h = p.get("headers") or {}
        self.assertEqual(h.get("hsbridge-parked-reason"), "retries_exhausted")
        self.assertEqual(hdr_int(h.get("hsbridge-attempts")), 5)
        self.assertEqual(hdr_int(h.get("hsbridge-last-status")), 500)
        for k in ("hsbridge-last-error", "hsbridge-first-failure-at", "hsbridge-parked-at"):
            self.assertTrue(h.get(k), "%s missing or empty on the parked message" % k)

        reqs = self.rx.for_path("/a")
        self.assertEqual([r.attempt for r in reqs], [1, 2, 3, 4, 5],
                         "a refused copy is published again: no attempt is made twice")
        self.assertEqual(len({r.delivery for r in reqs}), 1, "same delivery id throughout")
        self.assertTrue(all(r.body == body for r in reqs))
        lines = [(o.get("attempt"), o.get("outcome")) for _, o in self.logs("delivery", event=eid)]
        self.assertEqual(lines, [(1, "retry"), (2, "retry"), (3, "retry"), (4, "retry"),
                                 (5, "parked")])
        self.assertEqual(len(self.logs("copy refused")), 2)
        self.assertEqual(self.logs("connection lost"), [],
                         "a returned copy must not cost the connection")
        self.assertEqual(len(self.logs("ready")), 1)
        self.assert_settled(["a"])
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [],
                         "a second parked copy appeared after settling")


class RefusedCopyTests(ResilienceCase):
    """A copy the broker nacks (a full queue with x-overflow reject-publish) is
    published again after a backoff; the original is never acked before, and
    the endpoint never sees an attempt twice."""

    def test_nacked_parked_copy_is_published_again_until_the_broker_takes_it(self):
        self.rx.script("/a", [], default=410)
        self.start_bridge([self.hook("a", ["document.*"])])
        # A full parked queue: quorum queues reject once over the limit, so
        # one filler message puts it there and keeps it there.
        self.mgmt.set_policy(self.vhost, "full", r"^hsbridge\.a\.parked$",
                             {"max-length": 0, "overflow": "reject-publish"})
        filler = b'{"filler":true}'
        wait_until(lambda: self.mgmt.publish(self.vhost, "", "hsbridge.a.parked", filler,
                                             {"delivery_mode": 2}), 10, "the filler")
        eid, body, ts = self.publish_event("document.uploaded")
        refused = self.wait_log("copy refused", n=2, event=eid)
        for _, line in refused:
            self.assertEqual(line.get("error"), "the broker nacked the copy")
            self.assertEqual(line.get("routing_key"), "hsbridge.a.parked")
        self.assertLess(refused[0][1].get("retry_in_ms"), refused[1][1].get("retry_in_ms"),
                        "the backoff grows")
        self.assertEqual(len(self.rx.for_path("/a")), 1, "no attempt while the copy is refused")
        # Room again. A quorum queue tells its publishers "go" only when a
        # dequeue takes it below the limit: raise the limit, take the filler.
        self.mgmt.set_policy(self.vhost, "full", r"^hsbridge\.a\.parked$",
                             {"max-length": 100, "overflow": "reject-publish"})
        wait_until(lambda: (self.mgmt.queue(self.vhost, "hsbridge.a.parked") or {})
                   .get("effective_policy_definition", {}).get("max-length") == 100,
                   10, "the raised limit to apply")
        seen = []
        wait_until(lambda: seen.extend(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5)) or
                   any(m["body"] == body for m in seen),
                   T_DELIVER, "the event to be parked once the queue takes it")
        self.assertIn(filler, [m["body"] for m in seen])
        got = [m for m in seen if m["body"] != filler]
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["body"], body)
        self.assertEqual((got[0]["properties"].get("headers") or {}).get("hsbridge-parked-reason"),
                         "gone")
        self.assertEqual([r.attempt for r in self.rx.for_path("/a")], [1],
                         "a refused copy must not make the endpoint see the attempt again")
        self.assertEqual(self.logs("connection lost"), [])
        self.assert_settled(["a"])


class ConsumerCancelTests(ResilienceCase):
    """A subscription queue deleted under the bridge: the broker cancels the
    consumer, the bridge reconnects, declares the queue again and consumes."""

    def test_deleted_subscription_queue_is_declared_again_and_consumed(self):
        self.start_bridge([self.hook("a", ["document.*"])])
        self.mgmt.delete_queue(self.vhost, "hsbridge.a")
        self.wait_log("connection lost", n=1)
        self.wait_log("ready", n=2)
        eid, body, ts = self.publish_event("document.uploaded")
        self.wait_log("delivery", n=1, event=eid, outcome="delivered")
        self.assertEqual(self.rx.for_path("/a")[0].body, body)


if __name__ == "__main__":
    unittest.main()
