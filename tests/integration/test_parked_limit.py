#!/usr/bin/python3
"""parked_max_length: a parked queue with a length limit refuses copies when
full (x-overflow reject-publish); the bridge holds them, their originals
stay unacked, `status` and the log say so, and they go out once there is
room. A ctest entry of its own (integration_parked_limit); shared fixtures:
hsb_cases.py.
"""

import json
import os
import signal
import sys
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import BridgeCase, T_DELIVER, parse_status  # noqa: E402
from hsb_harness import Env, wait_until  # noqa: E402


class ParkedLimitTests(BridgeCase):

    def status(self):
        cp = self.cli(self.bridge.conf, "status")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return cp.stdout

    def parked_count(self):
        """The exact depth (AMQP passive declare) as `status` prints it."""
        text = parse_status(self.status()).get("hsbridge.pk.parked", "")
        return int(text.split()[0]) if text[:1].isdigit() else None

    def test_full_parked_queue_holds_the_copy_until_there_is_room(self):
        self.rx.script("/pk", default=410)
        # 410 parks every event; the breaker it would open is off here.
        self.start_bridge([self.hook("pk", parked_max_length=2, breaker={"enabled": False})],
                          broker={"management_url": "http://127.0.0.1:%d" % Env.mgmt_port})
        args = self.mgmt.queue(self.vhost, "hsbridge.pk.parked")["arguments"]
        self.assertEqual((args.get("x-max-length"), args.get("x-overflow")),
                         (2, "reject-publish"), args)
        # Quorum queues enforce the limit softly: they refuse once *over* it
        # (RabbitMQ 3.10: the third copy gets in), and a copy already on its
        # way may pass too. So park one event at a time until one is held.
        ids = self.hold_one("pk")
        refused = self.logs("copy refused", sub="pk")[0][1]
        self.assertIn("parked queue is full", refused["error"])
        self.assertEqual(refused["routing_key"], "hsbridge.pk.parked")
        held = refused["event"]
        self.assertEqual(held, ids[-1])
        depth = self.parked_count()
        self.assertGreater(depth, 2)

        # the original of the held copy is unacked; status says the limit is reached
        def reached_and_unacked():
            got = parse_status(self.status())
            return (got.get("hsbridge.pk.parked", "").startswith("%d (limit 2 reached" % depth)
                    and got.get("hsbridge.pk", "").startswith("0 ready, 1 unacked"), got)
        wait_until(lambda: reached_and_unacked()[0], T_DELIVER,
                   "status: parked limit reached and one original unacked",
                   detail=lambda: reached_and_unacked()[1])
        self.assertEqual(len(self.rx.for_path("/pk")), len(ids), "one POST per event")

        # make room: a quorum queue that refused takes copies again once it
        # is below 80% of its limit (here: 1 message), then the held copy
        # goes out and its original is acked
        taken = self.mgmt.get(self.vhost, "hsbridge.pk.parked", depth - 1)
        self.assertEqual(len(taken), depth - 1)
        wait_until(lambda: self.parked_count() == 2, T_DELIVER + 30,
                   "the held copy to reach the parked queue")
        self.assert_settled(["pk"])
        accepted = self.logs("copy accepted", sub="pk")
        self.assertEqual([l["event"] for _, l in accepted], [held], accepted)
        parked = self.drain("hsbridge.pk.parked", 2)
        got = {m["properties"]["message_id"] for m in parked}
        self.assertIn(held, got)
        self.assertEqual(got | {m["properties"]["message_id"] for m in taken}, set(ids))
        self.assertEqual(len(self.rx.for_path("/pk")), len(ids), "the held copy cost no POST")

    def hold_one(self, sub):
        """Park events of `sub` one at a time until a copy is refused;
        returns the ids published."""
        ids = []
        while not self.logs("copy refused", sub=sub):
            self.assertLess(len(ids), 6, "no copy was refused by a parked queue of limit 2")
            before = self.parked_count()
            ids.append(self.publish_event("document.uploaded")[0])
            wait_until(lambda: self.logs("copy refused", sub=sub, event=ids[-1])
                       or self.parked_count() == before + 1, T_DELIVER,
                       "event %d parked or held" % len(ids))
        return ids

    def test_reload_while_a_full_parked_queue_holds_a_copy_keeps_the_others_going(self):
        """A reload waited for the held copy: every consumer was cancelled
        until someone emptied the parked queue by hand (new-user review)."""
        self.rx.script("/pk", default=410)
        self.start_bridge([self.hook("pk", ["document.*"], parked_max_length=2,
                                     breaker={"enabled": False}),
                           self.hook("ok", ["share.*"])])
        ids = self.hold_one("pk")
        n = len(self.bridge.logs("reload"))
        self.bridge.signal(signal.SIGHUP)
        self.bridge.wait_log("reload", n=n + 1, timeout=T_DELIVER, what="the reload line")
        self.bridge.wait_log("ready", n=2, timeout=T_DELIVER,
                             what='"ready" again: the reload applied although a copy is held')
        back = self.logs("handed back", sub="pk")
        self.assertEqual([l["event"] for _, l in back], [ids[-1]], back)
        good = self.publish_event("share.created")[0]
        self.wait_logged(1, event=good, outcome="delivered")
        # the held event went back to its queue unacked and is not lost:
        # it is attempted again and held again (the parked queue is still full)
        wait_until(lambda: len(self.rx.for_path("/pk")) > len(ids), T_DELIVER,
                   "the handed-back event attempted again")
        self.assertEqual({json.loads(r.body)["id"] for r in self.rx.for_path("/pk")}, set(ids),
                         "only the published events reach /pk")

    def test_a_new_limit_on_an_existing_parked_queue_names_the_argument(self):
        conf = self.config([self.sub("pk")])
        cp = self.cli(conf, "topology")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertNotIn("x-max-length",
                         self.mgmt.queue(self.vhost, "hsbridge.pk.parked")["arguments"])
        conf = self.config([self.sub("pk", parked_max_length=5)])
        cp = self.cli(conf, "topology")
        self.assertEqual(cp.returncode, 78, cp.stderr)
        for part in ("queue hsbridge.pk.parked", "x-max-length", "policy"):
            self.assertIn(part, cp.stderr)
        # the global default applies as well, and so does the refusal
        conf = self.config([self.sub("pk")], delivery={"parked_max_length": 5})
        cp = self.cli(conf, "topology")
        self.assertEqual(cp.returncode, 78, cp.stderr)
        self.assertIn("x-max-length", cp.stderr)


if __name__ == "__main__":
    unittest.main()
