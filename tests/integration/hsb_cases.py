"""Shared fixtures of the hsbridge integration suite: the test bases, module
constants and helpers that every tests/integration/test_<area>.py imports:

    from hsb_cases import BridgeCase, T_DELIVER, ...

  Base            temp dir, config writing, secret-leak checks, log dump on failure
  BrokerCase      + a fresh vhost on the test node (unique per test and process)
  BridgeCase      + an HTTP receiver and hsbridge processes; wait_log() is THE
                  log-wait helper (BridgeProc.wait_log; wait_logged() is
                  wait_log("delivery") returning the lines)
  ReloadCase      + rewriting the running bridge's config file, SIGHUP
  ResilienceCase  + the bridge's AMQP connection, restarting the bridge

Each area file is its own ctest entry (integration_<area>); the entries run in
parallel against one RabbitMQ node, each test in its own vhost. A test that
changes something node-wide (a memory alarm, closing every connection,
restarting the node) must go to test_node.py, whose entry runs alone
(RUN_SERIAL in tests/CMakeLists.txt).

Set HSB_IT_KEEP=1 to keep the per-test temp dirs (config, bridge
stderr/stdout); on failure they are dumped anyway. Python 3 stdlib only.
"""

import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_harness import (  # noqa: E402
    BridgeProc, Env, Mgmt, Receiver, free_port, load_env, new_event_id, new_whsec,
    parse_json_lines, rand_alnum, render_config, run_cli, wait_until)

EXCHANGE = "healthsync.events"
DELAYS = ["200ms", "300ms", "400ms", "500ms"]
DELAY_LABELS = ["200ms", "300ms", "400ms", "500ms"]
EVENT_ID_RE = re.compile(r"^evt_[A-Za-z0-9]{24}$")
ISO_Z_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
SETTLE_WINDOW = 0.5  # how long main/retry queues must stay empty after the bridge exits
T_DELIVER = 15      # deadline for a delivery that should happen "now"


def ensure_env():
    """Fill Env once per process, or raise (-> the run fails, not skips)."""
    if Env.bin is None:
        load_env()


def hdr_int(v):
    """A header value from the management API as int (AMQP long or string)."""
    if isinstance(v, bool):
        raise AssertionError("boolean header value %r" % (v,))
    return int(v)


def self_sub(name, events=("#",)):
    """A subscription for commands that never POST (check, publish...)."""
    return {"name": name, "url": "http://127.0.0.1:9/" + name, "events": list(events),
            "secret": "cli-secret-" + name}


STATUS_LINE_RE = re.compile(r"^\s+\w+\s+(\S+):\s*(.*?)\s*$")


def parse_status(out):
    """{queue name: text after the colon} from `hsbridge status` output."""
    res = {}
    for line in out.splitlines():
        m = STATUS_LINE_RE.match(line)
        if m:
            res[m.group(1)] = m.group(2)
    return res


def status_numbers(text):
    """'3 ready, 1 consumers' -> (3, 1); '2' -> (2, None); 'missing...' -> None."""
    if text is None or "missing" in text:
        return None
    ready = re.search(r"(\d+) ready", text)
    cons = re.search(r"(\d+) consumers?", text)
    if ready:
        return int(ready.group(1)), int(cons.group(1)) if cons else None
    plain = re.match(r"^(\d+)\b", text)
    return (int(plain.group(1)), None) if plain else ("unparsed", text)


# ====================================================================== bases

