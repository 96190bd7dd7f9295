#!/usr/bin/python3
"""hsbridge integration suite: the real binary against a real RabbitMQ node
and real HTTP endpoints.

Run: HSBRIDGE_BIN=build/hsbridge HSB_AMQP_PORT=... HSB_MGMT_PORT=... \
     /usr/bin/python3 tests/integration/test_bridge.py -v
(scripts/test starts a RabbitMQ node and exports the ports.) Python 3
standard library only. Each test gets its own virtual host, config file,
HTTP receiver and bridge process. Set HSB_IT_KEEP=1 to keep the per-test
temp dirs (config, bridge stderr/stdout); on failure they are dumped anyway.
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
    BridgeProc, Env, Mgmt, R, Receiver, free_port, is_uuid5, load_env,
    new_event_id, new_whsec, parse_json_lines, rabbitmqctl, rand_alnum, render_config,
    run_cli, standard_webhooks_sig, verify_signature, wait_until)

EXCHANGE = "healthsync.events"
DELAYS = ["200ms", "300ms", "400ms", "500ms"]
DELAY_LABELS = ["200ms", "300ms", "400ms", "500ms"]
EVENT_ID_RE = re.compile(r"^evt_[A-Za-z0-9]{24}$")
ISO_Z_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
SETTLE_WINDOW = 0.5  # how long main/retry queues must stay empty after the bridge exits
T_DELIVER = 15      # deadline for a delivery that should happen "now"


def setUpModule():
    load_env()      # raises (-> the run fails, not skips) without the env


def hdr_int(v):
    """A header value from the management API as int (AMQP long or string)."""
    if isinstance(v, bool):
        raise AssertionError("boolean header value %r" % (v,))
    return int(v)


# ====================================================================== bases

class Base(unittest.TestCase):
    """Temp dir, config writing, secret-leak checks, log dump on failure."""

    maxDiff = None

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
        with open(path, "w") as f:
            f.write(text)
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

    def config(self, subs, delivery=None, broker=None):
        b = {"url": self.broker_url}
        b.update(broker or {})
        for s in subs:
            for k in ("secret",):
                if k in s:
                    self.secrets.append(s[k])
            self.secrets.extend(s.get("previous_secrets", []))
        return self.write_conf(render_config(b, subs, delivery=delivery))

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

    def hook(self, name, events=("#",), **kw):
        """A subscription posting to the receiver at /<name>."""
        return self.sub(name, events, url=self.rx.url("/" + name), **kw)

    def start_bridge(self, subs, delivery=None, broker=None):
        d = {"timeout_ms": 3000, "retry_delays": list(DELAYS)}
        d.update(delivery or {})
        conf = self.config(subs, delivery=d, broker=broker)
        self.bridge = BridgeProc(conf, self.tmp).start()
        self.bridge.wait_ready()
        return self.bridge

    def wait_logged(self, n=1, what=None, **match):
        """Wait for n 'delivery' log lines matching key=value pairs; return them."""
        return wait_until(lambda: len(self.bridge.deliveries(**match)) >= n and
                          self.bridge.deliveries(**match), T_DELIVER,
                          what or "%d delivery log line(s) with %r" % (n, match),
                          detail=lambda: self.bridge.stderr_text()[-3000:])

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
        if self.bridge is not None:
            rc = self.bridge.stop()
            if rc != 0:
                problems.append("hsbridge run exited with %r after SIGTERM (want 0)" % (rc,))
            for s in self.secrets:
                if s in self.bridge.stderr_text() or s.encode() in self.bridge.stdout_bytes():
                    problems.append("a configured secret appears in the bridge's stderr/stdout")
                    break
        super().tearDown()
        if problems:
            self.fail("; ".join(problems))


# ====================================================================== CLI

CONF_DELIVERY_TYPO = """\
broker: {
  url = "amqp://guest:guest@127.0.0.1:%(port)d/%%2f";
};
delivery: {
  timeout_ms = 1000;
  retry_dleays = ["1s", "2s"];
};
log: { level = "info"; };
subscriptions = (
  {
    name = "a";
    url = "http://127.0.0.1:9/a";
    events = ["document.uploaded"];
    secret = "%(secret)s";
  }
);
"""  # typo on line 6

CONF_SUB_TYPO = """\
broker: {
  url = "amqp://guest:guest@127.0.0.1:%(port)d/%%2f";
};
delivery: {
  timeout_ms = 1000;
};
subscriptions = (
  {
    name = "a";
    url = "http://127.0.0.1:9/a";
    events = ["document.uploaded"];
    secret = "%(secret)s";
    max_in_flihgt = 4;
  }
);
"""  # typo on line 13

CONF_SYNTAX = """\
broker: {
  url = "amqp://guest:guest@127.0.0.1:%(port)d/%%2f";
};
delivery: {
  timeout_ms = = 1000;
};
subscriptions = (
  {
    name = "a";
    url = "http://127.0.0.1:9/a";
    events = ["document.uploaded"];
    secret = "%(secret)s";
  }
);
"""  # syntax error on line 5


class CliTests(Base):
    """Commands that need no broker: usage, check, configuration errors."""

    def conf_text(self, template, port=None):
        secret = new_whsec()
        self.secrets.append(secret)
        return self.write_conf(template % {"port": port or free_port(), "secret": secret})

    def assert_config_error(self, cp, conf, line, word=None):
        self.assertEqual(cp.returncode, 78, "want exit 78 (config error); stdout=%r stderr=%r"
                         % (cp.stdout, cp.stderr))
        text = self.error_text(cp.stderr)
        want = "%s:%d:" % (os.path.basename(conf), line)
        self.assertIn(want, text, "error must name <file>:<line>:")
        if word:
            self.assertIn(word, text, "error must say what is wrong")

    def test_unknown_command_exits_64(self):
        conf = self.write_conf(render_config({"url": "amqp://guest:guest@127.0.0.1:%d/%%2f"
                                              % free_port()}, [self_sub("a")]))
        cp = self.cli(conf, "no-such-command")
        self.assertEqual(cp.returncode, 64, "stderr=%r" % cp.stderr)

    def test_check_prints_subscriptions_patterns_queues_and_retry_queues(self):
        secret, old = new_whsec(), "old-plain-secret-" + rand_alnum(12)
        self.secrets += [secret, old]
        subs = [
            {"name": "clinic-portal", "url": "https://example.invalid/hook",
             "events": ["document.uploaded", "analysis.*"], "secret": secret,
             "previous_secrets": [old]},
            {"name": "audit_log", "url": "http://127.0.0.1:9/audit", "events": ["#"],
             "secret": secret, "active": False},
        ]
        conf = self.write_conf(render_config(
            {"url": "amqp://guest:guest@127.0.0.1:%d/%%2f" % free_port()}, subs,
            delivery={"retry_delays": ["200ms", "1s", "5m", "1h"]}))
        cp = self.cli(conf, "check")
        self.assertEqual(cp.returncode, 0, "check failed (it needs no broker): %r" % cp.stderr)
        out = cp.stdout
        for s in ("clinic-portal", "document.uploaded", "analysis.*", "hsbridge.clinic-portal",
                  "hsbridge.clinic-portal.parked", "audit_log", "hsbridge.audit_log",
                  "hsbridge.audit_log.parked", "hsbridge.retry.200ms", "hsbridge.retry.1s",
                  "hsbridge.retry.5m", "hsbridge.retry.1h"):
            self.assertIn(s, out, "check summary lacks %r:\n%s" % (s, out))

    def test_check_unknown_key_in_delivery_exits_78_naming_file_and_line(self):
        conf = self.conf_text(CONF_DELIVERY_TYPO)
        self.assert_config_error(self.cli(conf, "check"), conf, 6, "retry_dleays")

    def test_check_unknown_key_in_subscription_exits_78_naming_file_and_line(self):
        conf = self.conf_text(CONF_SUB_TYPO)
        self.assert_config_error(self.cli(conf, "check"), conf, 13, "max_in_flihgt")

    def test_check_syntax_error_exits_78_naming_file_and_line(self):
        conf = self.conf_text(CONF_SYNTAX)
        self.assert_config_error(self.cli(conf, "check"), conf, 5)

    def test_run_with_config_error_exits_78_before_connecting(self):
        # the broker port is closed: trying to connect first would give 69
        conf = self.conf_text(CONF_DELIVERY_TYPO)
        self.assert_config_error(self.cli(conf, "run"), conf, 6, "retry_dleays")

    def test_publish_with_broker_unavailable_exits_69(self):
        conf = self.write_conf(render_config(
            {"url": "amqp://guest:guest@127.0.0.1:%d/%%2f" % free_port()}, [self_sub("a")]))
        cp = self.cli(conf, "publish", "document.uploaded", '{"data":{"object":{}}}')
        self.assertEqual(cp.returncode, 69, "stdout=%r stderr=%r" % (cp.stdout, cp.stderr))


def self_sub(name, events=("#",)):
    return {"name": name, "url": "http://127.0.0.1:9/" + name, "events": list(events),
            "secret": "cli-secret-" + name}


# ====================================================================== publish

class PublishTests(BrokerCase):
    """`hsbridge publish TYPE [JSON]` as a service would publish."""

    def setUp(self):
        super().setUp()
        self.conf = self.config([self.sub("tap", ["#"])])
        cp = self.cli(self.conf, "topology")
        self.assertEqual(cp.returncode, 0, "topology failed: %r" % cp.stderr)

    def only_message(self):
        msgs = self.drain("hsbridge.tap", 1)
        return msgs[0]

    def assert_nothing_published(self):
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.tap", 5), [],
                         "a rejected publish must not reach the exchange")

    def test_publish_prints_event_id_and_publishes_persistent_with_properties(self):
        data = {"object": {"id": "doc_1", "filename": "lab.pdf"}}
        t0 = int(time.time())
        cp = self.cli(self.conf, "publish", "document.uploaded", json.dumps({"data": data}))
        self.assertEqual(cp.returncode, 0, "stderr=%r" % cp.stderr)
        eid = cp.stdout.strip()
        self.assertRegex(eid, EVENT_ID_RE, "stdout must be the event id")
        m = self.only_message()
        self.assertEqual(m["exchange"], EXCHANGE)
        self.assertEqual(m["routing_key"], "document.uploaded")
        p = m["properties"]
        self.assertEqual(p.get("content_type"), "application/json")
        self.assertEqual(p.get("delivery_mode"), 2)
        self.assertEqual(p.get("message_id"), eid)
        self.assertEqual(p.get("type"), "document.uploaded")
        self.assertIn("timestamp", p)
        self.assertLessEqual(abs(p["timestamp"] - t0), 60)
        env = json.loads(m["body"])
        self.assertEqual(env["id"], eid)
        self.assertEqual(env["type"], "document.uploaded")
        self.assertRegex(env["created_at"], ISO_Z_RE)
        self.assertEqual(env["data"], data)

    def test_publish_keeps_given_id_and_reads_json_from_stdin(self):
        eid = "evt_" + rand_alnum(24)
        body = {"id": eid, "data": {"object": {"id": "share_9"}}}
        cp = self.cli(self.conf, "publish", "share.accessed", input=json.dumps(body))
        self.assertEqual(cp.returncode, 0, "stderr=%r" % cp.stderr)
        self.assertEqual(cp.stdout.strip(), eid)
        m = self.only_message()
        self.assertEqual(m["properties"].get("message_id"), eid)
        env = json.loads(m["body"])
        self.assertEqual(env["id"], eid)
        self.assertEqual(env["type"], "share.accessed")
        self.assertRegex(env["created_at"], ISO_Z_RE)

    def test_publish_invalid_json_exits_65_and_publishes_nothing(self):
        cp = self.cli(self.conf, "publish", "document.uploaded", '{"data": {')
        self.assertEqual(cp.returncode, 65, "stdout=%r stderr=%r" % (cp.stdout, cp.stderr))
        self.assert_nothing_published()

    def test_publish_json_without_data_exits_65_and_publishes_nothing(self):
        cp = self.cli(self.conf, "publish", "document.uploaded", '{"id":"evt_x","object":{}}')
        self.assertEqual(cp.returncode, 65, "stdout=%r stderr=%r" % (cp.stdout, cp.stderr))
        self.assert_nothing_published()


# ====================================================================== topology

class TopologyTests(BrokerCase):
    """`hsbridge topology` declares DESIGN section 1 and exits 0."""

    def topology(self, subs, delays=("200ms", "300ms")):
        conf = self.config(subs, delivery={"retry_delays": list(delays)})
        cp = self.cli(conf, "topology")
        self.assertEqual(cp.returncode, 0, "topology failed: stdout=%r stderr=%r"
                         % (cp.stdout, cp.stderr))
        return conf

    def queue(self, name):
        qi = self.mgmt.queue(self.vhost, name)
        self.assertIsNotNone(qi, "queue %s was not declared" % name)
        self.assertTrue(qi["durable"], "%s must be durable" % name)
        return qi

    def test_topology_declares_durable_topic_exchange(self):
        self.topology([self.sub("a")])
        ex = self.mgmt.exchange(self.vhost, EXCHANGE)
        self.assertIsNotNone(ex, "exchange %s missing" % EXCHANGE)
        self.assertEqual(ex["type"], "topic")
        self.assertTrue(ex["durable"])

    def test_topology_subscription_queue_is_quorum_with_dead_letter_to_parked(self):
        self.topology([self.sub("clinic-portal", ["document.uploaded"])])
        args = self.queue("hsbridge.clinic-portal")["arguments"]
        self.assertEqual(args.get("x-queue-type"), "quorum")
        self.assertEqual(args.get("x-delivery-limit"), 20)
        self.assertEqual(args.get("x-dead-letter-exchange"), "")
        self.assertEqual(args.get("x-dead-letter-routing-key"), "hsbridge.clinic-portal.parked")

    def test_topology_binds_subscription_queue_with_each_pattern(self):
        pats = ["document.uploaded", "analysis.*", "share.#"]
        self.topology([self.sub("a", pats)])
        got = sorted(b["routing_key"] for b in self.mgmt.bindings(self.vhost, "hsbridge.a")
                     if b["source"] == EXCHANGE)
        self.assertEqual(got, sorted(pats))

    def test_topology_declares_retry_exchange_and_queue_per_delay(self):
        self.topology([self.sub("a")], delays=("200ms", "300ms", "2s"))
        for label, ms in (("200ms", 200), ("300ms", 300), ("2s", 2000)):
            name = "hsbridge.retry." + label
            with self.subTest(delay=label):
                ex = self.mgmt.exchange(self.vhost, name)
                self.assertIsNotNone(ex, "exchange %s missing" % name)
                self.assertEqual(ex["type"], "fanout")
                self.assertTrue(ex["durable"])
                args = self.queue(name)["arguments"]
                self.assertEqual(args.get("x-queue-type"), "quorum")
                self.assertEqual(args.get("x-message-ttl"), ms)
                self.assertEqual(args.get("x-dead-letter-exchange"), "")
                self.assertNotIn("x-dead-letter-routing-key", args,
                                 "retry copies must go back by their own routing key")
                self.assertEqual(args.get("x-dead-letter-strategy"), "at-least-once")
                self.assertEqual(args.get("x-overflow"), "reject-publish")
                srcs = [b["source"] for b in self.mgmt.bindings(self.vhost, name)]
                self.assertIn(name, srcs, "queue %s not bound to its exchange" % name)

    def test_topology_retry_labels_are_canonical(self):
        self.topology([self.sub("a")], delays=("200ms", "1000ms", "60s", "3600s"))
        for label, ms in (("200ms", 200), ("1s", 1000), ("1m", 60000), ("1h", 3600000)):
            with self.subTest(label=label):
                self.assertEqual(self.queue("hsbridge.retry." + label)["arguments"]
                                 .get("x-message-ttl"), ms)
                self.assertIsNotNone(self.mgmt.exchange(self.vhost, "hsbridge.retry." + label))

    def test_topology_declares_parked_quorum_queue(self):
        self.topology([self.sub("a")])
        args = self.queue("hsbridge.a.parked")["arguments"]
        self.assertEqual(args.get("x-queue-type"), "quorum")

    def test_topology_inactive_subscription_queue_has_no_bindings(self):
        self.topology([self.sub("on", ["document.*"]), self.sub("off", ["#"], active=False)])
        self.queue("hsbridge.off")
        self.queue("hsbridge.off.parked")
        srcs = [b for b in self.mgmt.bindings(self.vhost, "hsbridge.off") if b["source"] == EXCHANGE]
        self.assertEqual(srcs, [], "inactive subscription must not be bound")
        self.assertTrue([b for b in self.mgmt.bindings(self.vhost, "hsbridge.on")
                         if b["source"] == EXCHANGE])

    def test_topology_is_idempotent(self):
        subs = [self.sub("a", ["document.*"]), self.sub("b", ["#"])]
        conf = self.topology(subs)
        first = sorted((qi["name"], json.dumps(qi["arguments"], sort_keys=True))
                       for qi in self.mgmt.queues(self.vhost))
        cp = self.cli(conf, "topology")
        self.assertEqual(cp.returncode, 0, "second topology failed: %r" % cp.stderr)
        second = sorted((qi["name"], json.dumps(qi["arguments"], sort_keys=True))
                        for qi in self.mgmt.queues(self.vhost))
        self.assertEqual(first, second)
        binds = [b["routing_key"] for b in self.mgmt.bindings(self.vhost, "hsbridge.a")
                 if b["source"] == EXCHANGE]
        self.assertEqual(binds, ["document.*"])

    def test_topology_conflicting_classic_queue_reported_by_name_and_argument(self):
        self.mgmt.declare_queue(self.vhost, "hsbridge.a", arguments={})
        conf = self.config([self.sub("a")], delivery={"retry_delays": ["200ms"]})
        cp = self.cli(conf, "topology")
        self.assertGreater(cp.returncode, 0, "topology must fail (not crash) on a conflicting "
                           "queue: rc=%r stderr=%r" % (cp.returncode, cp.stderr))
        text = self.error_text(cp.stderr + cp.stdout)
        self.assertIn("hsbridge.a", text, "message must name the queue")
        # the classic queue lacks every argument hsbridge declares: any of them
        # is "the argument that differs" (RabbitMQ reports the first it checks)
        differing = ("x-queue-type", "x-delivery-limit", "x-dead-letter-exchange",
                     "x-dead-letter-routing-key")
        self.assertTrue(any(a in text for a in differing),
                        "message must name the argument that differs: %r" % text)
        self.assertTrue("policy" in text or "delete" in text,
                        "message must say how to fix it (a policy, or deleting the queue)")
        qi = self.mgmt.queue(self.vhost, "hsbridge.a")
        self.assertIsNotNone(qi, "the existing queue must be left alone")
        self.assertEqual(qi["arguments"], {})


# ====================================================================== delivery

class DeliveryTests(BridgeCase):
    """The HTTP request (DESIGN section 3) and success handling."""

    def deliver_one(self, secret=None, previous=None, **kw):
        extra = {}
        if secret is not None:
            extra["secret"] = secret
        if previous is not None:
            extra["previous_secrets"] = previous
        s = self.hook("a", ["document.*"], **extra)
        self.start_bridge([s])
        eid, body, ts = self.publish_event("document.uploaded", **kw)
        req = self.rx.wait_count("/a", 1, T_DELIVER)[0]
        return s, eid, body, req

    def test_ready_logged_stderr_is_json_lines_and_sigterm_exits_zero(self):
        self.start_bridge([self.hook("a")])
        rc = self.bridge.stop()
        self.assertEqual(rc, 0)
        objs, bad = parse_json_lines(self.bridge.stderr_text())
        self.assertEqual(bad, [], "every stderr line must be a JSON object")
        self.assertTrue(any(o.get("msg") == "ready" for o in objs))
        for o in objs:
            self.assertIn("level", o)
            self.assertIn("msg", o)

    def test_request_is_json_post_with_user_agent_and_event_header(self):
        s, eid, body, req = self.deliver_one()
        self.assertEqual(req.method, "POST")
        self.assertEqual(req.path, "/a")
        self.assertEqual((req.h("Content-Type") or "").split(";")[0].strip(), "application/json")
        self.assertTrue((req.h("User-Agent") or "").startswith("HealthSync-Webhooks/"),
                        req.h("User-Agent"))
        self.assertEqual(req.h("X-HealthSync-Event"), "document.uploaded")
        self.assertEqual(req.h("X-HealthSync-Attempt"), "1")
        self.assertEqual(json.loads(req.body)["id"], eid)

    def test_healthsync_signature_verifies_with_spec_function(self):
        s, eid, body, req = self.deliver_one()
        sig = req.h("X-HealthSync-Signature")
        self.assertIsNotNone(sig)
        self.assertRegex(sig, r"^sha256=[0-9a-f]{64}$")
        self.assertTrue(verify_signature(req.body.decode("utf-8"), sig, s["secret"]),
                        "X-HealthSync-Signature does not verify with the spec's verify_signature")
        self.assertFalse(verify_signature(req.body.decode("utf-8") + " ", sig, s["secret"]))

    def test_delivery_id_is_uuid5_and_equals_webhook_id(self):
        s, eid, body, req = self.deliver_one()
        d = req.h("X-HealthSync-Delivery")
        self.assertTrue(is_uuid5(d), "X-HealthSync-Delivery %r is not a version-5 UUID" % d)
        self.assertEqual(req.h("webhook-id"), d)

    def test_standard_webhooks_signature_uses_whsec_decoded_key(self):
        s, eid, body, req = self.deliver_one(secret=new_whsec())
        wid, ts = req.h("webhook-id"), req.h("webhook-timestamp")
        self.assertRegex(ts or "", r"^\d+$")
        self.assertLessEqual(abs(int(ts) - req.t), 10, "webhook-timestamp not near now")
        sigs = (req.h("webhook-signature") or "").split(" ")
        self.assertEqual(sigs, [standard_webhooks_sig(s["secret"], wid, ts, req.body)])

    def test_standard_webhooks_signature_uses_raw_bytes_of_plain_secret(self):
        secret = "plain-secret-" + rand_alnum(20)
        s, eid, body, req = self.deliver_one(secret=secret)
        sigs = (req.h("webhook-signature") or "").split(" ")
        self.assertEqual(sigs, [standard_webhooks_sig(
            secret, req.h("webhook-id"), req.h("webhook-timestamp"), req.body)])
        self.assertTrue(verify_signature(req.body.decode(), req.h("X-HealthSync-Signature"), secret))

    def test_previous_secrets_add_one_v1_signature_each(self):
        cur, old1, old2 = new_whsec(), new_whsec(), "older-plain-" + rand_alnum(16)
        s, eid, body, req = self.deliver_one(secret=cur, previous=[old1, old2])
        wid, ts = req.h("webhook-id"), req.h("webhook-timestamp")
        sigs = (req.h("webhook-signature") or "").split(" ")
        want = [standard_webhooks_sig(k, wid, ts, req.body) for k in (cur, old1, old2)]
        self.assertEqual(sorted(sigs), sorted(want))
        self.assertEqual(sigs[0], want[0], "the current secret's signature should come first")
        self.assertTrue(verify_signature(req.body.decode(), req.h("X-HealthSync-Signature"), cur),
                        "X-HealthSync-Signature must use the current secret")

    def test_complete_envelope_delivered_byte_for_byte(self):
        s = self.hook("a", ["document.uploaded"])
        self.start_bridge([s])
        eid = new_event_id()
        body = ('{ "id" :\t"%s",\n  "type": "document.uploaded" , "created_at":"2024-02-27T10:30:00Z",'
                '\r\n "data" : { "object" : {"n": 12345678901234567890.5, "big": 123456789012345678901234567890,'
                ' "e": 1E400, "s": "caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\/ \\n", "raw": "h\u00e9llo \u2603",'
                ' "empty": {}, "arr": [ 1 , 2.50 , -0 ] } }  }\n   ' % eid).encode("utf-8")
        json.loads(body)  # it is valid JSON
        self.publish("document.uploaded", body, message_id=eid, type_="document.uploaded",
                     timestamp=int(time.time()))
        req = self.rx.wait_count("/a", 1, T_DELIVER)[0]
        self.assertEqual(req.body, body, "the envelope must be POSTed unchanged")
        self.assertTrue(verify_signature(req.body.decode("utf-8"),
                                         req.h("X-HealthSync-Signature"), s["secret"]))

    def test_incomplete_envelope_completed_from_message_properties(self):
        self.start_bridge([self.hook("a", ["document.*"])])
        eid = new_event_id()
        data = {"object": {"id": "doc_77", "size": 245678}}
        self.publish("document.updated", {"data": data}, message_id=eid, timestamp=1700000000)
        req = self.rx.wait_count("/a", 1, T_DELIVER)[0]
        env = json.loads(req.body)
        self.assertEqual(env.get("id"), eid, "id from message_id")
        self.assertEqual(env.get("type"), "document.updated", "type from the routing key")
        self.assertRegex(env.get("created_at", ""), r"^2023-11-14T22:13:20(\.0+)?Z$",
                         "created_at from the timestamp property")
        self.assertEqual(env.get("data"), data)
        self.assertEqual(req.h("X-HealthSync-Event"), "document.updated")

    def test_2xx_response_acks_and_removes_message(self):
        self.rx.script("/a", [202, 204, 299], default=500)
        self.start_bridge([self.hook("a", ["document.*"])])
        ids = [self.publish_event("document.uploaded")[0] for _ in range(3)]
        self.rx.wait_count("/a", 3, T_DELIVER)
        self.wait_logged(3, sub="a", outcome="delivered")
        self.assert_settled(["a"])
        reqs = self.rx.for_path("/a")
        self.assertEqual(len(reqs), 3, "each 2xx must end the delivery: %r" % reqs)
        self.assertEqual(sorted(json.loads(r.body)["id"] for r in reqs), sorted(ids))
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [])

    def test_delivery_log_line_per_attempt_with_fields(self):
        self.rx.script("/a", [500], default=200)
        self.start_bridge([self.hook("a", ["document.*"])])
        eid, body, ts = self.publish_event("document.shared")
        reqs = self.rx.wait_count("/a", 2, T_DELIVER)
        self.wait_logged(1, event=eid, outcome="delivered")
        self.assert_settled(["a"])
        lines = self.bridge.deliveries(event=eid)
        self.assertEqual(len(lines), 2, "one line per attempt: %r" % lines)
        first, second = sorted(lines, key=lambda o: o.get("attempt", 0))
        for o in (first, second):
            self.assertEqual(o.get("sub"), "a")
            self.assertEqual(o.get("delivery"), reqs[0].delivery)
            self.assertEqual(o.get("type"), "document.shared")
            self.assertIsInstance(o.get("ms"), (int, float))
            self.assertIn("ts", o)
        self.assertEqual((first.get("attempt"), first.get("status"), first.get("outcome"),
                          first.get("next")), (1, 500, "retry", "200ms"))
        self.assertEqual((second.get("attempt"), second.get("status"), second.get("outcome")),
                         (2, 200, "delivered"))


# ====================================================================== retries

class RetryTests(BridgeCase):
    """Failures, the retry schedule and parking (DESIGN section 4)."""

    def parked(self, sub, n=1, timeout=T_DELIVER):
        return self.drain("hsbridge.%s.parked" % sub, n, timeout)

    def test_failure_retried_after_each_delay_with_same_delivery_id(self):
        self.rx.script("/a", [500, 502], default=200)
        self.start_bridge([self.hook("a", ["document.*"])])
        eid, body, ts = self.publish_event("document.uploaded")
        reqs = self.rx.wait_count("/a", 3, T_DELIVER)
        self.assertEqual([r.attempt for r in reqs], [1, 2, 3])
        self.assertEqual(len({r.delivery for r in reqs}), 1, "same delivery id on every retry")
        self.assertEqual({r.h("webhook-id") for r in reqs}, {reqs[0].delivery})
        self.assertTrue(all(r.body == body for r in reqs))
        self.assertGreaterEqual(reqs[1].t - reqs[0].t, 0.18, "retry before the 200ms delay")
        self.assertGreaterEqual(reqs[2].t - reqs[1].t, 0.27, "retry before the 300ms delay")
        self.wait_logged(1, event=eid, outcome="delivered")
        self.assert_settled(["a"])
        self.assertEqual(len(self.rx.for_path("/a")), 3)

    def test_redirect_is_a_failure_and_not_followed(self):
        self.rx.script("/a", [R(302, {"Location": self.rx.url("/elsewhere")})], default=200)
        self.rx.script("/elsewhere", [], default=200)
        self.start_bridge([self.hook("a", ["document.*"])])
        eid, body, ts = self.publish_event("document.uploaded")
        reqs = self.rx.wait_count("/a", 2, T_DELIVER)
        self.assertEqual([r.attempt for r in reqs[:2]], [1, 2])
        self.assertEqual(self.rx.for_path("/elsewhere"), [], "redirect must not be followed")
        self.wait_logged(1, event=eid, outcome="delivered")
        line = self.bridge.deliveries(event=eid, attempt=1)
        self.assertTrue(line and line[0].get("status") == 302 and line[0].get("outcome") == "retry",
                        line)
        self.assert_settled(["a"])
        self.assertEqual(len(self.rx.for_path("/a")), 2)

    def test_untrusted_tls_certificate_is_a_failure_and_nothing_is_sent(self):
        cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        tls_rx = Receiver(tls=(cert, key))
        self.addCleanup(tls_rx.stop)
        tls_rx.script("/a", [], default=200)
        self.start_bridge([self.sub("a", ["document.*"], url=tls_rx.url("/a"))])
        eid, body, ts = self.publish_event("document.uploaded")
        first = self.wait_logged(1, event=eid, attempt=1)[0]
        self.assertEqual((first.get("status"), first.get("outcome")), (0, "retry"))
        self.assertIn("certificate", first.get("error", "").lower())
        self.assertEqual(tls_rx.all(), [], "no request may reach an endpoint whose certificate "
                                           "does not verify")

    def test_timeout_is_a_failure_and_retried(self):
        self.rx.script("/a", [R(200, sleep=2.0)], default=200)
        self.start_bridge([self.hook("a", ["document.*"], timeout_ms=300)])
        eid, body, ts = self.publish_event("document.uploaded")
        reqs = self.rx.wait_count("/a", 2, T_DELIVER)
        self.assertEqual([r.attempt for r in reqs[:2]], [1, 2])
        self.assertLess(reqs[1].t - reqs[0].t, 1.9, "attempt 2 must not wait for the slow answer")
        first = self.wait_logged(1, event=eid, attempt=1)[0]
        self.assertEqual(first.get("status"), 0)
        self.assertEqual(first.get("outcome"), "retry")
        self.wait_logged(1, event=eid, outcome="delivered")
        self.assert_settled(["a"])
        self.assertEqual(len(self.rx.for_path("/a")), 2)

    def test_connection_refused_retried_then_parked_with_status_0(self):
        s = self.sub("down", ["document.*"])   # url on a closed port
        self.start_bridge([s])
        eid, body, ts = self.publish_event("document.deleted")
        m = self.parked("down")[0]
        h = m["properties"].get("headers") or {}
        self.assertEqual(hdr_int(h.get("hsbridge-attempts")), 5)
        self.assertEqual(hdr_int(h.get("hsbridge-last-status")), 0)
        self.assertTrue(str(h.get("hsbridge-last-error") or ""), "last error must be recorded")
        self.assertEqual(h.get("hsbridge-parked-reason"), "retries_exhausted")
        self.wait_logged(1, event=eid, outcome="parked")
        lines = sorted(self.bridge.deliveries(event=eid), key=lambda o: o.get("attempt", 0))
        self.assertEqual([(o.get("attempt"), o.get("status"), o.get("outcome")) for o in lines],
                         [(1, 0, "retry"), (2, 0, "retry"), (3, 0, "retry"), (4, 0, "retry"),
                          (5, 0, "parked")])
        self.assertEqual([o.get("next") for o in lines[:4]], DELAY_LABELS)
        self.assertEqual(lines[4].get("reason"), "retries_exhausted")
        self.assert_settled(["down"])

    def test_retries_exhausted_parks_with_headers_and_original_properties(self):
        self.rx.script("/a", [], default=R(500, body=b"boom"))
        self.start_bridge([self.hook("a", ["analysis.*"])])
        t0 = time.time()
        eid, body, ts = self.publish_event("analysis.failed")
        m = self.parked("a")[0]
        reqs = self.rx.for_path("/a")
        self.assertEqual([r.attempt for r in reqs], [1, 2, 3, 4, 5])
        self.assertEqual(len({r.delivery for r in reqs}), 1)
        self.assertEqual(m["body"], body, "parked body must be unchanged")
        p = m["properties"]
        self.assertEqual(p.get("message_id"), eid)
        self.assertEqual(p.get("timestamp"), ts)
        self.assertEqual(p.get("type"), "analysis.failed")
        self.assertEqual(p.get("content_type"), "application/json")
        h = p.get("headers") or {}
        self.assertEqual(hdr_int(h.get("hsbridge-attempts")), 5)
        self.assertEqual(hdr_int(h.get("hsbridge-last-status")), 500)
        self.assertTrue(str(h.get("hsbridge-last-error") or ""))
        self.assertEqual(h.get("hsbridge-parked-reason"), "retries_exhausted")
        for k in ("hsbridge-first-failure-at", "hsbridge-parked-at"):
            self.assertIn(k, h)
            self.assertTrue(h[k], "%s empty" % k)
        last = self.wait_logged(1, event=eid, attempt=5)
        self.assertTrue(last and last[0].get("outcome") == "parked"
                        and last[0].get("reason") == "retries_exhausted", last)
        self.assertLess(time.time() - t0, 30)
        self.assert_settled(["a"])
        self.assertEqual(len(self.rx.for_path("/a")), 5, "no attempt after parking")

    def test_410_gone_parks_at_once(self):
        self.rx.script("/a", [], default=410)
        self.start_bridge([self.hook("a", ["share.*"])])
        eid, body, ts = self.publish_event("share.revoked")
        m = self.parked("a")[0]
        h = m["properties"].get("headers") or {}
        self.assertEqual(h.get("hsbridge-parked-reason"), "gone")
        self.assertEqual(hdr_int(h.get("hsbridge-last-status")), 410)
        self.assertEqual(hdr_int(h.get("hsbridge-attempts")), 1)
        self.assertEqual(m["body"], body)
        self.wait_logged(1, event=eid, outcome="parked")
        self.assert_settled(["a"])
        self.assertEqual(len(self.rx.for_path("/a")), 1, "410 must not be retried")
        line = self.bridge.deliveries(event=eid)
        self.assertEqual([(o.get("outcome"), o.get("reason")) for o in line], [("parked", "gone")])

    def test_503_retry_after_picks_smallest_delay_not_below_it(self):
        self.rx.script("/a", [R(503, {"Retry-After": "1"})], default=200)
        self.start_bridge([self.hook("a", ["document.*"])],
                          delivery={"retry_delays": ["200ms", "300ms", "1s", "2s"]})
        eid, body, ts = self.publish_event("document.uploaded")
        reqs = self.rx.wait_count("/a", 2, T_DELIVER)
        self.wait_logged(1, event=eid, outcome="delivered")
        first = self.bridge.deliveries(event=eid, attempt=1)
        self.assertTrue(first and first[0].get("next") == "1s", first)
        gap = reqs[1].t - reqs[0].t
        self.assertGreaterEqual(gap, 0.95, "Retry-After: 1 must delay >= 1s (got %.2fs)" % gap)
        self.assertLess(gap, 1.9, "should use 1s, not 2s (got %.2fs)" % gap)
        self.assertEqual(reqs[1].attempt, 2)
        self.assert_settled(["a"], ["200ms", "300ms", "1s", "2s"])

    def test_429_retry_after_beyond_schedule_uses_largest_delay(self):
        self.rx.script("/a", [R(429, {"Retry-After": "30"})], default=200)
        self.start_bridge([self.hook("a", ["document.*"])],
                          delivery={"retry_delays": ["200ms", "300ms", "400ms", "1s"]})
        eid, body, ts = self.publish_event("document.uploaded")
        reqs = self.rx.wait_count("/a", 2, T_DELIVER)
        self.wait_logged(1, event=eid, outcome="delivered")
        first = self.bridge.deliveries(event=eid, attempt=1)
        self.assertTrue(first and first[0].get("next") == "1s", first)
        gap = reqs[1].t - reqs[0].t
        self.assertGreaterEqual(gap, 0.95, "largest delay is 1s (got %.2fs)" % gap)
        self.assertLess(gap, 10)
        self.assert_settled(["a"], ["200ms", "300ms", "400ms", "1s"])


# ====================================================================== payloads & routing

class RoutingTests(BridgeCase):
    """Invalid payloads, size limit, inactive subscriptions, fan-out."""

    def test_invalid_payloads_parked_unchanged_without_post_and_flow_continues(self):
        self.start_bridge([self.hook("a", ["document.*"])])
        before, _, _ = self.publish_event("document.uploaded")
        bad = [b"not json at all", b"[1, 2, 3]", b'"just a string"',
               b'{"id":"evt_nodata","type":"document.uploaded"}',
               b'{"id":"evt_strdata","data":"nope"}',
               b'{"data":{"object":{}}',                 # truncated
               b'{"data":{"s":"\xff\xfe"}}']            # not UTF-8
        ids = []
        for i, b in enumerate(bad):
            mid = "evt_bad%d" % i
            ids.append(mid)
            self.publish("document.uploaded", b, message_id=mid, type_="document.uploaded",
                         timestamp=int(time.time()))
        after, _, _ = self.publish_event("document.updated")
        self.rx.wait_count("/a", 2, T_DELIVER)
        parked = self.drain("hsbridge.a.parked", len(bad))
        by_id = {m["properties"].get("message_id"): m for m in parked}
        for i, b in enumerate(bad):
            with self.subTest(body=b):
                m = by_id.get(ids[i])
                self.assertIsNotNone(m, "not parked")
                self.assertEqual(m["body"], b, "parked body must be unchanged")
                self.assertEqual((m["properties"].get("headers") or {})
                                 .get("hsbridge-parked-reason"), "invalid_payload")
        self.wait_logged(2, sub="a", outcome="delivered")
        self.assert_settled(["a"])
        posted = [json.loads(r.body).get("id") for r in self.rx.for_path("/a")]
        self.assertEqual(sorted(posted), sorted([before, after]),
                         "only the valid events may be POSTed")
        for mid in ids:
            lines = self.bridge.deliveries(event=mid)
            for o in lines:
                self.assertEqual((o.get("outcome"), o.get("reason")), ("parked", "invalid_payload"))

    def test_oversized_body_parked_as_payload_too_large(self):
        self.start_bridge([self.hook("a", ["document.*"])], delivery={"max_body_bytes": 1024})
        small1, _, _ = self.publish_event("document.uploaded")
        big_id, big_body, _ = self.publish_event("document.uploaded",
                                                 data={"object": {"blob": "x" * 2000}})
        self.assertGreater(len(big_body), 1024)
        small2, _, _ = self.publish_event("document.uploaded")
        self.rx.wait_count("/a", 2, T_DELIVER)
        m = self.drain("hsbridge.a.parked", 1)[0]
        self.assertEqual(m["properties"].get("message_id"), big_id)
        self.assertEqual(m["body"], big_body)
        self.assertEqual((m["properties"].get("headers") or {}).get("hsbridge-parked-reason"),
                         "payload_too_large")
        self.wait_logged(2, sub="a", outcome="delivered")
        self.assert_settled(["a"])
        posted = sorted(json.loads(r.body)["id"] for r in self.rx.for_path("/a"))
        self.assertEqual(posted, sorted([small1, small2]))

    def test_inactive_subscription_gets_nothing(self):
        on, off = self.hook("on", ["#"]), self.hook("off", ["#"], active=False)
        self.start_bridge([on, off])
        # already queued for the inactive subscription: must wait, not be delivered
        self.publish("hsbridge.off", {"id": "evt_waiting", "type": "document.uploaded",
                                      "created_at": "2024-02-27T10:30:00Z", "data": {}},
                     exchange="", message_id="evt_waiting", type_="document.uploaded")
        eid, body, ts = self.publish_event("document.uploaded")
        self.rx.wait_count("/on", 1, T_DELIVER)
        self.assertEqual([b for b in self.mgmt.bindings(self.vhost, "hsbridge.off")
                          if b["source"] == EXCHANGE], [])

        wait_until(lambda: [c for c in self.mgmt.consumers(self.vhost)
                            if c["queue"]["name"] == "hsbridge.on"], 10, "a consumer on hsbridge.on")
        self.assertEqual([c for c in self.mgmt.consumers(self.vhost)
                          if c["queue"]["name"] == "hsbridge.off"], [],
                         "inactive subscription must have no consumer")
        self.wait_logged(1, event=eid, sub="on", outcome="delivered")
        self.assert_settled(["on"])
        waiting = self.mgmt.get(self.vhost, "hsbridge.off", 5)
        self.assertEqual([m["properties"].get("message_id") for m in waiting], ["evt_waiting"],
                         "what was queued for the inactive subscription must wait there")
        self.assertEqual(self.rx.for_path("/off"), [], "inactive subscription was POSTed to")
        self.assertEqual(self.bridge.deliveries(sub="off"), [])

    def test_event_fans_out_to_matching_subscriptions_with_distinct_delivery_ids(self):
        subs = [self.hook("docs", ["document.*"]), self.hook("all", ["#"]),
                self.hook("exact", ["document.uploaded"]), self.hook("other", ["analysis.completed"])]
        self.start_bridge(subs)
        eid, body, ts = self.publish_event("document.uploaded")
        got = {p: self.rx.wait_count(p, 1, T_DELIVER)[0] for p in ("/docs", "/all", "/exact")}
        eid2, body2, _ = self.publish_event("analysis.completed")
        self.rx.wait_count("/other", 1, T_DELIVER)
        self.rx.wait_count("/all", 2, T_DELIVER)
        self.wait_logged(5, outcome="delivered")
        self.assert_settled(["docs", "all", "exact", "other"])
        for p, r in got.items():
            self.assertEqual(r.body, body, p)
            self.assertEqual(r.h("webhook-id"), r.delivery)
            self.assertTrue(is_uuid5(r.delivery), r.delivery)
        self.assertEqual(len({r.delivery for r in got.values()}), 3,
                         "delivery ids must differ per subscription")
        self.assertEqual([json.loads(r.body)["id"] for r in self.rx.for_path("/other")], [eid2])
        self.assertEqual(len(self.rx.for_path("/docs")), 1)
        self.assertEqual(len(self.rx.for_path("/exact")), 1)
        self.assertEqual(sorted(json.loads(r.body)["id"] for r in self.rx.for_path("/all")),
                         sorted([eid, eid2]))


# ====================================================================== shutdown

class ShutdownTests(BridgeCase):

    def test_sigterm_during_inflight_delivery_loses_nothing(self):
        self.rx.script("/slow", [R(200, sleep=2.0)], default=200)
        self.start_bridge([self.hook("slow", ["document.*"], timeout_ms=5000)])
        eid, body, ts = self.publish_event("document.uploaded")
        self.rx.wait_count("/slow", 1, T_DELIVER, "the request to be in flight")
        t0 = time.monotonic()
        self.bridge.signal(signal.SIGTERM)
        rc = self.bridge.wait_exit(timeout=20)
        self.assertEqual(rc, 0, "exit code after SIGTERM")
        self.assertLess(time.monotonic() - t0, 15)
        delivered = self.bridge.deliveries(event=eid, outcome="delivered")
        if delivered:
            self.assert_settled(["slow"])
            self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.slow", 5), [],
                             "delivered and still queued")
        else:
            # handed back: RabbitMQ must still hold it (requeued on close)
            m = self.drain("hsbridge.slow", 1, timeout=10)[0]
            self.assertEqual(m["body"], body)
            self.assertEqual(m["properties"].get("message_id"), eid)
        for q in ("hsbridge.slow.parked",):
            self.assertEqual(self.mgmt.get(self.vhost, q, 5), [], "must not be parked")


# ====================================================================== replay

BOOKKEEPING_PREFIXES = ("hsbridge-", "x-death", "x-first-death-", "x-last-death-")
REPLAY_DELAYS = ["100ms", "200ms"]   # 3 attempts, then parked


class ReplayTests(BridgeCase):
    """`hsbridge replay SUB [--limit N]`: parked messages back into hsbridge.<sub>,
    bookkeeping headers and x-death removed, everything else unchanged."""

    def publish_full(self, etype, headers):
        """A complete envelope with extra properties and headers a service may set."""
        eid = new_event_id()
        ts = int(time.time())
        created = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        body = json.dumps({"id": eid, "type": etype, "created_at": created,
                           "data": {"object": {"id": "doc_" + rand_alnum(6)}}},
                          separators=(",", ":")).encode()
        props = {"delivery_mode": 2, "content_type": "application/json", "message_id": eid,
                 "type": etype, "timestamp": ts, "correlation_id": "corr-" + eid,
                 "app_id": "records-service", "headers": dict(headers)}
        self.assertTrue(self.mgmt.publish(self.vhost, EXCHANGE, etype, body, props),
                        "publish not routed")
        return eid, body, props

    def park_for_real(self, n):
        """n events through a failing endpoint until parked (retries_exhausted);
        returns [(eid, body, props)] and stops the bridge (settled)."""
        self.rx.script("/a", [], default=R(500, body=b"down"))
        self.start_bridge([self.hook("a", ["document.*"])],
                          delivery={"retry_delays": REPLAY_DELAYS})
        evs = [self.publish_full("document.uploaded",
                                 {"x-trace-id": "trace-%d" % i, "x-tenant": "clinic-7"})
               for i in range(n)]
        for eid, _, _ in evs:
            self.wait_logged(1, event=eid, outcome="parked", reason="retries_exhausted")
        return evs

    def replay(self, *args):
        cp = self.cli(self.bridge.conf, "replay", "a", *args)
        self.assertEqual(cp.returncode, 0, "replay failed: stdout=%r stderr=%r"
                         % (cp.stdout, cp.stderr))
        return cp.stdout

    def assert_replayed_copy(self, m, orig):
        eid, body, props = orig
        self.assertEqual(m["body"], body, "replayed body must be unchanged")
        self.assertEqual(m["routing_key"], "hsbridge.a")
        p = m["properties"]
        for k in ("message_id", "type", "timestamp", "content_type", "correlation_id", "app_id"):
            self.assertEqual(p.get(k), props[k], "property %s changed by replay" % k)
        self.assertEqual(p.get("delivery_mode"), 2, "replayed copy must be persistent")
        h = p.get("headers") or {}
        for k, v in props["headers"].items():
            self.assertEqual(h.get(k), v, "header %s changed by replay" % k)
        left = sorted(k for k in h if k.startswith(BOOKKEEPING_PREFIXES))
        self.assertEqual(left, [], "bookkeeping headers must be removed by replay")

    def test_replay_limit_moves_exactly_one_and_strips_bookkeeping_headers(self):
        evs = self.park_for_real(2)
        self.assert_settled(["a"], REPLAY_DELAYS)
        by_id = {e[0]: e for e in evs}
        # the parked copies do carry the bookkeeping (else stripping proves nothing)
        peeked = self.mgmt.peek(self.vhost, "hsbridge.a.parked", 5)
        self.assertEqual(sorted(m["properties"].get("message_id") for m in peeked),
                         sorted(by_id))
        for m in peeked:
            h = m["properties"].get("headers") or {}
            self.assertEqual(hdr_int(h.get("hsbridge-attempts")), 3)
            self.assertEqual(h.get("hsbridge-parked-reason"), "retries_exhausted")

        out = self.replay("--limit", "1")
        self.assertEqual(out.strip(), "replayed 1 message from hsbridge.a.parked to hsbridge.a")
        moved = self.drain("hsbridge.a", 1)
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a", 5), [],
                         "--limit 1 must move exactly one message")
        first = moved[0]["properties"].get("message_id")
        self.assertIn(first, by_id)
        self.assert_replayed_copy(moved[0], by_id[first])

        still = self.mgmt.peek(self.vhost, "hsbridge.a.parked", 5)
        self.assertEqual([m["properties"].get("message_id") for m in still],
                         [e for e in by_id if e != first], "the other one must stay parked")
        out = self.replay()
        self.assertEqual(out.strip(), "replayed 1 message from hsbridge.a.parked to hsbridge.a")
        second = self.drain("hsbridge.a", 1)[0]
        self.assertNotEqual(second["properties"].get("message_id"), first)
        self.assert_replayed_copy(second, by_id[second["properties"].get("message_id")])
        self.assertEqual(self.replay().strip(),
                         "replayed 0 messages from hsbridge.a.parked to hsbridge.a")
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [])

    def test_replay_with_endpoint_fixed_delivers_attempt_1_same_delivery_id(self):
        (eid, body, props), = self.park_for_real(1)
        before = self.rx.for_path("/a")
        self.assertEqual([r.attempt for r in before], [1, 2, 3])
        delivery = before[0].delivery
        self.wait_logged(1, event=eid, attempt=3, outcome="parked")
        self.rx.script("/a", [], default=200)              # the endpoint is fixed
        out = self.replay()                                # into the running bridge
        self.assertEqual(out.strip(), "replayed 1 message from hsbridge.a.parked to hsbridge.a")
        reqs = self.rx.wait_count("/a", 4, T_DELIVER, "the replayed event to be POSTed")
        r = reqs[3]
        self.assertEqual(r.attempt, 1, "attempts must start over after replay")
        self.assertEqual(r.delivery, delivery, "same delivery id as before the replay")
        self.assertEqual(r.h("webhook-id"), delivery)
        self.assertEqual(r.body, body)
        self.assertTrue(verify_signature(r.body.decode(), r.h("X-HealthSync-Signature"),
                                         self.secrets[0]))
        line = self.wait_logged(1, event=eid, outcome="delivered")[0]
        self.assertEqual((line.get("attempt"), line.get("status")), (1, 200))
        self.assert_settled(["a"], REPLAY_DELAYS)
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [],
                         "parked queue must be empty after a successful replay")
        self.assertEqual(len(self.rx.for_path("/a")), 4, "delivered once after the replay")

    def test_replay_moves_only_what_was_parked_when_it_started(self):
        # 410 parks again at once: a replay that drained the queue until empty
        # would feed the running bridge forever.
        self.rx.script("/a", [], default=R(410, body=b"gone"))
        self.start_bridge([self.hook("a", ["document.*"])],
                          delivery={"retry_delays": REPLAY_DELAYS})
        evs = [self.publish_full("document.uploaded", {}) for _ in range(3)]
        for eid, _, _ in evs:
            self.wait_logged(1, event=eid, outcome="parked", reason="gone")
        cp = run_cli(self.bridge.conf, ["replay", "a"], timeout=30)
        self.assert_no_secret(cp.stdout, cp.stderr)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout.strip(), "replayed 3 messages from hsbridge.a.parked to hsbridge.a")
        for eid, _, _ in evs:
            self.wait_logged(2, event=eid, outcome="parked", reason="gone")
        self.assertEqual(len(self.rx.for_path("/a")), 6, "each event POSTed once more, no more")

    def test_replay_removes_x_death_of_delivery_limit_parked_message(self):
        # RabbitMQ itself parks it: x-delivery-limit 1, returned twice
        conf = self.config([self.sub("a", ["document.*"])], delivery={"delivery_limit": 1})
        cp = self.cli(conf, "topology")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        orig = self.publish_full("document.updated", {"x-trace-id": "trace-dl"})
        wait_until(lambda: (self.mgmt.reject_requeue(self.vhost, "hsbridge.a") or True) and
                   self.mgmt.peek(self.vhost, "hsbridge.a.parked"), 10,
                   "RabbitMQ to dead-letter the message (delivery_limit) into the parked queue")
        parked = self.mgmt.peek(self.vhost, "hsbridge.a.parked", 5)
        self.assertEqual(len(parked), 1)
        h = parked[0]["properties"].get("headers") or {}
        self.assertEqual([d.get("reason") for d in h.get("x-death", [])], ["delivery_limit"],
                         "precondition: RabbitMQ's x-death on the parked message")
        cp = self.cli(conf, "replay", "a")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout.strip(),
                         "replayed 1 message from hsbridge.a.parked to hsbridge.a")
        m = self.drain("hsbridge.a", 1)[0]
        self.assert_replayed_copy(m, orig)
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [])

    def test_replay_unknown_subscription_or_bad_limit_exits_64(self):
        conf = self.config([self.sub("a")])
        for args in (("replay", "nosuch"), ("replay", "a", "--limit"),
                     ("replay", "a", "--limit", "x"), ("replay", "a", "--limit", "-1"),
                     ("replay",)):
            with self.subTest(args=args):
                cp = self.cli(conf, *args)
                self.assertEqual(cp.returncode, 64, "stdout=%r stderr=%r" % (cp.stdout, cp.stderr))
        cp = self.cli(conf, "replay", "nosuch")
        self.assertIn("nosuch", cp.stderr, "the error must name the subscription")


# ====================================================================== test-event

class TestEventTests(Base):
    """`hsbridge test-event SUB`: a signed webhook.test POST now, no broker involved
    (the broker URL points at a closed port)."""

    def setUp(self):
        super().setUp()
        self.rx = Receiver()
        self.addCleanup(self.rx.stop)

    def conf(self, url=None, **kw):
        secret, old = new_whsec(), "old-plain-" + rand_alnum(16)
        self.secrets += [secret, old]
        s = {"name": "clinic-portal", "url": url or self.rx.url("/hook"), "events": ["#"],
             "secret": secret, "previous_secrets": [old]}
        s.update(kw)
        self.s = s
        return self.write_conf(render_config(
            {"url": "amqp://guest:guest@127.0.0.1:%d/%%2f" % free_port()}, [s]))

    def test_test_event_posts_signed_webhook_test_and_prints_status_time_body(self):
        pong = "pong-" + rand_alnum(8)
        self.rx.script("/hook", [], default=R(200, body=pong.encode()))
        conf = self.conf()
        cp = self.cli(conf, "test-event", "clinic-portal")
        self.assertEqual(cp.returncode, 0, "stdout=%r stderr=%r" % (cp.stdout, cp.stderr))
        reqs = self.rx.for_path("/hook")
        self.assertEqual(len(reqs), 1, "exactly one POST, before the command returns")
        r = reqs[0]
        self.assertEqual(r.method, "POST")
        self.assertEqual(r.h("X-HealthSync-Event"), "webhook.test")
        self.assertEqual(r.h("X-HealthSync-Attempt"), "1")
        self.assertTrue((r.h("User-Agent") or "").startswith("HealthSync-Webhooks/"))
        self.assertTrue(verify_signature(r.body.decode("utf-8"), r.h("X-HealthSync-Signature"),
                                         self.s["secret"]),
                        "X-HealthSync-Signature does not verify with the spec's function")
        wid, ts = r.h("webhook-id"), r.h("webhook-timestamp")
        self.assertEqual(wid, r.delivery)
        self.assertTrue(is_uuid5(r.delivery), r.delivery)
        self.assertLessEqual(abs(int(ts) - r.t), 10)
        self.assertEqual(sorted((r.h("webhook-signature") or "").split(" ")),
                         sorted(standard_webhooks_sig(k, wid, ts, r.body)
                                for k in [self.s["secret"]] + self.s["previous_secrets"]))
        env = json.loads(r.body)
        self.assertEqual(env.get("type"), "webhook.test")
        self.assertRegex(env.get("id", ""), EVENT_ID_RE)
        self.assertRegex(env.get("created_at", ""), ISO_Z_RE)
        self.assertIsInstance(env.get("data"), dict)
        self.assertIsInstance(env["data"].get("object"), dict)
        out = cp.stdout
        self.assertRegex(out, r"(?m)^status:\s+200\s*$")
        self.assertRegex(out, r"(?m)^time:\s+\d+ ms\s*$")
        self.assertRegex(out, r"(?m)^body:\s+%s\s*$" % pong, "the response body")
        self.assertIn(r.delivery, out, "stdout should name the delivery id")
        self.assertIn(env["id"], out, "stdout should name the event id")

    def test_test_event_non_2xx_exits_75_and_prints_status_and_body(self):
        self.rx.script("/hook", [], default=R(503, body=b"maintenance window"))
        cp = self.cli(self.conf(), "test-event", "clinic-portal")
        self.assertEqual(cp.returncode, 75, "stdout=%r stderr=%r" % (cp.stdout, cp.stderr))
        self.assertRegex(cp.stdout, r"(?m)^status:\s+503\s*$")
        self.assertIn("maintenance window", cp.stdout)
        self.assertEqual(len(self.rx.for_path("/hook")), 1, "a test event is not retried")

    def test_test_event_no_response_exits_75(self):
        cp = self.cli(self.conf(url="http://127.0.0.1:%d/hook" % free_port()),
                      "test-event", "clinic-portal")
        self.assertEqual(cp.returncode, 75, "stdout=%r stderr=%r" % (cp.stdout, cp.stderr))
        self.assertIn("no response", cp.stdout)
        self.assertRegex(cp.stdout, r"(?m)^time:\s+\d+ ms\s*$")

    def test_test_event_timeout_exits_75_within_timeout(self):
        self.rx.script("/hook", [], default=R(200, sleep=3.0))
        conf = self.conf(timeout_ms=300)
        t0 = time.monotonic()
        cp = self.cli(conf, "test-event", "clinic-portal")
        self.assertEqual(cp.returncode, 75, "stdout=%r stderr=%r" % (cp.stdout, cp.stderr))
        self.assertLess(time.monotonic() - t0, 2.5, "the subscription's timeout_ms must apply")
        self.assertIn("no response", cp.stdout)

    def test_test_event_unknown_subscription_exits_64_without_posting(self):
        cp = self.cli(self.conf(), "test-event", "nosuch")
        self.assertEqual(cp.returncode, 64, "stdout=%r stderr=%r" % (cp.stdout, cp.stderr))
        self.assertIn("nosuch", cp.stderr)
        self.assertEqual(self.rx.all(), [])


# ====================================================================== status

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


class StatusTests(BridgeCase):
    """`hsbridge status`: per subscription queue (ready, consumers) and parked count,
    the retry queues; real numbers from the broker."""

    def status(self, conf):
        cp = self.cli(conf, "status")
        self.assertEqual(cp.returncode, 0, "status failed: stdout=%r stderr=%r"
                         % (cp.stdout, cp.stderr))
        return cp.stdout

    def test_status_before_topology_reports_queues_missing_and_declares_nothing(self):
        conf = self.config([self.sub("a"), self.sub("b", active=False)],
                           delivery={"retry_delays": ["100ms", "1h"]})
        out = self.status(conf)
        got = parse_status(out)
        for name in ("hsbridge.a", "hsbridge.a.parked", "hsbridge.b", "hsbridge.b.parked",
                     "hsbridge.retry.100ms", "hsbridge.retry.1h"):
            with self.subTest(queue=name):
                self.assertIn(name, got, "status does not list %s:\n%s" % (name, out))
                self.assertIn("missing", got[name])
        self.assertEqual(self.mgmt.queues(self.vhost), [], "status must not declare queues")

    def test_status_broker_unavailable_exits_69(self):
        s = self.sub("a")
        self.secrets.append(s["secret"])
        conf = self.write_conf(render_config(
            {"url": "amqp://guest:guest@127.0.0.1:%d/%%2f" % free_port()}, [s]))
        cp = self.cli(conf, "status")
        self.assertEqual(cp.returncode, 69, "stdout=%r stderr=%r" % (cp.stdout, cp.stderr))

    def test_status_lists_unacked_and_orphans_from_the_management_api(self):
        mgmt = {"management_url": "http://127.0.0.1:%d" % Env.mgmt_port}
        a, b = self.hook("a", ["document.*"]), self.hook("b", ["document.*"])
        # hsbridge.b exists from an earlier config; this one has only a
        self.cli(self.config([a, b], delivery={"retry_delays": list(DELAYS)}, broker=mgmt),
                 "topology")
        self.rx.script("/a", [], default=R(200, sleep=30.0))
        self.start_bridge([a], broker=mgmt)
        eid, _, _ = self.publish_event("document.uploaded")
        self.rx.wait_count("/a", 1, T_DELIVER, "the slow delivery to be in flight")
        last = {}

        def shows_unacked():
            last["out"] = self.status(self.bridge.conf)
            return re.search(r"hsbridge\.a: 0 ready, 1 unacked, 1 consumers", last["out"])
        # the management API's statistics lag by several seconds
        wait_until(shows_unacked, 30, "status to show the delivery in flight as unacked",
                   interval=0.5, detail=lambda: last.get("out"))
        out = last["out"]
        self.assertRegex(out, r"(?m)^orphaned ")
        orphans = re.findall(r"(?m)^  orphan +(\S+):", out)
        self.assertEqual(sorted(orphans), ["hsbridge.b", "hsbridge.b.parked"])
        self.assertNotIn("did not answer", out)
        # still bound from the earlier config, nobody consumes it: the event waits there
        self.assertRegex(out, r"orphan +hsbridge\.b: 1 ready")

    def test_status_without_management_api_says_so_and_still_exits_0(self):
        conf = self.config([self.sub("a")],
                           broker={"management_url": "http://127.0.0.1:%d" % free_port()})
        self.cli(conf, "topology")
        out = self.status(conf)
        self.assertIn("0 ready, 0 consumers", out)
        self.assertRegex(out, r"no unacked counts or orphaned queues: the management API at "
                              r"http://127\.0\.0\.1:\d+ did not answer")

    def test_status_reflects_ready_consumers_parked_and_retry_waiting(self):
        a, b = self.hook("a", ["document.*"]), self.hook("b", ["#"], active=False)
        self.start_bridge([a, b], delivery={"retry_delays": ["100ms", "1h"]})
        # 2 parked at once (invalid payloads)
        for i in range(2):
            self.publish("document.uploaded", b"not json %d" % i, message_id="evt_bad%d" % i)
        # 1 waiting in hsbridge.retry.100ms then hsbridge.retry.1h (fails twice)
        self.rx.script("/a", [500, 500], default=200)
        eid, _, _ = self.publish_event("document.uploaded")
        # 3 waiting for the inactive subscription
        for i in range(3):
            self.publish("hsbridge.b", {"data": {}}, exchange="", message_id="evt_b%d" % i)
        self.wait_logged(1, event=eid, attempt=2, outcome="retry", next="1h")
        want = {"hsbridge.a": (0, 1), "hsbridge.a.parked": (2, None),
                "hsbridge.b": (3, 0), "hsbridge.b.parked": (0, None),
                "hsbridge.retry.100ms": (0, None), "hsbridge.retry.1h": (1, None)}
        last = {}

        def matches():
            out = self.status(self.bridge.conf)
            last["out"] = out
            got = parse_status(out)
            last["got"] = {k: status_numbers(got.get(k)) for k in want}
            return last["got"] == want
        wait_until(matches, 10, "status to show the real queue state %r" % (want,),
                   interval=0.2, detail=lambda: "last status output:\n%s\nparsed: %r"
                   % (last.get("out"), last.get("got")))
        self.assertRegex(last["out"], r"(?m)^a \(active\)")
        self.assertRegex(last["out"], r"(?m)^b \(inactive\)")
        self.assertEqual(self.rx.for_path("/b"), [])


# ====================================================================== reload

class ReloadTests(BridgeCase):
    """SIGHUP re-reads the config file: accepted -> drain, reconnect, ready;
    rejected -> logged with file:line, the running config stays."""

    DELIVERY = {"timeout_ms": 3000, "retry_delays": list(DELAYS)}

    def rewrite(self, subs, text=None):
        """Overwrite the running bridge's config file in place."""
        path = self.config(subs, delivery=dict(self.DELIVERY)) if text is None else \
            self.write_conf(text)
        self.assertEqual(path, self.bridge.conf)
        return path

    def log_index(self, pred, after=-1):
        for i, o in enumerate(self.bridge.lines()):
            if i > after and pred(o):
                return i
        return None

    def sighup(self, outcome, wait_ready=True):
        """Send SIGHUP, wait for the resulting reload line (outcome must start
        with `outcome`); after an accepted one wait for 'ready' again."""
        n = len([o for o in self.bridge.lines() if o.get("msg") == "reload"])
        self.bridge.signal(signal.SIGHUP)

        def reload_line():
            if not self.bridge.running():
                raise AssertionError("hsbridge exited (rc %r) on SIGHUP" % self.bridge.proc.poll())
            seen = [(i, o) for i, o in enumerate(self.bridge.lines()) if o.get("msg") == "reload"]
            return seen[n] if len(seen) > n else None
        idx, line = wait_until(reload_line, T_DELIVER, 'a "reload" log line after SIGHUP',
                               detail=lambda: self.bridge.stderr_text()[-3000:])
        self.assertTrue(str(line.get("outcome", "")).startswith(outcome),
                        "reload outcome %r, want %s" % (line.get("outcome"), outcome))
        if outcome == "accepted" and wait_ready:
            self.wait_ready_after(idx)
        return idx, line

    def wait_ready_after(self, idx):
        wait_until(lambda: self.log_index(lambda o: o.get("msg") == "ready", idx) is not None,
                   T_DELIVER, '"ready" again after the accepted reload',
                   detail=lambda: self.bridge.stderr_text()[-3000:])

    def test_sighup_adds_subscription_and_moves_changed_url(self):
        a = self.hook("a", ["document.*"])
        self.start_bridge([a], delivery=self.DELIVERY)
        e0, _, _ = self.publish_event("document.uploaded")
        self.rx.wait_count("/a", 1, T_DELIVER)
        self.wait_logged(1, event=e0, outcome="delivered")
        a2 = dict(a, url=self.rx.url("/a-moved"))
        b = self.hook("b", ["analysis.*"])
        self.rewrite([a2, b])
        self.sighup("accepted")
        self.assertIsNotNone(self.mgmt.queue(self.vhost, "hsbridge.b"),
                             "the added subscription's queue must be declared")
        self.assertEqual([x["routing_key"] for x in self.mgmt.bindings(self.vhost, "hsbridge.b")
                          if x["source"] == EXCHANGE], ["analysis.*"])
        e1, body1, _ = self.publish_event("document.uploaded")
        e2, body2, _ = self.publish_event("analysis.completed")
        r1 = self.rx.wait_count("/a-moved", 1, T_DELIVER, "the event at a's new url")[0]
        r2 = self.rx.wait_count("/b", 1, T_DELIVER, "the event at the added subscription")[0]
        self.assertEqual(r1.body, body1)
        self.assertEqual(r2.body, body2)
        self.assertTrue(verify_signature(r2.body.decode(), r2.h("X-HealthSync-Signature"),
                                         b["secret"]))
        self.wait_logged(1, event=e1, sub="a", outcome="delivered")
        self.wait_logged(1, event=e2, sub="b", outcome="delivered")
        self.assert_settled(["a", "b"])
        self.assertEqual([json.loads(r.body)["id"] for r in self.rx.for_path("/a")], [e0],
                         "after the reload nothing may go to a's old url")
        self.assertEqual(len(self.rx.for_path("/a-moved")), 1)
        self.assertEqual(len(self.rx.for_path("/b")), 1)

    def test_sighup_changed_events_rebinds_subscription_queue(self):
        a = self.hook("a", ["document.*"])
        self.start_bridge([a], delivery=self.DELIVERY)
        self.rewrite([dict(a, events=["analysis.*"])])
        self.sighup("accepted")
        binds = self.mgmt.bindings(self.vhost, "hsbridge.a")
        self.assertEqual(sorted(x["routing_key"] for x in binds if x["source"] == EXCHANGE),
                         ["analysis.*"],
                         "the queue must be bound with exactly the new patterns")
        dropped, _, _ = self.publish_event("document.uploaded", expect_routed=False)
        kept, _, _ = self.publish_event("analysis.completed")
        self.rx.wait_count("/a", 1, T_DELIVER)
        self.wait_logged(1, event=kept, outcome="delivered")
        self.assert_settled(["a"])
        self.assertEqual([json.loads(r.body)["id"] for r in self.rx.for_path("/a")], [kept],
                         "an event type removed from the subscription was still delivered")

    def test_sighup_active_false_stops_capturing_and_consuming(self):
        a, c = self.hook("a", ["#"]), self.hook("c", ["#"])
        self.start_bridge([a, c], delivery=self.DELIVERY)
        e0, _, _ = self.publish_event("document.uploaded")
        self.rx.wait_count("/c", 1, T_DELIVER)
        self.wait_logged(2, event=e0, outcome="delivered")
        self.rewrite([a, dict(c, active=False)])
        self.sighup("accepted")
        self.assertEqual([x for x in self.mgmt.bindings(self.vhost, "hsbridge.c")
                          if x["source"] == EXCHANGE], [], "inactive: no bindings")
        wait_until(lambda: not [x for x in self.mgmt.consumers(self.vhost)
                                if x["queue"]["name"] == "hsbridge.c"], 10,
                   "no consumer on hsbridge.c after deactivation")
        e1, _, _ = self.publish_event("document.updated")
        self.rx.wait_count("/a", 2, T_DELIVER)
        self.wait_logged(1, event=e1, sub="a", outcome="delivered")
        self.assert_settled(["a"])
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.c", 5), [],
                         "a deactivated subscription must not capture new events")
        self.assertEqual([json.loads(r.body)["id"] for r in self.rx.for_path("/c")], [e0])
        self.assertEqual(self.bridge.deliveries(sub="c", event=e1), [])

    def test_sighup_invalid_config_rejected_with_file_line_and_old_config_kept(self):
        a = self.hook("a", ["document.*"])
        self.start_bridge([a], delivery=self.DELIVERY)
        bad = dict(a, url=self.rx.url("/new"), max_in_flihgt=4)
        text = render_config({"url": self.broker_url}, [bad], delivery=dict(self.DELIVERY))
        line_no = next(i for i, l in enumerate(text.splitlines(), 1) if "max_in_flihgt" in l)
        self.rewrite(None, text=text)
        idx, line = self.sighup("rejected")
        self.assertEqual(line.get("level"), "error")
        err = str(line.get("error", ""))
        self.assertIn("hsbridge.conf:%d:" % line_no, err, "the error must name file:line")
        self.assertIn("max_in_flihgt", err)
        eid, body, _ = self.publish_event("document.uploaded")
        r = self.rx.wait_count("/a", 1, T_DELIVER, "delivery with the old config")[0]
        self.assertEqual(r.body, body)
        self.wait_logged(1, event=eid, outcome="delivered")
        self.assert_settled(["a"])
        self.assertEqual(self.rx.for_path("/new"), [], "the rejected config must not apply")
        self.assertEqual([o for o in self.bridge.lines()[idx:] if o.get("msg") == "ready"], [],
                         "a rejected reload must not reconnect")

    def test_sighup_during_inflight_slow_delivery_completes_it_exactly_once(self):
        self.rx.script("/a", [R(200, sleep=2.0)], default=200)
        a = self.hook("a", ["document.*"], timeout_ms=5000)
        self.start_bridge([a], delivery=self.DELIVERY)
        e1, body1, _ = self.publish_event("document.uploaded")
        self.rx.wait_count("/a", 1, T_DELIVER, "the slow request to be in flight")
        self.rewrite([a, self.hook("b", ["analysis.*"])])
        idx, line = self.sighup("accepted", wait_ready=False)
        e2, body2, _ = self.publish_event("document.updated")   # while draining
        self.wait_ready_after(idx)
        self.wait_logged(1, event=e1, outcome="delivered")
        self.wait_logged(1, event=e2, outcome="delivered")
        done = self.log_index(lambda o: o.get("msg") == "delivery" and o.get("event") == e1)
        ready = self.log_index(lambda o: o.get("msg") == "ready", idx)
        self.assertTrue(idx < done < ready, "the in-flight delivery must finish before the "
                        "reconnect (reload %d, delivered %d, ready %d)" % (idx, done, ready))
        self.assert_settled(["a", "b"])
        ids = [json.loads(r.body)["id"] for r in self.rx.for_path("/a")]
        self.assertEqual(sorted(ids), sorted([e1, e2]), "each event POSTed exactly once")
        d1 = self.bridge.deliveries(event=e1)
        self.assertEqual([(o.get("attempt"), o.get("status"), o.get("outcome")) for o in d1],
                         [(1, 200, "delivered")])
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [])


