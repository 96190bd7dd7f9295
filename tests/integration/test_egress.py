#!/usr/bin/python3
"""How requests leave (issue 12), each against the real part:
- the private-address guard: an endpoint that resolves to loopback
  ("localhost") is refused at connect time, parked as address_not_allowed,
  never retried, and the breaker does not count it; a connection another
  subscription opened to the same place is refused as well; through a proxy,
  an IP-address endpoint host is judged before anything is sent;
- client certificates: nginx with ssl_verify_client on and a CA made by
  scripts/test-certs answers 400 without the certificate (the retry path) and
  204 with it (an encrypted key, its password from the environment); a key of
  another certificate and a wrong password are config errors on their line;
- the proxy: Debian's tinyproxy on loopback forwards plain HTTP (its Via
  header reaches the receiver) and tunnels HTTPS with CONNECT (its log), with
  Basic credentials that no output repeats; the environment's http_proxy is
  ignored unless proxy = "env";
- max_per_second: 100 events at 20 per second arrive within the token bucket
  (a burst of 20, then 20 a second) while the rest waits Ready in the queue,
  not unacked in the bridge; a 429 without Retry-After counts toward the
  breaker and not against the event.
A ctest entry of its own (integration_egress); shared fixtures: hsb_cases.py.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import BridgeCase, hdr_int, parse_status  # noqa: E402
from hsb_harness import (  # noqa: E402
    BridgeProc, Env, R, Receiver, clean_env, free_port, rand_alnum, take_held_port,
    wait_until)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFUSED = "endpoint address not allowed"
PROXY_NAME = "hsbtest-proxy"


def make_certs(folder):
    """scripts/test-certs into folder: a CA, server.pem for localhost and
    127.0.0.1, client.pem (clientAuth) and other-client.pem of another CA."""
    subprocess.run([os.path.join(REPO, "scripts", "test-certs"), folder], check=True)
    return lambda name: os.path.join(folder, name)


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


class CertsCase:
    """A class's certificates, made once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certs = tempfile.mkdtemp(prefix="hsb-egress-certs-")
        cls.pem = staticmethod(make_certs(cls.certs))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certs, True)
        super().tearDownClass()


class Daemon:
    """A program with its own config on a free loopback port, stopped at the
    test's end."""

    def __init__(self, case, name, port, cmd, log):
        self.port, self.log = port, log
        take_held_port(port).close()  # free_port() kept it bound: let the daemon have it
        self.err = open(os.path.join(case.tmp, name + ".stderr"), "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.err,
                                     stderr=self.err, env=clean_env(), start_new_session=True)
        case.addCleanup(self.stop)
        wait_until(lambda: listening(port) or self.proc.poll() is not None, 15,
                   "%s to listen on %d" % (name, port))
        if self.proc.poll() is not None:
            raise AssertionError("%s did not start: %s" % (name, open(self.err.name).read()))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()

    def text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


def tinyproxy(case, auth=None):
    """tinyproxy on 127.0.0.1:<free port>, logging every connection and
    request; every CONNECT port allowed (no ConnectPort line)."""
    d = os.path.join(case.tmp, "tinyproxy")
    os.makedirs(d, exist_ok=True)
    port = free_port()
    log = os.path.join(d, "tinyproxy.log")
    conf = os.path.join(d, "tinyproxy.conf")
    with open(conf, "w") as f:
        f.write('Port %d\nListen 127.0.0.1\nTimeout 30\nLogFile "%s"\nLogLevel Connect\n'
                'PidFile "%s/tinyproxy.pid"\nMaxClients 20\nAllow 127.0.0.1\n'
                'ViaProxyName "%s"\n' % (port, log, d, PROXY_NAME))
        if auth:
            f.write("BasicAuth %s %s\n" % auth)
    return Daemon(case, "tinyproxy", port, ["tinyproxy", "-d", "-c", conf], log)


