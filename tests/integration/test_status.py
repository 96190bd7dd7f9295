#!/usr/bin/python3
"""`hsbridge status`.
A ctest entry of its own (integration_status); shared fixtures: hsb_cases.py.
"""

import json
import os
import re
import sys
import threading
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import (  # noqa: E402
    BridgeCase, DELAYS, STATUS_LINE_RE, T_DELIVER, parse_status, status_numbers)
from hsb_harness import (  # noqa: E402
    Env, R, free_port, q, rand_alnum, wait_until)


def text_figures(out):
    """Every figure of `status` text: {"sub a": "active"|"inactive",
    queue name: "missing" or {figure: number, ...}, "management": bool}."""
    res = {"management": "no unacked counts or orphaned queues" not in out}
    for line in out.splitlines():
        m = re.match(r"^(\S+) \((active|inactive)\)$", line)
        if m:
            res["sub " + m.group(1)] = m.group(2)
            continue
        m = STATUS_LINE_RE.match(line)
        if not m:
            continue
        name, text = m.group(1), m.group(2)
        if "missing" in text:
            res[name] = "missing"
            continue
        figs = {k: int(v) for v, k in re.findall(r"(\d+) (ready|unacked|consumers)", text)}
        if not figs:
            figs["messages"] = int(re.match(r"^(\d+)", text).group(1))
        limit = re.search(r"\(limit (\d+)", text)
        if limit:
            figs["limit"] = int(limit.group(1))
            figs["limit_reached"] = "reached" in text
        res[name] = figs
    return res


def json_figures(doc):
    """The same from `status --json`."""
    res = {"management": doc["management"]["answered"]}

    def queue(qd, keys):
        if not qd["exists"]:
            return "missing"
        figs = {k: qd[k] for k in keys if qd.get(k) is not None}
        if qd.get("limit") is not None:
            figs["limit"] = qd["limit"]
            figs["limit_reached"] = qd["limit_reached"]
        return figs
    for s in doc["subscriptions"]:
        res["sub " + s["name"]] = "active" if s["active"] else "inactive"
        res[s["queue"]["name"]] = queue(s["queue"], ("ready", "unacked", "consumers"))
        res[s["parked"]["name"]] = queue(s["parked"], ("messages",))
    for r in doc["retry_queues"]:
        res[r["name"]] = queue(r, ("messages",))
    for o in doc["orphans"] or []:
        res[o["name"]] = {k: o[k] for k in ("ready", "unacked", "consumers")}
    return res


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

    def test_orphan_names_reach_the_terminal_escaped(self):
        """Any broker user may declare a queue under the prefix; its name
        must not carry terminal escape sequences to the operator's screen."""
        mgmt = {"management_url": "http://127.0.0.1:%d" % Env.mgmt_port}
        conf = self.config([self.sub("a")], broker=mgmt)
        self.cli(conf, "topology")
        self.mgmt.declare_queue(self.vhost, "hsbridge.esc\x1b[31mRED\x7f")
        last = {}

        def lists_it():
            last["out"] = self.status(conf)
            return "hsbridge.esc" in last["out"]
        wait_until(lists_it, 30, "status to list the orphan", interval=0.5,
                   detail=lambda: last.get("out"))
        self.assertNotIn("\x1b", last["out"])
        self.assertNotIn("\x7f", last["out"])
        self.assertIn("hsbridge.esc\\x1b[31mRED\\x7f", last["out"])

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


