#!/usr/bin/python3
"""The HTTP request and success handling; payload checks, routing and fan-out.
A ctest entry of its own (integration_delivery); shared fixtures: hsb_cases.py.
"""

import json
import os
import sys
import time
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import (  # noqa: E402
    BridgeCase, EXCHANGE, T_DELIVER)
from hsb_harness import (  # noqa: E402
    is_uuid5, new_event_id, new_whsec, parse_json_lines, rand_alnum, standard_webhooks_sig,
    verify_signature, wait_until)


class DeliveryTests(BridgeCase):
    """The HTTP request (DESIGN section 3) and success handling."""

    def deliver_one(self, secret=None, previous=None, **kw):
        extra = {}
        if secret is not None:
            extra["secret"] = secret
        if previous is not None:
            extra["previous_secrets"] = previous
        s = self.hook("a", ["document.*"], **extra)
        self.start_bridge([s])
        eid, body, ts = self.publish_event("document.uploaded", **kw)
        req = self.rx.wait_count("/a", 1, T_DELIVER)[0]
        return s, eid, body, req

    def test_ready_logged_stderr_is_json_lines_and_sigterm_exits_zero(self):
        self.start_bridge([self.hook("a")])
        rc = self.bridge.stop()
        self.assertEqual(rc, 0)
        objs, bad = parse_json_lines(self.bridge.stderr_text())
        self.assertEqual(bad, [], "every stderr line must be a JSON object")
        self.assertTrue(any(o.get("msg") == "ready" for o in objs))
        for o in objs:
            self.assertIn("level", o)
            self.assertIn("msg", o)

    def test_request_is_json_post_with_user_agent_and_event_header(self):
        s, eid, body, req = self.deliver_one()
        self.assertEqual(req.method, "POST")
        self.assertEqual(req.path, "/a")
        self.assertEqual((req.h("Content-Type") or "").split(";")[0].strip(), "application/json")
        self.assertTrue((req.h("User-Agent") or "").startswith("HealthSync-Webhooks/"),
                        req.h("User-Agent"))
        self.assertEqual(req.h("X-HealthSync-Event"), "document.uploaded")
        self.assertEqual(req.h("X-HealthSync-Attempt"), "1")
        self.assertEqual(json.loads(req.body)["id"], eid)

    def test_healthsync_signature_verifies_with_spec_function(self):
        s, eid, body, req = self.deliver_one()
        sig = req.h("X-HealthSync-Signature")
        self.assertIsNotNone(sig)
        self.assertRegex(sig, r"^sha256=[0-9a-f]{64}$")
        self.assertTrue(verify_signature(req.body.decode("utf-8"), sig, s["secret"]),
                        "X-HealthSync-Signature does not verify with the spec's verify_signature")
        self.assertFalse(verify_signature(req.body.decode("utf-8") + " ", sig, s["secret"]))

    def test_delivery_id_is_uuid5_and_equals_webhook_id(self):
        s, eid, body, req = self.deliver_one()
        d = req.h("X-HealthSync-Delivery")
        self.assertTrue(is_uuid5(d), "X-HealthSync-Delivery %r is not a version-5 UUID" % d)
        self.assertEqual(req.h("webhook-id"), d)

    def test_standard_webhooks_signature_uses_whsec_decoded_key(self):
        s, eid, body, req = self.deliver_one(secret=new_whsec())
        wid, ts = req.h("webhook-id"), req.h("webhook-timestamp")
        self.assertRegex(ts or "", r"^\d+$")
        self.assertLessEqual(abs(int(ts) - req.t), 10, "webhook-timestamp not near now")
        sigs = (req.h("webhook-signature") or "").split(" ")
        self.assertEqual(sigs, [standard_webhooks_sig(s["secret"], wid, ts, req.body)])

    def test_standard_webhooks_signature_uses_raw_bytes_of_plain_secret(self):
        secret = "plain-secret-" + rand_alnum(20)
        s, eid, body, req = self.deliver_one(secret=secret)
        sigs = (req.h("webhook-signature") or "").split(" ")
        self.assertEqual(sigs, [standard_webhooks_sig(
            secret, req.h("webhook-id"), req.h("webhook-timestamp"), req.body)])
        self.assertTrue(verify_signature(req.body.decode(), req.h("X-HealthSync-Signature"), secret))

    def test_previous_secrets_add_one_v1_signature_each(self):
        cur, old1, old2 = new_whsec(), new_whsec(), "older-plain-" + rand_alnum(16)
        s, eid, body, req = self.deliver_one(secret=cur, previous=[old1, old2])
        wid, ts = req.h("webhook-id"), req.h("webhook-timestamp")
        sigs = (req.h("webhook-signature") or "").split(" ")
        want = [standard_webhooks_sig(k, wid, ts, req.body) for k in (cur, old1, old2)]
        self.assertEqual(sorted(sigs), sorted(want))
        self.assertEqual(sigs[0], want[0], "the current secret's signature should come first")
        self.assertTrue(verify_signature(req.body.decode(), req.h("X-HealthSync-Signature"), cur),
                        "X-HealthSync-Signature must use the current secret")

    def test_complete_envelope_delivered_byte_for_byte(self):
        s = self.hook("a", ["document.uploaded"])
        self.start_bridge([s])
        eid = new_event_id()
        body = ('{ "id" :\t"%s",\n  "type": "document.uploaded" , "created_at":"2024-02-27T10:30:00Z",'
                '\r\n "data" : { "object" : {"n": 12345678901234567890.5, "big": 123456789012345678901234567890,'
                ' "e": 1E400, "s": "caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\/ \\n", "raw": "h\u00e9llo \u2603",'
                ' "empty": {}, "arr": [ 1 , 2.50 , -0 ] } }  }\n   ' % eid).encode("utf-8")
        json.loads(body)  # it is valid JSON
        self.publish("document.uploaded", body, message_id=eid, type_="document.uploaded",
                     timestamp=int(time.time()))
        req = self.rx.wait_count("/a", 1, T_DELIVER)[0]
        self.assertEqual(req.body, body, "the envelope must be POSTed unchanged")
        self.assertTrue(verify_signature(req.body.decode("utf-8"),
                                         req.h("X-HealthSync-Signature"), s["secret"]))

    def test_incomplete_envelope_completed_from_message_properties(self):
        self.start_bridge([self.hook("a", ["document.*"])])
        eid = new_event_id()
        data = {"object": {"id": "doc_77", "size": 245678}}
        self.publish("document.updated", {"data": data}, message_id=eid, timestamp=1700000000)
        req = self.rx.wait_count("/a", 1, T_DELIVER)[0]
        env = json.loads(req.body)
        self.assertEqual(env.get("id"), eid, "id from message_id")
        self.assertEqual(env.get("type"), "document.updated", "type from the routing key")
        self.assertRegex(env.get("created_at", ""), r"^2023-11-14T22:13:20(\.0+)?Z$",
                         "created_at from the timestamp property")
        self.assertEqual(env.get("data"), data)
        self.assertEqual(req.h("X-HealthSync-Event"), "document.updated")

    def test_2xx_response_acks_and_removes_message(self):
        self.rx.script("/a", [202, 204, 299], default=500)
        self.start_bridge([self.hook("a", ["document.*"])])
        ids = [self.publish_event("document.uploaded")[0] for _ in range(3)]
        self.rx.wait_count("/a", 3, T_DELIVER)
        self.wait_logged(3, sub="a", outcome="delivered")
        self.assert_settled(["a"])
        reqs = self.rx.for_path("/a")
        self.assertEqual(len(reqs), 3, "each 2xx must end the delivery: %r" % reqs)
        self.assertEqual(sorted(json.loads(r.body)["id"] for r in reqs), sorted(ids))
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [])

    def test_delivery_log_line_per_attempt_with_fields(self):
        self.rx.script("/a", [500], default=200)
        self.start_bridge([self.hook("a", ["document.*"])])
        eid, body, ts = self.publish_event("document.shared")
        reqs = self.rx.wait_count("/a", 2, T_DELIVER)
        self.wait_logged(1, event=eid, outcome="delivered")
        self.assert_settled(["a"])
        lines = self.bridge.deliveries(event=eid)
        self.assertEqual(len(lines), 2, "one line per attempt: %r" % lines)
        first, second = sorted(lines, key=lambda o: o.get("attempt", 0))
        for o in (first, second):
            self.assertEqual(o.get("sub"), "a")
            self.assertEqual(o.get("delivery"), reqs[0].delivery)
            self.assertEqual(o.get("type"), "document.shared")
            self.assertIsInstance(o.get("ms"), (int, float))
            self.assertIn("ts", o)
        self.assertEqual((first.get("attempt"), first.get("status"), first.get("outcome"),
                          first.get("next")), (1, 500, "retry", "200ms"))
        self.assertEqual((second.get("attempt"), second.get("status"), second.get("outcome")),
                         (2, 200, "delivered"))


