#!/usr/bin/python3
"""Reaching the broker: `run` waits for a broker that is not up yet, a login
the broker refuses is logged in the broker's words (no password), a host
that accepts TCP but never speaks AMQP fails within the connect bound, and
SIGTERM during a network partition exits within timeout_ms + 2 s. A test
owned TCP proxy stands between the bridge and the broker: it can appear
late, or freeze (forward nothing, close nothing) like a partition.
Shared fixtures: hsb_cases.py.
"""

import os
import select
import socket
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import (  # noqa: E402
    BridgeCase, T_DELIVER)
from hsb_harness import (  # noqa: E402
    BridgeProc, Env, R, q, rand_alnum)

CONNECT_BOUND = 2.0   # BRK_CONNECT_TIMEOUT_MS
BACKOFF_MAX = 5.0     # BRK_BACKOFF_MAX_MS
SLACK = 1.5           # process start, a loaded machine


class Proxy:
    """127.0.0.1:port -> the broker's AMQP port, one thread per direction.
    freeze() stops forwarding (sockets stay open: a partition, not a
    reset); start() may come after the bridge tried the port already."""

    def __init__(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self.frozen = threading.Event()
        self.closed = threading.Event()
        self.socks = []

    def start(self):
        self.lsock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self):
        while not self.closed.is_set():
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", Env.amqp_port))
            self.socks += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        while not self.closed.is_set():
            if self.frozen.is_set():
                time.sleep(0.05)
                continue
            r, _, _ = select.select([src], [], [], 0.05)
            if not r or self.frozen.is_set():
                continue
            try:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
            except OSError:
                break
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def freeze(self):
        self.frozen.set()

    def close(self):
        self.closed.set()
        for s in [self.lsock] + self.socks:
            try:
                s.close()
            except OSError:
                pass