# ====================================================================== resilience

class ResilienceCase(BridgeCase):
    """Helpers for tests that break things under a running bridge."""

    def setUp(self):
        super().setUp()
        self.old_bridges = []   # killed/replaced bridge processes (secret checks)

    def tearDown(self):
        problems = []
        for b in self.old_bridges:
            if b.running():
                b.kill9()
            for s in self.secrets:
                if s in b.stderr_text() or s.encode() in b.stdout_bytes():
                    problems.append("a configured secret appears in %s" % b.stderr_path)
                    break
        try:
            super().tearDown()
        finally:
            if problems:
                self.fail("; ".join(problems))

    def logs(self, msg, after=-1, **match):
        """[(index, line)] of log lines with msg and all key=value pairs, after index."""
        return [(i, o) for i, o in enumerate(self.bridge.lines())
                if i > after and o.get("msg") == msg
                and all(o.get(k) == v for k, v in match.items())]

    def wait_log(self, msg, after=-1, n=1, timeout=T_DELIVER, pred=None, **match):
        """Wait for n matching log lines after index `after`; return them."""
        def found():
            if not self.bridge.running():
                raise AssertionError("hsbridge exited (rc %r) while waiting for %r"
                                     % (self.bridge.proc.poll(), msg))
            got = [(i, o) for i, o in self.logs(msg, after, **match) if pred is None or pred(o)]
            return got if len(got) >= n else None
        return wait_until(found, timeout, "%d %r log line(s) with %r after line %d"
                          % (n, msg, match, after),
                          detail=lambda: self.bridge.stderr_text()[-3000:])

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


