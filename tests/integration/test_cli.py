#!/usr/bin/python3
"""Commands that need no running bridge: usage, check, configuration errors,
broker unavailable, `hsbridge publish`, `hsbridge test-event`, `hsbridge topology`.
A ctest entry of its own (integration_cli); shared fixtures: hsb_cases.py.
"""

import json
import os
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import (  # noqa: E402
    Base, BrokerCase, EVENT_ID_RE, EXCHANGE, ISO_Z_RE, self_sub)
from hsb_harness import (  # noqa: E402
    Env, R, Receiver, free_port, is_uuid5, new_whsec, rand_alnum, render_config,
    standard_webhooks_sig, verify_signature)


CONF_DELIVERY_TYPO = """\
broker: {
  url = "amqp://guest:guest@127.0.0.1:%(port)d/%%2f";
};
delivery: { allow_private_addresses = true;
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
delivery: { allow_private_addresses = true;
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
delivery: { allow_private_addresses = true;
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

    def test_help_in_every_spelling_prints_usage_and_exits_0(self):
        """`hsbridge --help` said "invalid option -- '-'" and exited 64."""
        for args in (["--help"], ["-h"], ["help"], ["-c", "x.conf", "--help"]):
            cp = subprocess.run([Env.bin] + args, capture_output=True, text=True, timeout=10)
            self.assertEqual(cp.returncode, 0, "%s: stderr=%r" % (args, cp.stderr))
            self.assertIn("test-event", cp.stdout, args)
            self.assertEqual(cp.stderr, "", args)
        cp = subprocess.run([Env.bin, "--no-such-option"], capture_output=True, text=True,
                            timeout=10)
        self.assertEqual(cp.returncode, 64, cp.stderr)

    def test_json_only_where_a_command_takes_it_else_exits_64(self):
        # the broker port is closed: a command line that parsed would give 69
        conf = self.write_conf(render_config({"url": "amqp://guest:guest@127.0.0.1:%d/%%2f"
                                              % free_port()}, [self_sub("a")]))
        for args in (["status", "--json", "--json"], ["status", "--json", "x"],
                     ["status", "x"], ["check", "--json"], ["topology", "--json"]):
            with self.subTest(args=args):
                cp = self.cli(conf, *args)
                self.assertEqual(cp.returncode, 64, "stdout=%r stderr=%r" % (cp.stdout, cp.stderr))
                self.assertIn("status [--json]", cp.stderr, "the usage names --json")

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

    # (case: the test it used to be, command, config, line of the error, word it must name)
    CONFIG_ERRORS = [
        ("test_check_unknown_key_in_delivery_exits_78_naming_file_and_line",
         "check", CONF_DELIVERY_TYPO, 6, "retry_dleays"),
        ("test_check_unknown_key_in_subscription_exits_78_naming_file_and_line",
         "check", CONF_SUB_TYPO, 13, "max_in_flihgt"),
        ("test_check_syntax_error_exits_78_naming_file_and_line",
         "check", CONF_SYNTAX, 5, None),
        # the broker port is closed: trying to connect first would give 69
        ("test_run_with_config_error_exits_78_before_connecting",
         "run", CONF_DELIVERY_TYPO, 6, "retry_dleays"),
    ]

    def test_config_error_exits_78_naming_file_and_line(self):
        for case, command, template, line, word in self.CONFIG_ERRORS:
            with self.subTest(case=case):
                conf = self.conf_text(template)
                self.assert_config_error(self.cli(conf, command), conf, line, word)

    # (case: the test it used to be, command line)
    BROKER_UNAVAILABLE = [
        ("test_publish_with_broker_unavailable_exits_69",
         ("publish", "document.uploaded", '{"data":{"object":{}}}')),
        ("test_status_broker_unavailable_exits_69", ("status",)),
        ("status --json: the same exit code, nothing on stdout", ("status", "--json")),
    ]

    def test_broker_unavailable_exits_69(self):
        s = self_sub("a")
        self.secrets.append(s["secret"])
        conf = self.write_conf(render_config(
            {"url": "amqp://guest:guest@127.0.0.1:%d/%%2f" % free_port()}, [s]))
        for case, args in self.BROKER_UNAVAILABLE:
            with self.subTest(case=case):
                cp = self.cli(conf, *args)
                self.assertEqual(cp.returncode, 69, "stdout=%r stderr=%r" % (cp.stdout, cp.stderr))
                self.assertEqual(cp.stdout, "")


class OperatorCliTests(BrokerCase):
    """What an operator without the service's environment can run (issue 8
    review): status, topology and publish read no secret_file/secret_env;
    the commands that sign still need them, and name the variable."""

    def setUp(self):
        super().setUp()
        sub = self.sub("ops", ["document.uploaded"])
        del sub["secret"]
        sub["secret_env"] = "HSB_TEST_UNSET_SECRET_VAR"
        os.environ.pop("HSB_TEST_UNSET_SECRET_VAR", None)
        other = self.sub("other", ["#"])
        del other["secret"]
        other["secret_file"] = "/nonexistent/hsb/secret"
        self.conf = self.config([sub, other])

    def test_status_topology_publish_need_no_secret(self):
        for args in (["topology"], ["status"], ["status", "--json"],
                     ["publish", "document.uploaded", '{"data": {}}']):
            with self.subTest(args=args):
                cp = self.cli(self.conf, *args)
                self.assertEqual(cp.returncode, 0, "stdout=%r stderr=%r" % (cp.stdout, cp.stderr))
        self.assertEqual(len(self.drain("hsbridge.ops", 1)), 1, "publish reached the queue")

    def test_signing_commands_still_need_the_secret_and_name_the_variable(self):
        for args in (["check"], ["test-event", "ops"], ["replay", "ops"], ["run"]):
            with self.subTest(args=args):
                cp = self.cli(self.conf, *args)
                self.assertEqual(cp.returncode, 78, "stdout=%r stderr=%r" % (cp.stdout, cp.stderr))
                self.assertIn("HSB_TEST_UNSET_SECRET_VAR is not set", cp.stderr)


class CliOptionTests(Base):
    """--version, usage errors that say why, the default config path."""

    def test_version_in_both_spellings(self):
        for flag in ("-V", "--version"):
            cp = subprocess.run([Env.bin, flag], capture_output=True, text=True, timeout=10)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assertRegex(cp.stdout, r"^hsbridge \d+\.\d+\.\d+\n$")

    def test_usage_errors_say_what_was_wrong(self):
        conf = self.write_conf(render_config({"url": "amqp://guest:guest@127.0.0.1:%d/%%2f"
                                              % free_port()}, [self_sub("a")]))
        for args, why in ((["publish"], "publish: missing operand"),
                          (["replay", "a", "--limit", "x"], "replay: the count after the option"),
                          (["status", "--yaml"], "status: unknown option"),
                          (["check", "extra"], "check: too many operands")):
            with self.subTest(args=args):
                cp = self.cli(conf, *args)
                self.assertEqual(cp.returncode, 64, cp.stderr)
                self.assertIn("hsbridge: " + why, cp.stderr)

    def test_default_config_outside_a_source_tree_is_the_installed_one(self):
        env = dict(os.environ)
        env.pop("HSBRIDGE_CONFIG", None)
        empty = os.path.join(self.tmp, "empty-cwd")
        os.makedirs(empty, exist_ok=True)
        cp = subprocess.run([Env.bin, "check"], capture_output=True, text=True, timeout=10,
                            cwd=empty, env=env)
        if os.path.exists("/etc/hsbridge/hsbridge.conf"):
            self.assertIn("/etc/hsbridge/hsbridge.conf", cp.stdout + cp.stderr)
        else:
            self.assertEqual(cp.returncode, 78, cp.stderr)
            self.assertIn("/etc/hsbridge/hsbridge.conf: cannot read", cp.stderr)
        os.makedirs(os.path.join(empty, "etc"), exist_ok=True)
        with open(os.path.join(empty, "etc", "hsbridge.conf"), "w") as f:
            f.write("broker: { nonsense = 1; };\n")
        cp = subprocess.run([Env.bin, "check"], capture_output=True, text=True, timeout=10,
                            cwd=empty, env=env)
        self.assertEqual(cp.returncode, 78, cp.stderr)
        self.assertIn("etc/hsbridge.conf:1:", cp.stderr, "a source tree's etc/ comes first")

    def test_check_names_the_metrics_listener_and_warns_off_loopback(self):
        base = {"url": "amqp://guest:guest@127.0.0.1:%d/%%2f" % free_port()}
        conf = self.write_conf(render_config(base, [self_sub("a")],
                                             metrics={"listen": "0.0.0.0:9464"}))
        cp = self.cli(conf, "check")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("metrics:  0.0.0.0:9464", cp.stdout)
        self.assertRegex(cp.stdout, r"warning: .*metrics.listen: 0.0.0.0:9464 is not a loopback")
        conf = self.write_conf(render_config(base, [self_sub("a")],
                                             metrics={"listen": "127.0.0.1:9464"}))
        cp = self.cli(conf, "check")
        self.assertIn("metrics:  127.0.0.1:9464", cp.stdout)
        self.assertNotIn("loopback", cp.stdout)


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

    # (case: the test it used to be, the JSON argument)
    REJECTED_JSON = [
        ("test_publish_invalid_json_exits_65_and_publishes_nothing", '{"data": {'),
        ("test_publish_json_without_data_exits_65_and_publishes_nothing",
         '{"id":"evt_x","object":{}}'),
    ]

    def test_publish_rejected_json_exits_65_and_publishes_nothing(self):
        for case, arg in self.REJECTED_JSON:
            with self.subTest(case=case):
                cp = self.cli(self.conf, "publish", "document.uploaded", arg)
                self.assertEqual(cp.returncode, 65, "stdout=%r stderr=%r" % (cp.stdout, cp.stderr))
                self.assert_nothing_published()


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
        # at-least-once at the delivery limit (DESIGN section 9; RabbitMQ
        # needs reject-publish for it), and no length limit of its own
        self.assertEqual(args.get("x-dead-letter-strategy"), "at-least-once")
        self.assertEqual(args.get("x-overflow"), "reject-publish")
        self.assertNotIn("x-max-length", args)
        # replicas: RabbitMQ's default (quorum_cluster_size, 3), not an
        # argument that every queue of 0.1 would then refuse (README: node
        # lists and quorum replicas); on this single node, one member, the leader
        self.assertNotIn("x-quorum-initial-group-size", args)
        qi = self.queue("hsbridge.clinic-portal")
        self.assertEqual(qi.get("members"), [qi.get("leader")])

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

    def test_topology_conflicting_retry_queue_names_the_way_out(self):
        # topology.c adds the queue's way out to the broker's refusal; the
        # history stream gets its own instead (test_history RetentionTests)
        self.mgmt.declare_queue(self.vhost, "hsbridge.retry.200ms", arguments={})
        conf = self.config([self.sub("a")], delivery={"retry_delays": ["200ms"]})
        cp = self.cli(conf, "topology")
        self.assertGreater(cp.returncode, 0, cp.stderr)
        text = self.error_text(cp.stderr + cp.stdout)
        self.assertIn("queue hsbridge.retry.200ms already exists with other arguments", text)
        self.assertIn("fix: set the difference with a policy, or delete the queue once it is "
                      "drained (rabbitmqctl delete_queue hsbridge.retry.200ms) and run "
                      "hsbridge topology again", text)


if __name__ == "__main__":
    unittest.main()
