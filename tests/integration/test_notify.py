#!/usr/bin/python3
"""systemd notify (sd_notify's protocol): each test binds its own AF_UNIX
datagram socket, as systemd does, starts `hsbridge run` with NOTIFY_SOCKET
(and WATCHDOG_USEC / WATCHDOG_PID) pointing at it, and reads what arrives:
READY=1 once consuming, RELOADING=1 + MONOTONIC_USEC then READY=1 around a
SIGHUP (applied or rejected), STOPPING=1 at SIGTERM, STATUS= lines, and
WATCHDOG=1 at half the interval, also while the broker is unavailable.
A ctest entry of its own (integration_notify); shared fixtures: hsb_cases.py.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import (  # noqa: E402
    ReloadCase, T_DELIVER)
from hsb_harness import (  # noqa: E402
    BridgeProc, Env, R, clean_env, rand_alnum, render_config, wait_until)

# Message lines that change systemd's idea of the service's state.
STATE_LINES = ("READY=1", "RELOADING=1", "STOPPING=1")


class NotifySocket:
    """systemd's end: a bound AF_UNIX datagram socket (a path, or an abstract
    name) and a thread that records every datagram with its arrival time."""

    def __init__(self, path=None, abstract=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            self.sock.bind("\0" + abstract)
            self.env = "@" + abstract
        else:
            self.sock.bind(path)
            self.env = path
        self.sock.settimeout(0.05)
        self.got = []      # [(time.monotonic(), [line, ...])]
        self.lock = threading.Lock()
        self.closed = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while not self.closed.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.got.append((time.monotonic(), data.decode("utf-8").split("\n")))

    def close(self):
        self.closed.set()
        self.sock.close()

    def lines(self):
        """[(arrival, line)] of every datagram's lines, in order."""
        with self.lock:
            return [(t, l) for t, ls in self.got for l in ls]

    def states(self):
        return [l for _, l in self.lines() if l in STATE_LINES]

    def statuses(self):
        return [l[len("STATUS="):] for _, l in self.lines() if l.startswith("STATUS=")]

    def wait_line(self, pred, after=0, n=1, timeout=T_DELIVER, what=None):
        """Wait for n lines matching pred at index >= after in lines();
        returns [(index, arrival, line)]."""
        def found():
            got = [(i, t, l) for i, (t, l) in enumerate(self.lines()) if i >= after and pred(l)]
            return got if len(got) >= n else None
        return wait_until(found, timeout, what or "%d notify line(s)" % n,
                          detail=lambda: "received so far: %r" % self.got)

    def wait_exact(self, line, after=0, n=1, timeout=T_DELIVER):
        return self.wait_line(lambda l: l == line, after, n, timeout, what=repr(line))


class NotifyBridge(BridgeProc):
    """`hsbridge run` with extra environment variables, optionally started
    through `sh -c 'WATCHDOG_PID=$$ exec ...'` (as systemd sets it: the PID
    of the process that execs hsbridge is hsbridge's)."""

    def __init__(self, conf, workdir, env, own_pid=False, name="bridge"):
        super().__init__(conf, workdir, name=name)
        self.extra = env
        self.own_pid = own_pid

    def start(self, args=("run",)):
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        argv = [Env.bin, "-c", self.conf] + list(args)
        if self.own_pid:
            argv = ["/bin/sh", "-c", 'WATCHDOG_PID=$$ exec "$@"', "sh"] + argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=self._err, env=clean_env(self.extra),
                                     start_new_session=True)
        return self