class SelfHealingTopologyTests(ResilienceCase):
    """A retry/parked copy is published mandatory; a copy no queue takes comes
    back (basic.return), the topology is declared again and the same copy is
    published again after a backoff while the original stays unacked: an
    operator deleting queues loses nothing and the endpoint sees no extra POST."""

    def test_deleted_retry_and_parked_queues_are_declared_again_and_event_ends_parked(self):
        # requests: 1 (retry copy refused, published again) 2 3 4 5 (slow; parked copy
        # refused, published again) -> parked
        self.rx.script("/a", [500, 500, 500, 500, R(500, sleep=2.0, body=b"boom")],
                       default=R(500, body=b"boom"))
        self.start_bridge([self.hook("a", ["document.*"])])
        for name in ("hsbridge.a.parked", "hsbridge.retry.200ms"):
            self.mgmt.delete_queue(self.vhost, name)
            self.assertIsNone(self.mgmt.queue(self.vhost, name), "precondition: %s deleted" % name)
        eid, body, ts = self.publish_event("document.uploaded")

        # phase 1: the first retry copy has no queue
        i1, refused1 = self.wait_log("copy refused", n=1, event=eid)[0]
        self.assertEqual(refused1.get("sub"), "a")
        self.wait_log("topology", after=i1, outcome="declared again")
        for name in ("hsbridge.a.parked", "hsbridge.retry.200ms"):
            wait_until(lambda: self.mgmt.queue(self.vhost, name), 10,
                       "queue %s to be declared again" % name)
        retry_q = self.mgmt.queue(self.vhost, "hsbridge.retry.200ms")
        self.assertEqual(retry_q["arguments"].get("x-queue-type"), "quorum")
        self.assertEqual(retry_q["arguments"].get("x-message-ttl"), 200)
        self.assertIn("hsbridge.retry.200ms",
                      [b["source"] for b in self.mgmt.bindings(self.vhost, "hsbridge.retry.200ms")],
                      "the recreated retry queue must be bound to its exchange again")
        self.assertEqual(self.mgmt.queue(self.vhost, "hsbridge.a.parked")["arguments"]
                         .get("x-queue-type"), "quorum")

        # phase 2: the parked queue disappears again while attempt 5 is in flight
        wait_until(lambda: [r for r in self.rx.for_path("/a") if r.attempt == 5], T_DELIVER,
                   "attempt 5 to be in flight", detail=lambda: self.rx.all())
        self.mgmt.delete_queue(self.vhost, "hsbridge.a.parked")
        self.assertIsNone(self.mgmt.queue(self.vhost, "hsbridge.a.parked"))
        refused = self.wait_log("copy refused", n=2, event=eid)
        self.wait_log("topology", after=refused[1][0], outcome="declared again")

        got = []
        wait_until(lambda: got.extend(self.queue_or_none_msgs("hsbridge.a.parked", 5)) or got,
                   T_DELIVER, "the event to end up in the recreated parked queue",
                   detail=lambda: "%s\n%s" % (self.rx.all(), self.bridge.stderr_text()[-3000:]))
        self.wait_log("delivery", n=1, event=eid, outcome="parked")
        self.assertEqual(len(got), 1, "exactly one parked copy: %r" % [m["body"] for m in got])
        m = got[0]
        self.assertEqual(m["body"], body, "parked body must be unchanged")
        p = m["properties"]
        self.assertEqual(p.get("message_id"), eid)
        self.assertEqual(p.get("type"), "document.uploaded")
        self.assertEqual(p.get("timestamp"), ts)
        self.assertEqual(p.get("content_type"), "application/json")
        h = p.get("headers") or {}
        self.assertEqual(h.get("hsbridge-parked-reason"), "retries_exhausted")
        self.assertEqual(hdr_int(h.get("hsbridge-attempts")), 5)
        self.assertEqual(hdr_int(h.get("hsbridge-last-status")), 500)
        for k in ("hsbridge-last-error", "hsbridge-first-failure-at", "hsbridge-parked-at"):
            self.assertTrue(h.get(k), "%s missing or empty on the parked message" % k)

        reqs = self.rx.for_path("/a")
        self.assertEqual([r.attempt for r in reqs], [1, 2, 3, 4, 5],
                         "a refused copy is published again: no attempt is made twice")
        self.assertEqual(len({r.delivery for r in reqs}), 1, "same delivery id throughout")
        self.assertTrue(all(r.body == body for r in reqs))
        lines = [(o.get("attempt"), o.get("outcome")) for _, o in self.logs("delivery", event=eid)]
        self.assertEqual(lines, [(1, "retry"), (2, "retry"), (3, "retry"), (4, "retry"),
                                 (5, "parked")])
        self.assertEqual(len(self.logs("copy refused")), 2)
        self.assertEqual(self.logs("connection lost"), [],
                         "a returned copy must not cost the connection")
        self.assertEqual(len(self.logs("ready")), 1)
        self.assert_settled(["a"])
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [],
                         "a second parked copy appeared after settling")


