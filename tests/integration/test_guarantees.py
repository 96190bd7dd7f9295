#!/usr/bin/python3
"""hsbridge integration tests pinning five delivery guarantees of the bridge
(src/bridge.c, src/bridge_relay.c, src/copy.c)
(DESIGN sections 2 and 4), each written so that it fails when the guarantee
is broken:

  1. the original is acked only once its retry/parked copy is confirmed
     (a kill -9 while the copy is refused loses nothing);
  2. at shutdown, what is still held is handed back, never acked;
  3. a confirm with multiple=true settles every copy up to its tag;
  4. retry and parked copies carry the completed envelope, so every attempt
     POSTs the same bytes with the same signature;
  5. hsbridge-first-failure-at is the time of the first failure, kept across
     attempts;
  6. acks go out coalesced (basic.ack with multiple=true), yet a delivery
     still undecided is never covered by the acks of later ones.

Run: HSBRIDGE_BIN=build/hsbridge HSB_AMQP_PORT=... HSB_MGMT_PORT=... \
     HSB_NODE=... HSB_RABBIT_DIR=... \
     /usr/bin/python3 tests/integration/test_guarantees.py -v
(scripts/test starts a RabbitMQ node and exports them.) Python 3 standard
library only; the bases come from hsb_cases.py.
"""

import calendar
import json
import os
import re
import signal
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import BridgeCase  # noqa: E402
from hsb_harness import (  # noqa: E402
    BridgeProc, R, load_env, new_event_id, q, rand_alnum, verify_signature, wait_until)

T_DELIVER = 15          # deadline for something that should happen "now"
EVENT_ID_RE = re.compile(r"^evt_[A-Za-z0-9]{24}$")
ISO_Z_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?Z$")
FILLER = b'{"filler":true}'


def setUpModule():
    load_env()      # raises (-> the run fails, not skips) without the env


def iso_to_unix(s):
    """'2024-02-27T10:30:00Z' -> unix seconds (int)."""
    m = ISO_Z_RE.match(s or "")
    if not m:
        raise AssertionError("not an ISO 8601 UTC time: %r" % (s,))
    return calendar.timegm(tuple(int(x) for x in m.groups()) + (0, 0, 0))


class GuaranteeCase(BridgeCase):
    """+ log helpers, bridges that were killed or replaced (secret checks),
    and a parked queue the broker refuses copies for."""

    def setUp(self):
        super().setUp()
        self.old_bridges = []

    def tearDown(self):
        problems = []
        for b in self.old_bridges:
            if b.running():
                b.kill9()
            for s in self.secrets:
                if s in b.stderr_text() or s.encode() in b.stdout_bytes():
                    problems.append("a configured secret appears in %s" % b.stderr_path)
                    break
        try:
            super().tearDown()
        finally:
            if problems:
                self.fail("; ".join(problems))

    def retire_bridge(self):
        """The current bridge has exited: keep it for the secret checks only."""
        self.assertFalse(self.bridge.running(), "the bridge is still running")
        self.old_bridges.append(self.bridge)
        self.bridge = None

    def refuse_parked_copies(self, sub):
        """Make the broker nack every copy published to hsbridge.<sub>.parked:
        max-length 0 with reject-publish. A quorum queue rejects once it is
        over its limit, so one filler message puts it there and keeps it
        there. Fillers are published until the broker refuses one (the
        management API answers 400): the policy is in force then. Returns
        how many fillers the queue took."""
        parked = "hsbridge.%s.parked" % sub
        self.mgmt.set_policy(self.vhost, "full", "^%s$" % re.escape(parked),
                             {"max-length": 0, "overflow": "reject-publish"})
        taken = []

        def refused():
            status, raw = self.mgmt.raw(
                "POST", "/exchanges/%s/amq.default/publish" % q(self.vhost),
                {"properties": {"delivery_mode": 2}, "routing_key": parked,
                 "payload": FILLER.decode(), "payload_encoding": "string"})
            if status == 200 and json.loads(raw).get("routed"):
                taken.append(FILLER)
                return False
            self.assertEqual(status, 400, "publishing a filler: %r" % raw[:300])
            return b"rejected" in raw
        wait_until(refused, 10, "the broker to refuse publishing to %s" % parked,
                   interval=0.1)
        return len(taken)

    def collect(self, queue, want, timeout=T_DELIVER, what=None):
        """Destructively read queue until want(messages so far) holds."""
        got = []
        wait_until(lambda: got.extend(self.mgmt.get(self.vhost, queue, 50)) or want(got),
                   timeout, what or "the expected messages in %s" % queue,
                   detail=lambda: "got %r" % [(m["properties"].get("message_id"),
                                               m["body"][:120]) for m in got])
        return got

    def assert_empty(self, queue, why):
        msgs = self.mgmt.get(self.vhost, queue, 50)
        self.assertEqual([(m["properties"].get("message_id"), m["body"][:120]) for m in msgs],
                         [], "%s: %s" % (queue, why))


