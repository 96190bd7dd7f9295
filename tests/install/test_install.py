#!/usr/bin/python3
"""The installed hsbridge: `cmake --install` into a DESTDIR, the .deb from
`cpack -G DEB`, the systemd unit (`systemd-analyze verify`), the man pages
(rendered without warnings) and their drift from the code: every config key
the parser accepts and every command `hsbridge --help` lists must be in the
man pages and the README.

Needs no broker. Never installs outside a temporary folder: every install
has a DESTDIR, and the .deb is only unpacked (dpkg-deb -x), never installed.
ctest entry `install` (tests/CMakeLists.txt) sets HSB_BUILD_DIR,
HSB_SOURCE_DIR and HSBRIDGE_BIN.
"""

import gzip
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True

BUILD = os.environ.get("HSB_BUILD_DIR", "build")
SOURCE = os.environ.get("HSB_SOURCE_DIR", ".")
BIN = os.environ.get("HSBRIDGE_BIN", os.path.join(BUILD, "hsbridge"))
# A valid whsec_ secret for the installed example's secret_env; it never
# reaches the output (checked below).
DEMO_SECRET = "whsec_" + "c2VjcmV0LWZvci10aGUtaW5zdGFsbC10ZXN0IQ=="
CONF_DIR = "etc/hsbridge"
UNIT = "lib/systemd/system/hsbridge.service"
# What a /usr install holds: path -> permission bits (None: any).
EXPECTED = {
    "usr/sbin/hsbridge": 0o755,
    UNIT: 0o644,
    "usr/lib/sysusers.d/hsbridge.conf": 0o644,
    CONF_DIR + "/hsbridge.conf": 0o640,
    CONF_DIR + "/hsbridge.env": 0o600,
    "usr/share/man/man8/hsbridge.8.gz": 0o644,
    "usr/share/man/man5/hsbridge.conf.5.gz": 0o644,
    "usr/share/doc/hsbridge/README.md": 0o644,
}


def run(args, env=None, check=True, **kw):
    r = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d:\n%s%s" % (args, r.returncode, r.stdout, r.stderr))
    return r


def install(destdir, prefix="/usr"):
    """cmake --install into destdir, which must be a fresh temporary folder."""
    assert os.path.isabs(destdir) and destdir.startswith(tempfile.gettempdir()), destdir
    env = dict(os.environ, DESTDIR=destdir)
    run(["cmake", "--install", BUILD, "--prefix", prefix], env=env)


def files_under(root):
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = stat.S_IMODE(os.lstat(p).st_mode)
    return out