def nginx_mtls(case, pem):
    """nginx on https://127.0.0.1:<free port>: server.pem, and client
    certificates verified against ca.pem (ssl_verify_client on); 204 to any
    request, the client's subject in its access log."""
    d = os.path.join(case.tmp, "nginx")
    os.makedirs(d, exist_ok=True)
    port = free_port()
    log = os.path.join(d, "access.log")
    temps = "".join("  %s_temp_path %s/%s;\n" % (t, d, t)
                    for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("%sdaemon off;\nworker_processes 1;\npid %s/nginx.pid;\n"
                "error_log %s/error.log info;\nevents { worker_connections 64; }\nhttp {\n%s"
                "  log_format mtls '$status [$ssl_client_s_dn] $ssl_client_verify';\n"
                "  server {\n    listen 127.0.0.1:%d ssl;\n"
                "    ssl_certificate %s;\n    ssl_certificate_key %s;\n"
                "    ssl_client_certificate %s;\n    ssl_verify_client on;\n"
                "    access_log %s mtls;\n    location / { return 204; }\n  }\n}\n"
                % ("user root;\n" if os.getuid() == 0 else "", d, d, temps, port,
                   pem("server.pem"), pem("server.key"), pem("ca.pem"), log))
    return Daemon(case, "nginx", port,
                  ["nginx", "-p", d + "/", "-c", conf, "-e", d + "/error.log"], log)


class EgressCase(BridgeCase):

    def parked(self, sub, n=1):
        return self.drain("hsbridge.%s.parked" % sub, n)

    def run_bridge(self, subs, delivery=None, breaker=None, env=None):
        d = {"timeout_ms": 3000, "retry_delays": ["200ms", "300ms"]}
        d.update(delivery or {})
        conf = self.config(subs, delivery=d, breaker=breaker)
        self.bridge = BridgeProc(conf, self.tmp).start(env=env)
        self.bridge.wait_ready()
        return conf


class GuardTests(EgressCase):

    def test_localhost_is_refused_at_connect_parked_not_retried_not_counted(self):
        # "localhost" resolves to 127.0.0.1 and ::1: both are loopback. A
        # bare listening socket: the kernel would complete a TCP handshake
        # even unaccepted, so any connection attempt shows.
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(lsock.close)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        url = "http://localhost:%d/g" % lsock.getsockname()[1]
        conf = self.run_bridge([self.sub("g", ["document.*"], url=url)],
                               delivery={"allow_private_addresses": False},
                               breaker={"failures": 1})
        # The dashboard's test event goes the same way.
        cp = self.cli(conf, "test-event", "g")
        self.assertEqual(cp.returncode, 75, cp.stdout + cp.stderr)
        self.assertIn("status:   no response (%s: " % REFUSED, cp.stdout)
        self.assertIn("  guard:    on (public addresses only)\n", self.cli(conf, "check").stdout)
        ids = [self.publish_event("document.uploaded")[0] for _ in range(2)]
        for m in self.parked("g", 2):
            h = m["properties"].get("headers") or {}
            self.assertEqual(h.get("hsbridge-parked-reason"), "address_not_allowed")
            self.assertIn(REFUSED, h.get("hsbridge-last-error", ""))
            self.assertIn("is loopback", h.get("hsbridge-last-error", ""))
            self.assertEqual(hdr_int(h.get("hsbridge-attempts")), 1)
        for eid in ids:
            lines = self.bridge.deliveries(event=eid)
            self.assertEqual([o["outcome"] for o in lines], ["parked"], lines)
            self.assertEqual(lines[0]["reason"], "address_not_allowed")
        lsock.setblocking(False)
        with self.assertRaises(BlockingIOError, msg="refused before connecting"):
            lsock.accept()[0].close()
        # failures = 1: one counted failure would have opened it.
        self.assertEqual(self.logs("breaker"), [])

    def test_per_subscription_allow_and_a_connection_another_one_opened(self):
        ok = self.hook("ok", ["document.uploaded"], allow_private_addresses=True)
        no = self.hook("no", ["document.deleted"])    # same host and port
        self.run_bridge([ok, no], delivery={"allow_private_addresses": False})
        self.publish_event("document.uploaded")
        self.rx.wait_count("/ok", 1, 15)
        # "ok"'s connection to 127.0.0.1 waits idle in the shared cache now;
        # "no" may not send on it (checked before each request).
        self.publish_event("document.deleted")
        h = self.parked("no")[0]["properties"]["headers"]
        self.assertEqual(h.get("hsbridge-parked-reason"), "address_not_allowed")
        self.assertIn("127.0.0.1 is loopback", h.get("hsbridge-last-error", ""))
        self.assertEqual(self.rx.for_path("/no"), [])
        self.publish_event("document.uploaded")
        self.rx.wait_count("/ok", 2, 15)

    def test_ip_endpoint_through_a_proxy_is_judged_before_sending(self):
        px = tinyproxy(self)
        s = self.hook("p", ["document.*"], proxy="http://127.0.0.1:%d" % px.port,
                      allow_private_addresses=False)
        self.run_bridge([s])
        self.publish_event("document.uploaded")
        h = self.parked("p")[0]["properties"]["headers"]
        self.assertEqual(h.get("hsbridge-parked-reason"), "address_not_allowed")
        self.assertIn("127.0.0.1 is loopback", h.get("hsbridge-last-error", ""))
        self.assertNotIn("Request", px.text(), "nothing may go out through the proxy")
        self.assertEqual(self.rx.all(), [])


    def test_proxy_env_judges_every_connection(self):
        # proxy = "env" and no proxy in the environment: the request goes
        # directly, and is judged like any direct one. The host's own name
        # (Debian's /etc/hosts: 127.0.1.1, here 127.0.0.1) is neither an IP
        # address nor localhost: only the connection's address shows it.
        host = socket.gethostname()
        addrs = {a[4][0] for a in socket.getaddrinfo(host, None, socket.AF_INET)}
        self.assertTrue(addrs and all(a.startswith("127.") for a in addrs),
                        "this test needs the host name to resolve to loopback: %r" % addrs)
        s = self.sub("v", ["document.*"], url=self.rx.url("/v").replace("127.0.0.1", host),
                     proxy="env", allow_private_addresses=False)
        self.run_bridge([s])
        self.publish_event("document.uploaded")
        h = self.parked("v")[0]["properties"]["headers"]
        self.assertEqual(h.get("hsbridge-parked-reason"), "address_not_allowed")
        self.assertEqual(self.rx.all(), [])


class MtlsTests(CertsCase, EgressCase):

    def encrypted_key(self, password):
        out = os.path.join(self.tmp, "client-enc.key")
        subprocess.run(["openssl", "pkey", "-in", self.pem("client.key"), "-aes256",
                        "-passout", "env:HSB_PW", "-out", out], check=True,
                       env=dict(os.environ, HSB_PW=password))
        return out

    def test_without_the_client_certificate_it_fails_and_with_it_it_is_delivered(self):
        ngx = nginx_mtls(self, self.pem)
        pw = "pw-" + rand_alnum(20)
        self.secrets.append(pw)
        url = "https://localhost:%d/hook" % ngx.port
        bare = self.sub("bare", ["document.*"], url=url, tls_ca_file=self.pem("ca.pem"))
        cert = self.sub("cert", ["document.*"], url=url, tls_ca_file=self.pem("ca.pem"),
                        tls_client_cert=self.pem("client.pem"),
                        tls_client_key=self.encrypted_key(pw),
                        tls_client_key_password_env="HSB_TEST_KEY_PW")
        conf = self.run_bridge([bare, cert], breaker={"enabled": False},
                               env={"HSB_TEST_KEY_PW": pw})
        eid = self.publish_event("document.uploaded")[0]
        done = self.wait_logged(1, event=eid, sub="cert", outcome="delivered")
        self.assertEqual(done[0]["status"], 204)
        failed = self.wait_logged(1, event=eid, sub="bare", outcome="retry")
        self.assertEqual(failed[0]["status"], 400)   # nginx: no required certificate
        log = ngx.text()
        self.assertIn("204 [CN=hsbridge test client] SUCCESS", log)
        self.assertIn("400 [-] NONE", log)
        cp = subprocess.run([Env.bin, "-c", conf, "check"], capture_output=True, text=True,
                            env=clean_env({"HSB_TEST_KEY_PW": pw}))
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("mTLS:     client certificate %s (subject CN=hsbridge test client; "
                      "key not shown)" % self.pem("client.pem"), cp.stdout)
        self.assertIn("mTLS:     off (no tls_client_cert)", cp.stdout)
        self.assert_no_secret(cp.stdout, cp.stderr, self.bridge.stderr_text())

    def test_an_unencrypted_key_others_can_read_is_warned_about(self):
        key = os.path.join(self.tmp, "open-client.key")
        shutil.copyfile(self.pem("client.key"), key)
        for mode, warned in ((0o644, True), (0o600, False)):
            os.chmod(key, mode)
            conf = self.config([self.sub("a", ["document.*"],
                                         tls_client_cert=self.pem("client.pem"),
                                         tls_client_key=key)])
            cp = subprocess.run([Env.bin, "-c", conf, "check"], capture_output=True, text=True,
                                env=clean_env())
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assertEqual("tls_client_key %s is not encrypted and readable by group or "
                             "others (mode 0644); chmod 600 it" % key in cp.stdout + cp.stderr,
                             warned, cp.stdout + cp.stderr)

    def test_a_wrong_key_or_password_is_a_config_error_on_its_line(self):
        pw = "pw-" + rand_alnum(20)
        self.secrets.append(pw)
        enc = self.encrypted_key(pw)
        cases = [
            ({"tls_client_cert": self.pem("client.pem"),
              "tls_client_key": self.pem("other-client.key")},
             "tls_client_key is not the key of tls_client_cert (CN=hsbridge test client)"),
            ({"tls_client_cert": self.pem("client.pem"), "tls_client_key": enc,
              "tls_client_key_password_env": "HSB_TEST_KEY_PW"},
             "tls_client_key cannot be opened: not a PEM private key, or the password "
             "(tls_client_key_password_*) is wrong"),
            ({"tls_client_cert": self.pem("client.pem"), "tls_client_key": enc},
             "it is encrypted and no tls_client_key_password_file"),
            ({"tls_client_cert": self.pem("client.pem")},
             "tls_client_cert and tls_client_key go together"),
            ({"tls_client_cert": self.pem("client.pem"), "tls_client_key":
              os.path.join(self.tmp, "missing.key")},
             "cannot read tls_client_key: No such file or directory", "tls_client_key ="),
        ]
        for case in cases:
            keys, want, at = case if len(case) == 3 else case + ("tls_client_cert",)
            conf = self.config([self.sub("a", ["document.*"], **keys)])
            cp = subprocess.run([Env.bin, "-c", conf, "check"], capture_output=True,
                                text=True, env=clean_env({"HSB_TEST_KEY_PW": "not-" + pw}))
            self.assertEqual(cp.returncode, 78, cp.stdout)
            line = [n for n, text in enumerate(open(conf), 1)
                    if text.strip().startswith(at)][0]
            self.assertIn("%s:%d: subscription \"a\": " % (conf, line), cp.stderr)
            self.assertIn(want, cp.stderr)
            self.assert_no_secret(cp.stdout, cp.stderr)
            self.assertNotIn("not-" + pw, cp.stderr)


class ProxyTests(CertsCase, EgressCase):

    def test_http_goes_through_the_proxy_with_credentials_never_shown(self):
        pw = "pxpw" + rand_alnum(16)
        self.secrets.append(pw)
        px = tinyproxy(self, auth=("hsbuser", pw))
        s = self.hook("h", ["document.*"],
                      proxy="http://hsbuser:%s@127.0.0.1:%d" % (pw, px.port))
        conf = self.run_bridge([s])
        self.publish_event("document.uploaded")
        got = self.rx.wait_count("/h", 1, 15)[0]
        self.assertIn(PROXY_NAME, got.h("Via") or "", "the request must come through tinyproxy")
        self.assertIn("Request (file descriptor", px.text())
        self.assertIn("POST http://127.0.0.1:%d/h" % self.rx.port, px.text())
        cp = self.cli(conf, "check")
        self.assertIn("  proxy:    http://127.0.0.1:%d (credentials not shown)\n" % px.port,
                      cp.stdout)
        self.assert_no_secret(cp.stdout, cp.stderr, self.bridge.stderr_text())

    def test_https_goes_through_connect(self):
        px = tinyproxy(self)
        tls_rx = Receiver(tls=(self.pem("server.pem"), self.pem("server.key")))
        self.addCleanup(tls_rx.stop)
        s = self.sub("s", ["document.*"], url=tls_rx.url("/s").replace("127.0.0.1", "localhost"),
                     proxy="http://127.0.0.1:%d" % px.port, tls_ca_file=self.pem("ca.pem"))
        self.run_bridge([s])
        self.publish_event("document.uploaded")
        got = tls_rx.wait_count("/s", 1, 15)[0]
        self.assertIsNone(got.h("Via"), "a CONNECT tunnel carries the request untouched")
        self.assertIn("CONNECT localhost:%d" % tls_rx.port, px.text())

    def test_the_environment_proxy_is_used_only_with_proxy_env(self):
        px = tinyproxy(self)
        env = {"http_proxy": "http://127.0.0.1:%d" % px.port, "NO_PROXY": "", "no_proxy": ""}
        self.run_bridge([self.hook("n", ["document.*"])], env=env)
        self.publish_event("document.uploaded")
        got = self.rx.wait_count("/n", 1, 15)[0]
        self.assertIsNone(got.h("Via"), "http_proxy must be ignored without proxy = \"env\"")
        self.bridge.stop()
        self.run_bridge([self.hook("e", ["document.*"], proxy="env")], env=env)
        self.publish_event("document.uploaded")
        got = self.rx.wait_count("/e", 1, 15)[0]
        self.assertIn(PROXY_NAME, got.h("Via") or "", "proxy = \"env\" must use http_proxy")


class RateTests(EgressCase):

    def test_twenty_per_second_and_the_rest_waits_ready(self):
        rate, n = 20, 100
        s = self.hook("r", ["document.*"], max_per_second=rate)
        conf = self.config([s], delivery={"max_in_flight": 64})
        self.assertEqual(self.cli(conf, "topology").returncode, 0)
        for _ in range(n):
            self.publish_event("document.uploaded")
        self.bridge = BridgeProc(conf, self.tmp).start()
        seen = {"unacked": 0, "ready_while_running": False, "samples": []}

        def sample():
            # The queue's exact depth (`status`: an AMQP passive declare); the
            # figures of the management API and of rabbitmqctl list_queues for
            # a quorum queue are refreshed every few seconds, longer than this
            # run. Unacked is at least n - ready - received: a message the
            # receiver got is acked at most then.
            cp = self.cli(conf, "status")
            got = len(self.rx.for_path("/r"))
            text = parse_status(cp.stdout).get("hsbridge.r", "")
            if not text[:1].isdigit():
                return False
            ready = int(text.split()[0])
            seen["samples"].append((got, ready, n - ready - got))
            seen["unacked"] = max(seen["unacked"], n - ready - got)
            if 0 < got < n - rate and ready > 0:
                seen["ready_while_running"] = True
            return got >= n
        wait_until(sample, 60, "%d deliveries" % n, interval=0.2)
        t = sorted(r.t for r in self.rx.for_path("/r"))
        # A token bucket: in any span of d seconds at most burst + rate * d
        # requests (one more for where the span's ends fall).
        for i in range(n):
            for j in range(i + 1, n):
                self.assertLessEqual(j - i + 1, rate + rate * (t[j] - t[i]) + 1,
                                     "requests %d..%d in %.3f s" % (i, j, t[j] - t[i]))
        self.assertGreaterEqual(t[-1] - t[0], (n - rate) / rate - 0.5)
        # The prefetch is the burst: at most 20 taken from the queue at once.
        self.assertLessEqual(seen["unacked"], rate, seen["samples"])
        self.assertTrue(seen["ready_while_running"],
                        "the rest must wait Ready in the queue: %r" % seen["samples"])

    def test_429_without_retry_after_counts_toward_the_breaker_not_the_event(self):
        self.rx.script("/t", [429, 429, R(429, headers={"Retry-After": "0"})], default=200)
        self.run_bridge([self.hook("t", ["document.*"])], breaker={"failures": 10})
        eid = self.publish_event("document.uploaded")[0]
        self.wait_logged(1, event=eid, outcome="delivered")
        self.assertEqual([r.attempt for r in self.rx.for_path("/t")], [1, 1, 1, 2])
        lines = [o for o in self.bridge.deliveries(event=eid) if o["outcome"] == "retry"]
        self.assertEqual([o.get("counted") for o in lines], ["no", "no", None])

    def test_429_counts_against_the_event_without_a_breaker(self):
        self.rx.script("/u", [429], default=200)
        self.run_bridge([self.hook("u", ["document.*"])], breaker={"enabled": False})
        eid = self.publish_event("document.uploaded")[0]
        self.wait_logged(1, event=eid, outcome="delivered")
        self.assertEqual([r.attempt for r in self.rx.for_path("/u")], [1, 2])


if __name__ == "__main__":
    unittest.main()