class RefusedCopyTests(ResilienceCase):
    """A copy the broker nacks (a full queue with x-overflow reject-publish) is
    published again after a backoff; the original is never acked before, and
    the endpoint never sees an attempt twice."""

    def test_nacked_parked_copy_is_published_again_until_the_broker_takes_it(self):
        self.rx.script("/a", [], default=410)
        self.start_bridge([self.hook("a", ["document.*"])])
        # A full parked queue: quorum queues reject once over the limit, so
        # one filler message puts it there and keeps it there.
        self.mgmt.set_policy(self.vhost, "full", r"^hsbridge\.a\.parked$",
                             {"max-length": 0, "overflow": "reject-publish"})
        filler = b'{"filler":true}'
        wait_until(lambda: self.mgmt.publish(self.vhost, "", "hsbridge.a.parked", filler,
                                             {"delivery_mode": 2}), 10, "the filler")
        eid, body, ts = self.publish_event("document.uploaded")
        refused = self.wait_log("copy refused", n=2, event=eid)
        for _, line in refused:
            self.assertEqual(line.get("error"), "the broker nacked the copy")
            self.assertEqual(line.get("routing_key"), "hsbridge.a.parked")
        self.assertLess(refused[0][1].get("retry_in_ms"), refused[1][1].get("retry_in_ms"),
                        "the backoff grows")
        self.assertEqual(len(self.rx.for_path("/a")), 1, "no attempt while the copy is refused")
        # Room again. A quorum queue tells its publishers "go" only when a
        # dequeue takes it below the limit: raise the limit, take the filler.
        self.mgmt.set_policy(self.vhost, "full", r"^hsbridge\.a\.parked$",
                             {"max-length": 100, "overflow": "reject-publish"})
        wait_until(lambda: (self.mgmt.queue(self.vhost, "hsbridge.a.parked") or {})
                   .get("effective_policy_definition", {}).get("max-length") == 100,
                   10, "the raised limit to apply")
        seen = []
        wait_until(lambda: seen.extend(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5)) or
                   any(m["body"] == body for m in seen),
                   T_DELIVER, "the event to be parked once the queue takes it")
        self.assertIn(filler, [m["body"] for m in seen])
        got = [m for m in seen if m["body"] != filler]
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["body"], body)
        self.assertEqual((got[0]["properties"].get("headers") or {}).get("hsbridge-parked-reason"),
                         "gone")
        self.assertEqual([r.attempt for r in self.rx.for_path("/a")], [1],
                         "a refused copy must not make the endpoint see the attempt again")
        self.assertEqual(self.logs("connection lost"), [])
        self.assert_settled(["a"])