# ====================================================================== 1, 2

class AckOnlyWhenConfirmedTests(GuaranteeCase):
    """DESIGN section 4: "a delivery is acked only after its outcome is final
    (2xx) or after its retry/parked copy is confirmed by the broker". A copy
    the broker refuses keeps its original unacked, whatever happens to the
    bridge meanwhile."""

    def _event_with_refused_parked_copy(self, delivery=None):
        self.rx.script("/a", [], default=410)          # parks at once
        self.start_bridge([self.hook("a", ["document.*"])], delivery=delivery)
        self.fillers = self.refuse_parked_copies("a")
        eid, body, ts = self.publish_event("document.uploaded")
        refused = self.bridge.wait_log("copy refused", event=eid)[0][1]
        self.assertEqual(refused.get("routing_key"), "hsbridge.a.parked")
        self.assertEqual(refused.get("error"), "the broker nacked the copy")
        return eid, body

    def _assert_event_back_in_subscription_queue(self, eid, body, gone_because):
        got = self.collect("hsbridge.a", lambda g: any(m["body"] == body for m in g),
                           what="the event back in hsbridge.a (gone: %s)" % gone_because)
        self.assertEqual([m["properties"].get("message_id") for m in got], [eid],
                         "the event exactly once in hsbridge.a")
        self.assertEqual(got[0]["body"], body)
        parked = self.mgmt.get(self.vhost, "hsbridge.a.parked", 50)
        self.assertEqual([m["body"] for m in parked], [FILLER] * self.fillers,
                         "the refused copy must not have been parked")

    def test_kill9_while_parked_copy_is_refused_keeps_the_event_queued(self):
        eid, body = self._event_with_refused_parked_copy()
        self.assertEqual([r.attempt for r in self.rx.for_path("/a")], [1])
        rc = self.bridge.kill9()
        self.assertEqual(rc, -signal.SIGKILL)
        self.retire_bridge()
        # The copy was never confirmed: the original was never acked, so the
        # closed connection hands it back to hsbridge.a.
        self._assert_event_back_in_subscription_queue(
            eid, body, "its original was acked although its parked copy was never confirmed")

    def test_sigterm_with_refused_copy_hands_it_back_unacked(self):
        # grace = max timeout_ms + 5 s: the copy is still refused at the deadline
        eid, body = self._event_with_refused_parked_copy(delivery={"timeout_ms": 500})
        t0 = time.monotonic()
        self.bridge.signal(signal.SIGTERM)
        rc = self.bridge.wait_exit(timeout=20)
        self.assertEqual(rc, 0, "exit code after SIGTERM")
        self.assertLess(time.monotonic() - t0, 12, "the grace period is timeout_ms + 5 s")
        done = [o for _, o in self.bridge.logs("shutdown", phase="done")]
        self.assertEqual(len(done), 1, "one shutdown/done line: %r" % (done,))
        self.assertGreaterEqual(done[0].get("handed_back", 0), 1,
                                "precondition: the refused copy was still held at the deadline")
        self.retire_bridge()
        self._assert_event_back_in_subscription_queue(
            eid, body, "its original was acked at shutdown instead of handed back")


# ====================================================================== 3

