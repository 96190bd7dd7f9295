#!/usr/bin/python3
"""`hsbridge status`.
A ctest entry of its own (integration_status); shared fixtures: hsb_cases.py.
"""

import os
import re
import sys
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import (  # noqa: E402
    BridgeCase, DELAYS, T_DELIVER, parse_status, status_numbers)
from hsb_harness import (  # noqa: E402
    Env, R, free_port, wait_until)


class StatusTests(BridgeCase):
    """`hsbridge status`: per subscription queue (ready, consumers) and parked count,
    the retry queues; real numbers from the broker."""

    def status(self, conf):
        cp = self.cli(conf, "status")
        self.assertEqual(cp.returncode, 0, "status failed: stdout=%r stderr=%r"
                         % (cp.stdout, cp.stderr))
        return cp.stdout

    def test_status_before_topology_reports_queues_missing_and_declares_nothing(self):
        conf = self.config([self.sub("a"), self.sub("b", active=False)],
                           delivery={"retry_delays": ["100ms", "1h"]})
        out = self.status(conf)
        got = parse_status(out)
        for name in ("hsbridge.a", "hsbridge.a.parked", "hsbridge.b", "hsbridge.b.parked",
                     "hsbridge.retry.100ms", "hsbridge.retry.1h"):
            with self.subTest(queue=name):
                self.assertIn(name, got, "status does not list %s:\n%s" % (name, out))
                self.assertIn("missing", got[name])
        self.assertEqual(self.mgmt.queues(self.vhost), [], "status must not declare queues")

    # test_status_broker_unavailable_exits_69: CliTests.test_broker_unavailable_exits_69

    def test_status_lists_unacked_and_orphans_from_the_management_api(self):
        mgmt = {"management_url": "http://127.0.0.1:%d" % Env.mgmt_port}
        a, b = self.hook("a", ["document.*"]), self.hook("b", ["document.*"])
        # hsbridge.b exists from an earlier config; this one has only a
        self.cli(self.config([a, b], delivery={"retry_delays": list(DELAYS)}, broker=mgmt),
                 "topology")
        self.rx.script("/a", [], default=R(200, sleep=30.0))
        self.start_bridge([a], broker=mgmt)
        eid, _, _ = self.publish_event("document.uploaded")
        self.rx.wait_count("/a", 1, T_DELIVER, "the slow delivery to be in flight")
        last = {}

        def shows_unacked():
            last["out"] = self.status(self.bridge.conf)
            return re.search(r"hsbridge\.a: 0 ready, 1 unacked, 1 consumers", last["out"])
        # the management API's statistics lag by several seconds
        wait_until(shows_unacked, 30, "status to show the delivery in flight as unacked",
                   interval=0.5, detail=lambda: last.get("out"))
        out = last["out"]
        self.assertRegex(out, r"(?m)^orphaned ")
        orphans = re.findall(r"(?m)^  orphan +(\S+):", out)
        self.assertEqual(sorted(orphans), ["hsbridge.b", "hsbridge.b.parked"])
        self.assertNotIn("did not answer", out)
        # still bound from the earlier config, nobody consumes it: the event waits there
        self.assertRegex(out, r"orphan +hsbridge\.b: 1 ready")

    def test_status_without_management_api_says_so_and_still_exits_0(self):
        conf = self.config([self.sub("a")],
                           broker={"management_url": "http://127.0.0.1:%d" % free_port()})
        self.cli(conf, "topology")
        out = self.status(conf)
        self.assertIn("0 ready, 0 consumers", out)
        self.assertRegex(out, r"no unacked counts or orphaned queues: the management API at "
                              r"http://127\.0\.0\.1:\d+ did not answer")

    def test_status_reflects_ready_consumers_parked_and_retry_waiting(self):
        a, b = self.hook("a", ["document.*"]), self.hook("b", ["#"], active=False)
        self.start_bridge([a, b], delivery={"retry_delays": ["100ms", "1h"]})
        # 2 parked at once (invalid payloads)
        for i in range(2):
            self.publish("document.uploaded", b"not json %d" % i, message_id="evt_bad%d" % i)
        # 1 waiting in hsbridge.retry.100ms then hsbridge.retry.1h (fails twice)
        self.rx.script("/a", [500, 500], default=200)
        eid, _, _ = self.publish_event("document.uploaded")
        # 3 waiting for the inactive subscription
        for i in range(3):
            self.publish("hsbridge.b", {"data": {}}, exchange="", message_id="evt_b%d" % i)
        self.wait_logged(1, event=eid, attempt=2, outcome="retry", next="1h")
        want = {"hsbridge.a": (0, 1), "hsbridge.a.parked": (2, None),
                "hsbridge.b": (3, 0), "hsbridge.b.parked": (0, None),
                "hsbridge.retry.100ms": (0, None), "hsbridge.retry.1h": (1, None)}
        last = {}

        def matches():
            out = self.status(self.bridge.conf)
            last["out"] = out
            got = parse_status(out)
            last["got"] = {k: status_numbers(got.get(k)) for k in want}
            return last["got"] == want
        wait_until(matches, 10, "status to show the real queue state %r" % (want,),
                   interval=0.2, detail=lambda: "last status output:\n%s\nparsed: %r"
                   % (last.get("out"), last.get("got")))
        self.assertRegex(last["out"], r"(?m)^a \(active\)")
        self.assertRegex(last["out"], r"(?m)^b \(inactive\)")
        self.assertEqual(self.rx.for_path("/b"), [])


if __name__ == "__main__":
    unittest.main()
