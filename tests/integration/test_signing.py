#!/usr/bin/python3
"""Issue 12's signing and headers: Ed25519 "v1a" signatures checked by
independent verifiers (Node's crypto.verify and `openssl pkeyutl -verify`)
with the public keys `hsbridge pubkey` prints, custom headers as the endpoint
receives them, and `check`'s summary without any secret.
A ctest entry of its own (integration_signing); shared fixtures: hsb_cases.py.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import BridgeCase, T_DELIVER  # noqa: E402
from hsb_harness import R, rand_alnum, run_cli, standard_webhooks_sig  # noqa: E402

# Node's own Ed25519 (crypto.verify with a JWK public key), given on stdin
# {"keys": [whpk_...], "msg_b64": ..., "sigs": ["v1a,...", ...]}; prints, per
# key, the indexes of the signatures it verifies.
NODE_VERIFY = r"""
const crypto = require("crypto");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const msg = Buffer.from(input.msg_b64, "base64");
const out = input.keys.map((k) => {
  const raw = Buffer.from(k.slice("whpk_".length), "base64");
  const key = crypto.createPublicKey({format: "jwk",
    key: {kty: "OKP", crv: "Ed25519", x: raw.toString("base64url")}});
  const hits = [];
  input.sigs.forEach((s, i) => {
    if (s.startsWith("v1a,") &&
        crypto.verify(null, msg, key, Buffer.from(s.slice(4), "base64"))) hits.push(i);
  });
  return hits;
});
process.stdout.write(JSON.stringify(out));
"""

# The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), before the
# 32 key bytes: what `openssl pkeyutl -pubin -keyform DER` reads.
SPKI_ED25519 = bytes.fromhex("302a300506032b6570032100")


def signed_text(req):
    return (req.h("webhook-id").encode() + b"." + req.h("webhook-timestamp").encode() + b"." +
            req.body)


class SigningTests(BridgeCase):

    def keygen(self):
        cp = run_cli(None, ["keygen"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        lines = cp.stdout.splitlines()
        self.assertEqual(len(lines), 2, cp.stdout)
        whsk, whpk = lines
        self.assertRegex(whsk, r"^whsk_[A-Za-z0-9+/]{86}==$")
        self.assertRegex(whpk, r"^whpk_[A-Za-z0-9+/]{43}=$")
        self.assertEqual(cp.stderr, "")
        self.secrets.append(whsk)
        return whsk, whpk

    def node_verify(self, keys, msg, sigs):
        node = shutil.which("node") or shutil.which("nodejs")
        self.assertIsNotNone(node, "node is missing: scripts/setup installs nodejs")
        cp = subprocess.run([node, "-e", NODE_VERIFY], capture_output=True, text=True,
                            input=json.dumps({"keys": keys, "sigs": sigs,
                                              "msg_b64": base64.b64encode(msg).decode()}),
                            timeout=30)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return json.loads(cp.stdout)

    def openssl_verify(self, whpk, msg, sig):
        """`openssl pkeyutl -verify -rawin` with the raw public key: True/False."""
        pub = os.path.join(self.tmp, "pub-%s.der" % rand_alnum(6))
        with open(pub, "wb") as f:
            f.write(SPKI_ED25519 + base64.b64decode(whpk[len("whpk_"):]))
        m = os.path.join(self.tmp, "msg-%s" % rand_alnum(6))
        with open(m, "wb") as f:
            f.write(msg)
        s = m + ".sig"
        with open(s, "wb") as f:
            f.write(base64.b64decode(sig[len("v1a,"):]))
        cp = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER",
                             "-inkey", pub, "-rawin", "-in", m, "-sigfile", s],
                            capture_output=True, text=True, timeout=30)
        self.assertIn(cp.returncode, (0, 1), cp.stderr)
        return cp.returncode == 0

    def test_v1a_verifies_with_node_and_openssl_using_pubkey_on_first_and_retry(self):
        """A real delivery and its retry copy (a 500 first): each request's
        webhook-signature holds the HMAC v1 entry and one v1a per signing
        key, current first; the public keys from `hsbridge pubkey` verify
        them in Node and in OpenSSL's command line, over the id, timestamp
        and body the endpoint received."""
        whsk, whpk = self.keygen()
        old_whsk, old_whpk = self.keygen()
        s = self.hook("a", signing_key=whsk, previous_signing_keys=[old_whsk])
        self.rx.script("/a", [500, 200])
        self.start_bridge([s])
        cp = self.cli(self.bridge.conf, "pubkey", "a")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout.splitlines(), [whpk, old_whpk])
        self.publish_event("document.uploaded")
        reqs = self.rx.wait_count("/a", 2, T_DELIVER)
        self.assertEqual([r.attempt for r in reqs], [1, 2])
        for req in reqs:
            msg = signed_text(req)
            sigs = req.h("webhook-signature").split(" ")
            self.assertEqual(len(sigs), 3, sigs)
            self.assertEqual(sigs[0], standard_webhooks_sig(s["secret"], req.h("webhook-id"),
                                                            req.h("webhook-timestamp"), req.body))
            self.assertTrue(sigs[1].startswith("v1a,") and sigs[2].startswith("v1a,"), sigs)
            # Each key verifies its own entry and no other one.
            self.assertEqual(self.node_verify([whpk, old_whpk], msg, sigs), [[1], [2]])
            self.assertTrue(self.openssl_verify(whpk, msg, sigs[1]))
            self.assertTrue(self.openssl_verify(old_whpk, msg, sigs[2]))
            self.assertFalse(self.openssl_verify(whpk, msg, sigs[2]))
            # A changed byte of the body fails: the verifiers are not lenient.
            bad = msg[:-2] + bytes([msg[-2] ^ 1]) + msg[-1:]
            self.assertEqual(self.node_verify([whpk], bad, sigs), [[]])
            self.assertFalse(self.openssl_verify(whpk, bad, sigs[1]))
        self.wait_logged(outcome="delivered")

    def test_without_signing_key_no_v1a_and_pubkey_refuses(self):
        s = self.hook("a")
        self.start_bridge([s])
        self.publish_event("document.uploaded")
        req = self.rx.wait_count("/a", 1, T_DELIVER)[0]
        self.assertNotIn("v1a,", req.h("webhook-signature"))
        cp = self.cli(self.bridge.conf, "pubkey", "a")
        self.assertEqual(cp.returncode, 78)
        self.assertIn('subscription "a" has no signing_key', cp.stderr)
        self.assertEqual(cp.stdout, "")
        cp = self.cli(self.bridge.conf, "pubkey", "nope")
        self.assertEqual(cp.returncode, 64)

    def test_custom_headers_arrive_on_every_attempt_and_are_never_shown(self):
        """Inline, value_env and value_file headers reach the endpoint as
        configured, on the first attempt and the retry copy; the bridge's own
        headers are unchanged; no value appears in the bridge's output or in
        `check`, which names them."""
        token = "Bearer tok-" + rand_alnum(16)
        api_key = "key-" + rand_alnum(16)
        env = "HSB_IT_HEADER_TOKEN_" + rand_alnum(6).upper()
        os.environ[env] = token
        self.addCleanup(os.environ.pop, env, None)
        with open(os.open(os.path.join(self.tmp, "api.key"), os.O_WRONLY | os.O_CREAT, 0o600),
                  "w") as f:
            f.write(api_key + "\n")
        self.secrets.extend([token, api_key])
        s = self.hook("a", headers={"X-Team": "cardio",
                                    "Authorization": {"value_env": env},
                                    "X-Api-Key": {"value_file": "api.key"}})
        self.rx.script("/a", [503, 200])
        self.start_bridge([s])
        self.publish_event("document.uploaded")
        reqs = self.rx.wait_count("/a", 2, T_DELIVER)
        for req in reqs:
            self.assertEqual(req.headers.get_all("X-Team"), ["cardio"])
            self.assertEqual(req.headers.get_all("Authorization"), [token])
            self.assertEqual(req.headers.get_all("X-Api-Key"), [api_key])
            self.assertEqual(req.headers.get_all("Content-Type"), ["application/json"])
            self.assertEqual(len(req.headers.get_all("webhook-signature")), 1)
        self.assertEqual([r.attempt for r in reqs], [1, 2])
        self.wait_logged(outcome="delivered")
        cp = self.cli(self.bridge.conf, "check")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("  headers:  X-Team, Authorization (from value_env), X-Api-Key "
                      "(from value_file) (values not shown)\n", cp.stdout)
        self.assertIn("  v1a:      off (no signing_key)\n", cp.stdout)
        self.assertNotIn("cardio", cp.stdout)

    def test_check_summary_names_key_and_headers_without_secrets(self):
        whsk, whpk = self.keygen()
        s = self.sub("a", signing_key=whsk, headers={"Authorization": "Bearer inline-secret"})
        self.secrets.append("Bearer inline-secret")
        conf = self.config([s])
        cp = self.cli(conf, "check")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("  v1a:      Ed25519, public key %s, 0 previous keys\n" % whpk, cp.stdout)
        self.assertIn("  headers:  Authorization (values not shown)\n", cp.stdout)
        self.assertNotIn("whsk_", cp.stdout + cp.stderr)

    def test_hostile_header_and_key_configs_fail_with_line_and_no_value(self):
        """Each bad setting: exit 78, one line naming file:line, nothing of
        the value or key in it; the bridge refuses to start on it too."""
        whsk, _ = self.keygen()
        env = "HSB_IT_BAD_HEADER_" + rand_alnum(6).upper()
        os.environ[env] = "Bearer x\r\nX-Injected: yes"
        self.addCleanup(os.environ.pop, env, None)
        self.secrets.append("X-Injected")
        cases = [
            ({"headers": {"webhook-signature": "v1,forged"}}, "headers: webhook-signature"),
            ({"headers": {"X-HealthSync-Attempt": "9"}}, "X-HealthSync-Attempt starts like"),
            ({"headers": {"Content-Length": "1"}}, "Content-Length is a header the bridge"),
            ({"headers": {"Host": "evil.example"}}, "Host is a header the bridge"),
            ({"headers": {"Authorization": {"value_env": env}}},
             "headers.Authorization: the value holds a CR, LF"),
            ({"signing_key": whsk[:-4] + "AA=="}, "signing_key is not an Ed25519 whsk_ key"),
            ({"signing_key": "whsec_" + whsk[5:]}, "it does not start with whsk_"),
        ]
        for extra, fragment in cases:
            with self.subTest(fragment=fragment):
                s = self.sub("a", **extra)
                conf = self.config([s])
                with open(conf) as f:
                    lines = f.read().splitlines()
                key = next(iter(extra))
                line = next(i + 1 for i, l in enumerate(lines) if l.strip().startswith(key))
                for args in (["check"], ["run"]):
                    cp = self.cli(conf, *args)
                    self.assertEqual(cp.returncode, 78, cp.stdout + cp.stderr)
                    self.assertRegex(cp.stderr, r"^hsbridge: %s:%d: subscription \"a\": " % (
                        re.escape(conf), line))
                    self.assertIn(fragment, cp.stderr)
                    self.assertNotIn("X-Injected", cp.stderr)
                    self.assertNotIn(whsk[5:40], cp.stderr)


if __name__ == "__main__":
    unittest.main()
