#!/usr/bin/python3
"""broker.url as a list of nodes (issue 10): `run` tries them in its own
shuffled order (logged as "nodes"), skips nodes that refuse or never speak
AMQP, follows a lost node to the next one and comes back when one returns;
commands take the first that answers. TCP proxies to the one test node
stand for the nodes of a cluster: closing one is a node going away. Also
the subscription queue's at-least-once dead-lettering: a queue declared by
hsbridge 0.1 stops the bridge with the way to move it, and a poison message
dead-lettered while its parked queue is missing is kept, not dropped.
Node-wide outages (rabbitmqctl stop_app) are in test_node_loss.py.
Shared fixtures: hsb_cases.py.
"""

import datetime
import json
import os
import socket
import sys
import threading
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import BridgeCase, T_DELIVER  # noqa: E402
from hsb_harness import BridgeProc, Env, q, rand_alnum, wait_until  # noqa: E402
from test_connect import Proxy  # noqa: E402


class NodeProxy(Proxy):
    """A proxy on a chosen port (0: any), so that a closed one can come back
    on its port like a restarted node."""

    def __init__(self, port=0):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.port = self.lsock.getsockname()[1]
        self.frozen = threading.Event()
        self.closed = threading.Event()
        self.socks = []

    def close(self):
        # a thread blocked in accept() keeps the socket listening after a
        # bare close(): shut it down first, so that the port is free again
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        super().close()