class RoutingTests(BridgeCase):
    """Invalid payloads, size limit, inactive subscriptions, fan-out."""

    def test_invalid_payloads_parked_unchanged_without_post_and_flow_continues(self):
        self.start_bridge([self.hook("a", ["document.*"])])
        before, _, _ = self.publish_event("document.uploaded")
        bad = [b"not json at all", b"[1, 2, 3]", b'"just a string"',
               b'{"id":"evt_nodata","type":"document.uploaded"}',
               b'{"id":"evt_strdata","data":"nope"}',
               b'{"data":{"object":{}}',                 # truncated
               b'{"data":{"s":"\xff\xfe"}}']            # not UTF-8
        ids = []
        for i, b in enumerate(bad):
            mid = "evt_bad%d" % i
            ids.append(mid)
            self.publish("document.uploaded", b, message_id=mid, type_="document.uploaded",
                         timestamp=int(time.time()))
        after, _, _ = self.publish_event("document.updated")
        self.rx.wait_count("/a", 2, T_DELIVER)
        parked = self.drain("hsbridge.a.parked", len(bad))
        by_id = {m["properties"].get("message_id"): m for m in parked}
        for i, b in enumerate(bad):
            with self.subTest(body=b):
                m = by_id.get(ids[i])
                self.assertIsNotNone(m, "not parked")
                self.assertEqual(m["body"], b, "parked body must be unchanged")
                self.assertEqual((m["properties"].get("headers") or {})
                                 .get("hsbridge-parked-reason"), "invalid_payload")
        self.wait_logged(2, sub="a", outcome="delivered")
        self.assert_settled(["a"])
        posted = [json.loads(r.body).get("id") for r in self.rx.for_path("/a")]
        self.assertEqual(sorted(posted), sorted([before, after]),
                         "only the valid events may be POSTed")
        for mid in ids:
            lines = self.bridge.deliveries(event=mid)
            for o in lines:
                self.assertEqual((o.get("outcome"), o.get("reason")), ("parked", "invalid_payload"))

    def test_oversized_body_parked_as_payload_too_large(self):
        self.start_bridge([self.hook("a", ["document.*"])], delivery={"max_body_bytes": 1024})
        small1, _, _ = self.publish_event("document.uploaded")
        big_id, big_body, _ = self.publish_event("document.uploaded",
                                                 data={"object": {"blob": "x" * 2000}})
        self.assertGreater(len(big_body), 1024)
        small2, _, _ = self.publish_event("document.uploaded")
        self.rx.wait_count("/a", 2, T_DELIVER)
        m = self.drain("hsbridge.a.parked", 1)[0]
        self.assertEqual(m["properties"].get("message_id"), big_id)
        self.assertEqual(m["body"], big_body)
        self.assertEqual((m["properties"].get("headers") or {}).get("hsbridge-parked-reason"),
                         "payload_too_large")
        self.wait_logged(2, sub="a", outcome="delivered")
        self.assert_settled(["a"])
        posted = sorted(json.loads(r.body)["id"] for r in self.rx.for_path("/a"))
        self.assertEqual(posted, sorted([small1, small2]))

    def test_inactive_subscription_gets_nothing(self):
        on, off = self.hook("on", ["#"]), self.hook("off", ["#"], active=False)
        self.start_bridge([on, off])
        # already queued for the inactive subscription: must wait, not be delivered
        self.publish("hsbridge.off", {"id": "evt_waiting", "type": "document.uploaded",
                                      "created_at": "2024-02-27T10:30:00Z", "data": {}},
                     exchange="", message_id="evt_waiting", type_="document.uploaded")
        eid, body, ts = self.publish_event("document.uploaded")
        self.rx.wait_count("/on", 1, T_DELIVER)
        self.assertEqual([b for b in self.mgmt.bindings(self.vhost, "hsbridge.off")
                          if b["source"] == EXCHANGE], [])

        wait_until(lambda: [c for c in self.mgmt.consumers(self.vhost)
                            if c["queue"]["name"] == "hsbridge.on"], 10, "a consumer on hsbridge.on")
        self.assertEqual([c for c in self.mgmt.consumers(self.vhost)
                          if c["queue"]["name"] == "hsbridge.off"], [],
                         "inactive subscription must have no consumer")
        self.wait_logged(1, event=eid, sub="on", outcome="delivered")
        self.assert_settled(["on"])
        waiting = self.mgmt.get(self.vhost, "hsbridge.off", 5)
        self.assertEqual([m["properties"].get("message_id") for m in waiting], ["evt_waiting"],
                         "what was queued for the inactive subscription must wait there")
        self.assertEqual(self.rx.for_path("/off"), [], "inactive subscription was POSTed to")
        self.assertEqual(self.bridge.deliveries(sub="off"), [])

    def test_event_fans_out_to_matching_subscriptions_with_distinct_delivery_ids(self):
        subs = [self.hook("docs", ["document.*"]), self.hook("all", ["#"]),
                self.hook("exact", ["document.uploaded"]), self.hook("other", ["analysis.completed"])]
        self.start_bridge(subs)
        eid, body, ts = self.publish_event("document.uploaded")
        got = {p: self.rx.wait_count(p, 1, T_DELIVER)[0] for p in ("/docs", "/all", "/exact")}
        eid2, body2, _ = self.publish_event("analysis.completed")
        self.rx.wait_count("/other", 1, T_DELIVER)
        self.rx.wait_count("/all", 2, T_DELIVER)
        self.wait_logged(5, outcome="delivered")
        self.assert_settled(["docs", "all", "exact", "other"])
        for p, r in got.items():
            self.assertEqual(r.body, body, p)
            self.assertEqual(r.h("webhook-id"), r.delivery)
            self.assertTrue(is_uuid5(r.delivery), r.delivery)
        self.assertEqual(len({r.delivery for r in got.values()}), 3,
                         "delivery ids must differ per subscription")
        self.assertEqual([json.loads(r.body)["id"] for r in self.rx.for_path("/other")], [eid2])
        self.assertEqual(len(self.rx.for_path("/docs")), 1)
        self.assertEqual(len(self.rx.for_path("/exact")), 1)
        self.assertEqual(sorted(json.loads(r.body)["id"] for r in self.rx.for_path("/all")),
                         sorted([eid, eid2]))


if __name__ == "__main__":
    unittest.main()