class ConnectTests(BridgeCase):

    def proxy(self):
        p = Proxy()
        self.addCleanup(p.close)
        return p

    def url(self, port=None, user="guest", password="guest", vhost=None):
        return "amqp://%s:%s@127.0.0.1:%d/%s" % (user, password, port or Env.amqp_port,
                                                  vhost or self.vhost)

    def run_bridge(self, url, subs=None, delivery=None, name="bridge"):
        """Start `run` without waiting for "ready"."""
        d = {"timeout_ms": 1000}
        d.update(delivery or {})
        conf = self.config(subs or [self.hook("a", ["document.*"])], delivery=d,
                           broker={"url": url})
        self.bridge = BridgeProc(conf, self.tmp, name=name).start()
        return self.bridge

    def test_run_waits_for_a_broker_that_is_not_up_yet(self):
        p = self.proxy()    # bound, not listening: connections are refused
        self.run_bridge(self.url(p.port))
        self.wait_log("broker", n=2, what="two failed connects, each logged")
        self.assertTrue(self.bridge.running(), "run must not give up (exit 69) at start")
        p.start()
        self.bridge.wait_ready(timeout=T_DELIVER)
        eid, body, _ = self.publish_event("document.uploaded")
        self.wait_logged(1, event=eid, outcome="delivered")
        self.assertEqual(self.rx.for_path("/a")[0].body, body)

    def test_a_long_outage_is_retried_at_most_5_s_apart(self):
        # issue 6, 9: the backoff doubled to 30 s, so a broker back after
        # a long outage sat unused for up to 30 s. Seven failed connects
        # take the ceiling past 5 s (0.5, 1, 2, 4, then 8 and 16 before).
        p = self.proxy()
        self.run_bridge(self.url(p.port))
        self.wait_log("broker", n=7, timeout=7 * (BACKOFF_MAX + CONNECT_BOUND),
                      what="seven failed connects")
        p.start()
        t0 = time.monotonic()
        self.bridge.wait_ready(timeout=BACKOFF_MAX + CONNECT_BOUND + SLACK)
        self.assertLess(time.monotonic() - t0, BACKOFF_MAX + CONNECT_BOUND + SLACK)

    def login_error(self, url, password=None, name="bridge"):
        if password:
            self.secrets.append(password)
        self.run_bridge(url, name=name)
        line = self.wait_log("broker", n=1)[0][1]
        self.assertTrue(self.bridge.running(), "a refused login is retried")
        if password:
            self.assertNotIn(password, self.bridge.stderr_text())
        return line.get("error", "")

    def test_refused_logins_name_the_broker_reason_without_the_password(self):
        password = "pw-" + rand_alnum(16)
        wrong_pw = self.login_error(self.url(password=password), password)
        self.bridge.stop()
        self.old_bridges.append(self.bridge)
        vhost = "no-such-vhost-" + rand_alnum(6).lower()
        no_vhost = self.login_error(self.url(vhost=vhost), name="bridge2")
        self.assertIn("ACCESS_REFUSED", wrong_pw)
        self.assertIn("NOT_ALLOWED", no_vhost)
        self.assertIn(vhost, no_vhost)
        self.assertNotIn("socket error", wrong_pw + no_vhost)

    def test_a_password_found_in_the_redaction_mark_itself_is_redacted_once(self):
        # A password of "*" is part of "***": redacting it used to loop for
        # ever, writing past its buffer (the bridge died with SIGSEGV).
        user = "star-" + rand_alnum(6).lower()
        self.mgmt.req("PUT", "/users/" + user, {"password": "*", "tags": ""})
        self.addCleanup(self.mgmt.req, "DELETE", "/users/" + user)
        err = self.login_error(self.url(user=user, password="%2A", vhost="no%2Asuch"))
        self.assertIn("NOT_ALLOWED", err)
        self.assertIn("no***such", err)

    def test_silent_host_fails_within_the_connect_bound(self):
        silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)     # the kernel accepts; nobody ever speaks AMQP
        t0 = time.monotonic()
        self.run_bridge(self.url(silent.getsockname()[1]))
        line = self.wait_log("broker", n=1, timeout=CONNECT_BOUND + SLACK)[0][1]
        took = time.monotonic() - t0
        self.assertLess(took, CONNECT_BOUND + SLACK, line)
        self.assertIn("handshake", line.get("error", ""))

    def test_silent_tls_host_is_named_as_a_tls_handshake_that_did_not_come(self):
        silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)     # accepts TCP; no TLS ever
        self.run_bridge(self.url(silent.getsockname()[1]).replace("amqp://", "amqps://", 1))
        line = self.wait_log("broker", n=1, timeout=CONNECT_BOUND + SLACK)[0][1]
        self.assertIn("no TCP connection and TLS handshake within the connect timeout",
                      line.get("error", ""))

    def test_sigterm_during_a_partition_exits_within_bound(self):
        p = self.proxy().start()
        timeout_ms = 1000
        self.rx.script("/a", [R(200, sleep=0.3)], default=200)
        self.run_bridge(self.url(p.port), delivery={"timeout_ms": timeout_ms})
        self.bridge.wait_ready()
        eid, _, _ = self.publish_event("document.uploaded")
        self.wait_logged(1, event=eid, outcome="delivered")
        p.freeze()
        t0 = time.monotonic()
        rc = self.bridge.stop(timeout=90)
        took = time.monotonic() - t0
        self.assertEqual(rc, 0)
        self.assertLess(took, timeout_ms / 1000 + 2,
                        "SIGTERM took %.1fs with the broker unreachable" % took)

    def test_deleted_retry_exchange_costs_only_the_copy_connection(self):
        # a copy to a deleted exchange makes the broker close the publishing
        # channel: the copy connection is replaced, the topology declared
        # again and the copy published again; consuming goes on meanwhile
        self.rx.script("/a", [503], default=200)
        self.start_bridge([self.hook("a", ["document.*"])])
        self.mgmt.req("DELETE", "/exchanges/%s/hsbridge.retry.200ms" % q(self.vhost))
        eid, body, _ = self.publish_event("document.uploaded")
        lost = self.wait_log("connection lost", connection="copies")[0][1]
        self.assertIn("NOT_FOUND", lost.get("error", ""))
        self.wait_log("topology", outcome="declared again")
        self.wait_logged(1, event=eid, outcome="delivered")
        self.assertEqual([r.attempt for r in self.rx.for_path("/a")], [1, 2])
        self.assertEqual(self.logs("connection lost", connection=None), [],
                         "the consuming connection must stay up")
        self.assert_settled(["a"])


if __name__ == "__main__":
    unittest.main()
