"""The signature-checking endpoint of `scripts/bench --receiver verify`
(the default endpoint is nginx, which checks nothing). Not a test.

    receiver.py PORT LOG SECRET

asyncio, stdlib only, HTTP/1.1 keep-alive. Every POST is checked as a
receiver should: X-HealthSync-Signature (sha256=<hex HMAC-SHA256(secret,
body)>) and the Standard Webhooks webhook-signature over
"<webhook-id>.<webhook-timestamp>.<body>", and the body must be the JSON
envelope. Valid: 200; anything else: 401 (the bridge then retries, which the
bench reports as a failure). Each request appends one line to LOG, written
at once, in the format the bench gives nginx's access log:
    <arrival time, seconds since the epoch> <webhook-id> <status>
"""
import asyncio
import base64
import hashlib
import hmac
import json
import sys
import time


def valid(headers, body, secret, key):
    sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(sig, headers.get("x-healthsync-signature", "")):
        return False
    msg_id = headers.get("webhook-id", "")
    ts = headers.get("webhook-timestamp", "")
    if not msg_id or not ts.isdigit() or abs(time.time() - int(ts)) > 300:
        return False
    signed = msg_id.encode() + b"." + ts.encode() + b"." + body
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    if not any(e == "v1," + want for e in headers.get("webhook-signature", "").split(" ")):
        return False
    try:
        env = json.loads(body)
    except ValueError:
        return False
    return isinstance(env, dict) and "id" in env and "type" in env


class Receiver:
    def __init__(self, log, secret):
        self.log = log
        self.secret = secret
        self.key = base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") \
            else secret.encode()

    async def handle(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                arrived = time.time()
                headers = {}
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status = 200 if valid(headers, body, self.secret, self.key) else 401
                self.log.write("%.6f %s %d\n" % (arrived, headers.get("webhook-id", "-"), status))
                reason = b"OK" if status == 200 else b"Unauthorized"
                writer.write(b"HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n" % (status, reason))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


async def main():
    port, path, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with open(path, "a", buffering=1) as log:
        r = Receiver(log, secret)
        server = await asyncio.start_server(r.handle, "127.0.0.1", port, limit=1 << 22)
        async with server:
            await server.serve_forever()


asyncio.run(main())
