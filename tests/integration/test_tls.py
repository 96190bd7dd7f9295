#!/usr/bin/python3
"""amqps:// to the real node (README "TLS to the broker"): with broker.ca_file
the bridge connects over TLS (both of its connections), delivers, retries and
parks; an IP address in broker.url is checked against the certificate's IP
entries; a wrong CA, a host name and an IP address the certificate does not
list are refused with an error that names the certificate check, and nothing
is delivered; `status` reads the management API over https.

The suite's node listens with TLS on HSB_AMQPS_PORT (AMQP) and
HSB_MGMT_TLS_PORT (management), presenting <HSB_RABBIT_DIR>/tls/node.pem,
a certificate for DNS:localhost and IP:127.0.0.1 signed by tls/ca.pem
(scripts/rabbitmq and scripts/test-certs make them; scripts/test sets the
ports). Only this area uses those ports: a test here may make the node
present another certificate of tls/ (node.pem replaced, then the node's PEM
cache cleared) and puts the usual one back when it ends.
A ctest entry of its own (integration_tls); shared fixtures: hsb_cases.py.
"""

import json
import os
import shutil
import ssl
import sys
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import (  # noqa: E402
    BridgeCase, parse_status, status_numbers)
from hsb_harness import (  # noqa: E402
    BridgeProc, Env, rabbitmqctl, wait_until)

VERIFY_FAILED = "TLS certificate verification failed"


def tls_env():
    """(amqps port, https management port, folder of the certificates), or
    raise: the area fails, it does not skip, without a TLS node."""
    missing = [v for v in ("HSB_AMQPS_PORT", "HSB_MGMT_TLS_PORT") if not os.environ.get(v)]
    tls = os.path.join(Env.rabbit_dir, "tls")
    if missing or not os.path.isfile(os.path.join(tls, "ca.pem")):
        raise RuntimeError("integration_tls needs the node started with TLS: set %s and start "
                           "it with scripts/rabbitmq (scripts/test does; certificates in %s)"
                           % (", ".join(missing) or "HSB_AMQPS_PORT", tls))
    return int(os.environ["HSB_AMQPS_PORT"]), int(os.environ["HSB_MGMT_TLS_PORT"]), tls


