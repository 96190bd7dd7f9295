#!/usr/bin/python3
"""The per-subscription circuit breaker (issue 7): an endpoint outage loses
nothing and parks nothing; the breaker pauses the subscription's consumer and
resumes by itself. A ctest entry of its own (integration_breaker); shared
fixtures: hsb_cases.py. Delays and cool-downs are short (configured), and
every wait polls with a deadline.
"""

import json
import os
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import (  # noqa: E402
    DELAYS, ReloadCase, ResilienceCase, T_DELIVER, hdr_int, parse_status, status_numbers)
from hsb_harness import (  # noqa: E402
    R, Receiver, free_port, wait_stable, wait_until)

SCHEDULE_S = 0.2 + 0.3 + 0.4 + 0.5    # the whole retry schedule of DELAYS
OUTAGE_S = 3 * SCHEDULE_S
N_EVENTS = 300
FAILURES = 5
INFLIGHT = 4
FAST = {"failures": FAILURES, "cooldown": "300ms", "max_cooldown": "1s"}


def event_id(req):
    return json.loads(req.body)["id"]


class BreakerCase(ResilienceCase):
    def breaker_lines(self, sub, state=None, after=-1):
        match = {"sub": sub}
        if state:
            match["state"] = state
        return [o for _, o in self.logs("breaker", after, **match)]

    def wait_breaker(self, sub, state, n=1, after=-1, timeout=T_DELIVER):
        return self.wait_log("breaker", after=after, n=n, timeout=timeout, sub=sub, state=state,
                             what="%d breaker %s line(s) for %s" % (n, state, sub))

    def consumers_of(self, queue):
        """Consumers on queue from `hsbridge status` (AMQP passive declare:
        exact at once, unlike the management API's queue statistics)."""
        cp = self.cli(self.bridge.conf, "status")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        nums = status_numbers(parse_status(cp.stdout).get(queue))
        return nums[1] if nums else None

    def wait_consumers(self, queue, n):
        wait_until(lambda: self.consumers_of(queue) == n, T_DELIVER,
                   "%d consumer(s) on %s" % (n, queue),
                   detail=lambda: "status says %r" % (self.consumers_of(queue),))


