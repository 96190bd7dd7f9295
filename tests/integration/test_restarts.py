#!/usr/bin/python3
"""Losing the bridge's connection or process under load: a connection closed by
the broker, SIGTERM with a delivery in flight, kill -9 and restarts, a poison
message. Only the test's own connection and processes are touched.
A ctest entry of its own (integration_restarts); shared fixtures: hsb_cases.py.
"""

import json
import os
import signal
import sys
import time
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import (  # noqa: E402
    BridgeCase, ResilienceCase, T_DELIVER)
from hsb_harness import (  # noqa: E402
    R, verify_signature, wait_until)


class ShutdownTests(BridgeCase):

    def test_sigterm_during_inflight_delivery_loses_nothing(self):
        self.rx.script("/slow", [R(200, sleep=2.0)], default=200)
        self.start_bridge([self.hook("slow", ["document.*"], timeout_ms=5000)])
        eid, body, ts = self.publish_event("document.uploaded")
        self.rx.wait_count("/slow", 1, T_DELIVER, "the request to be in flight")
        t0 = time.monotonic()
        self.bridge.signal(signal.SIGTERM)
        rc = self.bridge.wait_exit(timeout=20)
        self.assertEqual(rc, 0, "exit code after SIGTERM")
        self.assertLess(time.monotonic() - t0, 15)
        delivered = self.bridge.deliveries(event=eid, outcome="delivered")
        if delivered:
            self.assert_settled(["slow"])
            self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.slow", 5), [],
                             "delivered and still queued")
        else:
            # handed back: RabbitMQ must still hold it (requeued on close)
            m = self.drain("hsbridge.slow", 1, timeout=10)[0]
            self.assertEqual(m["body"], body)
            self.assertEqual(m["properties"].get("message_id"), eid)
        for q in ("hsbridge.slow.parked",):
            self.assertEqual(self.mgmt.get(self.vhost, q, 5), [], "must not be parked")


class ReconnectTests(ResilienceCase):
    """The broker closes the bridge's connection: it reconnects, in-flight
    work is redelivered (at-least-once), nothing is lost."""

    def drop_connection(self, name=None):
        """Close the bridge's connection from the broker side; wait until the
        bridge noticed. Returns (closed name, index of 'connection lost', line)."""
        name = name or self.bridge_connection()
        self.mgmt.close_connection(name)
        idx, lost = self.wait_log("connection lost", n=1)[0]
        return name, idx, lost

    def test_connection_closed_by_broker_reconnects_and_keeps_delivering(self):
        self.start_bridge([self.hook("a", ["document.*"])])
        e0, _, _ = self.publish_event("document.uploaded")
        self.wait_logged(1, event=e0, outcome="delivered")
        name, lost_i, lost = self.drop_connection()
        self.assertEqual(lost.get("level"), "error")
        rec_i = self.wait_log("reconnecting", after=lost_i)[0][0]
        self.wait_log("ready", after=rec_i)
        self.assertTrue(self.bridge.running(), "the bridge must survive a dropped connection")
        e1, body1, _ = self.publish_event("document.updated")
        r = [x for x in self.rx.wait_count("/a", 2, T_DELIVER, "the event published after "
                                           "the reconnect")
             if json.loads(x.body)["id"] == e1]
        self.assertEqual(len(r), 1)
        self.assertEqual(r[0].body, body1)
        self.assertEqual(r[0].attempt, 1)
        self.wait_logged(1, event=e1, outcome="delivered")
        self.assert_settled(["a"])
        self.assertEqual(sorted(json.loads(x.body)["id"] for x in self.rx.for_path("/a")),
                         sorted([e0, e1]))
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [])

    def test_delivery_in_flight_when_connection_dropped_is_redelivered_not_lost(self):
        self.rx.script("/a", [R(200, sleep=2.0)], default=200)
        s = self.hook("a", ["document.*"], timeout_ms=5000)
        self.start_bridge([s])
        conn = self.bridge_connection()     # before: the management API lists it late
        eid, body, _ = self.publish_event("document.uploaded")
        first = self.rx.wait_count("/a", 1, T_DELIVER, "the slow request to be in flight")[0]
        name, lost_i, lost = self.drop_connection(conn)
        self.assertGreaterEqual(lost.get("in_flight", 0), 1,
                                "precondition: the delivery was in flight when the "
                                "connection dropped: %r" % lost)
        self.wait_log("ready", after=lost_i)
        reqs = self.rx.wait_count("/a", 2, T_DELIVER, "the event to be delivered again "
                                  "after the reconnect")
        line = self.wait_logged(1, event=eid, outcome="delivered")[0]
        self.assertEqual((line.get("attempt"), line.get("status")), (1, 200))
        self.assert_settled(["a"])
        reqs = self.rx.for_path("/a")
        self.assertEqual({r.delivery for r in reqs}, {first.delivery},
                         "a redelivery keeps the delivery id (receivers drop duplicates)")
        self.assertEqual([r.attempt for r in reqs], [1] * len(reqs),
                         "a redelivery after a dropped connection is not a new attempt")
        for r in reqs:
            self.assertEqual(r.body, body)
            self.assertTrue(verify_signature(r.body.decode(), r.h("X-HealthSync-Signature"),
                                             s["secret"]))
        self.assertEqual(len(self.bridge.deliveries(event=eid, outcome="delivered")), 1)
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [],
                         "a dropped connection must not park the event")


