"""Harness for the hsbridge integration suite (Python 3 standard library only).

Pieces:
  - wait_until / wait_stable: polling with a deadline (never bare sleeps)
  - Mgmt: RabbitMQ management HTTP API client (vhosts, publish, get, queues)
  - Receiver: a real HTTP endpoint on 127.0.0.1:<ephemeral> recording every
    request and answering from a per-path script
  - BridgeProc: one `hsbridge ... run` process with its stderr/stdout in files
  - render_config: libconfig text for DESIGN section 5
  - signature helpers (spec page verify_signature, Standard Webhooks)
"""

import base64
import hashlib
import hmac
import http.server
import json
import os
import random
import signal
import socket
import ssl
import string
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

ENV_HELP = (
    "the integration suite needs a running RabbitMQ node and the hsbridge binary: "
    "set HSB_AMQP_PORT (AMQP port on 127.0.0.1), HSB_MGMT_PORT (management API "
    "port on 127.0.0.1, guest/guest) and HSBRIDGE_BIN (path to the hsbridge "
    "binary), HSB_NODE and HSB_RABBIT_DIR (the node's name and folder, for "
    "rabbitmqctl); scripts/test starts a node and exports them")


class Env:
    amqp_port = None
    mgmt_port = None
    bin = None
    source_dir = None
    rawpub = None


def rabbitmqctl(*args):
    """rabbitmqctl against the suite's node (its cookie lives in its folder)."""
    return subprocess.run(["/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", Env.node] + list(args),
                          env=dict(os.environ, HOME=Env.rabbit_dir), capture_output=True,
                          text=True, timeout=60, check=True)


def load_env():
    """Fill Env from the environment or raise RuntimeError (a failure, not a skip)."""
    missing = [v for v in ("HSB_AMQP_PORT", "HSB_MGMT_PORT", "HSBRIDGE_BIN", "HSB_NODE",
                           "HSB_RABBIT_DIR") if not os.environ.get(v)]
    if missing:
        raise RuntimeError("missing environment variable(s) %s: %s"
                           % (", ".join(missing), ENV_HELP))
    Env.amqp_port = int(os.environ["HSB_AMQP_PORT"])
    Env.mgmt_port = int(os.environ["HSB_MGMT_PORT"])
    Env.bin = os.environ["HSBRIDGE_BIN"]
    Env.node = os.environ["HSB_NODE"]
    Env.rabbit_dir = os.environ["HSB_RABBIT_DIR"]
    Env.source_dir = os.environ.get("HSB_SOURCE_DIR", "")
    # tests/tools/rawpub.c, built beside hsbridge (ctest passes its path).
    Env.rawpub = os.environ.get("HSB_RAWPUB") or os.path.join(
        os.path.dirname(os.path.abspath(Env.bin)), "tests", "hsb-rawpub")
    if not (os.path.isfile(Env.bin) and os.access(Env.bin, os.X_OK)):
        raise RuntimeError("HSBRIDGE_BIN=%r is not an executable file: %s" % (Env.bin, ENV_HELP))
    try:
        Mgmt(Env.mgmt_port).req("GET", "/overview")
    except Exception as e:  # noqa: BLE001 - report any failure clearly
        raise RuntimeError("RabbitMQ management API on 127.0.0.1:%d is not reachable (%s): %s"
                           % (Env.mgmt_port, e, ENV_HELP))


# ---------------------------------------------------------------- polling

def wait_until(pred, timeout, what, interval=0.05, detail=None):
    """Poll pred() until it returns something truthy; return that value.
    On deadline raise AssertionError naming `what` (and detail() if given)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            msg = "timed out after %.1fs waiting for %s" % (timeout, what)
            if detail is not None:
                try:
                    msg += "\n" + str(detail())
                except Exception as e:  # noqa: BLE001
                    msg += "\n(detail failed: %r)" % (e,)
            raise AssertionError(msg)
        time.sleep(interval)


def wait_stable(pred, hold, timeout, what, interval=0.1, detail=None):
    """Wait until pred() has been continuously true for `hold` seconds.
    Used for absence checks against statistics that lag (management API)."""
    deadline = time.monotonic() + timeout
    since = None
    while True:
        now = time.monotonic()
        if pred():
            if since is None:
                since = now
            if now - since >= hold:
                return
        else:
            since = None
        if now >= deadline:
            msg = "timed out after %.1fs waiting for %s (held %.1fs)" % (timeout, what, hold)
            if detail is not None:
                try:
                    msg += "\n" + str(detail())
                except Exception as e:  # noqa: BLE001
                    msg += "\n(detail failed: %r)" % (e,)
            raise AssertionError(msg)
        time.sleep(interval)


# ---------------------------------------------------------------- misc

def rand_alnum(n):
    alphabet = string.ascii_letters + string.digits
    return "".join(random.choice(alphabet) for _ in range(n))


def new_event_id():
    return "evt_" + rand_alnum(24)


_held_ports = []   # sockets kept bound for the life of the process (see free_port)


def free_port():
    """A loopback TCP port nothing listens on, and nothing else can take: the
    port stays bound (never listening) for the rest of this process, so a
    connection to it is refused even while other test processes running in
    parallel bind ephemeral ports of their own."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    _held_ports.append(s)
    return s.getsockname()[1]