class OutageTests(BreakerCase):
    """An endpoint down for 3x the whole retry schedule while 300 events are
    published: the breaker holds them in the queue; nothing parks."""

    def outage(self, refused, enabled=True):
        """Runs the outage; returns (event ids, attempts during the outage,
        outage end index in the log, the later Receiver or None)."""
        port = None
        if refused:
            port = free_port()    # bound, not listening: connection refused
            sub = self.sub("a", ["document.*"], url="http://127.0.0.1:%d/a" % port)
        else:
            self.rx.script("/a", [], default=R(503, body=b"down"))
            sub = self.hook("a", ["document.*"])
        self.start_bridge([sub], delivery={"max_in_flight": INFLIGHT},
                          breaker=dict(FAST, enabled=enabled))
        t0 = time.monotonic()
        ids = [self.publish_event("document.uploaded")[0] for _ in range(N_EVENTS)]
        # The outage itself lasts a fixed time: it is the scenario, not a wait.
        time.sleep(max(0.0, t0 + OUTAGE_S - time.monotonic()))
        if refused:
            up = Receiver(port=port)
            self.addCleanup(up.stop)
        else:
            up = None
            self.rx.script("/a", [], default=200)
        end = len(self.bridge.lines()) - 1
        return ids, up, end

    def attempts_during_outage(self, refused, up):
        """Requests the endpoint saw (or, refused, that the bridge tried)
        before it came back: every failed attempt of the run."""
        if refused:
            return len([o for o in self.bridge.deliveries() if o.get("status") == 0])
        return len([r for r in self.rx.for_path("/a") if r.status == 503])

    def check_outage(self, refused):
        ids, up, _ = self.outage(refused)
        rx = up or self.rx
        delivered = set()

        def all_delivered():
            delivered.update(event_id(r) for r in rx.for_path("/a") if r.status == 200)
            return set(ids) <= delivered
        wait_until(all_delivered, 60, "every event delivered after the outage",
                   detail=lambda: "%d of %d delivered" % (len(set(ids) & delivered), len(ids)))
        self.wait_breaker("a", "closed")
        lines = self.bridge.deliveries()
        self.assertEqual([o for o in lines if o.get("outcome") == "parked"], [],
                         "no event may park during an outage the breaker covers")
        # Every event's delivery id is the same on every attempt.
        per_event = {}
        for o in lines:
            per_event.setdefault(o["event"], set()).add(o["delivery"])
        for r in self.rx.for_path("/a"):
            per_event.setdefault(event_id(r), set()).add(r.delivery)
        self.assertEqual({e: d for e, d in per_event.items() if len(d) != 1}, {},
                         "a delivery id changed between attempts")
        attempts = self.attempts_during_outage(refused, up)
        opened = self.breaker_lines("a", "open")
        probes = len(self.breaker_lines("a", "half_open"))
        self.assertEqual(opened[0]["failures"], FAILURES)
        bound = FAILURES + INFLIGHT + probes
        self.assertLessEqual(attempts, bound,
                             "attempts during the outage: failures to trip + in flight at "
                             "trip time + one per probe (%d probes)" % probes)
        sys.stderr.write("\n[measure] outage (%s), breaker on: %d attempts during the outage "
                         "(bound %d, %d probes), %d events, 0 parked\n"
                         % ("refused" if refused else "503", attempts, bound, probes, len(ids)))
        self.assert_settled(["a"])
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [], "parked queue")

    def test_503_outage_loses_nothing_parks_nothing(self):
        self.check_outage(refused=False)

    def test_refused_outage_loses_nothing_parks_nothing(self):
        self.check_outage(refused=True)

    def test_without_the_breaker_the_same_outage_sends_far_more_requests(self):
        """Today's behaviour (breaker.enabled = false), for comparison: the
        same outage sends every event its attempts (with the real schedule of
        hours, each one parks once its five attempts are used up)."""
        ids, _, _ = self.outage(refused=False, enabled=False)

        def settled():
            final = {o["event"] for o in self.bridge.deliveries()
                     if o.get("outcome") in ("delivered", "parked")}
            return set(ids) <= final
        wait_until(settled, 60, "every event delivered or parked")
        parked = [o for o in self.bridge.deliveries() if o.get("outcome") == "parked"]
        attempts = self.attempts_during_outage(False, None)
        sys.stderr.write("\n[measure] outage (503), breaker off: %d requests during the "
                         "outage, %d of %d events parked\n" % (attempts, len(parked), len(ids)))
        # With the breaker on, the same outage stays within FAILURES +
        # INFLIGHT + one per probe (at most a few dozen here).
        self.assertGreater(attempts, 3 * (FAILURES + INFLIGHT + OUTAGE_S / 0.3))