class ConfirmBurstTests(GuaranteeCase):
    """Publisher confirms may acknowledge many copies at once (multiple=true):
    every copy up to the tag is confirmed, so every original is acked."""

    N = 160

    def test_burst_of_retry_copies_all_confirmed_and_originals_acked(self):
        self.rx.script("/a", [], default=R(500, sleep=0.3))
        s = self.hook("a", ["document.*"], max_in_flight=200)
        # A long first delay: the copies stay in the retry queue for the test.
        delivery = {"timeout_ms": 1000, "retry_delays": ["1m"]}
        self.start_bridge([s], delivery=delivery)      # declares the topology
        self.assertEqual(self.bridge.stop(), 0)
        self.retire_bridge()
        # Queue the burst while no bridge consumes: the next one takes it all
        # at once, so its copies go out back to back and the broker confirms
        # them in batches.
        ids = set()
        for _ in range(self.N):
            ids.add(self.publish_event("document.uploaded")[0])
        self.bridge = BridgeProc(self.old_bridges[-1].conf, self.tmp, name="bridge2").start()
        self.bridge.wait_ready()
        wait_until(lambda: len(self.bridge.deliveries(outcome="retry")) >= self.N, 30,
                   "%d retry outcomes" % self.N,
                   detail=lambda: "%d so far" % len(self.bridge.deliveries(outcome="retry")))
        t0 = time.monotonic()
        rc = self.bridge.stop()
        self.assertEqual(rc, 0, "exit code after SIGTERM")
        stop_s = time.monotonic() - t0
        done = [o for _, o in self.bridge.logs("shutdown", phase="done")]
        self.assertEqual([o.get("handed_back") for o in done], [0],
                         "every copy confirmed and every original acked before exiting "
                         "(stopped after %.1fs)" % stop_s)
        self.retire_bridge()
        # Unacked originals come back to hsbridge.a when the connection closes.
        self.assert_empty("hsbridge.a", "originals left unacked although their copies were "
                          "confirmed (a multiple=true confirm only settled one copy?)")
        retried = self.collect("hsbridge.retry.1m", lambda g: len(g) >= self.N)
        self.assertEqual(len(retried), self.N, "exactly one retry copy per event")
        self.assertEqual({m["properties"].get("message_id") for m in retried}, ids)
        self.assert_empty("hsbridge.retry.1m", "more copies than events")
        self.assert_empty("hsbridge.a.parked", "nothing may be parked")
        self.assertEqual(len(self.rx.for_path("/a")), self.N, "one attempt per event")


# ====================================================================== 4, 5

class CopyContentTests(GuaranteeCase):
    """What a retry/parked copy carries (DESIGN sections 2 and 4)."""

    def test_completed_envelope_same_bytes_and_signature_on_every_attempt_and_parked(self):
        self.rx.script("/a", [], default=500)
        s = self.hook("a", ["document.*"])
        # Parks after the schedule with the endpoint down throughout: only
        # without the breaker (with it, an outage parks nothing).
        self.start_bridge([s], delivery={"retry_delays": ["200ms", "300ms"]},
                          breaker={"enabled": False})
        data = {"object": {"id": "doc_" + rand_alnum(8), "size": 1234}}
        # No id, no message_id, no timestamp: the bridge generates the id and
        # takes created_at from its clock.
        original = self.publish("document.uploaded", {"data": data})
        parked = self.collect("hsbridge.a.parked", lambda g: len(g) >= 1)
        self.assertEqual(len(parked), 1)
        reqs = self.rx.for_path("/a")
        self.assertEqual([r.attempt for r in reqs], [1, 2, 3])
        sent = reqs[0].body
        self.assertNotEqual(sent, original, "precondition: the envelope was completed")
        env = json.loads(sent)
        self.assertRegex(env.get("id", ""), EVENT_ID_RE, "a generated event id")
        self.assertEqual(env.get("type"), "document.uploaded")
        self.assertTrue(env.get("created_at"))
        self.assertEqual(env.get("data"), data)
        for r in reqs[1:]:
            self.assertEqual(r.body, sent, "attempt %s POSTed other bytes than attempt 1"
                             % r.attempt)
        sigs = [r.h("X-HealthSync-Signature") for r in reqs]
        self.assertEqual(len(set(sigs)), 1, "one signature for every attempt: %r" % sigs)
        self.assertTrue(verify_signature(sent.decode(), sigs[0], s["secret"]))
        self.assertEqual(len({r.delivery for r in reqs}), 1, "one delivery id")
        m = parked[0]
        self.assertEqual(m["body"], sent, "the parked body must be the bytes that were POSTed")
        self.assertEqual(m["properties"].get("message_id"), env["id"])
        self.assertEqual(m["properties"].get("type"), "document.uploaded")
        self.assertEqual((m["properties"].get("headers") or {}).get("hsbridge-parked-reason"),
                         "retries_exhausted")

    def test_first_failure_at_is_the_first_attempts_time_on_the_parked_message(self):
        self.rx.script("/a", [], default=500)
        # Parks after the schedule with the endpoint down throughout: only
        # without the breaker (with it, an outage parks nothing).
        self.start_bridge([self.hook("a", ["document.*"])],
                          delivery={"retry_delays": ["1s", "2s"]}, breaker={"enabled": False})
        eid = new_event_id()
        self.publish_event("document.uploaded", eid=eid)
        parked = self.collect("hsbridge.a.parked", lambda g: len(g) >= 1)
        self.assertEqual(len(parked), 1)
        reqs = self.rx.for_path("/a")
        self.assertEqual([r.attempt for r in reqs], [1, 2, 3])
        t1, t3 = reqs[0].t, reqs[-1].t
        self.assertGreaterEqual(t3 - t1, 2.5, "precondition: the attempts span seconds")
        h = parked[0]["properties"].get("headers") or {}
        self.assertEqual(int(h.get("hsbridge-attempts")), 3)
        first = iso_to_unix(h.get("hsbridge-first-failure-at"))
        parked_at = iso_to_unix(h.get("hsbridge-parked-at"))
        # whole seconds, stamped when attempt 1's answer came back
        self.assertLessEqual(abs(first - t1), 1.0,
                             "hsbridge-first-failure-at %s is not the time of attempt 1 "
                             "(%.3f); last attempt at %.3f"
                             % (h.get("hsbridge-first-failure-at"), t1, t3))
        self.assertLess(first + 1, t3, "hsbridge-first-failure-at %s is not earlier than the "
                        "last attempt (%.3f)" % (h.get("hsbridge-first-failure-at"), t3))
        self.assertLessEqual(abs(parked_at - t3), 1.0, "hsbridge-parked-at is the last attempt")


