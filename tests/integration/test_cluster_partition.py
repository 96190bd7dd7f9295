"""On the 3-node cluster (scripts/cluster): a minority partition. The node a
bridge is connected to is cut off from the other two (scripts/cluster
partition: a wrong Erlang cookie for its peers, then disconnected).
cluster_partition_handling = pause_minority stops its rabbit app, which
closes its client connections: the bridge moves to a node of the majority
and goes on delivering. Every event that needs no retry is delivered while
the node is still cut off; retry copies may wait for the heal (RabbitMQ
3.10.8: an at-least-once dead-letter worker whose publish to hsbridge.<sub>
went to the cut-off member re-sends it there until the partition heals;
README "Running on a cluster"). After the heal, every confirmed event is
delivered within 30 s, none lost.
"""

import time
import unittest

from hsb_cluster import ClusterCase, FlakyReceiver, Publisher, log
from hsb_harness import wait_until

SUB = "part"
MOVED_WITHIN = 30
DELIVERED_WITHIN = 60
AFTER_HEAL_WITHIN = 30


class PartitionTests(ClusterCase):

    def test_bridge_moves_off_a_cut_off_node(self):
        rx = FlakyReceiver()
        self.addCleanup(rx.stop)
        b = self.start_bridge("b1", [1, 2, 3], [self.sub(rx, SUB)])
        cut = wait_until(self.bridge_nodes, 10, "the bridge's connection in the UI")[0]
        pub = Publisher(self.cluster, self.vhost, total=600, chunk=100, rate=60.0)
        pub.avoid = {cut}
        pub.start()
        wait_until(lambda: len(rx.delivered()) >= 150, 60, "150 events delivered first",
                   interval=0.1)
        t_cut = time.time()
        self.cluster.partition(cut)
        log("cut node %d (the bridge's) off from the other two" % cut)
        # pause_minority: the cut-off node stops serving clients.
        wait_until(lambda: "paused" in self.cluster.status_lines()[cut - 1], 30,
                   "scripts/cluster status to show node %d paused" % cut, interval=0.5)
        moved = wait_until(lambda: self.consuming_again(b, t_cut), MOVED_WITHIN,
                           "the bridge consuming again after the partition") - t_cut
        nodes = wait_until(self.bridge_nodes, 10, "the bridge's new connection in the UI")
        self.assertNotIn(cut, nodes, "the bridge is still connected to the cut-off node")
        confirmed = pub.wait_done(120)
        direct = [e for e in confirmed if not rx.fails(e)]
        last = self.assert_all_delivered(rx, direct, t_cut, DELIVERED_WITHIN, "the cut")
        # Retries in flight settle (or are stuck): no progress for 7 s, which
        # is more than the 500 ms delay plus the 5 s dead-letter resend.
        seen = {"n": -1, "t": time.time()}

        def settled():
            n = len(rx.delivered())
            if n != seen["n"]:
                seen["n"], seen["t"] = n, time.time()
            return all(e in rx.delivered() for e in confirmed) or time.time() - seen["t"] >= 7
        wait_until(settled, 60, "the retries during the partition to settle", interval=0.2)
        waiting = [e for e in confirmed if e not in rx.delivered()]
        log("minority partition: the bridge moved from node %d to node %d and consumed again "
            "%.1f s after the cut; every event needing no retry delivered %.1f s after it; "
            "%d retry copies stuck until the heal" % (cut, nodes[0], moved, last,
                                                           len(waiting)))
        t_heal = time.time()
        self.cluster.heal(cut)
        log("node %d running again %.1f s after the heal" % (cut, time.time() - t_heal))
        last = self.assert_all_delivered(rx, confirmed, t_heal, AFTER_HEAL_WITHIN, "the heal")
        lost = set(confirmed) - set(rx.delivered())
        log("minority partition: every confirmed event delivered %.1f s after the heal; "
            "%d lost, %d duplicates" % (max(0.0, last), len(lost), rx.duplicates()))
        self.assertEqual(lost, set())
        self.assertTrue(b.running())


if __name__ == "__main__":
    unittest.main()