class BlockedConnectionTests(ResilienceCase):
    """A memory alarm blocks publishing connections: the bridge hears
    connection.blocked, holds its copies instead of writing into a socket the
    broker no longer reads, and goes on once unblocked. Nothing is lost."""

    def test_copies_wait_while_blocked_and_flow_once_unblocked(self):
        self.rx.script("/a", [R(500, sleep=1.0)], default=200)
        self.start_bridge([self.hook("a", ["document.*"])])
        eid, body, ts = self.publish_event("document.uploaded")
        self.rx.wait_count("/a", 1, T_DELIVER, "attempt 1 to be in flight")
        self.addCleanup(rabbitmqctl, "set_vm_memory_high_watermark", "0.4")
        rabbitmqctl("set_vm_memory_high_watermark", "0.0001")
        self.wait_log("blocked", n=1)
        self.assertEqual(len(self.rx.for_path("/a")), 1, "no retry while the broker is blocked")
        rabbitmqctl("set_vm_memory_high_watermark", "0.4")
        self.wait_log("unblocked", n=1)
        self.wait_log("delivery", n=1, event=eid, outcome="delivered")
        self.assertEqual([r.attempt for r in self.rx.for_path("/a")], [1, 2])
        self.assertEqual(self.logs("connection lost"), [])
        self.assert_settled(["a"])