# ====================================================================== 6

class CoalescedAckTests(GuaranteeCase):
    """Acks are recorded per channel and sent once per loop turn, the decided
    run of delivery tags as one basic.ack with multiple=true (src/acks.c). A
    multiple ack settles every unacked tag up to its own: one that covered a
    delivery still in flight, or held and then handed back, would lose it."""

    def _first_held_later_delivered(self):
        """The first event's request is held open, then answered 410: parked,
        and the broker refuses the parked copy, so it stays undecided until
        the session ends. Later events on the same channel (higher delivery
        tags) are delivered meanwhile, while it is in flight and while it is
        held. Returns (first id, first body, later ids, fillers)."""
        release = threading.Event()
        self.addCleanup(release.set)
        self.rx.script("/a", [R(410, hold=release)], default=200)
        # (Without the breaker, which a 410 opens: the later events would
        # wait in the queue.)
        self.start_bridge([self.hook("a", ["document.*"], max_in_flight=20)],
                          delivery={"timeout_ms": 15000}, breaker={"enabled": False})
        fillers = self.refuse_parked_copies("a")
        first, first_body, _ = self.publish_event("document.uploaded")
        self.rx.wait_count("/a", 1, T_DELIVER, "the first event's request (held open)")
        later = [self.publish_event("document.uploaded")[0] for _ in range(5)]
        self.wait_logged(n=5, outcome="delivered",
                         what="the 5 later events delivered (missing: acked by a coalesced "
                         "ack before it was decided, or a channel closed by a second ack)")
        release.set()
        self.bridge.wait_log("copy refused", event=first)
        later += [self.publish_event("document.uploaded")[0] for _ in range(3)]
        got = self.wait_logged(n=8, outcome="delivered", what="the 8 later events delivered")
        self.assertEqual(sorted(o.get("event") for o in got), sorted(later))
        return first, first_body, later, fillers

    def test_undecided_delivery_is_never_covered_by_acks_of_later_ones(self):
        first, first_body, later, fillers = self._first_held_later_delivered()
        rc = self.bridge.stop()
        self.assertEqual(rc, 0, "exit code after SIGTERM")
        done = [o for _, o in self.bridge.logs("shutdown", phase="done")]
        self.assertEqual([o.get("handed_back") for o in done], [1],
                         "the first event is handed back at shutdown")
        self.retire_bridge()
        back = self.collect("hsbridge.a", lambda g: any(m["body"] == first_body for m in g),
                            what="the first event back in hsbridge.a (gone: a coalesced ack "
                            "of later deliveries covered it)")
        self.assertEqual([m["properties"].get("message_id") for m in back], [first],
                         "only the undecided event comes back: the later ones were acked")
        self.assertTrue(back[0].get("redelivered"), "it was delivered before, never acked")
        self.assert_empty("hsbridge.a", "a later event was not acked")
        parked = self.mgmt.get(self.vhost, "hsbridge.a.parked", 50)
        self.assertEqual([m["body"] for m in parked], [FILLER] * fillers,
                         "the refused copy must not have been parked")
        self.assertEqual(len(self.rx.for_path("/a")), 1 + len(later), "one POST per event")

    def test_delivery_handed_back_by_a_reload_comes_back_and_no_other(self):
        first, _, later, _ = self._first_held_later_delivered()
        self.bridge.signal(signal.SIGHUP)
        self.bridge.wait_log("reload", outcome="applied", what="the reload applied")
        # Handed back unacked with the old session, delivered again to the
        # new one (the endpoint answers 200 now).
        self.wait_logged(n=1, event=first, outcome="delivered",
                         what="the first event delivered again after the reload")
        self.assertEqual(len(self.logs("delivery", event=first)), 2)
        self.assert_settled(["a"])
        posts = self.rx.for_path("/a")
        self.assertEqual(len(posts), 2 + len(later),
                         "the first event twice, every later one once: %r" % posts)


if __name__ == "__main__":
    unittest.main()