class NodeListTests(BridgeCase):

    def node(self, port=0):
        p = NodeProxy(port).start()
        self.addCleanup(p.close)
        return p

    def closed_port(self):
        """Bound, never listening: connects are refused at once."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

    def silent_port(self):
        """Accepts TCP, never speaks AMQP: fails at the connect bound (2 s)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        return s.getsockname()[1]

    def url(self, port, host="127.0.0.1", password="guest"):
        return "amqp://guest:%s@%s:%d/%s" % (password, host, port, q(self.vhost))

    def run_bridge(self, urls, subs=None, delivery=None):
        d = {"timeout_ms": 2000, "retry_delays": ["200ms"]}
        d.update(delivery or {})
        conf = self.config(subs or [self.hook("a", ["document.*"])], delivery=d,
                           broker={"url": urls})
        self.bridge = BridgeProc(conf, self.tmp).start()
        return self.bridge

    def order(self):
        line = self.wait_log("nodes", what='the "nodes" line with the order of tries')[0][1]
        return line["order"].split(", ")

    def ready_node(self, after=-1):
        idx, line = self.wait_log("ready", after=after, timeout=T_DELIVER)[0]
        return idx, line["node"]

    def deliver_one(self):
        eid, body, _ = self.publish_event("document.uploaded")
        self.wait_logged(1, event=eid, outcome="delivered")
        return eid

    def assert_copies_follow(self, node, after=-1):
        line = self.wait_log("connected", after=after, connection="copies")[0][1]
        self.assertEqual(line["node"], node, "the copy connection must start on the node "
                         "the consuming connection is on")

    def test_run_skips_dead_nodes_in_its_order_and_names_them_without_credentials(self):
        pw = "pw-" + rand_alnum(16)
        self.secrets.append(pw)
        refused, silent = self.closed_port(), self.silent_port()
        live = "127.0.0.1:%d" % Env.amqp_port
        names = {"127.0.0.1:%d" % refused: "refused", "127.0.0.1:%d" % silent: "handshake"}
        self.run_bridge([self.url(refused, password=pw), self.url(silent, password=pw),
                         self.url(Env.amqp_port)])
        order = self.order()
        self.assertEqual(sorted(order), sorted(list(names) + [live]))
        _, on = self.ready_node()
        self.assertEqual(on, live)
        # every node before the live one in this process's order was tried
        # once, in that order, and failed for its own reason
        before = order[:order.index(live)]
        fails = [o for _, o in self.logs("broker")]
        self.assertEqual([o.get("node") for o in fails], before, fails)
        for o in fails:
            self.assertIn(names[o["node"]], o["error"])
        self.assert_copies_follow(live)
        self.deliver_one()
        self.assertNotIn(pw, self.bridge.stderr_text())
        self.assertNotIn("guest:", self.bridge.stderr_text())

    def test_a_lost_node_moves_the_bridge_to_the_next_and_back(self):
        nodes = {}
        for _ in range(2):
            p = self.node()
            nodes["127.0.0.1:%d" % p.port] = p
        self.run_bridge([self.url(p.port) for p in nodes.values()])
        self.assertEqual(sorted(self.order()), sorted(nodes))
        idx, on = self.ready_node()
        self.assert_copies_follow(on)
        self.deliver_one()
        other = next(n for n in nodes if n != on)
        for _ in range(2):
            port = nodes[on].port
            nodes[on].close()
            lost = self.wait_log("connection lost", after=idx, connection=None)[0]
            self.assertEqual(lost[1]["node"], on)
            idx, now = self.ready_node(after=lost[0])
            self.assertEqual(now, other, "after losing %s the bridge must be on %s" % (on, other))
            self.assertEqual(self.logs("broker", after=lost[0]), [],
                             "the next node is tried first, the lost one last")
            self.assert_copies_follow(other, after=lost[0])
            self.deliver_one()
            # the lost node comes back; next round loses the other one
            nodes[on] = self.node(port)
            on, other = other, on

    def test_with_every_node_down_it_keeps_trying_and_takes_the_first_back(self):
        a, b = self.node(), self.node()
        names = ["127.0.0.1:%d" % a.port, "127.0.0.1:%d" % b.port]
        self.run_bridge([self.url(a.port), self.url(b.port)])
        idx, _ = self.ready_node()
        port_b = b.port
        a.close()
        b.close()
        # two full passes: each node tried and failed at least twice
        self.wait_log("broker", after=idx, n=4, timeout=30,
                      what="four failed tries with both nodes down")
        tried = [o.get("node") for _, o in self.logs("broker", after=idx)]
        self.assertEqual(sorted(set(tried)), sorted(names), tried)
        self.assertTrue(self.bridge.running())
        mark = len(self.bridge.lines()) - 1
        self.node(port_b)
        _, on = self.ready_node(after=mark)
        self.assertEqual(on, names[1])
        self.deliver_one()

    def test_commands_take_the_first_node_that_answers(self):
        # the node listens on 127.0.0.1 only: 127.0.0.2 is a dead node
        dead = self.url(Env.amqp_port, host="127.0.0.2", password="pw-" + rand_alnum(12))
        self.secrets.append(dead.split(":")[2].split("@")[0])
        conf = self.config([self.sub("a", ["document.*"])],
                           broker={"url": [dead, self.url(Env.amqp_port)]})
        cp = self.cli(conf, "topology")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("node 1 of 2 (127.0.0.2:%d)" % Env.amqp_port, cp.stderr)
        self.assertIsNotNone(self.mgmt.queue(self.vhost, "hsbridge.a"))
        cp = self.cli(conf, "publish", "document.uploaded", '{"data":{"object":{"id":"d1"}}}')
        self.assertEqual(cp.returncode, 0, cp.stderr)
        cp = self.cli(conf, "status", "--json")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        st = json.loads(cp.stdout)
        # the management API of the node that answered, not of the first listed
        self.assertEqual(st["management"]["url"], "http://127.0.0.1:15672")
        self.assertEqual(st["subscriptions"][0]["queue"]["ready"], 1)
        conf = self.config([self.sub("a")], broker={"url": [dead, self.url(self.closed_port())]})
        cp = self.cli(conf, "status")
        self.assertEqual(cp.returncode, 69, cp.stderr)
        self.assertIn("node 2 of 2 (127.0.0.1:", cp.stderr)
        self.assertIn("no node of broker.url answered", cp.stderr)

    def test_hostile_url_lists_are_config_errors_on_their_line(self):
        pw = "pw-" + rand_alnum(16)
        self.secrets.append(pw)
        sub = 'subscriptions = ( { name = "a"; url = "http://127.0.0.1:9/a"; ' \
              'allow_private_addresses = true; events = ["#"]; secret = "%s"; } );\n' % rand_alnum(24)
        cases = [
            ('broker: {\n  url = (\n    "amqp://h1",\n    5672,\n    "amqp://h3");\n};\n', 4,
             "broker.url element 2 must be a string"),
            ('broker: {\n  url = (\n    "amqp://h1",\n    "amqp://u:%s/x@h2:5672/v",\n'
             '    "amqp://h3");\n};\n' % pw, 4, "broker.url element 2 is not a valid AMQP URL"),
            ('broker: {\n  url = [\n    "amqp://h1",\n    "https://u:%s@h2/"];\n};\n' % pw, 4,
             "broker.url element 2 must start with amqp:// or amqps://"),
            ('broker: {\n  url = [];\n};\n', 2, "broker.url must list at least one URL"),
            ('broker: {\n  url = [\n    "amqps://u:%s@h1/",\n    "amqp://u:%s@h2/"];\n};\n'
             % (pw, pw), 4, "broker.url element 2: a list mixes amqp:// and amqps:// URLs"),
            ('broker: {\n  url = [\n    "amqp://u:%s@h1/",\n    "amqp://u:%s@h1/"];\n};\n'
             % (pw, pw), 4, "broker.url element 2 is the same URL as element 1"),
            ('broker: {\n  url = { host = "h1"; };\n};\n', 2,
             "broker.url must be a string or a list of strings"),
        ]
        for text, line, want in cases:
            with self.subTest(want=want):
                conf = self.write_conf(text + sub)
                for cmd in ("check", "run"):
                    cp = self.cli(conf, cmd)
                    self.assertEqual(cp.returncode, 78, cp.stderr)
                    self.assertIn("hsbridge.conf:%d: %s" % (line, want), cp.stderr)
                    self.assertNotIn(pw, cp.stderr + cp.stdout)