class QuietTests(BreakerCase):
    """A quiet subscription: few events, so one event's attempts would run
    out before `failures` failures in a row open the breaker, and failed
    probes would spend the probing event's attempts. An endpoint failure
    that the breaker does not vouch against (breaker_spares) is not counted:
    nothing parks during an outage, only when the endpoint is up."""

    SLOW = ["1s", "1100ms", "1200ms", "1300ms"]

    def quiet_outage(self, n, delays, breaker, outage_s):
        """n events while the endpoint answers 503 for outage_s, then 200:
        every one delivered, none parked, each copy trusted, each event's
        attempts within the schedule. Returns the requests of the outage."""
        self.rx.script("/a", [], default=R(503, body=b"down"))
        self.start_bridge([self.hook("a", ["document.*"])],
                          delivery={"retry_delays": delays}, breaker=breaker)
        t0 = time.monotonic()
        ids = [self.publish_event("document.uploaded")[0] for _ in range(n)]
        # The outage itself lasts a fixed time: it is the scenario, not a wait.
        time.sleep(max(0.0, t0 + outage_s - time.monotonic()))
        self.rx.script("/a", [], default=200)
        during = [r for r in self.rx.for_path("/a") if r.status == 503]
        delivered = set()

        def all_delivered():
            delivered.update(event_id(r) for r in self.rx.for_path("/a") if r.status == 200)
            return set(ids) <= delivered
        wait_until(all_delivered, 30, "every event delivered after the outage",
                   detail=lambda: "%d of %d delivered; parked: %r" % (
                       len(set(ids) & delivered), len(ids),
                       [o for o in self.bridge.deliveries() if o.get("outcome") == "parked"]))
        self.assertEqual([o for o in self.bridge.deliveries() if o.get("outcome") == "parked"],
                         [], "no event may park while the endpoint is down")
        self.assertEqual(self.logs("bookkeeping ignored"), [], "every copy's mark verifies")
        self.assertLessEqual(max(r.attempt for r in self.rx.for_path("/a")), len(delays) + 1)
        for eid in ids:
            self.assertEqual(len({r.delivery for r in self.rx.for_path("/a")
                                  if event_id(r) == eid}), 1, "one delivery id per event")
        self.assert_settled(["a"], labels=delays)
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [], "parked queue")
        return during

    def test_an_events_schedule_runs_out_before_the_breaker_trips(self):
        """failures 10 (default), two events of five attempts each: the
        count reaches 10 only after both had their five."""
        during = self.quiet_outage(2, self.SLOW, {"cooldown": "2s", "max_cooldown": "2s"},
                                   3 * (1 + 1.1 + 1.2 + 1.3))
        self.assertGreaterEqual(len(during), 10, "the breaker tripped on the 10th failure")
        self.wait_breaker("a", "closed")

    def test_failed_probes_do_not_spend_attempts(self):
        """failures 1: every failure opens the breaker or is a failed probe,
        so no attempt counts; the event is delivered at attempt 1 (its
        X-HealthSync-Attempt repeats)."""
        during = self.quiet_outage(1, DELAYS, {"failures": 1, "cooldown": "300ms",
                                               "max_cooldown": "300ms"}, 3 * SCHEDULE_S)
        self.assertGreater(len(during), len(DELAYS) + 1, "more probes than the schedule")
        self.assertEqual({r.attempt for r in self.rx.for_path("/a")}, {1})

    def test_one_2xx_between_failures_does_not_make_a_last_attempt_count(self):
        """A single 2xx (a flap, or a closing probe's) before an event's last
        attempt fails again made that failure count, and the event parked
        although the endpoint never took it (review of issue 7)."""
        self.rx.script("/a", [], default=R(503, body=b"down"))
        self.start_bridge([self.hook("a", ["document.*"])], delivery={"retry_delays": DELAYS})
        x = self.publish_event("document.uploaded")[0]
        last = len(DELAYS) + 1
        idx, _ = self.wait_log("delivery", event=x, attempt=last, counted="no")[0]
        # one 2xx, to another event, before x comes back from its retry queue
        self.rx.script("/a", [200], default=R(503, body=b"down"))
        y = self.publish_event("document.uploaded")[0]
        self.wait_logged(1, event=y, outcome="delivered")
        self.wait_log("delivery", after=idx, event=x, attempt=last, counted="no")
        self.assertEqual([o for o in self.bridge.deliveries() if o.get("outcome") == "parked"],
                         [], "x parked after one 2xx to another event")
        self.rx.script("/a", [], default=200)
        self.wait_logged(1, event=x, outcome="delivered")
        self.assert_settled(["a"])

    def test_an_endpoint_that_is_up_but_refuses_one_event_parks_it_after_the_schedule(self):
        """Other events get 2xx between its attempts: the endpoint is up, so
        its five attempts count and it parks as retries_exhausted."""
        bad = "evt_refused_" + str(int(time.time() * 1000))
        ok_next = self.rx._next

        def answer(rec):
            if rec.path == "/a" and event_id(rec) == bad:
                return R(503, body=b"not this one")
            return ok_next(rec)
        self.rx._next = answer
        self.start_bridge([self.hook("a", ["document.*"])])
        stop = threading.Event()
        self.addCleanup(stop.set)

        def others():
            while not stop.wait(0.1):
                self.publish_event("document.uploaded")
        t = threading.Thread(target=others, daemon=True)
        t.start()
        self.addCleanup(t.join, 10)
        self.publish_event("document.uploaded", eid=bad)
        parked = self.wait_logged(1, event=bad, outcome="parked")[0]
        stop.set()
        t.join(10)
        self.assertEqual(parked["reason"], "retries_exhausted")
        self.assertEqual([r.attempt for r in self.rx.for_path("/a") if event_id(r) == bad],
                         [1, 2, 3, 4, 5], "exactly the schedule")
        self.assertEqual([o for o in self.bridge.deliveries(event=bad) if "counted" in o], [])
        copy = self.drain("hsbridge.a.parked", 1)[0]
        self.assertEqual(hdr_int(copy["properties"]["headers"]["hsbridge-attempts"]), 5)
        self.assertEqual(self.breaker_lines("a"), [])


