#!/usr/bin/python3
"""What the bridge exposes: credentials in printed URLs, secret files others
can read, core dumps, an endpoint's terminal escape sequences.
A ctest entry of its own (integration_exposure); shared fixtures: hsb_cases.py.
"""

import os
import resource
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import BridgeCase, T_DELIVER  # noqa: E402
from hsb_harness import (  # noqa: E402
    BridgeProc, Env, R, clean_env, free_port, parse_json_lines, wait_until)

CORE = 1 << 20


def allow_cores():
    """In the child: a core size limit the bridge would inherit."""
    resource.setrlimit(resource.RLIMIT_CORE, (CORE, CORE))


def core_limit(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max core file size"):
                return line.split()[4:6]
    raise AssertionError("no core limit in /proc/%d/limits" % pid)


class ExposureTests(BridgeCase):

    def run_hsbridge(self, conf, *args, env=None):
        cp = subprocess.run([Env.bin, "-c", conf] + list(args), capture_output=True, text=True,
                            timeout=60, env=clean_env(env), preexec_fn=allow_cores,
                            stdin=subprocess.DEVNULL)
        self.assert_no_secret(cp.stdout, cp.stderr)
        return cp

    def test_status_never_prints_management_credentials(self):
        port = free_port()
        url = "http://admin:mgmt-pa55@127.0.0.1:%d/?token=tok3n#frag" % port
        conf = self.config([self.sub("a")], broker={"management_url": url})
        cp = self.cli(conf, "status")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        out = cp.stdout + cp.stderr
        self.assertIn("the management API at http://127.0.0.1:%d/ did not answer" % port, out)
        for secret in ("mgmt-pa55", "admin", "tok3n", "frag"):
            self.assertNotIn(secret, out)
        cp = self.cli(conf, "check")
        self.assertIn("management API (status only): http://127.0.0.1:%d/\n" % port, cp.stdout)
        self.assertNotIn("mgmt-pa55", cp.stdout + cp.stderr)

    def test_management_api_of_an_amqps_broker_defaults_to_https(self):
        conf = self.write_conf(
            'broker: { url = "amqps://guest:guest@mq.example:5671/%2f"; };\n'
            'delivery: { allow_private_addresses = true; };\n'
            'subscriptions = ();\n')
        cp = self.cli(conf, "check")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("management API (status only): https://mq.example:15671\n", cp.stdout)
        conf = self.write_conf('broker: { url = "amqp://u:p@mq.example/%2f"; };\n'
                               'delivery: { allow_private_addresses = true; };\n'
                               'subscriptions = ();\n')
        self.assertIn("management API (status only): http://mq.example:15672\n",
                      self.cli(conf, "check").stdout)

    def test_secret_files_others_can_read_are_named_in_check_and_at_start(self):
        secret_path = os.path.join(self.tmp, "hook.secret")
        secret = "file-secret-0123456789"
        self.secrets.append(secret)
        with open(secret_path, "w") as f:
            f.write(secret + "\n")
        sub = self.hook("a")
        del sub["secret"]
        sub["secret_file"] = "hook.secret"
        conf = self.config([sub])
        want = "secret_file %s is readable by group or others (mode 0644)" % secret_path
        os.chmod(secret_path, 0o644)
        cp = self.cli(conf, "check")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("warning: %s:" % conf, cp.stdout)
        self.assertIn(want, cp.stdout)
        bridge = BridgeProc(conf, self.tmp, name="exposed").start()
        self.old_bridges.append(bridge)
        bridge.wait_ready()
        warned = [o for o in bridge.lines() if o.get("msg") == "config"]
        self.assertTrue(any(want in o.get("warning", "") for o in warned), warned)
        self.assertEqual(bridge.stop(), 0)
        self.assert_no_secret(bridge.stderr_bytes(), bridge.stdout_bytes())
        os.chmod(secret_path, 0o600)
        self.assertNotIn("warning", self.cli(conf, "check").stdout)

    def test_inline_secret_in_a_config_others_can_read_is_warned_once(self):
        conf = self.config([self.sub("a"), self.sub("b")])
        self.assertNotIn("warning", self.cli(conf, "check").stdout)
        os.chmod(conf, 0o640)
        out = self.cli(conf, "check").stdout
        self.assertEqual(out.count("warning:"), 1, out)
        self.assertIn("a secret is written in this file, which is readable by group or "
                      "others (mode 0640)", out)

    def test_core_dumps_are_off_unless_the_operator_opts_in(self):
        conf = self.config([self.hook("a")])
        cp = self.run_hsbridge(conf, "check")
        self.assertIn("core dumps: off (HSBRIDGE_ALLOW_CORE_DUMPS=1 allows them)", cp.stdout)
        cp = self.run_hsbridge(conf, "check", env={"HSBRIDGE_ALLOW_CORE_DUMPS": "1"})
        self.assertIn("core dumps: allowed", cp.stdout)
        for env, want in ((None, ["0", "0"]), ({"HSBRIDGE_ALLOW_CORE_DUMPS": "1"},
                                               [str(CORE), str(CORE)])):
            log = os.path.join(self.tmp, "core.stderr")
            with open(log, "wb") as err:
                proc = subprocess.Popen([Env.bin, "-c", conf, "run"], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=err,
                                        env=clean_env(env), preexec_fn=allow_cores)
            try:
                # the limit is set before anything is read: poll until it shows
                wait_until(lambda: core_limit(proc.pid) == want, T_DELIVER,
                           "core limit %r with env %r" % (want, env),
                           detail=lambda: core_limit(proc.pid))
                wait_until(lambda: any(o.get("msg") == "ready" for o in parse_json_lines(
                    open(log).read())[0]), T_DELIVER, "ready")
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            with open(log, "rb") as f:
                err = f.read()
            self.assert_no_secret(err)
            self.assertEqual(proc.returncode, 0, err[-2000:])

    def test_test_event_escapes_the_endpoints_terminal_sequences(self):
        body = b"\x1b[2J\x1b]0;pwned\x07 ok\rstatus: 200\n\xc2\x9b31m \xe2\x80\xaeevil caf\xc3\xa9"
        self.rx.script("/t", [R(200, body=body)])
        conf = self.config([self.hook("t")])
        cp = subprocess.run([Env.bin, "-c", conf, "test-event", "t"], capture_output=True,
                            timeout=60, env=clean_env(), stdin=subprocess.DEVNULL)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        out = cp.stdout
        for raw in (b"\x1b", b"\x07", b"\r", b"\xc2\x9b", b"\xe2\x80\xae"):
            self.assertNotIn(raw, out)
        self.assertIn(b"body:     \\x1b[2J\\x1b]0;pwned\\x07 ok\\x0dstatus: 200\n"
                      b"\\xc2\\x9b31m \\xe2\\x80\\xaeevil caf\xc3\xa9\n", out)


if __name__ == "__main__":
    unittest.main()
