"""On the 3-node cluster (scripts/cluster): retry copies waiting in
hsbridge.retry.<delay> survive the loss of a node and come back into
hsbridge.<sub> on time.

- The retry queue's leader is killed while the copies wait in it: a new
  leader expires them and its dead-letter worker moves them on.
- hsbridge.<sub>'s leader is killed while the copies are being dead-lettered
  into it: the dead-letter worker (at-least-once) had published some of them
  to the lost leader and waits for confirms that never come; it sends them
  again after rabbit's dead_letter_worker_publisher_confirm_timeout, 180 s by
  default, which scripts/cluster sets to 5 s (README "Running on a cluster").
  With the default this test fails: the copies sit as "messages, 0 ready"
  in the retry queue for three minutes.
"""

import time
import unittest

from hsb_cluster import ClusterCase, FlakyReceiver, Publisher, log
from hsb_harness import wait_until

SUB = "rt"
DELAY = "3s"
RETRY_Q = "hsbridge.retry." + DELAY
SUB_Q = "hsbridge." + SUB
# Every first attempt fails here: the breaker would stop consuming.
NO_BREAKER = {"enabled": False}


class RetryCopyTests(ClusterCase):

    def setUp(self):
        super().setUp()
        self.rx = FlakyReceiver(fail_all_first=True)
        self.addCleanup(self.rx.stop)

    def second_attempts(self):
        with self.rx.lock:
            return set(self.rx.ok)

    def transfer_leadership(self, queue, to):
        """Move a quorum queue's leader to node `to` (ra:transfer_leadership)."""
        src = self.cluster.leader(self.vhost, queue)
        if src == to:
            return
        self.cluster.run("ctl", str(src), "eval", (
            '{ok, Q} = rabbit_amqqueue:lookup(rabbit_misc:r(<<"%s">>, queue, <<"%s">>)), '
            '{Ra, L} = amqqueue:get_pid(Q), '
            "ra:transfer_leadership({Ra, L}, {Ra, '%s'})." % (
                self.vhost, queue, self.cluster.name[to])))
        wait_until(lambda: self.cluster.leader(self.vhost, queue) == to, 20,
                   "%s led by node %d" % (queue, to), interval=0.2)

    def placed(self):
        """Start the bridge; put hsbridge.retry.<delay>'s leader and
        hsbridge.<sub>'s leader on the two nodes the bridge is not connected
        to (so that killing either leaves the bridge's connection alone).
        Returns (bridge, retry queue's leader, hsbridge.<sub>'s leader)."""
        b = self.start_bridge("b1", [1, 2, 3], [self.sub(self.rx, SUB)], delays=(DELAY,),
                              breaker=NO_BREAKER)
        nodes = wait_until(self.bridge_nodes, 10, "the bridge's connection in the UI")
        rest = [i for i in self.cluster.idx if i not in nodes]
        self.transfer_leadership(RETRY_Q, rest[0])
        self.transfer_leadership(SUB_Q, rest[1])
        log("bridge on node %d, %s led by node %d, %s by node %d"
            % (nodes[0], RETRY_Q, rest[0], SUB_Q, rest[1]))
        return b, rest[0], rest[1]

    def test_copies_survive_the_retry_queues_leader(self):
        b, rleader, target = self.placed()
        pub = Publisher(self.cluster, self.vhost, total=40, chunk=40, rate=1000.0)
        pub.avoid = {rleader}
        pub.start()
        ids = pub.wait_done(30)
        wait_until(lambda: len(self.rx.attempt1_failed) >= 40, 20,
                   "40 first attempts failed (copies in %s)" % RETRY_Q, interval=0.1)
        t_kill = time.time()
        self.cluster.kill(rleader)
        log("killed node %d (leader of %s) with 40 copies waiting" % (rleader, RETRY_Q))
        last = self.assert_all_delivered(self.rx, ids, t_kill, 20, "the kill")
        log("retry queue leader lost: every copy delivered %.1f s after the kill (delay %s)"
            % (last, DELAY))
        self.assertTrue(b.running())

    def test_dead_letters_resent_after_the_target_leader_is_lost(self):
        b, rleader, target = self.placed()
        # A stream of copies: they expire from the retry queue over ~5 s.
        pub = Publisher(self.cluster, self.vhost, total=200, chunk=200, rate=40.0)
        pub.avoid = {target}
        pub.start()
        # Kill the target's leader once copies have started to come back.
        wait_until(lambda: len(self.second_attempts()) >= 20, 30,
                   "20 retry copies delivered", interval=0.05)
        t_kill = time.time()
        self.cluster.kill(target)
        log("killed node %d (leader of %s) while copies were dead-lettered into it"
            % (target, SUB_Q))
        ids = pub.wait_done(60)
        stuck = self.cluster.any_mgmt().queue(self.vhost, RETRY_Q)
        within = self.cluster.dlx_timeout_ms / 1000.0 + 20
        try:
            last = self.assert_all_delivered(self.rx, ids, t_kill, within, "the kill")
        finally:
            q = self.cluster.any_mgmt().queue(self.vhost, RETRY_Q) or {}
            log("%s after the kill: messages %s, ready %s (earlier: %s/%s); confirm timeout "
                "%d ms" % (RETRY_Q, q.get("messages"), q.get("messages_ready"),
                           (stuck or {}).get("messages"), (stuck or {}).get("messages_ready"),
                           self.cluster.dlx_timeout_ms))
        log("target leader lost while dead-lettering: every copy delivered %.1f s after the "
            "kill" % last)
        self.assertTrue(b.running())


if __name__ == "__main__":
    unittest.main()
