#!/usr/bin/python3
"""broker.url lists through a node outage (issue 10): the node the bridge is
on stops (rabbitmqctl stop_app), the bridge goes through its list, the dead
node included, and ends on the node again once it is back. Stopping the app
affects every test on the node, so this area's ctest entry,
integration_node_loss, is RUN_SERIAL. The failover between live nodes
(proxies standing for nodes) is in test_nodes.py. Shared fixtures:
hsb_cases.py.
"""

import os
import sys
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import BridgeCase, T_DELIVER  # noqa: E402
from hsb_harness import Env, rabbitmqctl, rand_alnum, wait_until  # noqa: E402

T_OUTAGE = 60    # rabbitmqctl stop_app/start_app can take a while on a busy machine


class NodeLossTests(BridgeCase):
    def test_a_stopped_node_sends_the_bridge_through_its_list_and_back(self):
        pw = "pw-" + rand_alnum(16)
        self.secrets.append(pw)
        # the node listens on 127.0.0.1 only: 127.0.0.2 is a node that is down
        dead_node, live_node = ("127.0.0.2:%d" % Env.amqp_port, "127.0.0.1:%d" % Env.amqp_port)
        dead = "amqp://guest:%s@%s/%s" % (pw, dead_node, self.vhost)
        self.start_bridge([self.hook("a", ["document.*"])],
                          broker={"url": [dead, self.broker_url]})
        self.assertEqual(self.wait_log("ready")[0][1]["node"], live_node)
        self.addCleanup(rabbitmqctl, "start_app")
        rabbitmqctl("stop_app")
        idx, lost = self.wait_log("connection lost", connection=None, timeout=T_OUTAGE)[0]
        self.assertEqual(lost["node"], live_node)

        def tried():
            return {o.get("node") for _, o in self.logs("broker", after=idx, connection=None)}
        wait_until(lambda: tried() >= {dead_node, live_node}, T_OUTAGE,
                   "both nodes tried and failed while the node is down",
                   detail=lambda: sorted(map(str, tried())))
        self.assertTrue(self.bridge.running())
        mark = len(self.bridge.lines()) - 1
        rabbitmqctl("start_app")
        line = self.wait_log("ready", after=mark, timeout=T_OUTAGE)[0][1]
        self.assertEqual(line["node"], live_node)
        wait_until(lambda: self.mgmt.queue(self.vhost, "hsbridge.a") is not None, T_OUTAGE,
                   "the management API back after start_app", interval=0.5)
        eid, _, _ = self.publish_event("document.uploaded")
        self.wait_logged(1, event=eid, outcome="delivered")
        self.assertNotIn(pw, self.bridge.stderr_text())


if __name__ == "__main__":
    unittest.main()