def take_held_port(port):
    """The bound, never listening socket free_port() keeps for port."""
    for i, s in enumerate(_held_ports):
        if s.getsockname()[1] == port:
            return _held_ports.pop(i)
    raise AssertionError("port %d was not handed out by free_port()" % port)


def clean_env(extra=None):
    """Environment for child processes: no proxies (loopback only)."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_PROXY"] = "*"
    env.pop("HSBRIDGE_CONFIG", None)
    if extra:
        env.update(extra)
    return env


def q(name):
    return urllib.parse.quote(name, safe="")


# ---------------------------------------------------------------- signatures

# Copied verbatim from spec/webhooks-event-subscriptions.md ("Verifying Signatures").
def verify_signature(payload, signature, secret):
    computed = hmac.new(
        secret.encode(),
        payload.encode(),
        hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(
        f"sha256={computed}",
        signature
    )


def standard_webhooks_key(secret):
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode()


def standard_webhooks_sig(secret, msg_id, ts, body):
    content = msg_id.encode() + b"." + str(ts).encode() + b"." + body
    mac = hmac.new(standard_webhooks_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def new_whsec():
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


# ---------------------------------------------------------------- management API

class MgmtError(AssertionError):
    pass


class Mgmt:
    def __init__(self, port, user="guest", password="guest"):
        self.base = "http://127.0.0.1:%d/api" % port
        self.auth = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def raw(self, method, path, body=None, timeout=15):
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request(self.base + path, data=data, method=method)
        r.add_header("Authorization", self.auth)
        if data is not None:
            r.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(r, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def req(self, method, path, body=None, ok=(200, 201, 204)):
        status, raw = self.raw(method, path, body)
        if status not in ok:
            raise MgmtError("management API %s %s -> %d %s" % (method, path, status, raw[:500]))
        return json.loads(raw) if raw else None

    # policies
    def set_policy(self, vhost, name, pattern, definition, apply_to="queues"):
        self.req("PUT", "/policies/%s/%s" % (q(vhost), q(name)),
                 {"pattern": pattern, "definition": definition, "apply-to": apply_to})

    def delete_policy(self, vhost, name):
        self.req("DELETE", "/policies/%s/%s" % (q(vhost), q(name)), ok=(200, 204, 404))

    # vhosts
    def create_vhost(self, vhost):
        self.req("PUT", "/vhosts/" + q(vhost), {})
        self.req("PUT", "/permissions/%s/guest" % q(vhost),
                 {"configure": ".*", "write": ".*", "read": ".*"})

    def delete_vhost(self, vhost):
        self.req("DELETE", "/vhosts/" + q(vhost), ok=(200, 201, 204, 404))

    # objects
    def _object(self, kind, vhost, name):
        """A queue or exchange object, or None if it does not exist."""
        status, raw = self.raw("GET", "/%ss/%s/%s" % (kind, q(vhost), q(name)))
        if status == 404:
            return None
        if status != 200:
            raise MgmtError("GET %s %s -> %d %s" % (kind, name, status, raw[:300]))
        return json.loads(raw)

    def queue(self, vhost, name):
        return self._object("queue", vhost, name)

    def queues(self, vhost):
        return self.req("GET", "/queues/%s" % q(vhost))

    def exchange(self, vhost, name):
        return self._object("exchange", vhost, name)

    def bindings(self, vhost, queue):
        return self.req("GET", "/queues/%s/%s/bindings" % (q(vhost), q(queue)))

    def channels(self, vhost):
        """Channels of the vhost (stats: messages_unacknowledged, lag ~1 interval)."""
        return self.req("GET", "/vhosts/%s/channels" % q(vhost))

    def consumers(self, vhost):
        """Consumers of the vhost (event-driven, no statistics lag)."""
        return self.req("GET", "/consumers/%s" % q(vhost))

    def delete_queue(self, vhost, name):
        """Delete a queue (as an operator would, under a running bridge)."""
        self.req("DELETE", "/queues/%s/%s" % (q(vhost), q(name)))

    def connections(self, vhost):
        """Client connections of the vhost (name, client_properties, ...)."""
        return self.req("GET", "/vhosts/%s/connections" % q(vhost))

    def close_connection(self, name):
        """Force-close a client connection (the broker sends connection.close)."""
        self.req("DELETE", "/connections/%s" % q(name))

    def declare_queue(self, vhost, name, durable=True, arguments=None):
        self.req("PUT", "/queues/%s/%s" % (q(vhost), q(name)),
                 {"durable": durable, "auto_delete": False, "arguments": arguments or {}})

    # messages
    def _get(self, vhost, queue, count, ackmode):
        """basic.get through the API; each message gets 'body', its raw bytes."""
        msgs = self.req("POST", "/queues/%s/%s/get" % (q(vhost), q(queue)), {
            "count": count, "ackmode": ackmode, "encoding": "auto"})
        for m in msgs:
            if m.get("payload_encoding") == "base64":
                m["body"] = base64.b64decode(m["payload"])
            else:
                m["body"] = m["payload"].encode("utf-8")
        return msgs

    def peek(self, vhost, queue, count=1):
        """Read up to count messages and requeue them (like get, but not
        destructive; on a quorum queue each peek counts as a redelivery)."""
        return self._get(vhost, queue, count, "ack_requeue_true")

    def reject_requeue(self, vhost, queue, count=1):
        """basic.get then basic.reject(requeue=true): a return that counts
        towards a quorum queue's x-delivery-limit."""
        return self.req("POST", "/queues/%s/%s/get" % (q(vhost), q(queue)), {
            "count": count, "ackmode": "reject_requeue_true", "encoding": "auto"})

    def publish(self, vhost, exchange, routing_key, payload, properties=None):
        """Publish bytes (always base64 on the wire, so bytes arrive exactly).
        Returns the `routed` flag."""
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        ex = "amq.default" if exchange == "" else exchange
        res = self.req("POST", "/exchanges/%s/%s/publish" % (q(vhost), q(ex)), {
            "properties": properties or {},
            "routing_key": routing_key,
            "payload": base64.b64encode(payload).decode(),
            "payload_encoding": "base64",
        })
        return bool(res.get("routed"))

    def get(self, vhost, queue, count=1):
        """Destructively read up to count messages. Each returned dict gets
        an extra key 'body' with the raw payload bytes."""
        return self._get(vhost, queue, count, "ack_requeue_false")


