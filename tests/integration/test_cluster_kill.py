"""On the 3-node cluster (scripts/cluster): the node leading hsbridge.<sub> is
killed -9 under load and started again 10 s later; and every queue the bridge
declares has its replicas on all three nodes.

Two bridges compete for one subscription, each with the node list in another
order; 3,000 events are published with confirms while the endpoint fails the
first attempt of a tenth of them (so retry copies are in flight). Then: every
confirmed event delivered with a 2xx at least once, duplicates counted and
printed, both bridges delivering again within 30 s of the kill, and every
event delivered within 60 s of it. The measured times are printed
(cluster-test: lines) and quoted in README "Running on a cluster".
"""

import time
import unittest

from hsb_cluster import ClusterCase, FlakyReceiver, Publisher, log
from hsb_harness import wait_until

CONSUMING_WITHIN = 30
DELIVERED_WITHIN = 60
RESTART_AFTER = 10
SUB = "load"
QUEUES = ["hsbridge.%s" % SUB, "hsbridge.%s.parked" % SUB, "hsbridge.retry.500ms",
          "hsbridge.retry.1s"]


class NodeKillTests(ClusterCase):

    def test_members_on_all_three_nodes(self):
        """Every quorum queue the bridge declares has a member on each node."""
        rx = FlakyReceiver()
        self.addCleanup(rx.stop)
        self.start_bridge("b1", [2, 3, 1], [self.sub(rx, SUB)])
        for q in QUEUES:
            self.assertEqual(self.cluster.members(self.vhost, q),
                             sorted(self.cluster.name.values()),
                             "members of quorum queue %s" % q)

    def test_leader_killed_under_load(self):
        rx = FlakyReceiver()
        self.addCleanup(rx.stop)
        subs = [self.sub(rx, SUB)]
        b1 = self.start_bridge("b1", [1, 2, 3], subs)
        b2 = self.start_bridge("b2", [3, 2, 1], subs)
        leader = self.cluster.leader(self.vhost, "hsbridge." + SUB)
        log("hsbridge.%s is led by node %d (%s)" % (SUB, leader, self.cluster.name[leader]))

        pub = Publisher(self.cluster, self.vhost, total=3000, rate=150.0)
        pub.avoid = {leader}
        pub.start()
        # Mid-stream, with retry copies in flight: a third delivered.
        wait_until(lambda: len(rx.delivered()) >= 1000 and len(rx.attempt1_failed) >= 50, 60,
                   "1000 events delivered and 50 first attempts failed before the kill",
                   interval=0.1)
        t_kill = time.time()
        self.cluster.kill(leader)
        log("killed node %d at %d delivered" % (leader, len(rx.delivered())))

        wait_until(lambda: time.time() >= t_kill + RESTART_AFTER, RESTART_AFTER + 1,
                   "the moment to restart the killed node")
        self.cluster.start_node(leader)
        t_back = time.time()
        log("node %d running again %.1f s after the kill" % (leader, t_back - t_kill))

        confirmed = pub.wait_done(120)
        self.assertEqual(len(confirmed), 3000, "confirmed events (failed chunks: %r)"
                         % (pub.failures,))
        last = self.assert_all_delivered(rx, confirmed, t_kill, DELIVERED_WITHIN, "the kill")

        again = {}
        for b in (b1, b2):
            t = wait_until(lambda: self.consuming_again(b, t_kill), 5,
                           "%s delivering again after the kill" % b.stderr_path)
            again[b] = t - t_kill
        both = max(again.values())
        wait_until(lambda: len(self.consumers("hsbridge." + SUB)) == 2, 10,
                   "two consumers on hsbridge.%s" % SUB, interval=0.2,
                   detail=lambda: self.consumers("hsbridge." + SUB))
        lost = set(confirmed) - set(rx.delivered())
        log("kill -9 of the leader: bridges delivering again after %s s (both: %.1f s); "
            "every confirmed event delivered %.1f s after the kill; %d lost, %d duplicates, "
            "%d first attempts failed (retried)" % (
                ", ".join("%.1f" % v for v in again.values()), both, last, len(lost),
                rx.duplicates(), len(rx.attempt1_failed)))
        self.assertEqual(lost, set())
        self.assertLessEqual(both, CONSUMING_WITHIN, "both bridges delivering again within "
                             "%d s of the kill" % CONSUMING_WITHIN)
        self.cluster.wait_online(self.vhost, QUEUES)


if __name__ == "__main__":
    unittest.main()
