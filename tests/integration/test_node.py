#!/usr/bin/python3
"""Tests that change something node-wide, so nothing may run beside them: a
memory alarm (rabbitmqctl set_vm_memory_high_watermark) blocks every
publishing connection of the node, other tests' bridges and management-API
publishes included. Its ctest entry, integration_node, is RUN_SERIAL.
Shared fixtures: hsb_cases.py.
"""

import os
import sys
import threading
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import (  # noqa: E402
    ResilienceCase, T_DELIVER)
from hsb_harness import (  # noqa: E402
    R, rabbitmqctl)


class BlockedConnectionTests(ResilienceCase):
    """A memory alarm blocks publishing connections: the bridge hears
    connection.blocked, holds its copies instead of writing into a socket the
    broker no longer reads, and goes on once unblocked. Nothing is lost."""

    def test_copies_wait_while_blocked_and_flow_once_unblocked(self):
        # attempt 1 fails, but only once the alarm is on (rabbitmqctl can take
        # seconds on a busy machine): its retry copy meets a blocked broker
        alarm_on = threading.Event()
        self.addCleanup(alarm_on.set)
        self.rx.script("/a", [R(500, hold=alarm_on)], default=200)
        self.start_bridge([self.hook("a", ["document.*"], timeout_ms=60000)])
        eid, body, ts = self.publish_event("document.uploaded")
        self.rx.wait_count("/a", 1, T_DELIVER, "attempt 1 to be in flight")
        self.addCleanup(rabbitmqctl, "set_vm_memory_high_watermark", "0.4")
        rabbitmqctl("set_vm_memory_high_watermark", "0.0001")
        alarm_on.set()
        self.wait_log("blocked", n=1)
        self.assertEqual(len(self.rx.for_path("/a")), 1, "no retry while the broker is blocked")
        rabbitmqctl("set_vm_memory_high_watermark", "0.4")
        self.wait_log("unblocked", n=1)
        self.wait_log("delivery", n=1, event=eid, outcome="delivered")
        self.assertEqual([r.attempt for r in self.rx.for_path("/a")], [1, 2])
        self.assertEqual(self.logs("connection lost"), [])
        self.assert_settled(["a"])


if __name__ == "__main__":
    unittest.main()