def unit_settings(text):
    """[(key, value)] of a unit file, in order (a key may repeat)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            k, _, v = line.partition("=")
            out.append((k.strip(), v.strip()))
    return out


def seconds(span):
    """A systemd time span ("11min", "30s", "2min 5s") in seconds."""
    units = {"min": 60, "s": 1, "sec": 1, "ms": 0.001, "h": 3600}
    total = 0.0
    for n, u in re.findall(r"(\d+)\s*([a-z]*)", span):
        total += int(n) * units[u or "s"]
    return total


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


class Tmp(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hsb-install-")
        self.addCleanup(shutil.rmtree, self.tmp, True)


class InstallTests(Tmp):
    def test_destdir_install_has_the_expected_files(self):
        """--prefix /usr: binary in sbin, unit, sysusers, config under /etc
        (GNUInstallDirs' rule for /usr) with its modes, gzipped man pages;
        nothing else (no tests, no fuzz targets)."""
        root = os.path.join(self.tmp, "root")
        install(root)
        self.assertEqual(files_under(root), EXPECTED)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(root, CONF_DIR)).st_mode), 0o750)

    def test_unit_names_what_the_same_install_put_in_place(self):
        """The unit's paths follow the install-time prefix (this build tree
        was configured for another one): /usr and /usr/local."""
        # the third holds "/etc/hsbridge/": one path's rewrite must not
        # rewrite the other's (attack review)
        for prefix, sysconf in (("/usr", "/etc"), ("/usr/local", "/usr/local/etc"),
                                ("/srv/etc/hsbridge/v2", "/srv/etc/hsbridge/v2/etc")):
            root = os.path.join(self.tmp, prefix.strip("/").replace("/", "-"))
            install(root, prefix)
            unit = [f for f in files_under(root) if f.endswith("hsbridge.service")]
            self.assertEqual(len(unit), 1, unit)
            execs = [v for k, v in unit_settings(read(os.path.join(root, unit[0])))
                     if k.startswith("Exec") and "hsbridge -c" in v]
            self.assertEqual(len(execs), 3, execs)  # start pre, start, reload
            for v in execs:
                binary, _, conf = v.split()[:3]
                self.assertEqual(binary, prefix + "/sbin/hsbridge")
                self.assertEqual(conf, sysconf + "/hsbridge/hsbridge.conf")
                self.assertTrue(os.access(root + binary, os.X_OK), binary)
                self.assertTrue(os.path.isfile(root + conf), conf)
            # DESIGN's etc/hsbridge.service is the /usr install's unit as it is;
            # another prefix's unit says whose paths it names
            if prefix == "/usr":
                self.assertEqual(read(os.path.join(root, unit[0])),
                                 read(os.path.join(SOURCE, "etc/hsbridge.service")))
            else:
                self.assertIn("this install's (%s/sbin," % prefix,
                              read(os.path.join(root, unit[0])))

    def test_install_keeps_an_existing_config(self):
        """Installing again never overwrites an operator's config: the new
        example lands beside it as hsbridge.conf.new."""
        root = os.path.join(self.tmp, "root")
        install(root)
        conf = os.path.join(root, CONF_DIR, "hsbridge.conf")
        with open(conf, "w") as f:
            f.write("# mine\n")
        install(root)
        self.assertEqual(read(conf), "# mine\n")
        self.assertIn("broker:", read(conf + ".new"))


class UnitTests(Tmp):
    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.tmp, "root")
        install(self.root)
        self.text = read(os.path.join(self.root, UNIT))
        self.settings = unit_settings(self.text)

    def values(self, key):
        return [v for k, v in self.settings if k == key]

    def verify(self, unit_text):
        """systemd-analyze verify on a copy of the unit whose commands point
        into the DESTDIR tree (verify needs them to exist) and with the
        tree's man pages on MANPATH (it checks Documentation=man:...). It
        exits 0 on unknown keys, so its output must be empty too."""
        path = os.path.join(self.tmp, "hsbridge.service")
        with open(path, "w") as f:
            f.write(unit_text.replace("=/usr/sbin/hsbridge", "=%s/usr/sbin/hsbridge" % self.root))
        env = dict(os.environ, MANPATH=os.path.join(self.root, "usr/share/man"))
        r = run(["systemd-analyze", "verify", path], env=env, check=False)
        return r.returncode, (r.stdout + r.stderr).strip()

    def test_systemd_analyze_verify_passes(self):
        self.assertEqual(self.verify(self.text), (0, ""))

    def test_verify_check_catches_a_bad_unit(self):
        """The check above can fail: a misspelt key, a missing man page."""
        rc, out = self.verify(self.text.replace("ProtectHome=", "ProtectHom="))
        self.assertIn("Unknown key", out)
        rc, out = self.verify(self.text.replace("man:hsbridge(8)", "man:hsbridge-nope(8)"))
        self.assertNotEqual(rc, 0)

    def test_unit_is_notify_checks_first_and_restarts_sensibly(self):
        self.assertEqual(self.values("Type"), ["notify"])
        conf = "/etc/hsbridge/hsbridge.conf"
        self.assertEqual(self.values("ExecStartPre"), ["/usr/sbin/hsbridge -c %s check" % conf])
        self.assertEqual(self.values("ExecStart"), ["/usr/sbin/hsbridge -c %s run" % conf])
        self.assertEqual(self.values("ExecReload"),
                         ["/usr/sbin/hsbridge -c %s check" % conf, "/bin/kill -HUP $MAINPID"])
        self.assertEqual(self.values("Restart"), ["on-failure"])
        self.assertEqual(sorted(self.values("RestartPreventExitStatus")[0].split()),
                         ["64", "65", "78"])
        self.assertEqual(self.values("User"), ["hsbridge"])
        for k, v in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                     ("PrivateTmp", "yes"), ("ProtectHome", "yes"),
                     ("CapabilityBoundingSet", "")):
            self.assertEqual(self.values(k), [v], k)

    def test_hardening_exposure_is_low(self):
        """systemd-analyze security --offline: exposure at most 2.0 of 10
        (it is 1.6: what is left is outbound network, which the bridge
        needs). A unit without the hardening lines scores far above."""
        path = os.path.join(self.tmp, "hsbridge.service")

        def exposure_ok(text):
            with open(path, "w") as f:
                f.write(text.replace("=/usr/sbin/hsbridge", "=%s/usr/sbin/hsbridge" % self.root))
            env = dict(os.environ, MANPATH=os.path.join(self.root, "usr/share/man"))
            r = run(["systemd-analyze", "security", "--offline=true", "--threshold=20", path],
                    env=env, check=False)
            return r.returncode == 0
        self.assertTrue(exposure_ok(self.text))
        bare = self.text.split("# Hardening:")[0] + "[Install]\nWantedBy=multi-user.target\n"
        self.assertFalse(exposure_ok(bare))

    def test_stop_timeout_outlasts_the_longest_delivery_timeout(self):
        """TimeoutStopSec > the largest timeout_ms the parser accepts (asked
        of the binary) + the 2 s the bridge needs to close (README)."""
        conf = os.path.join(self.tmp, "t.conf")
        with open(conf, "w") as f:
            f.write("delivery: { timeout_ms = 2000000000; };\n")
        r = run([BIN, "-c", conf, "check"], check=False)
        m = re.search(r"timeout_ms must be an integer between \d+ and (\d+)", r.stderr)
        self.assertTrue(m, r.stderr)
        longest = int(m.group(1)) / 1000.0 + 2
        self.assertGreater(seconds(self.values("TimeoutStopSec")[0]), longest)


class DebTests(Tmp):
    @classmethod
    def setUpClass(cls):
        cls.pkgdir = tempfile.mkdtemp(prefix="hsb-deb-")
        run(["cpack", "--config", os.path.join(BUILD, "CPackConfig.cmake"),
             "-B", cls.pkgdir, "-G", "DEB"])
        debs = [f for f in os.listdir(cls.pkgdir) if f.endswith(".deb")]
        assert len(debs) == 1, debs
        cls.deb = os.path.join(cls.pkgdir, debs[0])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pkgdir, True)

    def test_deb_lists_binary_unit_config_and_man_pages(self):
        listing = run(["dpkg-deb", "-c", self.deb]).stdout
        entries = {}
        for line in listing.splitlines():
            f = line.split()
            entries[f[-1].lstrip("./")] = (f[0], f[1])
        for path in EXPECTED:
            self.assertIn(path, entries)
            self.assertEqual(entries[path][1], "root/root", path)
        self.assertEqual(entries[CONF_DIR + "/hsbridge.env"][0], "-rw-------")

    def test_deb_control_shlibdeps_conffiles_and_scripts(self):
        fields = run(["dpkg-deb", "-f", self.deb, "Package", "Section", "Maintainer",
                      "Depends"]).stdout
        self.assertIn("Package: hsbridge", fields)
        self.assertIn("Section: net", fields)
        # dpkg-shlibdeps: the libraries the binary links, with versions.
        for lib in ("libc6 (>=", "libcurl4", "librabbitmq4", "libssl3", "libyajl2", "libconfig"):
            self.assertIn(lib, fields)
        # CURLOPT_PROTOCOLS_STR (http and https only) came with libcurl 7.85
        self.assertIn("libcurl4 (>= 7.85.0)", fields)
        ctl = os.path.join(self.tmp, "control")
        run(["dpkg-deb", "-e", self.deb, ctl])
        self.assertEqual(read(os.path.join(ctl, "conffiles")).split(),
                         ["/etc/hsbridge/hsbridge.conf", "/etc/hsbridge/hsbridge.env"])
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(ctl, script)
            self.assertTrue(os.access(path, os.X_OK), script)
            run(["sh", "-n", path])
        postinst = re.sub(r"#.*", "", read(os.path.join(ctl, "postinst")))
        self.assertIn("systemd-sysusers hsbridge.conf", postinst)
        # The package starts and enables nothing.
        self.assertNotRegex(postinst, r"systemctl\s+(start|enable|restart)|deb-systemd-invoke")

    def test_unpacked_binary_checks_the_unpacked_example_config(self):
        root = os.path.join(self.tmp, "root")
        run(["dpkg-deb", "-x", self.deb, root])
        binary = os.path.join(root, "usr/sbin/hsbridge")
        conf = os.path.join(root, CONF_DIR, "hsbridge.conf")
        env = {k: v for k, v in os.environ.items() if k != "DEMO_WEBHOOK_SECRET"}
        r = run([binary, "-c", conf, "check"], env=env, check=False)
        self.assertEqual(r.returncode, 78, r.stdout + r.stderr)
        self.assertIn("DEMO_WEBHOOK_SECRET", read(conf))
        env["DEMO_WEBHOOK_SECRET"] = DEMO_SECRET
        r = run([binary, "-c", conf, "check"], env=env, check=False)
        out = r.stdout + r.stderr
        self.assertNotIn(DEMO_SECRET, out)
        self.assertNotIn(DEMO_SECRET[6:], out)
        self.assertEqual(r.returncode, 0, out)
        self.assertIn("config %s is valid" % conf, out)
        self.assertNotIn("warning:", out)


class ManPageTests(Tmp):
    PAGES = ("hsbridge.8", "hsbridge.conf.5")

    def warnings_of(self, path):
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        r = run(["man", "--warnings", "-l", path], env=env, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("NAME", r.stdout)
        return r.stderr.strip()

    def test_man_pages_render_without_warnings(self):
        root = os.path.join(self.tmp, "root")
        install(root)
        for page in self.PAGES:
            section = page[-1]
            self.assertEqual(self.warnings_of(os.path.join(BUILD, "man", page)), "", page)
            gz = os.path.join(root, "usr/share/man/man%s/%s.gz" % (section, page))
            self.assertEqual(self.warnings_of(gz), "", gz)

    def test_warning_check_catches_a_bad_page(self):
        bad = os.path.join(self.tmp, "bad.8")
        with open(bad, "w") as f:
            f.write('.TH BAD 8\n.SH NAME\n.NOSUCHMACRO x\nbad\n')
        self.assertIn("NOSUCHMACRO", self.warnings_of(bad))


# ---- drift: the code against the man pages and the README -----------------

PROBE = "zz_probe"
SUB = ('name = "a"; url = "http://127.0.0.1:9/"; events = ["webhook.test"]; '
       'secret = "s"; allow_private_addresses = true;')


def allowed_keys(binary, tmp, text):
    """The keys the parser accepts where `text` puts the probe key: from its
    'unknown key ... (expected one of: ...)' error. None when the probe
    did not land in a group (the setting is not a group)."""
    path = os.path.join(tmp, "probe.conf")
    with open(path, "w") as f:
        f.write(text)
    r = run([binary, "-c", path, "check"], check=False)
    m = re.search(r'unknown key "[^"]*%s" \(expected one of: ([^)]*)\)' % PROBE, r.stderr)
    return m.group(1).split(", ") if m else None


def config_keys(binary, tmp):
    """Every key the parser accepts, asked of the binary: top-level groups
    as "group.key", subscription keys bare, a subscription's own groups as
    "key.inner" (the breaker override, documented with the breaker group)."""
    keys = set()
    top = allowed_keys(binary, tmp, "%s = 1;\n" % PROBE)
    assert top, "no key list from the parser"
    for name in top:
        inner = allowed_keys(binary, tmp, "%s: { %s = 1; };\n" % (name, PROBE))
        if inner is not None:
            keys.update("%s.%s" % (name, k) for k in inner)
            continue
        sub = allowed_keys(binary, tmp, "%s = ({ %s %s = 1; });\n" % (name, SUB, PROBE))
        assert sub, "%s is neither a group nor a list of groups" % name
        keys.add(name)
        for k in sub:
            keys.add(k)
            nested = allowed_keys(binary, tmp, "%s = ({ %s %s = { %s = 1; }; });\n"
                                  % (name, SUB, k, PROBE))
            if nested:
                keys.update("%s.%s" % (k, n) for n in nested)
    return keys


def help_commands(binary):
    """The command names and --options of `hsbridge --help`."""
    out = run([binary, "--help"]).stdout
    cmds = re.findall(r"^  ([a-z][a-z-]*)\b", out.split("commands:", 1)[1], re.M)
    opts = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", out))
    return cmds, opts


def scd_terms(path, after=""):
    """The terms a man page source documents: lines that start with *term*
    (followed by `after`)."""
    return set(re.findall(r"^\*([^*\s]+)\*%s" % re.escape(after), read(path), re.M))


class DriftTests(Tmp):
    MAN8 = os.path.join(SOURCE, "man", "hsbridge.8.scd")
    MAN5 = os.path.join(SOURCE, "man", "hsbridge.conf.5.scd")

    @classmethod
    def setUpClass(cls):
        tmp = tempfile.mkdtemp(prefix="hsb-probe-")
        try:
            cls.keys = config_keys(BIN, tmp)
        finally:
            shutil.rmtree(tmp, True)
        cls.readme = read(os.path.join(SOURCE, "README.md"))

    def test_key_probe_finds_the_known_groups(self):
        """The probe itself works: it sees keys of every kind."""
        for k in ("broker.url", "delivery.parked_max_length", "breaker.max_cooldown",
                  "log.level", "subscriptions", "name", "secret_env", "breaker",
                  "breaker.failures"):
            self.assertIn(k, self.keys)

    def test_every_config_key_is_in_the_man_page(self):
        missing = sorted(k for k in self.keys if k not in scd_terms(self.MAN5, " ("))
        self.assertEqual(missing, [], "keys the parser accepts but hsbridge.conf(5) "
                         "does not document (a line starting with *key*)")

    def test_every_documented_key_exists(self):
        stale = sorted(scd_terms(self.MAN5, " (") - self.keys)
        self.assertEqual(stale, [], "hsbridge.conf(5) documents keys the parser refuses")

    def test_every_config_key_is_in_the_readme(self):
        missing = sorted(k for k in self.keys if "`%s`" % k not in self.readme and
                         not re.search(r"^%s = \($" % k, self.readme, re.M))
        self.assertEqual(missing, [], "keys missing from the README's config tables")

    def test_every_command_and_option_is_in_the_man_page_and_readme(self):
        cmds, opts = help_commands(BIN)
        self.assertIn("replay", cmds)
        terms = scd_terms(self.MAN8)
        man8 = read(self.MAN8)
        block = self.readme.split("### Commands and exit codes", 1)[1].split("```")[1]
        for c in cmds:
            self.assertIn(c, terms, "command %s: not a *term* in hsbridge(8)" % c)
            self.assertRegex(block, r"hsbridge \[-c FILE\] %s\b" % re.escape(c),
                             "command %s: not in the README's command list" % c)
        for o in opts:
            self.assertIn("*%s*" % o, man8, "option %s: not in hsbridge(8)" % o)
            self.assertIn(o, self.readme, "option %s: not in the README" % o)


if __name__ == "__main__":
    unittest.main()