class IsolationTests(BreakerCase):
    def test_one_endpoint_down_leaves_the_other_subscription_alone(self):
        self.rx.script("/a", [], default=503)
        self.start_bridge([self.hook("a", ["document.*"]), self.hook("b", ["share.*"])],
                          breaker={"failures": 3, "cooldown": "1m"})
        for _ in range(3):
            self.publish_event("document.uploaded")
        self.wait_breaker("a", "open")
        self.wait_consumers("hsbridge.a", 0)
        self.assertEqual(self.consumers_of("hsbridge.b"), 1)
        t0 = time.monotonic()
        ids = [self.publish_event("share.created")[0] for _ in range(30)]
        for eid in ids:
            self.wait_logged(1, event=eid, outcome="delivered")
        self.assertLess(time.monotonic() - t0, 10, "b's deliveries must go on at full rate")
        # The management API's view (it lags a little): b keeps its
        # consumer, a has none.
        def cons():
            return sorted(c["queue"]["name"] for c in self.mgmt.consumers(self.vhost))
        wait_until(lambda: cons() == ["hsbridge.b"], T_DELIVER,
                   "the management API listing b's consumer only", detail=cons)
        self.assertEqual(self.consumers_of("hsbridge.b"), 1)
        self.assertEqual(self.breaker_lines("b"), [])
        # a's events wait in its queue (Ready), none parked.
        self.assertEqual([o for o in self.bridge.deliveries(sub="a")
                          if o.get("outcome") == "parked"], [])


