"""scripts/bench's driver (Debian's python3, stdlib only); see scripts/bench
and README "Benchmark" for what it measures and how. Not a test.

Everything it starts (a RabbitMQ node, nginx or the verifying receiver, the
bridges, the publisher and the bare loop) lives in one temporary folder and
is stopped by its own pid when the bench ends, however it ends.
"""
import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
EXCHANGE = "healthsync.events"
TYPE = "document.uploaded"
KIB = 1024
BASE = (1, KIB, 128)  # subscriptions, body bytes, max_in_flight of the reference row
# Scaling rows: (subscriptions, body, max_in_flight, events). Each row moves
# one axis away from BASE; event counts make every row a few seconds here.
SCALING = [
    (1, KIB, 128, 20000), (16, KIB, 128, 1250), (256, KIB, 128, 80),
    (1, 64 * KIB, 128, 5000), (1, 512 * KIB, 128, 1000),
    (1, KIB, 16, 20000), (1, KIB, 512, 20000),
]
# "history dropped": with history on, every attempt's record must reach the stream.
BRIDGE_FAILURES = ('"outcome":"retry"', '"outcome":"parked"', '"outcome":"handed_back"',
                   '"level":"error"', '"msg":"history dropped"')


class BenchError(Exception):
    pass


def say(msg):
    print("bench: " + msg, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def proc_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def pct(sorted_vals, p):
    """Nearest rank: the smallest value with at least p% at or below it."""
    k = max(1, -(-len(sorted_vals) * p // 100))
    return sorted_vals[int(k) - 1]


def size_text(n):
    return "%d KiB" % (n // KIB) if n >= KIB else "%d B" % n


class Endpoint:
    """nginx (return 200) or receiver.py; either appends one line per request,
    '<seconds since the epoch> <webhook-id> <status>', to self.log."""

    def __init__(self, bench, kind):
        self.kind, self.dir = kind, os.path.join(bench.work, "endpoint")
        os.makedirs(self.dir)
        self.port = free_port()
        self.log = os.path.join(self.dir, "access.log")
        self.url = "http://127.0.0.1:%d/hook" % self.port
        if kind == "nginx":
            conf = self.nginx_conf()
            cmd = ["nginx", "-p", self.dir + "/", "-c", conf, "-e", self.dir + "/error.log"]
        else:
            cmd = [sys.executable, os.path.join(REPO, "tests/bench/receiver.py"),
                   str(self.port), self.log, SECRET]
        self.proc = bench.spawn(cmd, stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(self.dir, "stderr"), "w"))
        deadline = time.monotonic() + 15
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError("%s did not start: %s" % (kind, self.errors()))
            time.sleep(0.05)

    def nginx_conf(self):
        d = self.dir
        conf = os.path.join(d, "nginx.conf")
        user = "user root;\n" if os.getuid() == 0 else ""
        temps = "".join("    %s_temp_path %s/%s;\n" % (t, d, t)
                        for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(conf, "w") as f:
            f.write(f"""# written by scripts/bench
{user}daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
{temps}    log_format bench '$msec $http_webhook_id $status';
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 75s;
    client_max_body_size 0;
    server {{
        listen 127.0.0.1:{self.port} backlog=4096;
        access_log {self.log} bench;
        location / {{ return 200; }}
    }}
}}
""")
        return conf

    def errors(self):
        out = []
        for name in ("error.log", "stderr"):
            p = os.path.join(self.dir, name)
            if os.path.exists(p):
                out.append(open(p, errors="replace").read()[-2000:])
        return " ".join(out).strip()

    def offset(self):
        return os.path.getsize(self.log) if os.path.exists(self.log) else 0

    def lines(self, start):
        """The complete lines after byte offset start."""
        if not os.path.exists(self.log):
            return []
        with open(self.log, "rb") as f:
            f.seek(start)
            data = f.read()
        return data[: data.rfind(b"\n") + 1].decode().splitlines()


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="hsbbench.")
        self.procs = []
        self.failed = False
        self.node_env = None
        self.hsbridge = os.environ.get("HSBRIDGE_BIN") or os.path.join(REPO, "build/hsbridge")
        tools = os.environ.get("HSB_BENCH_TOOLS") or os.path.join(REPO, "build/tests")
        self.loadgen = os.path.join(tools, "hsb-loadgen")
        self.bare = os.path.join(tools, "hsb-bare")

    # --- processes ------------------------------------------------------
    def spawn(self, cmd, **kw):
        p = subprocess.Popen(cmd, **kw)
        self.procs.append(p)
        return p

    def run(self, cmd, what):
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise BenchError("%s failed (exit %d): %s" % (what, r.returncode,
                                                         (r.stderr or r.stdout).strip()[-2000:]))
        return r.stdout

    def cleanup(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if self.node_env:
            subprocess.run([os.path.join(REPO, "scripts/rabbitmq"), "stop"], env=self.node_env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self.args.keep:
            say("kept " + self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    # --- the broker -----------------------------------------------------
    def start_node(self):
        env = os.environ
        off = env.get("HSB_BENCH_PORT_OFFSET")
        if off is not None:  # under ctest: beside scripts/test's node, never on it
            off = int(off)
            amqp = int(env.get("HSB_AMQP_PORT", 5682)) + off
            mgmt = int(env.get("HSB_MGMT_PORT", 15682)) + off
            dist = int(env.get("HSB_DIST_PORT", 25682)) + off
            node = env.get("HSB_NODE", "hsbtest@localhost").split("@")[0] + "bench@localhost"
        else:
            amqp = int(env.get("HSB_BENCH_AMQP_PORT", 5722))
            mgmt = int(env.get("HSB_BENCH_MGMT_PORT", 15722))
            dist = int(env.get("HSB_BENCH_DIST_PORT", 25722))
            node = env.get("HSB_BENCH_NODE", "hsbbench@localhost")
        for p in (amqp, mgmt, dist):
            if port_open(p):
                raise BenchError("port %d on 127.0.0.1 is in use; set HSB_BENCH_AMQP_PORT, "
                                 "HSB_BENCH_MGMT_PORT, HSB_BENCH_DIST_PORT" % p)
        self.amqp_port, self.mgmt_port = amqp, mgmt
        # scripts/test's TLS ports are its node's: the bench node has none.
        env = {k: v for k, v in env.items() if k not in ("HSB_AMQPS_PORT", "HSB_MGMT_TLS_PORT")}
        self.node_env = dict(env, HSB_AMQP_PORT=str(amqp), HSB_MGMT_PORT=str(mgmt),
                             HSB_DIST_PORT=str(dist), HSB_NODE=node, HSB_RABBIT_FRESH="1",
                             HSB_RABBIT_DIR=os.path.join(self.work, "rabbit"))
        say("starting RabbitMQ node %s (amqp %d, mgmt %d)" % (node, amqp, mgmt))
        r = subprocess.run([os.path.join(REPO, "scripts/rabbitmq"), "start"], env=self.node_env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise BenchError("RabbitMQ did not start: " + r.stdout[-2000:])

    def mgmt(self, method, path, body=None):
        req = urllib.request.Request("http://127.0.0.1:%d/api/%s" % (self.mgmt_port, path),
                                     method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        req.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=120) as r:
            data = r.read()
        return json.loads(data) if data else None

    def new_vhost(self, name):
        self.mgmt("PUT", "vhosts/" + name, {})
        self.mgmt("PUT", "permissions/%s/guest" % name,
                  {"configure": ".*", "write": ".*", "read": ".*"})

    def url(self, vhost):
        return "amqp://guest:guest@127.0.0.1:%d/%s" % (self.amqp_port, vhost)

    def queued(self, vhost):
        """Messages in the vhost's queues, acked or not (rabbitmqctl's
        'messages': ready plus unacknowledged), polled until 0 for up to 60 s
        (a quorum queue applies settlements a moment after the acks)."""
        env = dict(self.node_env, HOME=self.node_env["HSB_RABBIT_DIR"],
                   RABBITMQ_CONF_ENV_FILE=self.node_env["HSB_RABBIT_DIR"] + "/rabbitmq-env.conf")
        cmd = ["/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", self.node_env["HSB_NODE"], "-q",
               "list_queues", "-p", vhost, "--no-table-headers", "name", "messages"]
        deadline = time.monotonic() + 60
        while True:
            r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
            if r.returncode != 0:
                raise BenchError("rabbitmqctl list_queues: " + r.stderr.strip()[-500:])
            # the history stream keeps its records: they are not left work
            counts = dict(line.split() for line in r.stdout.splitlines()
                          if line.strip() and not line.split()[0].endswith(".attempts"))
            left = sum(map(int, counts.values()))
            if left == 0 or time.monotonic() > deadline:
                if left:
                    say("left in %s: %s" % (vhost, ", ".join(
                        "%s %s" % kv for kv in sorted(counts.items()) if kv[1] != "0")))
                return left
            time.sleep(0.2)

    # --- the bridge -----------------------------------------------------
    def config(self, vhost, subs, mif):
        path = os.path.join(self.work, vhost + ".conf")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write('broker: { url = "%s"; };\n' % self.url(vhost))
            # nginx is on loopback, which the address guard refuses by default.
            f.write("delivery: { max_in_flight = %d; allow_private_addresses = true; };\n"
                    % mif)
            f.write("history: { enabled = %s; };\n"
                    % ("true" if self.args.history == "on" else "false"))
            f.write('log: { level = "%s"; };\nsubscriptions = (\n' % self.args.log_level)
            f.write(",\n".join(
                '  { name = "b%d"; url = "%s"; events = ["%s"]; secret = "%s"; }'
                % (i, self.endpoint.url, TYPE, SECRET) for i in range(1, subs + 1)))
            f.write("\n);\n")
        return path

    def setup_vhost(self, vhost, subs, mif):
        self.new_vhost(vhost)
        conf = self.config(vhost, subs, mif)
        self.run([self.hsbridge, "-c", conf, "topology"], "hsbridge topology")
        return conf

    def publish(self, vhost, events, body, prefix, extra=()):
        return self.run([self.loadgen, "-p", prefix, *extra, self.url(vhost), EXCHANGE, TYPE,
                         str(events), str(body)], "hsb-loadgen")

    def start_bridge(self, conf, vhost):
        log = open(os.path.join(self.work, vhost + ".bridge.log"), "w")
        return self.spawn([self.hsbridge, "-c", conf, "run"], stdout=log, stderr=log)

    def wait_lines(self, bridge, start, expected, timeout):
        """Polls the endpoint's log until expected requests arrived; returns
        the lines."""
        deadline = time.monotonic() + timeout
        count, pos = 0, start
        while count < expected:
            if bridge.poll() is not None:
                raise BenchError("the bridge exited (%d) after %d of %d deliveries"
                                 % (bridge.returncode, count, expected))
            if time.monotonic() > deadline:
                raise BenchError("only %d of %d deliveries after %d s" % (count, expected, timeout))
            time.sleep(0.02)
            size = self.endpoint.offset()
            if size > pos:
                with open(self.endpoint.log, "rb") as f:
                    f.seek(pos)
                    data = f.read(size - pos)
                data = data[: data.rfind(b"\n") + 1]
                count += data.count(b"\n")
                pos += len(data)
        return self.endpoint.lines(start)

    def stop_bridge(self, bridge, vhost, expected):
        bridge.send_signal(signal.SIGTERM)
        try:
            rc = bridge.wait(60)
        except subprocess.TimeoutExpired:
            raise BenchError("the bridge did not stop within 60 s of SIGTERM")
        text = open(os.path.join(self.work, vhost + ".bridge.log"), errors="replace").read()
        bad = [line for line in text.splitlines() if any(b in line for b in BRIDGE_FAILURES)]
        if rc != 0 or bad:
            raise BenchError("bridge exit %d, failed attempts or errors in its log: %s"
                             % (rc, "\n".join(bad[:5])))
        delivered = text.count('"outcome":"delivered"')
        if self.args.log_level in ("debug", "info") and delivered < expected:
            raise BenchError("the bridge logged %d deliveries, %d expected" % (delivered, expected))

    def check_delivered(self, lines, expected, vhost):
        ids, statuses = set(), {}
        for line in lines:
            _, wid, status = line.split()
            ids.add(wid)
            statuses[status] = statuses.get(status, 0) + 1
        # A run with nothing failing delivers each event once per subscription:
        # a duplicate is a finding, not noise.
        if len(ids) != expected or len(lines) != expected or set(statuses) != {"200"}:
            raise BenchError("endpoint got %d requests, %d distinct of %d expected (each "
                             "exactly once), statuses %s"
                             % (len(lines), len(ids), expected, statuses))
        left = self.queued(vhost)
        if left:
            raise BenchError("%d messages left in the queues of %s" % (left, vhost))
        return len(lines) - expected

    def failed_attempts(self, vhost):
        path = os.path.join(self.work, vhost + ".bridge.log")
        with open(path, errors="replace") as f:
            return sum(1 for line in f if any(b in line for b in BRIDGE_FAILURES))

    def drain(self, vhost, subs, body, mif, events, prefix, timeout):
        """Queues events, then times the bridge from its start until the
        endpoint got the last delivery; returns (deliveries/s, cpu us per
        delivery, peak RSS KiB, duplicates)."""
        conf = self.setup_vhost(vhost, subs, mif)
        self.publish(vhost, events, body, prefix)
        expected = events * subs
        start = self.endpoint.offset()
        t0 = time.time()
        bridge = self.start_bridge(conf, vhost)
        try:
            lines = self.wait_lines(bridge, start, expected, timeout)
        except BenchError as e:
            if bridge.poll() is None:
                bridge.terminate()
                bridge.wait()
            raise BenchError("%s (%d failed attempts in the bridge's log)"
                             % (e, self.failed_attempts(vhost)))
        cpu, hwm = proc_cpu_s(bridge.pid), proc_hwm_kib(bridge.pid)
        self.stop_bridge(bridge, vhost, expected)
        last = max(float(line.split()[0]) for line in lines)
        dups = self.check_delivered(lines, expected, vhost)
        return expected / (last - t0), cpu * 1e6 / expected, hwm, dups

    # --- the three parts ------------------------------------------------
    def throughput(self):
        a = self.args
        say("throughput: %d events of %s on one quorum queue, max_in_flight %d"
            % (a.events, size_text(a.body), a.max_in_flight))
        if not a.against and a.rounds == 1:
            self.throughput_once("throughput")
            return
        # Builds compared on a busy 2-core machine: alternate them, round
        # after round, so that both see the same conditions.
        builds = [("before", a.against), ("after", self.hsbridge)] if a.against else \
            [("hsbridge", self.hsbridge)]
        mine = self.hsbridge
        cpu = {label: [] for label, _ in builds}
        try:
            for r in range(1, a.rounds + 1):
                for label, path in builds:
                    self.hsbridge = path
                    cpu[label].append(self.throughput_once(
                        "throughput (%s, round %d of %d)" % (label, r, a.rounds)))
        finally:
            self.hsbridge = mine
        for label, path in builds:
            vals = sorted(cpu[label])
            print("throughput: %s (%s): bridge CPU us per delivery %s, median %.1f"
                  % (label, path, ", ".join("%.1f" % v for v in cpu[label]),
                     vals[len(vals) // 2] if len(vals) % 2 else
                     (vals[len(vals) // 2 - 1] + vals[len(vals) // 2]) / 2), flush=True)

    def throughput_once(self, what):
        """One drain by the bridge, then one by the bare loop, of the same
        queue; prints the pair and returns the bridge's CPU per delivery."""
        a = self.args
        subs, body, mif = 1, a.body, a.max_in_flight
        rate, cpu_us, hwm, dups = self.drain("tp", subs, body, mif, a.events, "evt_tp_",
                                             a.timeout)
        self.publish("tp", a.events, body, "evt_bare_")
        t0 = time.time()
        bare_p = self.spawn([self.bare, "127.0.0.1", str(self.amqp_port), "tp", "hsbridge.b1",
                             str(a.events), str(mif)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
        out = bare_p.stdout.readline()
        left = self.queued("tp") if out else -1
        bare_p.stdin.close()
        if bare_p.wait(60) != 0 or not out.startswith("bare: "):
            raise BenchError("hsb-bare failed (exit %d)" % bare_p.returncode)
        _, n, end_us, bare_cpu = out.split()
        if int(n) != a.events or left:
            raise BenchError("bare loop took %s of %d, %d left" % (n, a.events, left))
        bare = a.events / (int(end_us) / 1e6 - t0)
        self.mgmt("DELETE", "vhosts/tp")
        print("%s: hsbridge %.0f/s, bare %.0f/s, ratio %.2f" % (what, rate, bare, rate / bare))
        print("%s: bridge CPU %.1f us per delivery, peak RSS %.1f MiB"
              " (bare loop: %.1f us CPU per message)%s"
              % (what, cpu_us, hwm / 1024, int(bare_cpu) / a.events,
                 ", %d duplicate deliveries" % dups if dups else ""), flush=True)
        return cpu_us

    def wait_consuming(self, vhost, subs):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            qs = self.mgmt("GET", "queues/%s?columns=name,consumers" % vhost)
            if sum(1 for q in qs if q.get("consumers")) >= subs:
                return
            time.sleep(0.2)
        raise BenchError("the bridge did not start consuming within 60 s")

    def latency(self):
        a = self.args
        events = int(a.rate * a.seconds)
        say("latency: %d events/s for %g s (%d events of %s), max_in_flight %d"
            % (a.rate, a.seconds, events, size_text(a.body), a.max_in_flight))
        conf = self.setup_vhost("lat", 1, a.max_in_flight)
        start = self.endpoint.offset()
        bridge = self.start_bridge(conf, "lat")
        self.wait_consuming("lat", 1)
        sent_file = os.path.join(self.work, "lat.sent")
        self.publish("lat", events, a.body, "evt_lat_",
                     ("-r", str(a.rate), "-s", "b1", "-o", sent_file))
        lines = self.wait_lines(bridge, start, events, 60)
        self.stop_bridge(bridge, "lat", events)
        self.check_delivered(lines, events, "lat")
        sent = {}
        for line in open(sent_file):
            wid, us = line.split()
            sent[wid] = int(us)
        lat = {}
        nginx = self.endpoint.kind == "nginx"
        for line in lines:
            t, wid, _ = line.split()
            # nginx's $msec is cut to whole ms: cut the publish time the same
            # way, so each figure is within 1 ms of the real latency, either way.
            pub_ms = sent[wid] // 1000 if nginx else sent[wid] / 1e3
            lat.setdefault(wid, round(float(t) * 1e3) - pub_ms if nginx
                           else float(t) * 1e3 - pub_ms)
        vals = sorted(lat.values())
        self.mgmt("DELETE", "vhosts/lat")
        res = ("1 ms (nginx's $msec; both times cut to whole ms: each figure within 1 ms either way)" if nginx else "1 us")
        span = (max(sent.values()) - min(sent.values())) / 1e6
        if span > 0:
            say("latency: published at %.0f events/s (asked %g)" % ((len(sent) - 1) / span, a.rate))
        print("latency: publish to receipt p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d events"
              " (%d/s; resolution %s)" % (pct(vals, 50), pct(vals, 99), vals[-1], len(vals),
                                          a.rate, res), flush=True)

    def scaling(self):
        a = self.args
        say("scaling: one row per setting, the others at 1 subscription, 1 KiB, "
            "max_in_flight 128")
        rows = []
        for i, (subs, body, mif, events) in enumerate(SCALING):
            if a.row and i + 1 not in a.row:
                continue
            events = max(1, int(events * a.scale))
            try:
                rate, cpu_us, hwm, _ = self.drain("sc%d" % i, subs, body, mif, events,
                                                  "evt_sc%d_" % i, a.row_timeout)
                cells = "%.0f | %.1f | %.1f MiB" % (rate, cpu_us, hwm / 1024)
            except BenchError as e:
                say("  row %d FAILED: %s" % (i + 1, e))
                self.failed = True
                cells = "did not finish | | "
            self.mgmt("DELETE", "vhosts/sc%d" % i)
            rows.append((subs, body, mif, events, events * subs, cells))
            say("  row %d of %d done" % (i + 1, len(SCALING)))
        print("| subscriptions | body | max_in_flight | events | deliveries | deliveries/s "
              "| CPU us/delivery | peak RSS |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for subs, body, mif, events, n, cells in rows:
            print("| %d | %s | %d | %d | %d | %s |" % (subs, size_text(body), mif, events, n, cells))
        sys.stdout.flush()

    def main(self):
        a = self.args
        for path in (self.hsbridge, self.loadgen, self.bare):
            if not os.access(path, os.X_OK):
                raise BenchError("%s missing: run scripts/setup" % path)
        self.start_node()
        self.endpoint = Endpoint(self, a.receiver)
        say("endpoint: %s on %s; bridge %s (log level %s)"
            % (a.receiver if a.receiver == "nginx" else "receiver.py (verifies signatures)",
               self.endpoint.url, self.hsbridge, a.log_level))
        parts = a.only or ["throughput", "latency", "scaling"]
        for part in ("throughput", "latency", "scaling"):
            if part in parts:
                getattr(self, part)()
        if self.failed:
            raise BenchError("a scaling row did not finish (above)")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="scripts/bench", description="see README, Benchmark")
    p.add_argument("--only", action="append", choices=("throughput", "latency", "scaling"))
    p.add_argument("--quick", action="store_true", help="a quarter of the events, 10 s latency")
    p.add_argument("--smoke", action="store_true", help="a few thousand events (CI)")
    p.add_argument("--receiver", choices=("nginx", "verify"), default="nginx")
    p.add_argument("--events", type=int, help="throughput events (default 20000)")
    p.add_argument("--body", type=int, default=KIB, help="body bytes (throughput, latency)")
    p.add_argument("--max-in-flight", type=int, default=128)
    p.add_argument("--rate", type=float, help="latency: events/s (default 1000)")
    p.add_argument("--seconds", type=float, help="latency: how long (default 30)")
    p.add_argument("--scale", type=float, help="scaling: times the rows' event counts")
    p.add_argument("--row", type=int, action="append", choices=range(1, len(SCALING) + 1),
                   help="scaling: only this row (1 to %d, in the table's order)" % len(SCALING))
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warn", "error"))
    p.add_argument("--history", default="on", choices=("on", "off"),
                   help="history.enabled: every attempt recorded in hsbridge.attempts (default on)")
    p.add_argument("--timeout", type=float, default=600, help="throughput drain, seconds")
    p.add_argument("--rounds", type=int, default=1,
                   help="throughput: drains (each with its bare loop), then each one's CPU "
                        "per delivery and their median")
    p.add_argument("--against", metavar="HSBRIDGE",
                   help="throughput: another hsbridge binary (a build before a change), "
                        "drained alternately with this one in each round")
    p.add_argument("--row-timeout", type=float, default=120,
                   help="scaling: seconds before a row is given up (the table says so)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    a = p.parse_args(argv)
    if a.rounds < 1:
        p.error("--rounds: at least 1")
    if a.against and not os.access(a.against, os.X_OK):
        p.error("--against: %s is not an executable" % a.against)
    if a.row and not a.only:
        a.only = ["scaling"]  # --row N: that scaling row, nothing else
    factor = 0.05 if a.smoke else 0.25 if a.quick else 1.0
    a.events = a.events or max(1, int(20000 * factor))
    a.rate = a.rate or (200 if a.smoke else 1000)
    a.seconds = a.seconds or (5 if a.smoke else 10 if a.quick else 30)
    a.scale = a.scale or factor
    return a


def main():
    bench = Bench(parse_args(sys.argv[1:]))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))  # a closed terminal cleans up too
    try:
        bench.main()
    except BenchError as e:
        print("bench: FAILED: %s" % e, file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr, flush=True)
        return 130
    finally:
        bench.cleanup()
    print("bench: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