def mono_us():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class NotifyTests(ReloadCase):

    def notify_socket(self, abstract=False):
        if abstract:
            ns = NotifySocket(abstract="hsbit-notify-" + rand_alnum(12))
        else:
            ns = NotifySocket(path=os.path.join(self.tmp, "notify.sock"))
        self.addCleanup(ns.close)
        return ns

    def run_bridge(self, subs, ns, env=None, own_pid=False, broker=None, breaker=None):
        """Write the config and start `run` with NOTIFY_SOCKET; no waiting."""
        conf = self.config(subs, delivery=dict(self.DELIVERY), broker=broker, breaker=breaker)
        e = {"NOTIFY_SOCKET": ns.env}
        e.update(env or {})
        self.bridge = NotifyBridge(conf, self.tmp, e, own_pid=own_pid).start()
        return self.bridge

    def wait_ready_line(self, ns, after=0):
        """READY=1 at or after index after; the "ready" log line (consumers
        started) must be written by then. Returns the index of READY=1."""
        i, _, _ = ns.wait_exact("READY=1", after)[0]
        self.assertTrue(self.logs("ready"), 'READY=1 before the "ready" log line: %r'
                        % self.bridge.lines())
        return i

    def test_ready_reloading_ready_stopping_in_order(self):
        ns = self.notify_socket()
        self.rx.script("/a", [R(200, sleep=1.5)], default=200)   # within timeout_ms
        a = self.hook("a", ["document.*"])
        self.run_bridge([a], ns)
        i = self.wait_ready_line(ns)
        self.assertEqual(ns.lines()[i + 1][1], "STATUS=consuming 1 subscription, 0 in flight",
                         "READY=1 comes with the summary")
        # a slow delivery shows in the summary while it is in flight
        eid, _, _ = self.publish_event("document.uploaded")
        ns.wait_exact("STATUS=consuming 1 subscription, 1 in flight")
        self.wait_logged(1, event=eid, outcome="delivered")
        ns.wait_line(lambda l: l == "STATUS=consuming 1 subscription, 0 in flight", after=i + 2)

        self.rewrite([a, self.hook("b", ["analysis.*"])])
        t0 = mono_us()
        idx, _ = self.sighup("accepted")
        j, arrived, _ = ns.wait_exact("RELOADING=1")[0]
        t1 = mono_us()
        usec = [l for _, l in ns.lines()[j:j + 3] if l.startswith("MONOTONIC_USEC=")]
        self.assertEqual(len(usec), 1, "RELOADING=1 without MONOTONIC_USEC: %r" % ns.got)
        self.assertTrue(t0 <= int(usec[0].split("=", 1)[1]) <= t1,
                        "MONOTONIC_USEC=%s is not the CLOCK_MONOTONIC time of the SIGHUP "
                        "(between %d and %d)" % (usec[0], t0, t1))
        k = ns.wait_exact("READY=1", after=j)[0][0]
        self.assertTrue(self.logs("reload", outcome="applied"),
                        "READY=1 after RELOADING=1 before the reload was applied")
        self.assertEqual(ns.lines()[k + 1][1], "STATUS=consuming 2 subscriptions, 0 in flight")

        self.assertEqual(self.bridge.stop(), 0)
        ns.wait_exact("STOPPING=1", after=k)
        self.assertEqual(ns.states(), ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"])
        statuses = ns.statuses()
        self.assertIn("reloading the config", statuses)
        self.assertEqual(statuses[-1], "stopping")
        for s in statuses:
            self.assertNotIn("\n", s)

    def test_a_rejected_reload_still_gets_ready_back(self):
        ns = self.notify_socket()
        a = self.hook("a", ["document.*"])
        self.run_bridge([a], ns)
        i = self.wait_ready_line(ns)
        # 1. a file that does not validate: rejected at once
        bad = dict(a, max_in_flihgt=4)
        self.rewrite(None, text=render_config({"url": self.broker_url}, [bad],
                                              delivery=dict(self.DELIVERY)))
        self.sighup("rejected")
        j = ns.wait_exact("RELOADING=1", after=i)[0][0]
        k = ns.wait_exact("READY=1", after=j)[0][0]
        # 2. a valid file whose queue the broker refuses (another delivery_limit):
        # rejected after the drain, the old config reconnects
        self.config([a], delivery=dict(self.DELIVERY, delivery_limit=5))
        n = len(self.logs("reload"))
        self.bridge.signal(signal.SIGHUP)
        l1 = ns.wait_exact("RELOADING=1", after=k)[0][0]
        ns.wait_exact("READY=1", after=l1)
        reloads = [o.get("outcome", "") for _, o in self.logs("reload")][n:]
        self.assertTrue(any(o.startswith("rejected") for o in reloads), reloads)
        self.assertEqual(ns.states(), ["READY=1", "RELOADING=1", "READY=1",
                                       "RELOADING=1", "READY=1"])
        # still consuming with the old config
        eid, _, _ = self.publish_event("document.uploaded")
        self.wait_logged(1, event=eid, outcome="delivered")

    def test_broker_unavailable_at_start_ready_only_once_consuming_watchdog_meanwhile(self):
        ns = self.notify_socket()
        watchdog_us = 2000000
        # the vhost does not exist yet: the broker refuses the login, the
        # bridge retries, as for a broker that is not up
        vhost = "hsbit-notify-late-" + rand_alnum(6).lower()
        url = "amqp://guest:guest@127.0.0.1:%d/%s" % (Env.amqp_port, vhost)
        self.addCleanup(self.mgmt.delete_vhost, vhost)
        self.run_bridge([self.hook("a", ["document.*"])], ns, broker={"url": url},
                        env={"WATCHDOG_USEC": str(watchdog_us)})
        ns.wait_exact("STATUS=broker unavailable, retrying")
        ns.wait_exact("WATCHDOG=1", n=3)
        self.assertEqual(ns.states(), [], "READY=1 before the bridge consumes")
        self.assertTrue(self.bridge.running())
        self.assertEqual(self.logs("ready"), [])

        self.mgmt.create_vhost(vhost)
        i = self.wait_ready_line(ns)
        n = len([l for _, l in ns.lines()[:i] if l == "WATCHDOG=1"])
        ns.wait_exact("WATCHDOG=1", n=n + 2)
        pets = [t for t, l in ns.lines() if l == "WATCHDOG=1"]
        gaps = [b - a for a, b in zip(pets, pets[1:])]
        self.assertLess(max(gaps), watchdog_us / 1e6,
                        "a WATCHDOG=1 came later than WATCHDOG_USEC after the one before: "
                        "gaps %r" % gaps)
        self.assertEqual(self.bridge.stop(), 0)
        self.assertEqual(ns.states(), ["READY=1", "STOPPING=1"])

    def test_watchdog_only_for_its_own_pid_on_an_abstract_socket(self):
        ns = self.notify_socket(abstract=True)
        a = self.hook("a", ["document.*"])
        # WATCHDOG_PID is hsbridge's own (sh execs it): pets every 100 ms
        self.run_bridge([a], ns, env={"WATCHDOG_USEC": "200000"}, own_pid=True)
        self.wait_ready_line(ns)
        ns.wait_exact("WATCHDOG=1", n=5)
        self.assertEqual(self.bridge.stop(), 0)

        # another process's watchdog: none at all, while the bridge runs on
        mine = self.notify_socket()
        self.run_bridge([a], mine, env={"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
        self.wait_ready_line(mine)
        t_ready = time.monotonic()
        # an absence: ten intervals' worth of turns of the loop
        wait_until(lambda: time.monotonic() - t_ready > 1.0, 5, "1 s after READY=1")
        self.assertTrue(self.bridge.running())
        self.assertNotIn("WATCHDOG=1", [l for _, l in mine.lines()])

    def test_status_says_when_a_breaker_is_open(self):
        ns = self.notify_socket()
        self.rx.script("/a", [], default=503)
        a, b = self.hook("a", ["document.*"]), self.hook("b", ["analysis.*"])
        self.run_bridge([a, b], ns, breaker={"failures": 1, "cooldown": "1m"})
        self.wait_ready_line(ns)
        ns.wait_exact("STATUS=consuming 2 subscriptions, 0 in flight")
        self.publish_event("document.uploaded")
        self.wait_log("breaker", state="open", sub="a")
        ns.wait_exact("STATUS=consuming 1 subscription, 0 in flight, 1 breaker open")


class NotifyLossTests(ReloadCase):
    def test_ready_lost_to_a_full_notify_socket_is_sent_again(self):
        """systemd's socket momentarily full when READY=1 is sent: the
        datagram is dropped (MSG_DONTWAIT, EAGAIN) but ntf_due has already
        set n->ready, so READY=1 is never sent again and a Type=notify unit
        hits TimeoutStartSec. The send code's comment promises that "the
        next STATUS or WATCHDOG makes good" a lost message: not READY."""
        path = os.path.join(self.tmp, "notify.sock")
        rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        rx.bind(path)
        self.addCleanup(rx.close)
        tx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        tx.setblocking(False)
        try:                 # fill the queue (net.unix.max_dgram_qlen)
            while True:
                tx.sendto(b"FILLER=1", path)
        except BlockingIOError:
            pass
        tx.close()
        conf = self.config([self.hook("a")], delivery={"timeout_ms": 3000})
        self.bridge = NotifyBridge(conf, self.tmp, {"NOTIFY_SOCKET": path,
                                                    "WATCHDOG_USEC": "1000000"}).start()
        self.bridge.wait_log("ready")
        time.sleep(0.5)
        rx.setblocking(False)
        got = []

        def drain():
            try:
                while True:
                    got.extend(rx.recv(4096).decode().splitlines())
            except BlockingIOError:
                pass
        drain()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "READY=1" not in got:
            time.sleep(0.1)
            drain()
        self.assertIn("WATCHDOG=1", got, "the socket is read again: the bridge sends")
        self.assertIn("READY=1", got, "READY=1 lost to a full socket is never sent again")


if __name__ == "__main__":
    unittest.main()