class StateTests(BreakerCase):
    def test_half_open_sends_exactly_one_probe_and_its_2xx_closes(self):
        probe_answer = threading.Event()
        self.addCleanup(probe_answer.set)
        self.rx.script("/a", [503, 503, 503, R(200, hold=probe_answer)], default=200)
        self.start_bridge([self.hook("a", ["document.*"])],
                          delivery={"max_in_flight": 4},
                          breaker={"failures": 3, "cooldown": "300ms"})
        ids = [self.publish_event("document.uploaded")[0] for _ in range(3)]
        idx, opened = self.wait_breaker("a", "open")[0]
        self.assertEqual((opened["failures"], opened["cooldown"]), (3, "300ms"))
        h_idx, _ = self.wait_breaker("a", "half_open", after=idx)[0]
        # The probe is in flight and held: nothing else goes out meanwhile
        # (an absence check: it can only pass wrongly, never fail wrongly).
        self.rx.wait_count("/a", 4, T_DELIVER, "the probe")
        wait_stable(lambda: len(self.rx.for_path("/a")) == 4, 1.0, T_DELIVER,
                    "no request beside the probe")
        self.assertEqual(self.breaker_lines("a", "closed"), [])
        probe_answer.set()
        _, closed = self.wait_breaker("a", "closed", after=h_idx)[0]
        self.assertIn("HTTP 200", closed["reason"])
        # every breaker line has the fields; closed names the
        # cool-down the next opening starts from
        self.assertEqual((closed["failures"], closed["cooldown"]), (0, "300ms"))
        for eid in ids:
            self.wait_logged(1, event=eid, outcome="delivered")
        self.assert_settled(["a"])

    def test_closing_restores_max_in_flight(self):
        self.rx.script("/a", [503, 503], default=200)
        self.start_bridge([self.hook("a", ["document.*"])],
                          delivery={"max_in_flight": 8},
                          breaker={"failures": 2, "cooldown": "200ms"})
        for _ in range(2):
            self.publish_event("document.uploaded")
        idx, _ = self.wait_breaker("a", "half_open")[0]
        cons = self.wait_log("consuming", after=idx, n=2, sub="a")
        self.assertEqual([o["max_in_flight"] for _, o in cons], [1, 8],
                         "one probe (prefetch 1), then max_in_flight again")
        self.wait_breaker("a", "closed")
        # Eight slow answers at once prove the prefetch is 8 again.
        self.rx.script("/a", [], default=R(200, sleep=1.0))
        n = len(self.rx.for_path("/a"))
        for _ in range(8):
            self.publish_event("document.uploaded")
        self.rx.wait_count("/a", n + 8, 3, "8 requests in flight at once (< one answer)")

    def test_half_open_failure_doubles_the_cooldown_up_to_the_max(self):
        self.rx.script("/a", [], default=503)
        self.start_bridge([self.hook("a", ["document.*"])],
                          delivery={"max_in_flight": 1, "retry_delays": ["200ms"] * 1},
                          breaker={"failures": 1, "cooldown": "200ms", "max_cooldown": "800ms"})
        for _ in range(6):
            self.publish_event("document.uploaded")
        opened = self.wait_breaker("a", "open", n=5, timeout=30)
        self.assertEqual([o["cooldown"] for _, o in opened[:5]],
                         ["200ms", "400ms", "800ms", "800ms", "800ms"])
        self.assertTrue(all("probe failed" in o["reason"] for _, o in opened[1:5]))
        # Each cool-down is waited out (jittered: 0.8 to 1.0 times it): no
        # request between an opening by a failed probe and the next
        # half-open, exactly one after it.
        halves = self.breaker_lines("a", "half_open")
        self.assertGreaterEqual(len(halves), 4)
        reqs = self.rx.for_path("/a")
        for _, o in opened[:5]:
            want_ms = {"200ms": 200, "400ms": 400, "800ms": 800}[o["cooldown"]]
            self.assertTrue(0.8 * want_ms - 1 <= o["probe_in_ms"] <= want_ms, o)
        for (_, o), h in zip(opened[1:4], halves[1:4]):
            gap = ts(h) - ts(o)
            want = {"400ms": 0.4, "800ms": 0.8}[o["cooldown"]]
            self.assertGreaterEqual(gap, 0.8 * want - 0.02, "half-open before the cool-down ended")
            self.assertEqual([r for r in reqs if ts(o) + 0.01 < r.t < ts(h) - 0.01], [],
                             "a request while the breaker was open")

    def test_410_opens_at_once_and_the_event_is_parked_gone(self):
        self.rx.script("/a", [410], default=200)
        self.start_bridge([self.hook("a", ["document.*"])],
                          breaker={"failures": 10, "cooldown": "500ms"})
        eid, _, _ = self.publish_event("document.uploaded")
        self.wait_logged(1, event=eid, outcome="parked", reason="gone")
        idx, opened = self.wait_breaker("a", "open")[0]
        self.assertEqual(opened["failures"], 1)
        self.assertIn("410", opened["reason"])
        parked = self.drain("hsbridge.a.parked", 1)
        self.assertEqual(parked[0]["properties"]["headers"]["hsbridge-parked-reason"], "gone")
        self.assertEqual(hdr_int(parked[0]["properties"]["headers"]["hsbridge-last-status"]), 410)
        # The next event waits for the cool-down, goes out as the probe and
        # closes the breaker.
        eid2, _, _ = self.publish_event("document.uploaded")
        h_idx, _ = self.wait_breaker("a", "half_open", after=idx)[0]
        self.wait_logged(1, event=eid2, outcome="delivered")
        self.wait_breaker("a", "closed", after=h_idx)
        self.assertEqual([event_id(r) for r in self.rx.for_path("/a")], [eid, eid2])

    def test_429_and_408_count_as_endpoint_failures_and_open_it(self):
        # issue 7: 429 and 408 are about the endpoint, like a 5xx; a 429
        # without Retry-After (the rate limit of issue 12) counted only in
        # a unit test
        for status in (429, 408):
            self.rx.script("/a", [status, status], default=200)
            self.start_bridge([self.hook("a", ["document.*"])],
                              breaker={"failures": 2, "cooldown": "300ms"})
            eid, _, _ = self.publish_event("document.uploaded")
            eid2, _, _ = self.publish_event("document.uploaded")
            idx, opened = self.wait_breaker("a", "open")[0]
            self.assertEqual(opened["failures"], 2, status)
            self.assertIn("HTTP %d" % status, opened["reason"])
            self.wait_breaker("a", "closed", after=idx)
            for e in (eid, eid2):
                self.wait_logged(1, event=e, outcome="delivered")

    def test_a_4xx_about_the_event_does_not_trip_it(self):
        self.rx.script("/a", [], default=400)
        self.start_bridge([self.hook("a", ["document.*"])],
                          delivery={"retry_delays": ["200ms"]}, breaker={"failures": 2})
        ids = [self.publish_event("document.uploaded")[0] for _ in range(4)]
        for eid in ids:
            self.wait_logged(1, event=eid, outcome="parked", reason="retries_exhausted")
        self.assertEqual(self.breaker_lines("a"), [])

    def test_disabled_is_todays_behaviour(self):
        self.rx.script("/a", [], default=503)
        self.start_bridge([self.hook("a", ["document.*"], breaker={"enabled": False})],
                          delivery={"retry_delays": ["200ms"]}, breaker={"failures": 1})
        ids = [self.publish_event("document.uploaded")[0] for _ in range(5)]
        for eid in ids:
            self.wait_logged(1, event=eid, outcome="parked", reason="retries_exhausted")
        self.assertEqual(self.breaker_lines("a"), [])
        self.assertEqual(len(self.rx.for_path("/a")), 10, "two attempts per event")