class RestartTests(ResilienceCase):
    """kill -9 with a delivery in flight: RabbitMQ redelivers to the next
    process; a redelivery is not a new attempt; a message that keeps killing
    the bridge is parked by RabbitMQ (x-delivery-limit)."""

    HANG = 60.0   # longer than the test: the bridge never gets an answer

    def test_kill9_in_flight_redelivered_after_restart_same_delivery_id_and_attempt(self):
        # attempt 1 fails, attempt 2 hangs; the process dies during attempt 2
        self.rx.script("/a", [500, R(200, sleep=self.HANG)], default=200)
        s = self.hook("a", ["document.*"], timeout_ms=60000)
        self.start_bridge([s])
        eid, body, ts = self.publish_event("document.uploaded")
        reqs = self.rx.wait_count("/a", 2, T_DELIVER, "attempt 2 to be in flight")
        self.assertEqual([r.attempt for r in reqs], [1, 2])
        self.bridge.kill9()
        self.assertEqual(self.bridge.deliveries(event=eid, attempt=2), [],
                         "precondition: attempt 2 never completed")
        self.restart_bridge("bridge2")
        reqs = self.rx.wait_count("/a", 3, T_DELIVER, "the redelivery after the restart")
        r = reqs[2]
        self.assertEqual(r.h("X-HealthSync-Attempt"), "2",
                         "a redelivery is not a new attempt (attempt 2 was never decided)")
        self.assertEqual(r.delivery, reqs[0].delivery, "same delivery id after the restart")
        self.assertEqual(r.h("webhook-id"), reqs[0].delivery)
        self.assertEqual(r.body, body)
        self.assertTrue(verify_signature(r.body.decode(), r.h("X-HealthSync-Signature"),
                                         s["secret"]))
        line = self.wait_logged(1, event=eid, outcome="delivered")[0]
        self.assertEqual((line.get("attempt"), line.get("status")), (2, 200))
        self.assert_settled(["a"])
        self.assertEqual(len(self.rx.for_path("/a")), 3)
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [])

    def test_poison_message_that_keeps_killing_the_bridge_is_parked_by_delivery_limit(self):
        self.rx.script("/a", [], default=R(200, sleep=self.HANG))
        s = self.hook("a", ["document.*"], timeout_ms=60000)
        self.start_bridge([s], delivery={"delivery_limit": 1})
        eid, body, ts = self.publish_event("document.uploaded")
        self.rx.wait_count("/a", 1, T_DELIVER, "the first delivery to be in flight")
        self.bridge.kill9()
        self.restart_bridge("bridge2")
        reqs = self.rx.wait_count("/a", 2, T_DELIVER, "the redelivery after the first restart")
        self.assertEqual([r.attempt for r in reqs], [1, 1])
        self.assertEqual(reqs[1].delivery, reqs[0].delivery)
        self.bridge.kill9()     # returned a second time: over x-delivery-limit 1
        parked = []
        wait_until(lambda: parked.extend(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5))
                   or parked, T_DELIVER,
                   "RabbitMQ to dead-letter the poison message into hsbridge.a.parked")
        self.assertEqual(len(parked), 1)
        m = parked[0]
        self.assertEqual(m["body"], body)
        self.assertEqual(m["properties"].get("message_id"), eid)
        deaths = (m["properties"].get("headers") or {}).get("x-death") or []
        self.assertEqual([(d.get("reason"), d.get("queue")) for d in deaths],
                         [("delivery_limit", "hsbridge.a")])
        # a fresh bridge does not see it again: a later event is the next thing POSTed
        self.rx.script("/a", [], default=200)
        self.restart_bridge("bridge3")
        e2, body2, _ = self.publish_event("document.updated")
        self.wait_logged(1, event=e2, outcome="delivered")
        self.assert_settled(["a"])
        ids = [json.loads(r.body)["id"] for r in self.rx.for_path("/a")]
        self.assertEqual(ids, [eid, eid, e2], "the parked poison message was POSTed again")


if __name__ == "__main__":
    unittest.main()
