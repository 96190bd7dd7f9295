#!/usr/bin/python3
"""SIGHUP: reloads the bridge accepts, rejects, or the broker refuses.
A ctest entry of its own (integration_reload); shared fixtures: hsb_cases.py.
"""

import json
import os
import signal
import sys
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import (  # noqa: E402
    ReloadCase, EXCHANGE, T_DELIVER)
from hsb_harness import (  # noqa: E402
    R, render_config, verify_signature, wait_until)


class ReloadTests(ReloadCase):
    """SIGHUP re-reads the config file: accepted -> drain, reconnect, ready;
    rejected -> logged with file:line, the running config stays."""

    def test_sighup_adds_subscription_and_moves_changed_url(self):
        a = self.hook("a", ["document.*"])
        self.start_bridge([a], delivery=self.DELIVERY)
        e0, _, _ = self.publish_event("document.uploaded")
        self.rx.wait_count("/a", 1, T_DELIVER)
        self.wait_logged(1, event=e0, outcome="delivered")
        a2 = dict(a, url=self.rx.url("/a-moved"))
        b = self.hook("b", ["analysis.*"])
        self.rewrite([a2, b])
        self.sighup("accepted")
        self.assertIsNotNone(self.mgmt.queue(self.vhost, "hsbridge.b"),
                             "the added subscription's queue must be declared")
        self.assertEqual([x["routing_key"] for x in self.mgmt.bindings(self.vhost, "hsbridge.b")
                          if x["source"] == EXCHANGE], ["analysis.*"])
        e1, body1, _ = self.publish_event("document.uploaded")
        e2, body2, _ = self.publish_event("analysis.completed")
        r1 = self.rx.wait_count("/a-moved", 1, T_DELIVER, "the event at a's new url")[0]
        r2 = self.rx.wait_count("/b", 1, T_DELIVER, "the event at the added subscription")[0]
        self.assertEqual(r1.body, body1)
        self.assertEqual(r2.body, body2)
        self.assertTrue(verify_signature(r2.body.decode(), r2.h("X-HealthSync-Signature"),
                                         b["secret"]))
        self.wait_logged(1, event=e1, sub="a", outcome="delivered")
        self.wait_logged(1, event=e2, sub="b", outcome="delivered")
        self.assert_settled(["a", "b"])
        self.assertEqual([json.loads(r.body)["id"] for r in self.rx.for_path("/a")], [e0],
                         "after the reload nothing may go to a's old url")
        self.assertEqual(len(self.rx.for_path("/a-moved")), 1)
        self.assertEqual(len(self.rx.for_path("/b")), 1)

    def test_sighup_changed_events_rebinds_subscription_queue(self):
        a = self.hook("a", ["document.*"])
        self.start_bridge([a], delivery=self.DELIVERY)
        self.rewrite([dict(a, events=["analysis.*"])])
        self.sighup("accepted")
        binds = self.mgmt.bindings(self.vhost, "hsbridge.a")
        self.assertEqual(sorted(x["routing_key"] for x in binds if x["source"] == EXCHANGE),
                         ["analysis.*"],
                         "the queue must be bound with exactly the new patterns")
        dropped, _, _ = self.publish_event("document.uploaded", expect_routed=False)
        kept, _, _ = self.publish_event("analysis.completed")
        self.rx.wait_count("/a", 1, T_DELIVER)
        self.wait_logged(1, event=kept, outcome="delivered")
        self.assert_settled(["a"])
        self.assertEqual([json.loads(r.body)["id"] for r in self.rx.for_path("/a")], [kept],
                         "an event type removed from the subscription was still delivered")

    def test_sighup_active_false_stops_capturing_and_consuming(self):
        a, c = self.hook("a", ["#"]), self.hook("c", ["#"])
        self.start_bridge([a, c], delivery=self.DELIVERY)
        e0, _, _ = self.publish_event("document.uploaded")
        self.rx.wait_count("/c", 1, T_DELIVER)
        self.wait_logged(2, event=e0, outcome="delivered")
        self.rewrite([a, dict(c, active=False)])
        self.sighup("accepted")
        self.assertEqual([x for x in self.mgmt.bindings(self.vhost, "hsbridge.c")
                          if x["source"] == EXCHANGE], [], "inactive: no bindings")
        wait_until(lambda: not [x for x in self.mgmt.consumers(self.vhost)
                                if x["queue"]["name"] == "hsbridge.c"], 10,
                   "no consumer on hsbridge.c after deactivation")
        e1, _, _ = self.publish_event("document.updated")
        self.rx.wait_count("/a", 2, T_DELIVER)
        self.wait_logged(1, event=e1, sub="a", outcome="delivered")
        self.assert_settled(["a"])
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.c", 5), [],
                         "a deactivated subscription must not capture new events")
        self.assertEqual([json.loads(r.body)["id"] for r in self.rx.for_path("/c")], [e0])
        self.assertEqual(self.bridge.deliveries(sub="c", event=e1), [])

    def test_sighup_invalid_config_rejected_with_file_line_and_old_config_kept(self):
        a = self.hook("a", ["document.*"])
        self.start_bridge([a], delivery=self.DELIVERY)
        bad = dict(a, url=self.rx.url("/new"), max_in_flihgt=4)
        text = render_config({"url": self.broker_url}, [bad], delivery=dict(self.DELIVERY))
        line_no = next(i for i, l in enumerate(text.splitlines(), 1) if "max_in_flihgt" in l)
        self.rewrite(None, text=text)
        idx, line = self.sighup("rejected")
        self.assertEqual(line.get("level"), "error")
        err = str(line.get("error", ""))
        self.assertIn("hsbridge.conf:%d:" % line_no, err, "the error must name file:line")
        self.assertIn("max_in_flihgt", err)
        eid, body, _ = self.publish_event("document.uploaded")
        r = self.rx.wait_count("/a", 1, T_DELIVER, "delivery with the old config")[0]
        self.assertEqual(r.body, body)
        self.wait_logged(1, event=eid, outcome="delivered")
        self.assert_settled(["a"])
        self.assertEqual(self.rx.for_path("/new"), [], "the rejected config must not apply")
        self.assertEqual([o for o in self.bridge.lines()[idx:] if o.get("msg") == "ready"], [],
                         "a rejected reload must not reconnect")

    def test_sighup_during_inflight_slow_delivery_completes_it_exactly_once(self):
        self.rx.script("/a", [R(200, sleep=2.0)], default=200)
        a = self.hook("a", ["document.*"], timeout_ms=5000)
        self.start_bridge([a], delivery=self.DELIVERY)
        e1, body1, _ = self.publish_event("document.uploaded")
        self.rx.wait_count("/a", 1, T_DELIVER, "the slow request to be in flight")
        self.rewrite([a, self.hook("b", ["analysis.*"])])
        idx, line = self.sighup("accepted", wait_ready=False)
        e2, body2, _ = self.publish_event("document.updated")   # while draining
        ready = self.wait_log("ready", after=idx)[0][0]
        self.wait_logged(1, event=e1, outcome="delivered")
        self.wait_logged(1, event=e2, outcome="delivered")
        done = self.logs("delivery", event=e1)[0][0]
        self.assertTrue(idx < done < ready, "the in-flight delivery must finish before the "
                        "reconnect (reload %d, delivered %d, ready %d)" % (idx, done, ready))
        self.assert_settled(["a", "b"])
        ids = [json.loads(r.body)["id"] for r in self.rx.for_path("/a")]
        self.assertEqual(sorted(ids), sorted([e1, e2]), "each event POSTed exactly once")
        d1 = self.bridge.deliveries(event=e1)
        self.assertEqual([(o.get("attempt"), o.get("status"), o.get("outcome")) for o in d1],
                         [(1, 200, "delivered")])
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [])