# ---------------------------------------------------------------- HTTP receiver

class R:
    """A scripted HTTP response."""

    def __init__(self, status=200, headers=None, sleep=0.0, body=b"ok", hold=None):
        """hold: a threading.Event; the answer waits until it is set (the
        request is recorded at once), for steps that must happen while a
        request is in flight however long they take."""
        self.status = status
        self.headers = dict(headers or {})
        self.sleep = sleep
        self.hold = hold
        self.body = body if isinstance(body, bytes) else body.encode()

    def __repr__(self):
        return "R(%d%s%s)" % (self.status, ", %r" % self.headers if self.headers else "",
                              ", sleep=%s" % self.sleep if self.sleep else "")


def _as_resp(x):
    return x if isinstance(x, R) else R(int(x))


class Recorded:
    def __init__(self, method, path, headers, body, t):
        self.method = method
        self.full_path = path
        self.path = urllib.parse.urlsplit(path).path
        self.headers = headers          # http.client.HTTPMessage (case-insensitive)
        self.body = body                # raw bytes
        self.t = t                      # time.time() when the body was read
        self.status = None              # what we answered

    def h(self, name):
        return self.headers.get(name)

    @property
    def attempt(self):
        v = self.headers.get("X-HealthSync-Attempt")
        return int(v) if v is not None and v.strip().isdigit() else v

    @property
    def delivery(self):
        return self.headers.get("X-HealthSync-Delivery")

    def __repr__(self):
        return "<%s %s attempt=%s delivery=%s status=%s len=%d>" % (
            self.method, self.full_path, self.h("X-HealthSync-Attempt"), self.delivery,
            self.status, len(self.body))