class Base(unittest.TestCase):
    """Temp dir, config writing, secret-leak checks, log dump on failure."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ensure_env()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hsbit-")
        self.secrets = []
        self._saved = []
        self.addCleanup(self._cleanup_tmp)

    def _cleanup_tmp(self):
        for fn in sorted(os.listdir(self.tmp)):
            if fn.endswith((".stderr", ".stdout", ".conf")):
                with open(os.path.join(self.tmp, fn), "rb") as f:
                    self._saved.append((fn, f.read()))
        if os.environ.get("HSB_IT_KEEP"):
            sys.stderr.write("\n[kept %s]\n" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        super().run(result)
        if len(result.failures) + len(result.errors) > before:
            self._dump()
        return result

    def _dump(self):
        out = ["\n======== artefacts of %s ========" % self.id()]
        for fn, data in self._saved:
            text = data.decode("utf-8", "replace")
            # Test secrets are random, but a dump shows none all the same.
            for secret in getattr(self, "secrets", []):
                text = text.replace(secret, "<secret>")
            lines = text.splitlines()
            if len(lines) > 150:
                lines = ["... (%d lines omitted)" % (len(lines) - 150)] + lines[-150:]
            out.append("---- %s ----" % fn)
            out.extend(lines)
        rx = getattr(self, "rx", None)
        if rx is not None:
            out.append("---- HTTP requests received ----")
            out.extend(repr(r) for r in rx.all())
        out.append("======== end %s ========\n" % self.id())
        sys.stderr.write("\n".join(out) + "\n")

    def write_conf(self, text, name="hsbridge.conf"):
        path = os.path.join(self.tmp, name)
        # 600, as an operator keeps a file with secrets (others: a warning)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path

    def assert_no_secret(self, *blobs):
        for s in self.secrets:
            for b in blobs:
                if isinstance(b, bytes):
                    b = b.decode("utf-8", "replace")
                self.assertNotIn(s, b, "a configured secret appears in the bridge's output")

    def cli(self, conf, *args, input=None):
        cp = run_cli(conf, args, input=input)
        self.assert_no_secret(cp.stdout, cp.stderr)
        return cp

    @staticmethod
    def error_text(stderr):
        """stderr plus the decoded string fields of JSON log lines (so a path
        escaped inside JSON still matches)."""
        objs, _ = parse_json_lines(stderr)
        parts = [stderr]
        for o in objs:
            parts.extend(str(v) for v in o.values() if isinstance(v, str))
        return "\n".join(parts)


class BrokerCase(Base):
    """+ a fresh vhost on the test node."""

    def setUp(self):
        super().setUp()
        self.mgmt = Mgmt(Env.mgmt_port)
        name = re.sub(r"[^a-z0-9]+", "-", self._testMethodName.lower()).strip("-")
        self.vhost = "hsbit-%s-%s" % (name[:40], rand_alnum(6).lower())
        self.mgmt.create_vhost(self.vhost)
        self.addCleanup(self.mgmt.delete_vhost, self.vhost)

    @property
    def broker_url(self):
        return "amqp://guest:guest@127.0.0.1:%d/%s" % (Env.amqp_port, self.vhost)

    def config(self, subs, delivery=None, broker=None, breaker=None, metrics=None, history=None):
        b = {"url": self.broker_url}
        b.update(broker or {})
        for s in subs:
            for k in ("secret",):
                if k in s:
                    self.secrets.append(s[k])
            self.secrets.extend(s.get("previous_secrets", []))
        return self.write_conf(render_config(b, subs, delivery=delivery, breaker=breaker,
                                             metrics=metrics, history=history))

    def sub(self, name, events=("#",), url=None, **kw):
        d = {"name": name,
             "url": url or "http://127.0.0.1:%d/%s" % (free_port(), name),
             "events": list(events),
             "secret": kw.pop("secret", new_whsec())}
        d.update(kw)
        return d

    # --- messages
    def publish(self, routing_key, body, exchange=EXCHANGE, message_id=None, type_=None,
                timestamp=None, headers=None, content_type="application/json",
                expect_routed=True):
        props = {"delivery_mode": 2}
        if content_type is not None:
            props["content_type"] = content_type
        if message_id is not None:
            props["message_id"] = message_id
        if type_ is not None:
            props["type"] = type_
        if timestamp is not None:
            props["timestamp"] = timestamp
        if headers:
            props["headers"] = headers
        if isinstance(body, (dict, list)):
            body = json.dumps(body, separators=(",", ":")).encode()
        routed = self.mgmt.publish(self.vhost, exchange, routing_key, body, props)
        if expect_routed:
            self.assertTrue(routed, "publish of %r to %r was not routed" % (routing_key, exchange))
        return body

    def rawpub(self, routing_key, body, exchange=EXCHANGE, type_=None, message_id=None,
               headers=(), pad=None):
        """Publish through tests/tools/rawpub.c (AMQP 0-9-1, publisher
        confirms): any bytes in body, type, message_id and string headers,
        integer headers of a chosen AMQP kind, a "pad" header of pad bytes.
        headers: (kind, key, value) with kind "s" (string), "i" (int64),
        "u" (uint64), "b" (int8), "T" (a table holding one string entry,
        value "INNER=VAL") or "A" (an array holding one such table)."""
        def esc(b):
            if isinstance(b, str):
                b = b.encode()
            return "".join(chr(c) if 0x20 < c < 0x7f and c != 0x5c else "\\x%02x" % c
                           for c in b)
        args = [Env.rawpub, "127.0.0.1", str(Env.amqp_port), self.vhost, esc(exchange),
                esc(routing_key), esc(body)]
        if type_ is not None:
            args += ["-t", esc(type_)]
        if message_id is not None:
            args += ["-m", esc(message_id)]
        for kind, key, value in headers:
            args += ["-" + kind, esc(key) + "=" + (esc(value) if kind in "sTA" else str(value))]
        if pad is not None:
            args += ["-P", str(pad)]
        cp = subprocess.run(args, capture_output=True, timeout=30)
        self.assertEqual(cp.returncode, 0, "hsb-rawpub failed: %r" % (cp.stderr,))

    def publish_event(self, etype, data=None, eid=None, **kw):
        """A complete envelope published as services do; returns (id, body bytes, ts)."""
        eid = eid or new_event_id()
        ts = int(time.time())
        created = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        env = {"id": eid, "type": etype, "created_at": created,
               "data": data if data is not None else {"object": {"id": "doc_" + rand_alnum(6)}}}
        body = json.dumps(env, separators=(",", ":")).encode()
        self.publish(etype, body, message_id=eid, type_=etype, timestamp=ts, **kw)
        return eid, body, ts

    def drain(self, queue, n, timeout=T_DELIVER):
        """Destructively collect n messages from queue (polling)."""
        got = []

        def pred():
            got.extend(self.mgmt.get(self.vhost, queue, n - len(got)))
            return len(got) >= n
        wait_until(pred, timeout, "%d message(s) in %s" % (n, queue),
                   detail=lambda: "got %r; queue: %r" % (
                       [m["body"][:200] for m in got], self._qstate(queue)))
        return got

    def _qstate(self, queue):
        qi = self.mgmt.queue(self.vhost, queue)
        if qi is None:
            return "(no such queue)"
        return {k: qi.get(k) for k in ("messages", "messages_ready",
                                       "messages_unacknowledged", "consumers")}


class BridgeCase(BrokerCase):
    """+ an HTTP receiver and the bridge process (stopped with SIGTERM, exit 0)."""

    def setUp(self):
        super().setUp()
        self.rx = Receiver()
        self.addCleanup(self.rx.stop)
        self.bridge = None
        self.old_bridges = []   # stopped, killed or replaced processes (secret checks)

    def hook(self, name, events=("#",), **kw):
        """A subscription posting to the receiver at /<name>."""
        return self.sub(name, events, url=self.rx.url("/" + name), **kw)

    def start_bridge(self, subs, delivery=None, broker=None, name="bridge", breaker=None,
                     metrics=None, history=None):
        """Write the config and start `hsbridge run`; wait for "ready". A bridge
        this test started before is stopped first (table-driven tests)."""
        if self.bridge is not None:
            self.bridge.stop()
            self.old_bridges.append(self.bridge)
        d = {"timeout_ms": 3000, "retry_delays": list(DELAYS)}
        d.update(delivery or {})
        conf = self.config(subs, delivery=d, broker=broker, breaker=breaker, metrics=metrics,
                           history=history)
        self.bridge = BridgeProc(conf, self.tmp, name=name).start()
        self.bridge.wait_ready()
        return self.bridge

    # --- the log (one helper waits for log lines: BridgeProc.wait_log)
    def logs(self, msg, after=-1, **match):
        """[(index, line)] of log lines with msg and all key=value pairs, after index."""
        return self.bridge.logs(msg, after, **match)

    def wait_log(self, msg, after=-1, n=1, timeout=T_DELIVER, pred=None, what=None, **match):
        """Wait for n matching log lines after index `after`; return [(index, line)]."""
        return self.bridge.wait_log(msg, n=n, after=after, timeout=timeout, pred=pred,
                                    what=what, **match)

    def wait_logged(self, n=1, what=None, **match):
        """Wait for n 'delivery' log lines matching key=value pairs; return the lines."""
        return [o for _, o in self.bridge.wait_log("delivery", n=n, timeout=T_DELIVER,
                                                   what=what, **match)]

    def assert_settled(self, subs, labels=DELAY_LABELS):
        """Stop the bridge (SIGTERM, exit 0), then main and retry queues must be
        empty: a message stuck unacked is requeued when the connection closes,
        so a basic.get finds it. (Queue and channel statistics lag ~5 s on
        quorum queues, so they are not used.) Call it once every expected
        outcome has been logged: nothing may be in flight any more."""
        if self.bridge is not None:
            rc = self.bridge.stop()
            self.assertEqual(rc, 0, "hsbridge exit code after SIGTERM")
        names = ["hsbridge.%s" % s for s in subs] + ["hsbridge.retry.%s" % l for l in labels]
        for n in names:
            self.assertIsNotNone(self.mgmt.queue(self.vhost, n), "queue %s does not exist" % n)
        deadline = time.monotonic() + SETTLE_WINDOW
        while True:
            stray = []
            for n in names:
                stray.extend((n, m["properties"].get("message_id"), m["body"][:120])
                             for m in self.mgmt.get(self.vhost, n, 5))
            self.assertEqual(stray, [], "messages left in main/retry queues after every "
                             "outcome was final (stuck unacked, handed back or duplicated)")
            if time.monotonic() >= deadline:
                return
            time.sleep(0.05)

    def tearDown(self):
        problems = []
        for b in self.old_bridges:
            if b.running():
                b.kill9()
        if self.bridge is not None:
            rc = self.bridge.stop()
            if rc != 0:
                problems.append("hsbridge run exited with %r after SIGTERM (want 0)" % (rc,))
        for b in self.old_bridges + ([self.bridge] if self.bridge is not None else []):
            for s in self.secrets:
                if s in b.stderr_text() or s.encode() in b.stdout_bytes():
                    problems.append("a configured secret appears in %s" % b.stderr_path)
                    break
        super().tearDown()
        if problems:
            self.fail("; ".join(problems))


class ReloadCase(BridgeCase):
    """SIGHUP re-reads the config file: accepted -> drain, reconnect, ready;
    rejected -> logged with file:line, the running config stays."""

    DELIVERY = {"timeout_ms": 3000, "retry_delays": list(DELAYS)}

    def rewrite(self, subs, text=None):
        """Overwrite the running bridge's config file in place."""
        path = self.config(subs, delivery=dict(self.DELIVERY)) if text is None else \
            self.write_conf(text)
        self.assertEqual(path, self.bridge.conf)
        return path

    def sighup(self, outcome, wait_ready=True):
        """Send SIGHUP, wait for the resulting reload line (outcome must start
        with `outcome`); after an accepted one wait for 'ready' again.
        Returns (index, line) of the reload line."""
        n = len(self.bridge.logs("reload"))
        self.bridge.signal(signal.SIGHUP)
        idx, line = self.bridge.wait_log("reload", n=n + 1, timeout=T_DELIVER,
                                         what='a "reload" log line after SIGHUP')[n]
        self.assertTrue(str(line.get("outcome", "")).startswith(outcome),
                        "reload outcome %r, want %s" % (line.get("outcome"), outcome))
        if outcome == "accepted" and wait_ready:
            self.bridge.wait_log("ready", after=idx, timeout=T_DELIVER,
                                 what='"ready" again after the accepted reload')
        return idx, line


