"""Shared pieces of the cluster tests (tests/integration/test_cluster_*.py):
the 3-node cluster that scripts/cluster runs (its settings come from
`scripts/cluster env`, so HSB_CLUSTER_* mean the same here and there), an
endpoint that fails a deterministic 10% of first attempts, a publisher with
confirms that goes on while nodes come and go, and the timing of a recovery.

  Cluster        nodes, ports, kill/stop/start/partition/heal, leader and members
  ClusterCase    Base + a vhost on the cluster, bridges with node lists
  FlakyReceiver  Receiver answering 500 to attempt 1 of ~10% of events (crc32)
  Publisher      hsb-loadgen in chunks, each against a node that is up

Each entry (integration_cluster_<area>, label `cluster`) runs alone
(RUN_SERIAL) against the cluster that the ctest fixture cluster_start starts.
HSB_CLUSTER_KEEP_BROKEN=1 leaves a failed test's vhost and downed nodes as they
are, to look at them (scripts/cluster status, rabbitmqctl).
"""

import collections
import datetime
import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import Base  # noqa: E402
from hsb_harness import (  # noqa: E402
    BridgeProc, Env, Mgmt, R, Receiver, rand_alnum, render_config, wait_until)

EXCHANGE = "healthsync.events"
SOURCE_DIR = os.environ.get("HSB_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CLUSTER_SCRIPT = os.path.join(SOURCE_DIR, "scripts", "cluster")


def log(msg):
    """A measured figure or a step, on stderr (ctest --output-on-failure / -V)."""
    sys.stderr.write("cluster-test: %s\n" % msg)
    sys.stderr.flush()


def ts_of(line):
    """A log line's "ts" ("2024-02-27T10:31:00.123Z") as Unix seconds."""
    return datetime.datetime.strptime(line["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class Cluster:
    """The nodes of scripts/cluster (1-based indexes, as its commands take)."""

    def __init__(self):
        out = self.run("env").stdout
        kv = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        self.dir = kv["dir"]
        self.dlx_timeout_ms = int(kv["dlx_confirm_timeout_ms"])
        self.idx = [1, 2, 3]
        self.name = {i: kv["node%d" % i] for i in self.idx}
        self.amqp = {i: int(kv["amqp%d" % i]) for i in self.idx}
        self.mgmt_port = {i: int(kv["mgmt%d" % i]) for i in self.idx}
        self.down = set()    # nodes this test stopped, killed or cut off

    @staticmethod
    def run(*args, timeout=240):
        cp = subprocess.run([CLUSTER_SCRIPT] + list(args), capture_output=True, text=True,
                            timeout=timeout)
        if cp.returncode != 0:
            raise AssertionError("scripts/cluster %s failed (%d):\n%s%s" % (
                " ".join(args), cp.returncode, cp.stdout[-2000:], cp.stderr[-2000:]))
        return cp

    @staticmethod
    def status_lines():
        """`scripts/cluster status` output lines (it exits 3 when a node is down)."""
        cp = subprocess.run([CLUSTER_SCRIPT, "status"], capture_output=True, text=True,
                            timeout=120)
        return cp.stdout.splitlines()

    def index_of(self, node_name):
        for i, n in self.name.items():
            if n == node_name:
                return i
        raise AssertionError("%r is not a node of the cluster %r" % (node_name, self.name))

    def url(self, i, vhost):
        return "amqp://guest:guest@127.0.0.1:%d/%s" % (self.amqp[i], vhost)

    def mgmt(self, i):
        return Mgmt(self.mgmt_port[i])

    def any_mgmt(self):
        """The management API of a node this test has not taken down, that answers."""
        for i in self.idx:
            if i in self.down:
                continue
            m = self.mgmt(i)
            try:
                if m.raw("GET", "/overview", timeout=3)[0] == 200:
                    return m
            except OSError:
                continue
        raise AssertionError("no management API of the cluster answers (down: %r)" % self.down)

    def queue(self, vhost, name):
        return wait_until(lambda: self.any_mgmt().queue(vhost, name), 20,
                          "queue %s in %s" % (name, vhost))

    def leader(self, vhost, name):
        """Index of the node leading quorum queue `name`."""
        q = self.queue(vhost, name)
        return self.index_of(q["leader"])

    def members(self, vhost, name):
        return sorted(self.queue(vhost, name).get("members") or [])

    def wait_online(self, vhost, names, timeout=60):
        """Every member of each queue is online again (after a node came back)."""
        def ok():
            for n in names:
                q = self.any_mgmt().queue(vhost, n)
                if q is None or sorted(q.get("online") or []) != sorted(self.name.values()):
                    return False
            return True
        wait_until(ok, timeout, "all three members online for %r" % (names,), interval=0.5,
                   detail=lambda: [(n, (self.any_mgmt().queue(vhost, n) or {}).get("online"))
                                   for n in names])

    # --- taking nodes down and up (scripts/cluster)
    def kill(self, i):
        self.down.add(i)
        self.run("kill", str(i))

    def stop_node(self, i):
        self.down.add(i)
        self.run("stop-node", str(i))

    def start_node(self, i):
        self.run("start-node", str(i))
        self.down.discard(i)

    def partition(self, i):
        self.down.add(i)
        self.run("partition", str(i))

    def heal(self, i):
        self.run("heal", str(i))

        def running():
            cp = subprocess.run([CLUSTER_SCRIPT, "ctl", str(i), "eval", "rabbit:is_running()."],
                                capture_output=True, text=True, timeout=60)
            return cp.stdout.strip() == "true"
        wait_until(running, 90, "node %d running again after heal" % i, interval=0.5)
        wait_until(lambda: self.mgmt(i).raw("GET", "/overview", timeout=3)[0] == 200, 60,
                   "node %d's management API after heal" % i, interval=0.5)
        self.down.discard(i)

    def restore(self):
        """Bring back whatever a test took down (cleanup, also after a failure)."""
        for i in sorted(self.down):
            cp = subprocess.run([CLUSTER_SCRIPT, "ctl", str(i), "eval", "ok."],
                                capture_output=True, text=True, timeout=60)
            if cp.returncode == 0:
                self.heal(i)         # a VM that answers: cut off, or paused
            else:
                self.start_node(i)


class FlakyReceiver(Receiver):
    """Answers 500 to the first attempt of an event when crc32(id) % 10 == 0
    (a deterministic tenth), 200 otherwise; counts 2xx answers per event id."""

    def __init__(self, fail_all_first=False):
        self.fail_all_first = fail_all_first
        self.ok = collections.Counter()      # event id -> 2xx answers
        self.first_ok = {}                    # event id -> time.time() of its first 2xx
        self.attempt1_failed = set()
        super().__init__()

    @staticmethod
    def fails(eid):
        return zlib.crc32(eid.encode()) % 10 == 0

    def _next(self, rec):
        try:
            eid = json.loads(rec.body)["id"]
        except (ValueError, KeyError, TypeError):
            return R(400)
        with self.lock:
            if rec.attempt == 1 and (self.fail_all_first or self.fails(eid)):
                self.attempt1_failed.add(eid)
                return R(500)
            self.ok[eid] += 1
            self.first_ok.setdefault(eid, time.time())
        return R(200)

    def delivered(self):
        with self.lock:
            return dict(self.first_ok)

    def duplicates(self):
        with self.lock:
            return sum(n - 1 for n in self.ok.values())


class Publisher(threading.Thread):
    """Publishes `total` events with confirms through hsb-loadgen, `chunk` at a
    time at `rate` per second, each chunk against a node that is not in
    cluster.down (nor in avoid). A chunk whose loadgen fails (its node went
    away) is published again under new ids elsewhere, as a service republishes
    what was not confirmed; only the ids of chunks that exited 0 count as
    confirmed."""

    def __init__(self, cluster, vhost, total=3000, chunk=100, rate=150.0, etype="document.uploaded"):
        super().__init__(daemon=True)
        self.cluster, self.vhost = cluster, vhost
        self.total, self.chunk, self.rate, self.etype = total, chunk, rate, etype
        self.avoid = set()
        self.confirmed = []          # event ids
        self.unconfirmed = []        # ids of chunks that failed
        self.failures = []
        self.tag = rand_alnum(6)
        self.stop_now = threading.Event()
        self.error = None
        loadgen = os.environ.get("HSB_LOADGEN") or os.path.join(
            os.path.dirname(os.path.abspath(Env.bin)), "tests", "hsb-loadgen")
        if not os.access(loadgen, os.X_OK):
            raise AssertionError("hsb-loadgen not found at %s (set HSB_LOADGEN; ctest does)"
                                 % loadgen)
        self.loadgen = loadgen

    def _node(self, k):
        ok = [i for i in self.cluster.idx if i not in self.cluster.down and i not in self.avoid]
        if not ok:
            return None
        return ok[k % len(ok)]

    def run(self):
        try:
            k = 0
            while len(self.confirmed) < self.total and not self.stop_now.is_set():
                n = min(self.chunk, self.total - len(self.confirmed))
                node = self._node(k)
                if node is None:
                    time.sleep(0.2)
                    continue
                prefix = "evt_%sc%04d_" % (self.tag, k)
                ids = ["%s%d" % (prefix, j) for j in range(n)]
                cp = subprocess.run([self.loadgen, "-r", str(self.rate), "-p", prefix,
                                     self.cluster.url(node, self.vhost), EXCHANGE, self.etype,
                                     str(n), "300"], capture_output=True, text=True, timeout=120)
                if cp.returncode == 0:
                    self.confirmed.extend(ids)
                else:
                    self.unconfirmed.extend(ids)
                    self.failures.append((node, cp.returncode, cp.stderr.strip()[-200:]))
                k += 1
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def wait_done(self, timeout):
        self.join(timeout)
        if self.is_alive():
            self.stop_now.set()
            raise AssertionError("the publisher did not finish within %ss (%d confirmed)"
                                 % (timeout, len(self.confirmed)))
        if self.error is not None:
            raise AssertionError("the publisher failed: %r" % (self.error,))
        return self.confirmed


class ClusterCase(Base):
    """Base (temp dir, artefacts on failure) + a fresh vhost on the cluster."""

    @classmethod
    def setUpClass(cls):
        unittest.TestCase.setUpClass()
        Env.bin = os.environ.get("HSBRIDGE_BIN")
        if not Env.bin or not os.access(Env.bin, os.X_OK):
            raise RuntimeError("set HSBRIDGE_BIN to the hsbridge binary (ctest does)")
        cls.cluster = Cluster()
        cls.cluster.any_mgmt()

    def setUp(self):
        super().setUp()
        self.cluster.down = set()
        name = re.sub(r"[^a-z0-9]+", "-", self._testMethodName.lower()).strip("-")
        self.vhost = "hsbct-%s-%s" % (name[:40], rand_alnum(6).lower())
        m = self.cluster.any_mgmt()
        m.create_vhost(self.vhost)
        # Cleanups run last-in first-out: the nodes come back, then the vhost
        # goes (deleting quorum queues with a member down would hang).
        if not os.environ.get("HSB_CLUSTER_KEEP_BROKEN"):   # debugging: leave it as it is
            self.addCleanup(lambda: self.cluster.any_mgmt().delete_vhost(self.vhost))
            self.addCleanup(self.cluster.restore)
        self.bridges = []
        self.addCleanup(self._stop_bridges)
        # One secret for every bridge of a test: they share the subscription,
        # and a copy's hsbridge-mark is checked with it.
        self.secret = "whsec_" + rand_alnum(32)
        self.secrets.append(self.secret)

    def _stop_bridges(self):
        for b in self.bridges:
            if b.running():
                b.stop(timeout=30)

    def urls(self, order):
        """broker.url for the nodes in this order (a list of node URLs)."""
        return [self.cluster.url(i, self.vhost) for i in order]

    def start_bridge(self, name, order, subs, delays=("500ms", "1s"), breaker=None):
        subs = [dict(s, secret=self.secret) for s in subs]
        conf = self.write_conf(render_config(
            {"url": self.urls(order), "heartbeat_s": 5},
            subs, delivery={"timeout_ms": 3000, "retry_delays": list(delays)}, breaker=breaker),
            name=name + ".conf")
        b = BridgeProc(conf, self.tmp, name=name).start()
        self.bridges.append(b)
        b.wait_ready(timeout=60)
        return b

    def sub(self, rx, name):
        return {"name": name, "url": rx.url("/" + name), "events": ["#"]}

    # --- measurements
    def consuming_again(self, bridge, t_event):
        """Unix time at which `bridge` was consuming again after t_event: if
        it lost its connection after t_event, its next `ready` line; if not
        (its consumer stayed), the end of its first delivery whose POST
        started after t_event (its `ts` less its `ms`: a message consumed
        after the event, not a POST already in flight then). None while
        neither happened."""
        after = [(i, o) for i, o in enumerate(bridge.lines())
                 if "ts" in o and ts_of(o) >= t_event]
        lost = [i for i, o in after if o.get("msg") == "connection lost"]
        want, start = ("ready", lost[0]) if lost else ("delivery", -1)
        for i, o in after:
            if i <= start or o.get("msg") != want:
                continue
            if want == "ready" or ts_of(o) - o.get("ms", 0) / 1000.0 >= t_event:
                return ts_of(o)
        return None

    def queue_states(self):
        """name: messages, ready, unacked, leader, online, for the vhost's queues."""
        try:
            return "\n".join("  %s: %s" % (q["name"], {k: q.get(k) for k in (
                "messages", "messages_ready", "messages_unacknowledged", "consumers", "leader",
                "online")}) for q in self.cluster.any_mgmt().queues(self.vhost))
        except Exception as e:  # noqa: BLE001 - a detail for a failure message
            return "(no queue states: %r)" % (e,)

    def bridge_nodes(self):
        """Indexes of the nodes the vhost's "hsbridge run" connections are on."""
        conns = self.cluster.any_mgmt().connections(self.vhost)
        return sorted(self.cluster.index_of(c["node"]) for c in conns
                      if (c.get("client_properties") or {}).get("connection_name")
                      == "hsbridge run")

    def consumers(self, queue):
        """Consumers of a queue right now (event-driven, no statistics lag)."""
        return [c for c in self.cluster.any_mgmt().consumers(self.vhost)
                if (c.get("queue") or {}).get("name") == queue]

    def assert_all_delivered(self, rx, ids, t0, within, what):
        """Every id got a 2xx, the last one within `within` s of t0; returns
        the seconds from t0 to the last first-2xx."""
        want = set(ids)

        def done():
            got = rx.delivered()
            return all(e in got for e in want)
        wait_until(done, max(1.0, t0 + within - time.time()),
                   "every confirmed event delivered (2xx) within %ss of %s" % (within, what),
                   interval=0.25, detail=lambda: "%d of %d not delivered, e.g. %r\nqueues: %s" % (
                       len(want - set(rx.delivered())), len(want),
                       sorted(want - set(rx.delivered()))[:5], self.queue_states()))
        got = rx.delivered()
        return max(got[e] for e in want) - t0