class ConsumerCancelTests(ResilienceCase):
    """A subscription queue deleted under the bridge: the broker cancels the
    consumer, the bridge reconnects, declares the queue again and consumes."""

    def test_deleted_subscription_queue_is_declared_again_and_consumed(self):
        self.start_bridge([self.hook("a", ["document.*"])])
        self.mgmt.delete_queue(self.vhost, "hsbridge.a")
        self.wait_log("connection lost", n=1)
        self.wait_log("ready", n=2)
        eid, body, ts = self.publish_event("document.uploaded")
        self.wait_log("delivery", n=1, event=eid, outcome="delivered")
        self.assertEqual(self.rx.for_path("/a")[0].body, body)


class ReconnectTests(ResilienceCase):
    """The broker closes the bridge's connection: it reconnects, in-flight
    work is redelivered (at-least-once), nothing is lost."""

    def drop_connection(self, name=None):
        """Close the bridge's connection from the broker side; wait until the
        bridge noticed. Returns (closed name, index of 'connection lost', line)."""
        name = name or self.bridge_connection()
        self.mgmt.close_connection(name)
        idx, lost = self.wait_log("connection lost", n=1)[0]
        return name, idx, lost

    def test_connection_closed_by_broker_reconnects_and_keeps_delivering(self):
        self.start_bridge([self.hook("a", ["document.*"])])
        e0, _, _ = self.publish_event("document.uploaded")
        self.wait_logged(1, event=e0, outcome="delivered")
        name, lost_i, lost = self.drop_connection()
        self.assertEqual(lost.get("level"), "error")
        rec_i = self.wait_log("reconnecting", after=lost_i)[0][0]
        self.wait_log("ready", after=rec_i)
        self.assertTrue(self.bridge.running(), "the bridge must survive a dropped connection")
        e1, body1, _ = self.publish_event("document.updated")
        r = [x for x in self.rx.wait_count("/a", 2, T_DELIVER, "the event published after "
                                           "the reconnect")
             if json.loads(x.body)["id"] == e1]
        self.assertEqual(len(r), 1)
        self.assertEqual(r[0].body, body1)
        self.assertEqual(r[0].attempt, 1)
        self.wait_logged(1, event=e1, outcome="delivered")
        self.assert_settled(["a"])
        self.assertEqual(sorted(json.loads(x.body)["id"] for x in self.rx.for_path("/a")),
                         sorted([e0, e1]))
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [])

    def test_delivery_in_flight_when_connection_dropped_is_redelivered_not_lost(self):
        self.rx.script("/a", [R(200, sleep=2.0)], default=200)
        s = self.hook("a", ["document.*"], timeout_ms=5000)
        self.start_bridge([s])
        conn = self.bridge_connection()     # before: the management API lists it late
        eid, body, _ = self.publish_event("document.uploaded")
        first = self.rx.wait_count("/a", 1, T_DELIVER, "the slow request to be in flight")[0]
        name, lost_i, lost = self.drop_connection(conn)
        self.assertGreaterEqual(lost.get("in_flight", 0), 1,
                                "precondition: the delivery was in flight when the "
                                "connection dropped: %r" % lost)
        self.wait_log("ready", after=lost_i)
        reqs = self.rx.wait_count("/a", 2, T_DELIVER, "the event to be delivered again "
                                  "after the reconnect")
        line = self.wait_logged(1, event=eid, outcome="delivered")[0]
        self.assertEqual((line.get("attempt"), line.get("status")), (1, 200))
        self.assert_settled(["a"])
        reqs = self.rx.for_path("/a")
        self.assertEqual({r.delivery for r in reqs}, {first.delivery},
                         "a redelivery keeps the delivery id (receivers drop duplicates)")
        self.assertEqual([r.attempt for r in reqs], [1] * len(reqs),
                         "a redelivery after a dropped connection is not a new attempt")
        for r in reqs:
            self.assertEqual(r.body, body)
            self.assertTrue(verify_signature(r.body.decode(), r.h("X-HealthSync-Signature"),
                                             s["secret"]))
        self.assertEqual(len(self.bridge.deliveries(event=eid, outcome="delivered")), 1)
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [],
                         "a dropped connection must not park the event")