class ReloadBrokerTests(ReloadCase):
    """SIGHUP reloads that involve the broker: one it refuses, one that removes
    a subscription."""

    def test_reload_refused_by_broker_is_rejected_and_old_config_keeps_delivering(self):
        a = self.hook("a", ["document.*"])
        self.start_bridge([a], delivery=self.DELIVERY)     # delivery_limit: default 20
        e0, _, _ = self.publish_event("document.uploaded")
        self.wait_logged(1, event=e0, outcome="delivered")
        # the new file is valid, but x-delivery-limit differs from the existing
        # queue's; a new subscription listed first must not be left bound
        fresh = self.hook("fresh", ["document.*"])
        path = self.config([fresh, dict(a, url=self.rx.url("/new"))],
                           delivery=dict(self.DELIVERY, delivery_limit=5))
        self.assertEqual(path, self.bridge.conf)
        start = len(self.bridge.lines()) - 1
        self.bridge.signal(signal.SIGHUP)

        def rejected(o):
            if o.get("outcome") == "applied":
                raise AssertionError("the broker-refused config was applied: %r" % (o,))
            return str(o.get("outcome", "")).startswith("rejected")
        self.assertTrue(self.bridge.running())
        idx, line = self.wait_log("reload", after=start, pred=rejected,
                                  what='a "reload" line with outcome "rejected..."')[0]
        self.assertEqual(line.get("level"), "error")
        broker = [o for _, o in self.logs("broker", start) if "hsbridge.a" in str(o.get("error"))]
        self.assertTrue(broker, "a log line must name the refused queue: %r"
                        % self.bridge.lines()[start + 1:])
        err = str(broker[0].get("error"))
        self.assertIn("x-delivery-limit", err, "it must name the argument that differs")
        self.assertTrue("policy" in err or "delete" in err, "it must say how to fix it")
        self.wait_log("ready", after=idx)
        self.assertEqual(self.mgmt.queue(self.vhost, "hsbridge.a")["arguments"]
                         .get("x-delivery-limit"), 20, "the existing queue is left alone")

        e1, body1, _ = self.publish_event("document.updated")
        r = self.rx.wait_count("/a", 2, T_DELIVER, "delivery with the old config")[1]
        self.assertEqual(r.body, body1)
        self.wait_logged(1, event=e1, outcome="delivered")
        self.assert_settled(["a"])
        self.assertEqual(self.rx.for_path("/new"), [], "the refused config must not apply")
        self.assertEqual(self.logs("reload", start, outcome="applied"), [])
        # Declared before the refusal, but never bound: it captures nothing
        # that no bridge would consume.
        bound = [b["routing_key"] for b in self.mgmt.bindings(self.vhost, "hsbridge.fresh")
                 if b["source"] == EXCHANGE]
        self.assertEqual(bound, [], "the rejected config's new queue must not stay bound")

    def test_reload_removing_subscription_keeps_its_queue_but_unbinds_it(self):
        a = self.hook("a", ["#"])
        b = self.hook("b", ["document.*", "analysis.*"])
        self.start_bridge([a, b], delivery=self.DELIVERY)
        e0, _, _ = self.publish_event("document.uploaded")
        self.rx.wait_count("/b", 1, T_DELIVER)
        self.wait_logged(2, event=e0, outcome="delivered")
        self.rewrite([a])
        self.sighup("accepted")
        self.assertIsNotNone(self.mgmt.queue(self.vhost, "hsbridge.b"),
                             "a removed subscription's queue is kept")
        self.assertIsNotNone(self.mgmt.queue(self.vhost, "hsbridge.b.parked"),
                             "a removed subscription's parked queue is kept")
        only_default = [("", "hsbridge.b")]
        last = {}

        def unbound():
            last["b"] = sorted((x["source"], x["routing_key"])
                               for x in self.mgmt.bindings(self.vhost, "hsbridge.b"))
            return last["b"] == only_default
        wait_until(unbound, 10, "hsbridge.b to keep only the default binding",
                   detail=lambda: "bindings: %r" % last.get("b"))
        wait_until(lambda: not [x for x in self.mgmt.consumers(self.vhost)
                                if x["queue"]["name"] == "hsbridge.b"], 10,
                   "no consumer on hsbridge.b after its removal")
        self.assertEqual(sorted(o.get("pattern") for _, o in self.logs("unbind", queue="hsbridge.b")),
                         ["analysis.*", "document.*"])
        self.assertEqual(sorted(x["routing_key"] for x in self.mgmt.bindings(self.vhost, "hsbridge.a")
                                if x["source"] == EXCHANGE), ["#"],
                         "the remaining subscription keeps its binding")
        e1, _, _ = self.publish_event("document.updated")
        e2, _, _ = self.publish_event("analysis.completed")
        self.rx.wait_count("/a", 3, T_DELIVER)
        self.wait_logged(1, event=e1, sub="a", outcome="delivered")
        self.wait_logged(1, event=e2, sub="a", outcome="delivered")
        self.assert_settled(["a"])
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.b", 5), [],
                         "a removed subscription must not capture new events")
        self.assertIsNotNone(self.mgmt.queue(self.vhost, "hsbridge.b"))
        self.assertEqual([json.loads(r.body)["id"] for r in self.rx.for_path("/b")], [e0])
        self.assertEqual(sorted(json.loads(r.body)["id"] for r in self.rx.for_path("/a")),
                         sorted([e0, e1, e2]))


if __name__ == "__main__":
    unittest.main()