class StatusJsonTests(BridgeCase):
    """`hsbridge status --json`: the figures of `status`, as one JSON document."""

    def status(self, conf):
        cp = self.cli(conf, "status")
        self.assertEqual(cp.returncode, 0, "status failed: stdout=%r stderr=%r"
                         % (cp.stdout, cp.stderr))
        return cp.stdout

    def status_json(self, conf):
        cp = self.cli(conf, "status", "--json")
        self.assertEqual(cp.returncode, 0, "status --json failed: stdout=%r stderr=%r"
                         % (cp.stdout, cp.stderr))
        self.assertEqual(cp.stderr, "")
        return cp.stdout, json.loads(cp.stdout)

    def test_status_json_matches_status_figure_for_figure(self):
        release = threading.Event()
        try:
            self._status_json_matches_status(release)
        finally:
            release.set()   # before tearDown's SIGTERM, which would wait for the POST

    def _status_json_matches_status(self, release):
        mgmt = {"management_url": "http://127.0.0.1:%d" % Env.mgmt_port}
        # the first POST is answered only at the end of the test: 1 unacked
        # however long the management API's statistics take
        a = self.hook("a", ["document.*"], parked_max_length=2, timeout_ms=120000)
        b = self.hook("b", ["#"], active=False)
        # hsbridge.gone exists from an earlier config: an orphan
        self.cli(self.config([a, b, self.hook("gone", ["nothing.*"])],
                             delivery={"retry_delays": ["100ms", "1h"]}, broker=mgmt), "topology")
        self.rx.script("/a", [R(200, hold=release)], default=R(500))
        self.start_bridge([a, b], delivery={"retry_delays": ["100ms", "1h"]}, broker=mgmt)
        for i in range(2):      # parked at once: the parked queue's limit is reached
            self.publish("document.uploaded", b"not json %d" % i, message_id="evt_bad%d" % i)
        slow, _, _ = self.publish_event("document.uploaded")   # in flight: 1 unacked
        self.rx.wait_count("/a", 1, T_DELIVER, "the slow delivery to be in flight")
        failing, _, _ = self.publish_event("document.updated")  # waits in retry.1h
        for i in range(3):      # waiting for the inactive subscription
            self.publish("hsbridge.b", {"data": {}}, exchange="", message_id="evt_b%d" % i)
        self.publish("hsbridge.gone", {"data": {}}, exchange="", message_id="evt_gone")
        self.wait_logged(1, event=failing, attempt=2, next="1h")
        want = {"hsbridge.a": {"ready": 0, "unacked": 1, "consumers": 1},
                "hsbridge.a.parked": {"messages": 2, "limit": 2, "limit_reached": True},
                "hsbridge.b": {"ready": 3, "unacked": 0, "consumers": 0},
                "hsbridge.retry.1h": {"messages": 1},
                "hsbridge.gone": {"ready": 1, "unacked": 0, "consumers": 0}}
        last = {}

        def same():
            # the management API's statistics lag: text, JSON, text again,
            # until the two texts agree and show the state above
            t1 = self.status(self.bridge.conf)
            raw, doc = self.status_json(self.bridge.conf)
            t2 = self.status(self.bridge.conf)
            last.update(t1=t1, raw=raw, t2=t2)
            tf, jf = text_figures(t1), json_figures(doc)
            last.update(tf=tf, jf=jf)
            return t1 == t2 and all(tf.get(k) == v for k, v in want.items()) and (tf, jf)
        tf, jf = wait_until(same, 30, "status to settle on %r" % (want,), interval=0.5,
                            detail=lambda: "text:\n%(t1)s\njson:\n%(raw)s\n" % last)
        self.assertEqual(jf, tf, "status --json and status disagree:\n%(t1)s\n%(raw)s" % last)
        self.assertEqual(sorted(k for k in tf if k.startswith("hsbridge.")), sorted(
            ["hsbridge.a", "hsbridge.a.parked", "hsbridge.b", "hsbridge.b.parked",
             "hsbridge.retry.100ms", "hsbridge.retry.1h", "hsbridge.gone",
             "hsbridge.gone.parked"]))
        doc = json.loads(last["raw"])
        self.assertEqual(doc["management"], {"url": "http://127.0.0.1:%d" % Env.mgmt_port,
                                             "answered": True, "error": None})
        self.assertEqual([s["name"] for s in doc["subscriptions"]], ["a", "b"])
        self.assertEqual(doc["subscriptions"][1]["parked"]["limit"], None)
        release.set()
        self.wait_logged(1, event=slow, outcome="delivered")

    def test_status_json_before_topology_and_without_management_api(self):
        conf = self.config([self.sub("a")],
                           broker={"management_url": "http://127.0.0.1:%d" % free_port()})
        raw, doc = self.status_json(conf)
        self.assertEqual(doc["subscriptions"][0]["queue"],
                         {"name": "hsbridge.a", "exists": False, "ready": None,
                          "unacked": None, "consumers": None, "dead_lettering": None})
        self.assertIsNone(doc["orphans"], "orphans are unknown without the management API")
        self.assertFalse(doc["management"]["answered"])
        self.assertTrue(doc["management"]["error"])
        self.assertEqual(json_figures(doc), text_figures(self.status(conf)))

    def test_status_json_shows_no_password(self):
        user, password = "hsbit-" + rand_alnum(8).lower(), "pw-" + rand_alnum(20)
        self.secrets.append(password)
        self.mgmt.req("PUT", "/users/" + q(user), {"password": password, "tags": "management"})
        self.addCleanup(self.mgmt.req, "DELETE", "/users/" + q(user), None, (200, 204, 404))
        self.mgmt.req("PUT", "/permissions/%s/%s" % (q(self.vhost), q(user)),
                      {"configure": ".*", "write": ".*", "read": ".*"})
        url = "amqp://%s:%s@127.0.0.1:%d/%s" % (user, password, Env.amqp_port, self.vhost)
        mgmt_pw = "mgmt-pw-" + rand_alnum(20)
        self.secrets.append(mgmt_pw)
        for mgmt_url, answered in (
                ("http://127.0.0.1:%d" % Env.mgmt_port, True),
                # credentials in the URL of an API that does not answer
                ("http://%s:%s@127.0.0.1:%d/" % (user, mgmt_pw, free_port()), False)):
            with self.subTest(management_url=mgmt_url.replace(mgmt_pw, "<pw>")):
                conf = self.config([self.sub("a")], broker={"url": url,
                                                            "management_url": mgmt_url})
                self.cli(conf, "topology")
                raw, doc = self.status_json(conf)     # self.cli checks both secrets
                self.assertNotIn(password, raw)
                self.assertNotIn(mgmt_pw, raw)
                self.assertEqual(doc["management"]["answered"], answered, raw)
                self.assertNotIn("@", doc["management"]["url"])
                self.assertEqual(doc["subscriptions"][0]["queue"]["ready"], 0)


if __name__ == "__main__":
    unittest.main()