class ReloadBrokerTests(ResilienceCase):
    """SIGHUP reloads that involve the broker: one it refuses, one that removes
    a subscription."""

    DELIVERY = ReloadTests.DELIVERY
    rewrite = ReloadTests.rewrite
    log_index = ReloadTests.log_index
    sighup = ReloadTests.sighup
    wait_ready_after = ReloadTests.wait_ready_after

    def test_reload_refused_by_broker_is_rejected_and_old_config_keeps_delivering(self):
        a = self.hook("a", ["document.*"])
        self.start_bridge([a], delivery=self.DELIVERY)     # delivery_limit: default 20
        e0, _, _ = self.publish_event("document.uploaded")
        self.wait_logged(1, event=e0, outcome="delivered")
        # the new file is valid, but x-delivery-limit differs from the existing queue's
        path = self.config([dict(a, url=self.rx.url("/new"))],
                           delivery=dict(self.DELIVERY, delivery_limit=5))
        self.assertEqual(path, self.bridge.conf)
        start = len(self.bridge.lines()) - 1
        self.bridge.signal(signal.SIGHUP)

        def rejected():
            applied = self.logs("reload", start, outcome="applied")
            if applied:
                raise AssertionError("the broker-refused config was applied: %r" % (applied,))
            got = [(i, o) for i, o in self.logs("reload", start)
                   if str(o.get("outcome", "")).startswith("rejected")]
            return got[0] if got else None
        self.assertTrue(self.bridge.running())
        idx, line = wait_until(rejected, T_DELIVER, 'a "reload" line with outcome "rejected..."',
                               detail=lambda: self.bridge.stderr_text()[-3000:])
        self.assertEqual(line.get("level"), "error")
        broker = [o for _, o in self.logs("broker", start) if "hsbridge.a" in str(o.get("error"))]
        self.assertTrue(broker, "a log line must name the refused queue: %r"
                        % self.bridge.lines()[start + 1:])
        err = str(broker[0].get("error"))
        self.assertIn("x-delivery-limit", err, "it must name the argument that differs")
        self.assertTrue("policy" in err or "delete" in err, "it must say how to fix it")
        self.wait_log("ready", after=idx)
        self.assertEqual(self.mgmt.queue(self.vhost, "hsbridge.a")["arguments"]
                         .get("x-delivery-limit"), 20, "the existing queue is left alone")

        e1, body1, _ = self.publish_event("document.updated")
        r = self.rx.wait_count("/a", 2, T_DELIVER, "delivery with the old config")[1]
        self.assertEqual(r.body, body1)
        self.wait_logged(1, event=e1, outcome="delivered")
        self.assert_settled(["a"])
        self.assertEqual(self.rx.for_path("/new"), [], "the refused config must not apply")
        self.assertEqual(self.logs("reload", start, outcome="applied"), [])

    def test_reload_removing_subscription_keeps_its_queue_but_unbinds_it(self):
        a = self.hook("a", ["#"])
        b = self.hook("b", ["document.*", "analysis.*"])
        self.start_bridge([a, b], delivery=self.DELIVERY)
        e0, _, _ = self.publish_event("document.uploaded")
        self.rx.wait_count("/b", 1, T_DELIVER)
        self.wait_logged(2, event=e0, outcome="delivered")
        self.rewrite([a])
        self.sighup("accepted")
        self.assertIsNotNone(self.mgmt.queue(self.vhost, "hsbridge.b"),
                             "a removed subscription's queue is kept")
        self.assertIsNotNone(self.mgmt.queue(self.vhost, "hsbridge.b.parked"),
                             "a removed subscription's parked queue is kept")
        only_default = [("", "hsbridge.b")]
        last = {}

        def unbound():
            last["b"] = sorted((x["source"], x["routing_key"])
                               for x in self.mgmt.bindings(self.vhost, "hsbridge.b"))
            return last["b"] == only_default
        wait_until(unbound, 10, "hsbridge.b to keep only the default binding",
                   detail=lambda: "bindings: %r" % last.get("b"))
        wait_until(lambda: not [x for x in self.mgmt.consumers(self.vhost)
                                if x["queue"]["name"] == "hsbridge.b"], 10,
                   "no consumer on hsbridge.b after its removal")
        self.assertEqual(sorted(o.get("pattern") for _, o in self.logs("unbind", queue="hsbridge.b")),
                         ["analysis.*", "document.*"])
        self.assertEqual(sorted(x["routing_key"] for x in self.mgmt.bindings(self.vhost, "hsbridge.a")
                                if x["source"] == EXCHANGE), ["#"],
                         "the remaining subscription keeps its binding")
        e1, _, _ = self.publish_event("document.updated")
        e2, _, _ = self.publish_event("analysis.completed")
        self.rx.wait_count("/a", 3, T_DELIVER)
        self.wait_logged(1, event=e1, sub="a", outcome="delivered")
        self.wait_logged(1, event=e2, sub="a", outcome="delivered")
        self.assert_settled(["a"])
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.b", 5), [],
                         "a removed subscription must not capture new events")
        self.assertIsNotNone(self.mgmt.queue(self.vhost, "hsbridge.b"))
        self.assertEqual([json.loads(r.body)["id"] for r in self.rx.for_path("/b")], [e0])
        self.assertEqual(sorted(json.loads(r.body)["id"] for r in self.rx.for_path("/a")),
                         sorted([e0, e1, e2]))


