"""On the 3-node cluster (scripts/cluster): a rolling restart, all three nodes
stopped and started again one at a time, under load.

Two bridges with the node list in different orders, 3,000 events published
with confirms over the whole restart while the endpoint fails the first
attempt of a tenth of them. Before each node stops, every queue has all three
members online again. Then: every confirmed event delivered with a 2xx at
least once, duplicates counted and printed, both bridges delivering again
within 30 s of each stop, every event delivered within 60 s of the last stop.
"""

import time
import unittest

from hsb_cluster import ClusterCase, FlakyReceiver, Publisher, log
from hsb_harness import wait_until

CONSUMING_WITHIN = 30
DELIVERED_WITHIN = 60
SUB = "roll"
QUEUES = ["hsbridge.%s" % SUB, "hsbridge.%s.parked" % SUB, "hsbridge.retry.500ms",
          "hsbridge.retry.1s"]


class RollingRestartTests(ClusterCase):

    def test_rolling_restart_under_load(self):
        rx = FlakyReceiver()
        self.addCleanup(rx.stop)
        subs = [self.sub(rx, SUB)]
        bridges = [self.start_bridge("b1", [1, 2, 3], subs),
                   self.start_bridge("b2", [3, 1, 2], subs)]
        pub = Publisher(self.cluster, self.vhost, total=3000, rate=50.0)
        pub.start()
        wait_until(lambda: len(rx.delivered()) >= 300, 60, "300 events delivered first",
                   interval=0.1)
        worst = 0.0
        t_stop = None
        for i in self.cluster.idx:
            self.cluster.wait_online(self.vhost, QUEUES)
            pub.avoid = {i}
            t_stop = time.time()
            self.cluster.stop_node(i)
            t_down = time.time() - t_stop
            self.cluster.start_node(i)
            pub.avoid = set()
            again = [wait_until(lambda: self.consuming_again(b, t_stop), 5,
                                "%s delivering again after node %d stopped" % (b.stderr_path, i))
                     - t_stop for b in bridges]
            worst = max(worst, max(again))
            log("rolling restart, node %d: stopped in %.1f s, back after %.1f s; bridges "
                "delivering again after %s s" % (i, t_down, time.time() - t_stop,
                                                   ", ".join("%.1f" % a for a in again)))
        confirmed = pub.wait_done(120)
        self.assertEqual(len(confirmed), 3000, "confirmed events")
        last = self.assert_all_delivered(rx, confirmed, t_stop, DELIVERED_WITHIN,
                                         "the last node's stop")
        lost = set(confirmed) - set(rx.delivered())
        log("rolling restart: every confirmed event delivered %.1f s after the last stop; "
            "%d lost, %d duplicates, %d chunks republished (their node went down), "
            "slowest return to consuming %.1f s" % (
                last, len(lost), rx.duplicates(), len(pub.failures), worst))
        self.assertEqual(lost, set())
        self.assertLessEqual(worst, CONSUMING_WITHIN, "both bridges delivering again within "
                             "%d s of each stop" % CONSUMING_WITHIN)


if __name__ == "__main__":
    unittest.main()
