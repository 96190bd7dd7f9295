#!/usr/bin/python3
"""Endpoints that misbehave at the HTTP level: a keep-alive connection closed
without an answer (libcurl sends the POST again), a 2xx whose body is cut
short. Raw socket endpoints, since http.server cannot misbehave on purpose.
A ctest entry of its own (integration_http_edges); shared fixtures: hsb_cases.py.
"""

import json
import os
import socket
import sys
import threading
import unittest

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsb_cases import BridgeCase, T_DELIVER  # noqa: E402
from hsb_harness import (R, new_whsec, rand_alnum, standard_webhooks_sig,  # noqa: E402
                         verify_signature, wait_stable, wait_until)


def read_request(conn, buf):
    """One HTTP request (head + Content-Length body) from conn; (request, rest)
    or (None, buf) when the peer closed first."""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return None, buf
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        rest += chunk
    return head + b"\r\n\r\n" + rest[:length], rest[length:]


class RawEndpoint:
    """A TCP server on 127.0.0.1 that hands each request to answer(n, index
    on its connection) -> bytes to send (the connection stays open), CLOSE +
    bytes (sent, then the connection closes) or None (closed without an
    answer). Counts every request it read."""

    def __init__(self, answer):
        self.answer = answer
        self.lock = threading.Lock()
        self.requests = []          # (connection number, index on it)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.closing = False
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def count(self):
        with self.lock:
            return len(self.requests)

    def _accept(self):
        while not self.closing:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                number = self.connections
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn, number):
        buf = b""
        index = 0
        with conn:
            while True:
                try:
                    req, buf = read_request(conn, buf)
                except OSError:
                    return
                if req is None:
                    return
                with self.lock:
                    self.requests.append((number, index))
                reply = self.answer(number, index)
                index += 1
                try:
                    if reply is not None:
                        conn.sendall(reply.removeprefix(CLOSE))
                    if reply is None or reply.startswith(CLOSE):
                        conn.shutdown(socket.SHUT_RDWR)
                        return
                except OSError:
                    return

    def stop(self):
        self.closing = True
        self.sock.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
CLOSE = b"<close>"