class _Server(http.server.ThreadingHTTPServer):
    # A burst of deliveries connects at once: the default listen backlog of
    # 5 would turn most of them into connect timeouts.
    request_queue_size = 256


class Receiver:
    """ThreadingHTTPServer on 127.0.0.1:0 recording every request.

    script(path, [responses...], default=R(200)): responses are consumed in
    order for that path, then `default` answers. A response is an int status
    or R(status, headers, sleep, body, hold)."""

    def __init__(self, tls=None, port=None):
        """tls: (certfile, keyfile) to serve HTTPS instead of HTTP. port: one
        that free_port() handed out, whose refusing socket starts listening
        (an endpoint that comes up where connections were refused)."""
        self.lock = threading.Lock()
        self.scheme = "https" if tls else "http"
        self.requests = []
        self._scripts = {}
        self._defaults = {}
        self.stopping = threading.Event()
        rx = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _read_body(self):
                te = (self.headers.get("Transfer-Encoding") or "").lower()
                if "chunked" in te:
                    out = b""
                    while True:
                        line = self.rfile.readline()
                        size = int(line.split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _handle(self):
                body = self._read_body()
                rec = Recorded(self.command, self.path, self.headers, body, time.time())
                resp = rx._next(rec)
                rec.status = resp.status
                with rx.lock:
                    rx.requests.append(rec)
                if resp.sleep:
                    rx.stopping.wait(resp.sleep)
                while resp.hold is not None and not resp.hold.wait(0.1) \
                        and not rx.stopping.is_set():
                    pass
                payload = b"" if resp.status in (204, 304) or resp.status < 200 else resp.body
                try:
                    self.send_response(resp.status)
                    for k, v in resp.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    self.wfile.flush()
                except OSError:
                    self.close_connection = True

            do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _handle

        if port is None:
            self.server = _Server(("127.0.0.1", 0), Handler)
        else:
            self.server = _Server(("127.0.0.1", port), Handler, bind_and_activate=False)
            self.server.socket.close()
            self.server.socket = take_held_port(port)
            self.server.server_activate()
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def url(self, path):
        return "%s://127.0.0.1:%d%s" % (self.scheme, self.port, path)

    def script(self, path, responses=(), default=200):
        with self.lock:
            self._scripts[path] = [_as_resp(x) for x in responses]
            self._defaults[path] = _as_resp(default)

    def _next(self, rec):
        with self.lock:
            lst = self._scripts.get(rec.path)
            if lst:
                return lst.pop(0)
            return self._defaults.get(rec.path, R(200))

    def for_path(self, path):
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def all(self):
        with self.lock:
            return list(self.requests)

    def wait_count(self, path, n, timeout, what=None):
        wait_until(lambda: len(self.for_path(path)) >= n, timeout,
                   what or "%d request(s) on %s" % (n, path),
                   detail=lambda: "received: %r" % (self.all(),))
        return self.for_path(path)

    def stop(self):
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- bridge process

def parse_json_lines(text):
    """(objects, non_json_lines)"""
    objs, bad = [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            o = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if isinstance(o, dict):
            objs.append(o)
        else:
            bad.append(line)
    return objs, bad


class BridgeProc:
    def __init__(self, conf, workdir, name="bridge"):
        self.conf = conf
        self.stderr_path = os.path.join(workdir, name + ".stderr")
        self.stdout_path = os.path.join(workdir, name + ".stdout")
        self.proc = None
        self.rc = None

    def start(self, args=("run",), env=None):
        """env: variables added to clean_env()'s."""
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen([Env.bin, "-c", self.conf] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=self._err, env=clean_env(env),
                                     start_new_session=True)
        return self

    @staticmethod
    def _read(path):
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def stderr_bytes(self):
        return self._read(self.stderr_path)

    def stdout_bytes(self):
        return self._read(self.stdout_path)

    def stderr_text(self):
        return self.stderr_bytes().decode("utf-8", "replace")

    def lines(self):
        return parse_json_lines(self.stderr_text())[0]

    def deliveries(self, **match):
        """'msg':'delivery' log lines matching all given key=value pairs."""
        return [o for _, o in self.logs("delivery", **match)]

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def logs(self, msg, after=-1, **match):
        """[(index, line)] of JSON log lines with "msg": msg and all key=value
        pairs, after line index `after`."""
        return [(i, o) for i, o in enumerate(self.lines())
                if i > after and o.get("msg") == msg
                and all(o.get(k) == v for k, v in match.items())]

    def wait_log(self, msg, n=1, after=-1, timeout=15, pred=None, what=None, **match):
        """THE log-wait helper: wait until at least n log lines with "msg": msg
        and all key=value pairs (and pred(line), if given) follow line index
        `after`; return them as [(index, line)]. Fails at once if the process
        exits before they appear."""
        def found():
            exited = self.proc.poll() is not None
            got = [(i, o) for i, o in self.logs(msg, after, **match) if pred is None or pred(o)]
            if len(got) >= n:
                return got
            if exited:
                raise AssertionError("hsbridge exited (rc %r) while waiting for %s; stderr:\n%s"
                                     % (self.proc.returncode, what or repr(msg),
                                        self.stderr_text()[-4000:]))
            return None
        return wait_until(found, timeout, what or "%d %r log line(s) with %r after line %d"
                          % (n, msg, match, after),
                          detail=lambda: "stderr so far:\n" + self.stderr_text()[-3000:])

    def wait_ready(self, timeout=30):
        self.wait_log("ready", timeout=timeout, what='hsbridge to log "msg":"ready"')

    def signal(self, sig=signal.SIGTERM):
        if self.running():
            self.proc.send_signal(sig)

    def wait_exit(self, timeout=20):
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()
            self.rc = "did not exit within %ss of SIGTERM (killed)" % timeout
        for f in (self._err, self._out):
            f.close()
        return self.rc

    def kill9(self, timeout=20):
        """SIGKILL (no chance to hand anything back) and reap; returns the rc."""
        if self.proc is None or self.rc is not None:
            return self.rc
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        return self.wait_exit(timeout)

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit code (or a string if it hung)."""
        if self.proc is None:
            return None
        if self.rc is not None:
            return self.rc
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)


def run_cli(conf, args, input=None, timeout=60):
    """Run `hsbridge [-c conf] args...`; returns CompletedProcess (text)."""
    cmd = [Env.bin] + (["-c", conf] if conf else []) + list(args)
    return subprocess.run(cmd, input=input if input is not None else "",
                          capture_output=True, text=True, timeout=timeout,
                          env=clean_env())


# ---------------------------------------------------------------- config

def lc(v):
    """A Python value as libconfig text."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v) + ("L" if abs(v) > 2**31 - 1 else "")
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(lc(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + " ".join("%s = %s;" % (k, lc(x)) for k, x in v.items()) + " }"
    raise TypeError("no libconfig rendering for %r" % (v,))


def render_config(broker, subscriptions, delivery=None, log=None, breaker=None, metrics=None,
                  history=None):
    """broker/delivery/log: dicts of scalars/arrays; subscriptions: list of dicts.
    One setting per line (line numbers are predictable)."""
    out = []

    def group(name, d):
        out.append("%s: {" % name)
        for k, v in d.items():
            out.append("  %s = %s;" % (k, lc(v)))
        out.append("};")

    group("broker", broker)
    # Every endpoint of the tests is on loopback, which the private-address
    # guard refuses by default: allowed explicitly, on the line that opens
    # the delivery group (or after the broker group's end), so that the line
    # numbers the tests expect do not move. A test of the guard sets the key
    # itself.
    allow = "allow_private_addresses = true;"
    if delivery and "allow_private_addresses" not in delivery:
        i = len(out)
        group("delivery", delivery)
        out[i] = "delivery: { " + allow
    elif delivery:
        group("delivery", delivery)
    else:
        out[-1] += " delivery: { %s };" % allow
    if breaker:
        group("breaker", breaker)
    if metrics:
        group("metrics", metrics)
    if history:
        group("history", history)
    group("log", log or {"level": "info"})
    out.append("subscriptions = (")
    for i, s in enumerate(subscriptions):
        out.append("  {")
        for k, v in s.items():
            out.append("    %s = %s;" % (k, lc(v)))
        out.append("  }" + ("," if i < len(subscriptions) - 1 else ""))
    out.append(");")
    return "\n".join(out) + "\n"


def is_uuid5(s):
    try:
        u = uuid.UUID(s)
    except (ValueError, TypeError, AttributeError):
        return False
    return u.version == 5 and u.variant == uuid.RFC_4122 and str(u) == s.lower()