class TlsTests(BridgeCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.amqps_port, cls.mgmt_tls_port, cls.tls = tls_env()

    def pem(self, name):
        return os.path.join(self.tls, name)

    def amqps(self, host="localhost"):
        return "amqps://guest:guest@%s:%d/%s" % (host, self.amqps_port, self.vhost)

    def tls_broker(self, host="localhost", ca="ca.pem"):
        return {"url": self.amqps(host), "ca_file": self.pem(ca),
                "management_url": "https://localhost:%d" % self.mgmt_tls_port}

    def run_bridge(self, broker, subs=None):
        """`run` with this broker config, not waiting for "ready"."""
        conf = self.config(subs or [self.hook("a", ["document.*"])],
                           delivery={"timeout_ms": 3000, "retry_delays": ["200ms", "300ms"]},
                           broker=broker)
        self.bridge = BridgeProc(conf, self.tmp).start()
        return self.bridge

    def status(self, broker):
        conf = self.config([self.hook("a", ["document.*"])], broker=broker)
        return self.cli(conf, "status")

    def node_presents(self, name):
        """Make the node's AMQP listener present tls/<name>.pem (and .key):
        the files replaced (renamed into place), the node's PEM cache
        cleared; polls until a fresh handshake gets that certificate."""
        for ext in ("pem", "key"):
            tmp = self.pem("node.%s.new" % ext)
            shutil.copyfile(self.pem("%s.%s" % (name, ext)), tmp)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.pem("node." + ext))
        rabbitmqctl("eval", "ssl:clear_pem_cache().")
        with open(self.pem(name + ".pem")) as f:
            want = ssl.PEM_cert_to_DER_cert(f.read())
        wait_until(lambda: ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(
            ("127.0.0.1", self.amqps_port))) == want, 10,
            "the node to present tls/%s.pem" % name)

    def assert_refused(self, broker, *words):
        """`status` exits 69 naming the check; `run` logs it, retries and
        never gets ready, delivers nothing, and stops with 0 on SIGTERM."""
        cp = self.status(broker)
        self.assertEqual(cp.returncode, 69, cp.stderr)
        self.assertIn(VERIFY_FAILED, cp.stderr)
        for w in words:
            self.assertIn(w, cp.stderr)
        self.assertNotIn("guest:guest", cp.stderr)
        self.run_bridge(broker)
        lines = [o for _, o in self.wait_log("broker", n=2, what="two refused connects")]
        for line in lines:
            self.assertIn(VERIFY_FAILED, line.get("error", ""))
            for w in words:
                self.assertIn(w, line.get("error", ""))
        self.assertEqual(self.logs("ready"), [], "a refused certificate must not get ready")
        self.assertEqual(self.logs("connected"), [])
        self.assertEqual(self.rx.all(), [])
        self.assertEqual(self.bridge.stop(), 0)
        self.assertNotIn("guest:guest", self.bridge.stderr_text())
        return cp.stderr, lines[0]["error"]

    def publish_waiting(self):
        """Topology through the plain port, then one event that waits in
        hsbridge.a (a refused bridge must leave it there)."""
        conf = self.config([self.hook("a", ["document.*"])])
        cp = self.cli(conf, "topology")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return self.publish_event("document.uploaded")[0]

    def assert_still_waiting(self, eid):
        got = self.mgmt.get(self.vhost, "hsbridge.a", 5)
        self.assertEqual([m["properties"].get("message_id") for m in got], [eid])

    # ------------------------------------------------------------ connects

    def test_ca_file_connects_over_tls_and_delivers_retries_and_parks(self):
        self.rx.script("/a", [500], default=200)
        self.rx.script("/b", [], default=404)   # counts (no breaker): parked at the end
        self.start_bridge([self.hook("a", ["document.*"]), self.hook("b", ["analysis.*"])],
                          broker=self.tls_broker())
        # Both connections (consuming, copies) are TLS, on the TLS port.
        def tls_conns():
            cs = [c for c in self.mgmt.connections(self.vhost)
                  if (c.get("client_properties") or {}).get("connection_name")
                  in ("hsbridge run", "hsbridge run copies")]
            return cs if len(cs) == 2 else None
        conns = wait_until(tls_conns, 10, "the bridge's two connections in the management API")
        for c in conns:
            self.assertTrue(c.get("ssl"), c)
            self.assertEqual(c.get("port"), self.amqps_port, c)
        retried, body_a, _ = self.publish_event("document.uploaded")
        parked, body_b, _ = self.publish_event("analysis.completed")
        self.wait_logged(1, event=retried, outcome="delivered")
        self.wait_logged(1, event=parked, outcome="parked")
        self.assertEqual([r.attempt for r in self.rx.for_path("/a")], [1, 2])
        self.assertEqual(self.rx.for_path("/a")[1].body, body_a)
        self.assertEqual([r.attempt for r in self.rx.for_path("/b")], [1, 2, 3, 4, 5])
        got = self.drain("hsbridge.b.parked", 1)
        self.assertEqual(got[0]["body"], body_b)
        self.assertEqual(got[0]["properties"].get("message_id"), parked)
        self.assert_settled(["a", "b"])

    def test_ip_address_url_is_checked_against_the_certificate_ip_entries(self):
        # The node's certificate lists IP:127.0.0.1: rabbitmq-c 0.11 checked
        # DNS names only and refused this with "hostname verification failed".
        self.start_bridge([self.hook("a", ["document.*"])],
                          broker=self.tls_broker(host="127.0.0.1"))
        eid, body, _ = self.publish_event("document.uploaded")
        self.wait_logged(1, event=eid, outcome="delivered")
        self.assertEqual(self.rx.for_path("/a")[0].body, body)
        cp = self.status(self.tls_broker(host="127.0.0.1"))
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assert_settled(["a"])

    # ------------------------------------------------------------ refusals

    def test_wrong_ca_is_refused_naming_the_ca_file_and_nothing_is_delivered(self):
        eid = self.publish_waiting()
        for host in ("localhost", "127.0.0.1"):
            with self.subTest(host=host):
                status_err, run_err = self.assert_refused(
                    self.tls_broker(host=host, ca="other-ca.pem"),
                    "broker.ca_file " + self.pem("other-ca.pem"),
                    "does not hold the CA that signed the broker's certificate")
                self.assertIn("at %s:%d" % (host, self.amqps_port), status_err)
                self.old_bridges.append(self.bridge)
                self.bridge = None
        self.assert_still_waiting(eid)

    def test_host_name_or_ip_address_not_in_the_certificate_is_refused(self):
        eid = self.publish_waiting()
        self.addCleanup(self.node_presents, "server")
        self.node_presents("other-name")    # CA-signed, for DNS:other.example only
        self.assert_refused(self.tls_broker(host="localhost"),
                            "does not name the host localhost",
                            "must be one of the certificate's DNS names")
        self.old_bridges.append(self.bridge)
        self.bridge = None
        self.assert_refused(self.tls_broker(host="127.0.0.1"),
                            "does not list the IP address 127.0.0.1",
                            "use a DNS name the certificate lists")
        self.assert_still_waiting(eid)

    # ------------------------------------------------------------ status

    def test_status_reads_the_management_api_over_https(self):
        broker = self.tls_broker()
        self.start_bridge([self.hook("a", ["document.*"])], broker=broker)
        cp = self.status(broker)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertNotIn("did not answer", cp.stdout)
        self.assertEqual(status_numbers(parse_status(cp.stdout).get("hsbridge.a")), (0, 1),
                         cp.stdout)
        cp = self.cli(self.config([self.hook("a", ["document.*"])], broker=broker),
                      "status", "--json")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        doc = json.loads(cp.stdout)
        self.assertEqual(doc["subscriptions"][0]["queue"]["consumers"], 1, doc)
        self.assertEqual(doc["subscriptions"][0]["queue"]["unacked"], 0, doc)
        # The same management port without TLS trust (plain http to an
        # https port) is reported, not taken for an answer.
        plain = dict(broker, management_url="http://localhost:%d" % self.mgmt_tls_port)
        cp = self.status(plain)
        self.assertIn("did not answer", cp.stdout)


if __name__ == "__main__":
    unittest.main()