class RestartTests(ResilienceCase):
    """kill -9 with a delivery in flight: RabbitMQ redelivers to the next
    process; a redelivery is not a new attempt; a message that keeps killing
    the bridge is parked by RabbitMQ (x-delivery-limit)."""

    HANG = 60.0   # longer than the test: the bridge never gets an answer

    def test_kill9_in_flight_redelivered_after_restart_same_delivery_id_and_attempt(self):
        # attempt 1 fails, attempt 2 hangs; the process dies during attempt 2
        self.rx.script("/a", [500, R(200, sleep=self.HANG)], default=200)
        s = self.hook("a", ["document.*"], timeout_ms=60000)
        self.start_bridge([s])
        eid, body, ts = self.publish_event("document.uploaded")
        reqs = self.rx.wait_count("/a", 2, T_DELIVER, "attempt 2 to be in flight")
        self.assertEqual([r.attempt for r in reqs], [1, 2])
        self.bridge.kill9()
        self.assertEqual(self.bridge.deliveries(event=eid, attempt=2), [],
                         "precondition: attempt 2 never completed")
        self.restart_bridge("bridge2")
        reqs = self.rx.wait_count("/a", 3, T_DELIVER, "the redelivery after the restart")
        r = reqs[2]
        self.assertEqual(r.h("X-HealthSync-Attempt"), "2",
                         "a redelivery is not a new attempt (attempt 2 was never decided)")
        self.assertEqual(r.delivery, reqs[0].delivery, "same delivery id after the restart")
        self.assertEqual(r.h("webhook-id"), reqs[0].delivery)
        self.assertEqual(r.body, body)
        self.assertTrue(verify_signature(r.body.decode(), r.h("X-HealthSync-Signature"),
                                         s["secret"]))
        line = self.wait_logged(1, event=eid, outcome="delivered")[0]
        self.assertEqual((line.get("attempt"), line.get("status")), (2, 200))
        self.assert_settled(["a"])
        self.assertEqual(len(self.rx.for_path("/a")), 3)
        self.assertEqual(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5), [])

    def test_poison_message_that_keeps_killing_the_bridge_is_parked_by_delivery_limit(self):
        self.rx.script("/a", [], default=R(200, sleep=self.HANG))
        s = self.hook("a", ["document.*"], timeout_ms=60000)
        self.start_bridge([s], delivery={"delivery_limit": 1})
        eid, body, ts = self.publish_event("document.uploaded")
        self.rx.wait_count("/a", 1, T_DELIVER, "the first delivery to be in flight")
        self.bridge.kill9()
        self.restart_bridge("bridge2")
        reqs = self.rx.wait_count("/a", 2, T_DELIVER, "the redelivery after the first restart")
        self.assertEqual([r.attempt for r in reqs], [1, 1])
        self.assertEqual(reqs[1].delivery, reqs[0].delivery)
        self.bridge.kill9()     # returned a second time: over x-delivery-limit 1
        parked = []
        wait_until(lambda: parked.extend(self.mgmt.get(self.vhost, "hsbridge.a.parked", 5))
                   or parked, T_DELIVER,
                   "RabbitMQ to dead-letter the poison message into hsbridge.a.parked")
        self.assertEqual(len(parked), 1)
        m = parked[0]
        self.assertEqual(m["body"], body)
        self.assertEqual(m["properties"].get("message_id"), eid)
        deaths = (m["properties"].get("headers") or {}).get("x-death") or []
        self.assertEqual([(d.get("reason"), d.get("queue")) for d in deaths],
                         [("delivery_limit", "hsbridge.a")])
        # a fresh bridge does not see it again: a later event is the next thing POSTed
        self.rx.script("/a", [], default=200)
        self.restart_bridge("bridge3")
        e2, body2, _ = self.publish_event("document.updated")
        self.wait_logged(1, event=e2, outcome="delivered")
        self.assert_settled(["a"])
        ids = [json.loads(r.body)["id"] for r in self.rx.for_path("/a")]
        self.assertEqual(ids, [eid, eid, e2], "the parked poison message was POSTed again")


if __name__ == "__main__":
    unittest.main()