class AtLeastOnceTests(BridgeCase):

    OLD_ARGS = {"x-queue-type": "quorum", "x-delivery-limit": 20,
                "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "hsbridge.a.parked"}

    def test_a_queue_declared_by_0_1_stops_the_bridge_with_the_way_to_move_it(self):
        self.mgmt.declare_queue(self.vhost, "hsbridge.a", arguments=dict(self.OLD_ARGS))
        conf = self.config([self.hook("a", ["document.*"])])
        for cmd in ("topology", "run"):
            cp = self.cli(conf, cmd)
            self.assertEqual(cp.returncode, 78, "%s: %r" % (cmd, cp.stderr))
            text = self.error_text(cp.stderr)
            for part in ("queue hsbridge.a was declared by hsbridge 0.1",
                         "x-dead-letter-strategy", "x-overflow reject-publish",
                         "stop publishing", "drain",
                         # the test's own vhost: without -p, rabbitmqctl acts on "/"
                         "rabbitmqctl delete_queue -p '%s' hsbridge.a" % self.vhost,
                         "Upgrading from 0.1"):
                self.assertIn(part, text, cmd)
        self.assertEqual(self.mgmt.queue(self.vhost, "hsbridge.a")["arguments"], self.OLD_ARGS,
                         "the existing queue is left alone")
        # the README's way: the drained queue deleted, the bridge declares it again
        self.mgmt.delete_queue(self.vhost, "hsbridge.a")
        self.start_bridge([self.hook("a", ["document.*"])])
        args = self.mgmt.queue(self.vhost, "hsbridge.a")["arguments"]
        self.assertEqual(args.get("x-dead-letter-strategy"), "at-least-once")
        self.assertEqual(args.get("x-overflow"), "reject-publish")

    def test_a_queue_the_broker_refuses_after_a_reconnect_is_retried_with_backoff(self):
        # An operator swaps hsbridge.a for a classic queue under a running
        # bridge: each try then ends in PRECONDITION_FAILED. The bridge keeps
        # trying (a fix on the broker's side lets it in again), but with its
        # backoff, never in a tight connect/declare loop.
        self.start_bridge([self.hook("a", ["document.*"])])
        self.mgmt.delete_queue(self.vhost, "hsbridge.a")
        self.mgmt.declare_queue(self.vhost, "hsbridge.a", arguments={"x-queue-type": "classic"})
        tries = self.bridge.wait_log("reconnecting", n=4, timeout=30,
                                     what="four reconnect tries")
        stamps = [datetime.datetime.strptime(o["ts"], "%Y-%m-%dT%H:%M:%S.%fZ") for _, o in tries]
        gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:])]
        # the first backoff waits at least half of BRK_BACKOFF_MIN_MS (500)
        self.assertTrue(all(g >= 0.2 for g in gaps), gaps)
        self.mgmt.delete_queue(self.vhost, "hsbridge.a")
        self.bridge.wait_log("ready", after=tries[-1][0], timeout=T_DELIVER)
        eid, _, _ = self.publish_event("document.uploaded")
        self.wait_logged(1, event=eid, outcome="delivered")

    def test_a_poison_message_waits_for_its_missing_parked_queue(self):
        conf = self.config([self.sub("a", ["document.*"])], delivery={"delivery_limit": 1},
                           broker={"management_url": "http://127.0.0.1:%d" % Env.mgmt_port})
        cp = self.cli(conf, "topology")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.mgmt.delete_queue(self.vhost, "hsbridge.a.parked")
        eid, _, _ = self.publish_event("document.uploaded")
        # returned twice: over x-delivery-limit 1, RabbitMQ dead-letters it
        for n in range(2):
            got = wait_until(lambda: self.mgmt.reject_requeue(self.vhost, "hsbridge.a"), T_DELIVER,
                             "the event in hsbridge.a (return %d)" % (n + 1))
            self.assertEqual(got[0]["properties"].get("message_id"), eid)
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a", 5), [])
        # at-most-once would drop it here (no queue takes the dead letter);
        # at-least-once keeps it in hsbridge.a, counted as dead-lettered
        wait_until(lambda: (self.mgmt.queue(self.vhost, "hsbridge.a") or {})
                   .get("messages_dlx") == 1, 30,
                   "the dead-lettered event kept in hsbridge.a (messages_dlx 1)",
                   detail=lambda: self._qstate("hsbridge.a"))
        # status shows it: not Ready, not Unacked, yet in the queue
        cp = self.cli(conf, "status")
        self.assertIn("hsbridge.a: 0 ready, 0 unacked, 0 consumers, 1 being dead-lettered",
                      cp.stdout, cp.stdout + cp.stderr)
        cp = self.cli(conf, "status", "--json")
        sub = json.loads(cp.stdout)["subscriptions"][0]
        self.assertEqual(sub["queue"]["dead_lettering"], 1, sub)
        self.assertEqual(sub["parked"]["exists"], False, sub)
        cp = self.cli(conf, "topology")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        # RabbitMQ tries a dead letter with no queue again after
        # dead_letter_worker_publisher_confirm_timeout (3 min by default), or
        # at once when the queue's policies change: a harmless policy here
        self.mgmt.set_policy(self.vhost, "poke", r"^hsbridge\.a$",
                             {"queue-leader-locator": "client-local"})
        parked = self.drain("hsbridge.a.parked", 1, timeout=60)
        self.assertEqual(parked[0]["properties"].get("message_id"), eid)


if __name__ == "__main__":
    unittest.main()