class ResilienceCase(BridgeCase):
    """Helpers for tests that break things under a running bridge."""

    def bridge_connection(self, exclude=()):
        """Name of the bridge's AMQP connection in this vhost (polls: the
        management API lists a connection once it has reported stats)."""
        def find():
            names = [c["name"] for c in self.mgmt.connections(self.vhost)
                     if (c.get("client_properties") or {}).get("connection_name") == "hsbridge run"
                     and c["name"] not in exclude]
            return names[0] if len(names) == 1 else None
        return wait_until(find, 10, 'exactly one "hsbridge run" connection in %s' % self.vhost,
                          interval=0.1, detail=lambda: [
                              (c["name"], (c.get("client_properties") or {}).get("connection_name"))
                              for c in self.mgmt.connections(self.vhost)])

    def queue_or_none_msgs(self, queue, n):
        """basic.get up to n from queue; [] while the queue does not exist."""
        if self.mgmt.queue(self.vhost, queue) is None:
            return []
        return self.mgmt.get(self.vhost, queue, n)

    def restart_bridge(self, name):
        """Start a second process on the same config (the old one must be dead)."""
        self.assertFalse(self.bridge.running(), "the previous bridge is still running")
        self.old_bridges.append(self.bridge)
        self.bridge = BridgeProc(self.bridge.conf, self.tmp, name=name).start()
        self.bridge.wait_ready()
        return self.bridge

