#!/usr/bin/python3
"""`hsbridge replay SUB [--limit N]`.
A ctest entry of its own (integration_replay); shared fixtures: hsb_cases.py.
"""

import datetime
import json
import os
import sys
import time
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import (  # noqa: E402
    BridgeCase, EXCHANGE, T_DELIVER, hdr_int)
from hsb_harness import (  # noqa: E402
    R, new_event_id, rand_alnum, run_cli, verify_signature, wait_until)


BOOKKEEPING_PREFIXES = ("hsbridge-", "x-death", "x-first-death-", "x-last-death-")


REPLAY_DELAYS = ["100ms", "200ms"]   # 3 attempts, then parked


class ReplayTests(BridgeCase):
    """`hsbridge replay SUB [--limit N]`: parked messages back into hsbridge.<sub>,
    bookkeeping headers and x-death removed, everything else unchanged."""

    def publish_full(self, etype, headers):
        """A complete envelope with extra properties and headers a service may set."""
        eid = new_event_id()
        ts = int(time.time())
        created = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        body = json.dumps({"id": eid, "type": etype, "created_at": created,
                           "data": {"object": {"id": "doc_" + rand_alnum(6)}}},
                          separators=(",", ":")).encode()
        props = {"delivery_mode": 2, "content_type": "application/json", "message_id": eid,
                 "type": etype, "timestamp": ts, "correlation_id": "corr-" + eid,
                 "app_id": "records-service", "headers": dict(headers)}
        self.assertTrue(self.mgmt.publish(self.vhost, EXCHANGE, etype, body, props),
                        "publish not routed")
        return eid, body, props

    def park_for_real(self, n):
        """n events through a failing endpoint until parked (retries_exhausted);
        returns [(eid, body, props)] and stops the bridge (settled)."""
        self.rx.script("/a", [], default=R(500, body=b"down"))
        # Parks after the schedule with the endpoint down throughout: only
        # without the breaker (with it, an outage parks nothing).
        self.start_bridge([self.hook("a", ["document.*"])],
                          delivery={"retry_delays": REPLAY_DELAYS}, breaker={"enabled": False})
        evs = [self.publish_full("document.uploaded",
                                 {"x-trace-id": "trace-%d" % i, "x-tenant": "clinic-7"})
               for i in range(n)]
        for eid, _, _ in evs:
            self.wait_logged(1, event=eid, outcome="parked", reason="retries_exhausted")
        return evs

    def replay(self, *args):
        cp = self.cli(self.bridge.conf, "replay", "a", *args)
        self.assertEqual(cp.returncode, 0, "replay failed: stdout=%r stderr=%r"
                         % (cp.stdout, cp.stderr))
        return cp.stdout

    def assert_replayed_copy(self, m, orig):
        eid, body, props = orig
        self.assertEqual(m["body"], body, "replayed body must be unchanged")
        self.assertEqual(m["routing_key"], "hsbridge.a")
        p = m["properties"]
        for k in ("message_id", "type", "timestamp", "content_type", "correlation_id", "app_id"):
            self.assertEqual(p.get(k), props[k], "property %s changed by replay" % k)
        self.assertEqual(p.get("delivery_mode"), 2, "replayed copy must be persistent")
        h = p.get("headers") or {}
        for k, v in props["headers"].items():
            self.assertEqual(h.get(k), v, "header %s changed by replay" % k)
        left = sorted(k for k in h if k.startswith(BOOKKEEPING_PREFIXES))
        self.assertEqual(left, ["hsbridge-mark"],
                         "bookkeeping headers must be removed by replay, which seals its copy")
        self.assertRegex(h["hsbridge-mark"], "^[0-9a-f]{64}$")

    def test_replay_limit_moves_exactly_one_and_strips_bookkeeping_headers(self):
        evs = self.park_for_real(2)
        self.assert_settled(["a"], REPLAY_DELAYS)
        by_id = {e[0]: e for e in evs}
        # the parked copies do carry the bookkeeping (else stripping proves nothing)
        peeked = self.mgmt.peek(self.vhost, "hsbridge.a.parked", 5)
        self.assertEqual(sorted(m["properties"].get("message_id") for m in peeked),
                         sorted(by_id))
        for m in peeked:
            h = m["properties"].get("headers") or {}
            self.assertEqual(hdr_int(h.get("hsbridge-attempts")), 3)
            self.assertEqual(h.get("hsbridge-parked-reason"), "retries_exhausted")

        out = self.replay("--limit", "1")
        self.assertEqual(out.strip(), "replayed 1 message from hsbridge.a.parked to hsbridge.a")
        moved = self.drain("hsbridge.a", 1)
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a", 5), [],
                         "--limit 1 must move exactly one message")
        first = moved[0]["properties"].get("message_id")
        self.assertIn(first, by_id)
        self.assert_replayed_copy(moved[0], by_id[first])

        still = self.mgmt.peek(self.vhost, "hsbridge.a.parked", 5)
        self.assertEqual([m["properties"].get("message_id") for m in still],
                         [e for e in by_id if e != first], "the other one must stay parked")
        out = self.replay()
        self.assertEqual(out.strip(), "replayed 1 message from hsbridge.a.parked to hsbridge.a")
        second = self.drain("hsbridge.a", 1)[0]
        self.assertNotEqual(second["properties"].get("message_id"), first)
        self.assert_replayed_copy(second, by_id[second["properties"].get("message_id")])
        self.assertEqual(self.replay().strip(),
                         "replayed 0 messages from hsbridge.a.parked to hsbridge.a")
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [])

    def test_replay_with_endpoint_fixed_delivers_attempt_1_same_delivery_id(self):
        (eid, body, props), = self.park_for_real(1)
        before = self.rx.for_path("/a")
        self.assertEqual([r.attempt for r in before], [1, 2, 3])
        delivery = before[0].delivery
        self.wait_logged(1, event=eid, attempt=3, outcome="parked")
        self.rx.script("/a", [], default=200)              # the endpoint is fixed
        out = self.replay()                                # into the running bridge
        self.assertEqual(out.strip(), "replayed 1 message from hsbridge.a.parked to hsbridge.a")
        reqs = self.rx.wait_count("/a", 4, T_DELIVER, "the replayed event to be POSTed")
        r = reqs[3]
        self.assertEqual(r.attempt, 1, "attempts must start over after replay")
        self.assertEqual(r.delivery, delivery, "same delivery id as before the replay")
        self.assertEqual(r.h("webhook-id"), delivery)
        self.assertEqual(r.body, body)
        self.assertTrue(verify_signature(r.body.decode(), r.h("X-HealthSync-Signature"),
                                         self.secrets[0]))
        line = self.wait_logged(1, event=eid, outcome="delivered")[0]
        self.assertEqual((line.get("attempt"), line.get("status")), (1, 200))
        self.assert_settled(["a"], REPLAY_DELAYS)
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [],
                         "parked queue must be empty after a successful replay")
        self.assertEqual(len(self.rx.for_path("/a")), 4, "delivered once after the replay")

    def test_replay_moves_only_what_was_parked_when_it_started(self):
        # 410 parks again at once: a replay that drained the queue until empty
        # would feed the running bridge forever.
        self.rx.script("/a", [], default=R(410, body=b"gone"))
        # Every event gets its 410: the breaker a 410 opens is off here.
        self.start_bridge([self.hook("a", ["document.*"])],
                          delivery={"retry_delays": REPLAY_DELAYS}, breaker={"enabled": False})
        evs = [self.publish_full("document.uploaded", {}) for _ in range(3)]
        for eid, _, _ in evs:
            self.wait_logged(1, event=eid, outcome="parked", reason="gone")
        cp = run_cli(self.bridge.conf, ["replay", "a"], timeout=30)
        self.assert_no_secret(cp.stdout, cp.stderr)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout.strip(), "replayed 3 messages from hsbridge.a.parked to hsbridge.a")
        for eid, _, _ in evs:
            self.wait_logged(2, event=eid, outcome="parked", reason="gone")
        self.assertEqual(len(self.rx.for_path("/a")), 6, "each event POSTed once more, no more")

    def test_replay_removes_x_death_of_delivery_limit_parked_message(self):
        # RabbitMQ itself parks it: x-delivery-limit 1, returned twice
        conf = self.config([self.sub("a", ["document.*"])], delivery={"delivery_limit": 1})
        cp = self.cli(conf, "topology")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        orig = self.publish_full("document.updated", {"x-trace-id": "trace-dl"})
        wait_until(lambda: (self.mgmt.reject_requeue(self.vhost, "hsbridge.a") or True) and
                   self.mgmt.peek(self.vhost, "hsbridge.a.parked"), 10,
                   "RabbitMQ to dead-letter the message (delivery_limit) into the parked queue")
        parked = self.mgmt.peek(self.vhost, "hsbridge.a.parked", 5)
        self.assertEqual(len(parked), 1)
        h = parked[0]["properties"].get("headers") or {}
        self.assertEqual([d.get("reason") for d in h.get("x-death", [])], ["delivery_limit"],
                         "precondition: RabbitMQ's x-death on the parked message")
        cp = self.cli(conf, "replay", "a")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout.strip(),
                         "replayed 1 message from hsbridge.a.parked to hsbridge.a")
        m = self.drain("hsbridge.a", 1)[0]
        self.assert_replayed_copy(m, orig)
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [])

    def test_replay_unknown_subscription_or_bad_limit_exits_64(self):
        conf = self.config([self.sub("a")])
        for args in (("replay", "nosuch"), ("replay", "a", "--limit"),
                     ("replay", "a", "--limit", "x"), ("replay", "a", "--limit", "-1"),
                     ("replay",)):
            with self.subTest(args=args):
                cp = self.cli(conf, *args)
                self.assertEqual(cp.returncode, 64, "stdout=%r stderr=%r" % (cp.stdout, cp.stderr))
        cp = self.cli(conf, "replay", "nosuch")
        self.assertIn("nosuch", cp.stderr, "the error must name the subscription")


if __name__ == "__main__":
    unittest.main()