def ts(x):
    """A log line's or a request's time, seconds since the epoch."""
    if hasattr(x, "t"):
        return x.t
    import datetime
    return datetime.datetime.strptime(x["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class LifecycleTests(BreakerCase):
    def trip(self, failures, cooldown="1m"):
        self.rx.script("/a", [], default=503)
        self.start_bridge([self.hook("a", ["document.*"])],
                          delivery={"max_in_flight": 1, "timeout_ms": 1000},
                          breaker={"failures": failures, "cooldown": cooldown})
        for _ in range(failures + 3):
            self.publish_event("document.uploaded")
        self.wait_breaker("a", "open")
        self.wait_consumers("hsbridge.a", 0)

    def test_sigterm_while_open_exits_cleanly_and_a_restart_trips_again(self):
        self.trip(4)
        self.assertEqual(len(self.rx.for_path("/a")), 4, "exactly `failures` attempts")
        t0 = time.monotonic()
        rc = self.bridge.stop()
        self.assertEqual(rc, 0)
        self.assertLess(time.monotonic() - t0, 1.0 + 2.0, "timeout_ms + 2 s")
        self.assertEqual(self.logs("shutdown", phase="done")[0][1]["handed_back"], 0)
        # A new process starts closed and trips again within `failures`.
        n = len(self.rx.for_path("/a"))
        self.restart_bridge("bridge2")
        self.wait_breaker("a", "open")
        self.wait_consumers("hsbridge.a", 0)
        self.assertEqual(len(self.rx.for_path("/a")) - n, 4)
        self.assertEqual([o for o in self.bridge.deliveries() if o.get("outcome") == "parked"],
                         [])

    def test_a_reconnect_does_not_resume_an_open_subscription(self):
        self.trip(2)
        n = len(self.rx.for_path("/a"))
        conn = self.bridge_connection()
        self.mgmt.close_connection(conn)
        self.bridge_connection(exclude=(conn,))
        self.wait_log("ready", n=2, what="ready again after the reconnect")
        self.wait_breaker("a", "open", n=2)    # "still open"
        self.assertEqual(self.consumers_of("hsbridge.a"), 0)
        self.assertEqual(len(self.rx.for_path("/a")), n, "no request after the reconnect")


class ReloadTests(BreakerCase, ReloadCase):
    def test_sighup_keeps_the_breaker_of_an_unchanged_subscription(self):
        self.rx.script("/a", [], default=503)
        subs = [self.hook("a", ["document.*"]), self.hook("b", ["share.*"])]
        self.start_bridge(subs, delivery={"max_in_flight": 1},
                          breaker={"failures": 2, "cooldown": "1m"})
        for _ in range(3):
            self.publish_event("document.uploaded")
        self.wait_breaker("a", "open")
        n = len(self.rx.for_path("/a"))
        # b gains an event pattern; a is unchanged.
        subs[1]["events"] = ["share.*", "user.*"]
        self.DELIVERY = {"max_in_flight": 1, "retry_delays": list(DELAYS)}
        path = self.config(subs, delivery=self.DELIVERY,
                           breaker={"failures": 2, "cooldown": "1m"})
        self.assertEqual(path, self.bridge.conf)
        idx, _ = self.sighup("accepted")
        self.wait_log("ready", after=idx)
        self.assertEqual(self.consumers_of("hsbridge.a"), 0)
        self.assertEqual(self.consumers_of("hsbridge.b"), 1)
        eid, _, _ = self.publish_event("user.updated")
        self.wait_logged(1, event=eid, outcome="delivered")
        self.assertEqual(len(self.rx.for_path("/a")), n, "a stays paused across the reload")


    def test_sighup_shortens_the_cooldown_of_an_open_breaker(self):
        """A breaker open with a 1 h cool-down; the reload lowers
        max_cooldown to 300ms: the probe goes out within that, not in an
        hour."""
        self.rx.script("/a", [], default=503)
        subs = [self.hook("a", ["document.*"])]
        self.start_bridge(subs, breaker={"failures": 1, "cooldown": "1h"})
        eid, _, _ = self.publish_event("document.uploaded")
        self.wait_breaker("a", "open")
        self.rx.script("/a", [], default=200)
        self.DELIVERY = {"timeout_ms": 3000, "retry_delays": list(DELAYS)}
        self.config(subs, delivery=self.DELIVERY,
                    breaker={"failures": 1, "cooldown": "200ms", "max_cooldown": "300ms"})
        idx, _ = self.sighup("accepted")
        _, still = self.wait_breaker("a", "open", after=idx)[0]
        self.assertEqual(still["cooldown"], "300ms")
        self.assertLessEqual(still["cooldown_left_ms"], 300)
        self.wait_breaker("a", "closed", after=idx, timeout=5)
        self.wait_logged(1, event=eid, outcome="delivered")

    def test_closing_with_a_backlog_keeps_the_connection(self):
        """r9atk: the probe's 2xx closes the breaker while its ack is only
        recorded (acks are flushed after breakers_step): basic.cancel,
        basic.qos and basic.consume with the same consumer tag go out while
        the probe is still unacked, and with a backlog waiting RabbitMQ 3.10's
        channel crashes (function_clause in rabbit_channel:handle_deliver0):
        the broker closes the whole consuming connection (INTERNAL_ERROR),
        every subscription's in-flight deliveries are handed back and POSTed
        again. A breaker closing must not cost the session."""
        self.rx.script("/a", [503], default=200)
        self.start_bridge([self.hook("a", ["document.*"])],
                          delivery={"max_in_flight": 8},
                          breaker={"failures": 1, "cooldown": "300ms", "max_cooldown": "300ms"})
        self.publish_event("document.uploaded")
        self.wait_breaker("a", "open")
        for _ in range(40):
            self.publish_event("document.uploaded")
        self.wait_breaker("a", "closed")
        self.wait_log("delivery", n=41, outcome="delivered", timeout=30)
        lost = [o for _, o in self.logs("connection lost")]
        self.assertEqual(lost, [], "closing the breaker cost the consuming connection")
        self.assertEqual(len(self.rx.for_path("/a")), 42, "no event POSTed twice")


if __name__ == "__main__":
    unittest.main()