class HttpEdgeTests(BridgeCase):

    def endpoint(self, answer):
        ep = RawEndpoint(answer)
        self.addCleanup(ep.stop)
        return ep

    def test_a_post_resent_on_a_new_connection_is_logged_as_its_own_request(self):
        """Every connection answers its first request and closes its second
        one unanswered: libcurl then sends that POST again on a new
        connection. Each request the endpoint read has a delivery line."""
        ep = self.endpoint(lambda number, index: OK if index == 0 else None)
        sub = self.sub("ka", url=ep.url("/ka"))
        self.start_bridge([sub])
        rounds = 4
        for i in range(rounds):
            self.publish_event("document.uploaded")
            # one at a time, so that the next POST reuses the connection
            wait_until(lambda: len(self.bridge.deliveries(sub="ka", outcome="delivered")) > i,
                       T_DELIVER, "delivery %d" % (i + 1))
        lines = self.bridge.deliveries(sub="ka")
        resent = [o for o in lines if o.get("outcome") == "resent"]
        self.assertGreaterEqual(len(resent), rounds - 1,
                                "the endpoint closed a reused connection %d times: %r"
                                % (rounds - 1, lines))
        for o in resent:
            self.assertEqual(o["status"], 0)
            self.assertEqual(o["attempt"], 1)
            self.assertIn("went out again", o["error"])
        self.assertEqual(ep.count(), len(lines),
                         "requests the endpoint read vs delivery log lines: %r" % (lines,))
        self.assert_settled(["ka"])

    def test_a_2xx_with_a_body_cut_short_is_delivered_and_the_error_logged(self):
        cut = CLOSE + b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"
        ep = self.endpoint(lambda number, index: cut)
        self.start_bridge([self.sub("cut", url=ep.url("/cut"))])
        eid, _, _ = self.publish_event("document.uploaded")
        line = self.wait_logged(sub="cut", event=eid)[0]
        self.assertEqual((line["status"], line["outcome"]), (200, "delivered"), line)
        self.assertTrue(line.get("error"), "the transfer error is logged: %r" % (line,))
        # no retry: the endpoint sees the event once
        wait_stable(lambda: ep.count() == 1, 1.0, T_DELIVER, "exactly one request")
        self.assert_settled(["cut"])

    def test_a_503_with_a_body_cut_short_keeps_its_status(self):
        cut = (CLOSE + b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\n"
               b"Content-Length: 100\r\n\r\nshort")
        ep = self.endpoint(lambda number, index: cut if number == 1 else OK)
        self.start_bridge([self.sub("cut5", url=ep.url("/cut5"))])
        eid, _, _ = self.publish_event("document.uploaded")
        first = self.wait_logged(sub="cut5", event=eid, attempt=1)[0]
        self.assertEqual((first["status"], first["outcome"]), (503, "retry"), first)
        self.assertTrue(first["error"].startswith("HTTP 503, then "), first)
        self.wait_logged(sub="cut5", event=eid, outcome="delivered")
        self.assert_settled(["cut5"])

    def test_reused_handles_carry_nothing_from_one_request_to_the_next(self):
        """The bridge keeps finished requests' curl handles for the next ones.
        Two subscriptions that differ in URL, secrets, timeout and bodies take
        turns on the same few handles: every request carries exactly its own
        headers and body, and the short timeout of one subscription (whose
        endpoint stalls) never cuts the other's slow but timely answers."""
        short = self.hook("ra", events=["a.#"], secret=new_whsec(),
                          previous_secrets=["old-" + rand_alnum(12)], timeout_ms=300,
                          max_in_flight=2)
        patient = self.hook("rb", events=["b.#"], secret="plain-" + rand_alnum(16),
                            timeout_ms=4000, max_in_flight=2)
        # ra: a stall past its timeout, then a 503 with Retry-After and a body
        self.rx.script("/ra", [R(200, sleep=1.0), R(503, headers={"Retry-After": "0"},
                                                    body=b"busy " * 50)], default=200)
        self.rx.script("/rb", [], default=R(200, sleep=0.6))
        self.start_bridge([short, patient])
        sent = {}
        for i in range(4):
            for sub, etype in ((short, "a.made"), (patient, "b.made")):
                eid, body, _ = self.publish_event(etype, data={"pad": "x" * (37 * i + len(etype))})
                sent[eid] = (sub, etype, body)
        for eid in sent:
            self.wait_logged(event=eid, outcome="delivered")
        rb = self.bridge.deliveries(sub="rb")
        self.assertEqual([o["outcome"] for o in rb], ["delivered"] * 4,
                         "rb's 4 s timeout must hold on handles ra used: %r" % (rb,))
        names = ["accept", "content-length", "content-type", "host", "user-agent",
                 "webhook-id", "webhook-signature", "webhook-timestamp", "x-healthsync-attempt",
                 "x-healthsync-delivery", "x-healthsync-event", "x-healthsync-signature"]
        for req in self.rx.all():
            eid = json.loads(req.body)["id"]
            sub, etype, body = sent[eid]
            secrets = [sub["secret"]] + sub.get("previous_secrets", [])
            self.assertEqual(req.path, "/" + sub["name"], req)
            self.assertEqual(req.body, body, req)
            self.assertEqual(sorted(k.lower() for k in req.headers.keys()), names, req)
            self.assertEqual(req.h("Content-Length"), str(len(body)), req)
            self.assertEqual(req.h("X-HealthSync-Event"), etype, req)
            self.assertEqual(req.h("webhook-id"), req.delivery, req)
            self.assertTrue(verify_signature(req.body.decode(), req.h("X-HealthSync-Signature"),
                                             sub["secret"]), req)
            self.assertEqual(req.h("webhook-signature").split(" "),
                             [standard_webhooks_sig(k, req.delivery, req.h("webhook-timestamp"),
                                                    req.body) for k in secrets], req)
        attempts = sorted(r.attempt for r in self.rx.for_path("/ra"))
        self.assertEqual(attempts.count(1), 4, attempts)
        self.assertEqual(len(attempts), 6, "ra: a timeout and a 503 retried: %r" % (attempts,))
        self.assert_settled(["ra", "rb"])


if __name__ == "__main__":
    unittest.main()
