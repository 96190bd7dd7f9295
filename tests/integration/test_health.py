#!/usr/bin/python3
"""/readyz through a broker outage (issue 8): stopping the RabbitMQ app
affects the whole node (every other test's connections, the management API),
so this area's ctest entry, integration_health, is RUN_SERIAL. Shared
fixtures: hsb_cases.py; the metrics helpers: test_metrics.py.
"""

import os
import sys
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import T_DELIVER  # noqa: E402
from hsb_harness import rabbitmqctl, wait_until  # noqa: E402
from test_metrics import METRICS, MetricsCase  # noqa: E402

T_OUTAGE = 60    # rabbitmqctl stop_app/start_app can take a while on a busy machine


class BrokerOutageTests(MetricsCase):
    def test_readyz_is_503_while_the_broker_is_stopped_and_200_after_reconnect(self):
        self.start_bridge([self.hook("a", ["document.*"])], metrics=METRICS)
        addr = self.addr()
        self.assertEqual(self.get("/readyz", addr=addr)[::2], (200, "ready\n"))
        _, m = self.scrape(addr)
        self.assertEqual(self.v(m, "hsbridge_broker_reconnects_total"), 0)
        self.addCleanup(rabbitmqctl, "start_app")
        rabbitmqctl("stop_app")
        wait_until(lambda: self.get("/readyz", addr=addr)[::2] ==
                   (503, "not ready: disconnected\n"), T_OUTAGE,
                   "/readyz to answer 503 while the broker is stopped", interval=0.2)
        # the loop turns on while it waits for the broker
        self.assertEqual(self.get("/healthz", addr=addr)[::2], (200, "ok\n"))
        _, m = self.scrape(addr)
        self.assertEqual(self.v(m, "hsbridge_broker_connected", connection="consuming"), 0)
        self.assertEqual(self.v(m, "hsbridge_ready"), 0)
        rabbitmqctl("start_app")
        wait_until(lambda: self.get("/readyz", addr=addr)[::2] == (200, "ready\n"), T_OUTAGE,
                   "/readyz to answer 200 after the reconnect", interval=0.2)
        _, m = self.scrape(addr)
        self.assertEqual(self.v(m, "hsbridge_broker_connected", connection="consuming"), 1)
        self.assertGreaterEqual(self.v(m, "hsbridge_broker_reconnects_total"), 1)
        self.assertEqual(self.v(m, "hsbridge_ready"), 1)
        # and it delivers again
        wait_until(lambda: self.mgmt.queue(self.vhost, "hsbridge.a") is not None, T_OUTAGE,
                   "the management API back after start_app", interval=0.5)
        self.publish_event("document.uploaded")
        self.wait_log("delivery", outcome="delivered", timeout=T_DELIVER)


if __name__ == "__main__":
    unittest.main()
