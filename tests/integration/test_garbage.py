"""Garbage in, errors out: a real `trailstream serve` with small limits is fed truncated and
oversized requests, malformed bodies, invalid UTF-8, NUL bytes, huge headers and URLs,
pipelined and broken request lines, and slowloris connections. Every case must end in a clean
HTTP error (in the protocol's AWS envelope where the request reached the AWS layer) or a closed
connection, never a hang or a crash; the server is checked to be up after each, and its stderr
is checked for sanitizer reports when the class stops it.

Every wait is bounded (socket timeouts, select); nothing sleeps to synchronise.
"""

import http.client
import json
import select
import socket
import threading
import time
import unittest
import xml.etree.ElementTree as ET

import botocore.auth
import botocore.credentials
from botocore.awsrequest import AWSRequest

from harness import ACCOUNTS, REGION, ServerTestCase

IDLE_TIMEOUT_S = 2
MAX_BODY = 64 * 1024
STS_FORM = "Action=GetCallerIdentity&Version=2011-06-15"
FORM_CT = "application/x-www-form-urlencoded; charset=utf-8"
JSON_CT = "application/x-amz-json-1.1"
# No JSON service answers this prefix, now or later.
UNKNOWN_TARGET = "Nope_20990101.DoSomething"
STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


def read_response(sock, timeout=10.0):
    """Reads until the peer closes or `timeout` passes. Returns (bytes, closed)."""
    deadline = time.monotonic() + timeout
    out = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return out, False
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            return out, False
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return out, True
        if not chunk:
            return out, True
        out += chunk


def status_of(raw):
    """The status code of the first response in raw bytes, or None."""
    if not raw.startswith(b"HTTP/1."):
        return None
    return int(raw.split(b" ", 2)[1])


def split_response(raw):
    """(status, headers dict with lowercase names, body) of the first response."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", len(rest)))
    return int(lines[0].split(" ", 2)[1]), headers, rest[:n]


class GarbageTest(ServerTestCase):
    extra_config = ("server:\n"
                    "  max_body_size: 64KiB\n"
                    "  max_header_size: 16KiB\n"
                    f"  idle_timeout: {IDLE_TIMEOUT_S}s\n"
                    "  threads: 2\n")

    # ---------------------------------------------------------------- helpers

    def connect(self, timeout=10.0):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=timeout)
        self.addCleanup(s.close)
        return s

    def raw(self, data, timeout=10.0, shutdown=True):
        """Sends raw bytes on a new connection; returns (response bytes, closed)."""
        s = self.connect(timeout)
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        if shutdown:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        return read_response(s, timeout)

    def signed(self, body, headers, method="POST", path="/", service="sts", account="security",
               secret=None):
        """Signs with botocore (the account's user key) and returns the raw HTTP request."""
        a = ACCOUNTS[account]
        creds = botocore.credentials.Credentials(a["key"], secret or a["secret"])
        req = AWSRequest(method=method, url=self.server.url + path, data=body,
                         headers=dict(headers))
        botocore.auth.SigV4Auth(creds, service, REGION).add_auth(req)
        prepared = req.prepare()
        hdrs = dict(prepared.headers.items())
        hdrs.setdefault("Host", f"127.0.0.1:{self.server.port}")
        hdrs["Connection"] = "close"
        if "Content-Length" not in hdrs:
            hdrs["Content-Length"] = str(len(body))
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in
                                                         hdrs.items()) + "\r\n"
        b = body if isinstance(body, bytes) else body.encode()
        return head.encode("latin-1") + b

    def assertJsonError(self, raw, status, code):
        st, headers, body = split_response(raw)
        self.assertEqual(st, status, raw[:600])
        doc = json.loads(body)
        self.assertEqual(set(doc), {"__type", "message"}, body)
        self.assertEqual(doc["__type"], code, body)
        self.assertEqual(len(headers.get("x-amzn-requestid", "")), 36, headers)
        self.assertIn("json", headers.get("content-type", ""))
        return doc

    def assertQueryError(self, raw, status, code):
        st, headers, body = split_response(raw)
        self.assertEqual(st, status, raw[:600])
        self.assertEqual(headers.get("content-type"), "text/xml")
        root = ET.fromstring(body)  # must be well-formed XML
        self.assertEqual(root.tag, STS_NS + "ErrorResponse")
        self.assertEqual(root.find(f"{STS_NS}Error/{STS_NS}Code").text, code, body)
        self.assertEqual(root.find(f"{STS_NS}Error/{STS_NS}Type").text, "Sender", body)
        self.assertEqual(root.find(f"{STS_NS}RequestId").text, headers.get("x-amzn-requestid"))
        return root

    def assertClosedOrStatus(self, raw, closed, statuses, what):
        st = status_of(raw)
        if st is None:
            self.assertEqual(raw, b"", f"{what}: not an HTTP response: {raw[:200]!r}")
            self.assertTrue(closed, f"{what}: no answer and the connection stayed open")
        else:
            self.assertIn(st, statuses, f"{what}: {raw[:300]!r}")

    def json_service_known(self, target):
        """True when some JSON service routes `target` (then 413s use its envelope)."""
        raw, _ = self.raw(self.signed(b"{}", {"X-Amz-Target": target,
                                              "Content-Type": JSON_CT}, service="logs"))
        _, _, body = split_response(raw)
        return b"No service handles the target" not in body

    # ---------------------------------------------------------------- tests

    def test_truncated_bodies(self):
        # Content-Length promises more than arrives, then the client closes.
        for declared, sent in ((1000, 10), (MAX_BODY, 0), (MAX_BODY - 1, MAX_BODY - 2)):
            req = (f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM_CT}\r\n"
                   f"Content-Length: {declared}\r\n\r\n").encode() + b"A" * sent
            raw, closed = self.raw(req)
            self.assertTrue(closed, f"connection not closed after a truncated body ({declared})")
            self.assertClosedOrStatus(raw, closed, (400,), "truncated body")
        # A truncated signed request too (the body is what the signature covers).
        full = self.signed(STS_FORM, {"Content-Type": FORM_CT})
        raw, closed = self.raw(full[:-5])
        self.assertTrue(closed)
        self.assertClosedOrStatus(raw, closed, (400,), "truncated signed body")
        # The client stays connected but stops sending: closed after the idle timeout.
        s = self.connect()
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial")
        t0 = time.monotonic()
        raw, closed = read_response(s, timeout=IDLE_TIMEOUT_S + 8)
        self.assertTrue(closed, "a stalled body was not closed after the idle timeout")
        self.assertLess(time.monotonic() - t0, IDLE_TIMEOUT_S + 8)
        self.assertServerUp()

    def test_sts_form_garbage(self):
        # Invalid escapes and invalid UTF-8 in parameters the operation does not use.
        for form in (STS_FORM + "&X=%ZZ&%=%&&&=", STS_FORM + "&Y=%FF%FE%C0%AF",
                     STS_FORM + "&Z=" + "%00" * 10, "&&" + STS_FORM + "&&"):
            raw, _ = self.raw(self.signed(form, {"Content-Type": FORM_CT}))
            st, _, body = split_response(raw)
            self.assertEqual(st, 200, f"{form!r}: {raw[:500]!r}")
            root = ET.fromstring(body)
            self.assertEqual(root.find(f"{STS_NS}GetCallerIdentityResult/{STS_NS}Account").text,
                             ACCOUNTS["security"]["id"])
        # Garbage where the operation name goes: InvalidAction, in well-formed XML.
        for form in ("Action=%FF%FE&Version=2011-06-15", "Action=Get%00Caller&Version=2011-06-15",
                     "Action=%3C%2FCode%3E&Version=2011-06-15", "Action=&Version=",
                     "Action=" + "A" * 5000 + "&Version=2011-06-15", "garbage", "=",
                     "Action=GetCallerIdentity&Version=%FF"):
            raw, _ = self.raw(self.signed(form, {"Content-Type": FORM_CT}))
            self.assertQueryError(raw, 400, "InvalidAction")
        # Raw invalid UTF-8 bytes in the form body.
        raw, _ = self.raw(self.signed(b"Action=\xff\xfe\xfd&Version=2011-06-15",
                                      {"Content-Type": FORM_CT}))
        self.assertQueryError(raw, 400, "InvalidAction")
        # The same garbage unsigned: refused by authentication, still well-formed.
        raw, _ = self.raw(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: " + FORM_CT.encode() +
                          b"\r\nContent-Length: 9\r\nConnection: close\r\n\r\n\xff\xfe=%%%&&=")
        self.assertQueryError(raw, 403, "MissingAuthenticationToken")
        self.assertServerUp()

    def test_invalid_json_to_json_target(self):
        bodies = (b"{not json", b"\xff\xfe\xfd", b"[1,2,3]", b"", b"{\"a\":" * 1000,
                  b"{\"a\":\"\x00\"}")
        for body in bodies:
            for signed in (True, False):
                headers = {"X-Amz-Target": UNKNOWN_TARGET, "Content-Type": JSON_CT}
                if signed:
                    req = self.signed(body, headers, service="logs")
                else:
                    req = (f"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: {UNKNOWN_TARGET}\r\n"
                           f"Content-Type: {JSON_CT}\r\nContent-Length: {len(body)}\r\n"
                           "Connection: close\r\n\r\n").encode() + body
                raw, _ = self.raw(req)
                doc = self.assertJsonError(raw, 400, "UnknownOperationException")
                self.assertIn(UNKNOWN_TARGET, doc["message"])
        # Targets that are themselves garbage.
        for target in (b"", b".", b"NoDot", b"\xff\xfe.Op", b"A" * 4000 + b".B"):
            req = (b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: " + target +
                   b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            raw, _ = self.raw(req)
            self.assertJsonError(raw, 400, "UnknownOperationException")
        self.assertServerUp()

    def test_huge_headers(self):
        # 10 MB of headers against a 16 KiB limit: 431, or the connection is closed.
        head = b"GET /health HTTP/1.1\r\nHost: x\r\n"
        pad = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(10 * 1024))
        raw, closed = self.raw(head + pad + b"\r\n", shutdown=False)
        self.assertClosedOrStatus(raw, closed, (431,), "10 MB of headers")
        # One enormous header line, and many tiny ones.
        raw, closed = self.raw(head + b"X-Big: " + b"b" * (10 << 20) + b"\r\n\r\n",
                               shutdown=False)
        self.assertClosedOrStatus(raw, closed, (431,), "one 10 MB header")
        raw, closed = self.raw(head + b"a:b\r\n" * 200000 + b"\r\n", shutdown=False)
        self.assertClosedOrStatus(raw, closed, (431,), "200k tiny headers")
        self.assertServerUp()

    def test_slowloris(self):
        # Several connections trickle header bytes and never finish their request.
        n = 12
        socks = []
        for i in range(n):
            s = self.connect()
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow-%d: " % i)
            socks.append(s)
        # They keep trickling, one byte each well inside the idle timeout (each byte resets
        # the idle timer of its connection), from a thread so that slow requests below do not
        # stretch the gaps. Event.wait only paces the trickle.
        stop = threading.Event()
        broken = []

        def trickle():
            while not stop.wait(IDLE_TIMEOUT_S / 6):
                for s in socks:
                    try:
                        s.sendall(b"a")
                    except OSError as e:
                        broken.append(e)
                        return

        t = threading.Thread(target=trickle)
        t.start()
        # Meanwhile normal signed requests still succeed.
        sts = self.server.client("sts")
        served = 0
        try:
            deadline = time.monotonic() + 3 * IDLE_TIMEOUT_S
            while time.monotonic() < deadline:
                ident = sts.get_caller_identity()
                self.assertEqual(ident["Account"], ACCOUNTS["security"]["id"])
                served += 1
            # None of the trickling connections was closed while still active.
            r, _, _ = select.select(socks, [], [], 0)
            self.assertEqual(r, [], "a trickling connection was closed while still active")
        finally:
            stop.set()
            t.join(10)
        self.assertEqual(broken, [])
        self.assertGreater(served, 0)
        # Now they stall: every one is closed after the idle timeout, not long after.
        t0 = time.monotonic()
        for s in socks:
            raw, closed = read_response(s, timeout=IDLE_TIMEOUT_S + 8)
            self.assertTrue(closed, "a stalled connection was not closed")
            self.assertClosedOrStatus(raw, closed, (408,), "stalled headers")
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, IDLE_TIMEOUT_S + 8)
        self.assertServerUp()

    def test_body_over_limit(self):
        big = STS_FORM + "&Pad=" + "p" * (MAX_BODY + 100)
        # Declared length over the limit: answered at once, from the headers, with the query
        # envelope. (Only the start of the body is sent: a server that closes with unread
        # input resets the connection, which could discard the answer before it is read.)
        req = self.signed(big, {"Content-Type": FORM_CT})
        raw, _ = self.raw(req[:req.index(b"\r\n\r\n") + 4 + 1000], shutdown=False)
        self.assertQueryError(raw, 413, "RequestEntityTooLarge")
        # Unsigned too: the size is refused before authentication.
        raw, _ = self.raw((f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM_CT}\r\n"
                           f"Content-Length: {10 << 20}\r\nConnection: close\r\n\r\n").encode())
        self.assertQueryError(raw, 413, "RequestEntityTooLarge")
        # Chunked, so the size is only known while reading: still 413, and the connection
        # stays usable for the next request.
        body = big.encode()
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 8192]), body[i:i + 8192])
                          for i in range(0, len(body), 8192)) + b"0\r\n\r\n"
        s = self.connect()
        s.sendall((f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM_CT}\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        raw, closed = read_response(s)
        self.assertTrue(closed)
        self.assertQueryError(raw, 413, "RequestEntityTooLarge")
        second = raw[raw.index(b"HTTP/1.1", 10):]
        self.assertEqual(status_of(second), 200, second[:300])
        # Exactly at the limit is fine (it reaches authentication and the operation).
        at = STS_FORM + "&Pad=" + "p" * (MAX_BODY - len(STS_FORM) - 5)
        self.assertEqual(len(at), MAX_BODY)
        raw, _ = self.raw(self.signed(at, {"Content-Type": FORM_CT}))
        self.assertEqual(status_of(raw), 200, raw[:500])
        # A JSON service, once one is registered, answers in its own envelope.
        if self.json_service_known("Logs_20140328.DescribeLogGroups"):
            raw, _ = self.raw(self.signed(b"{" + b" " * (MAX_BODY + 10) + b"}",
                                          {"X-Amz-Target": "Logs_20140328.DescribeLogGroups",
                                           "Content-Type": JSON_CT}, service="logs"))
            self.assertJsonError(raw, 413, "RequestEntityTooLargeException")
        self.assertServerUp()

    def test_pipelined_and_garbage_request_lines(self):
        # Three pipelined requests in one write: three answers, in order.
        one = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        raw, closed = self.raw(one + one + b"GET /health HTTP/1.1\r\nHost: x\r\n"
                               b"Connection: close\r\n\r\n")
        self.assertTrue(closed)
        self.assertEqual(raw.count(b"HTTP/1.1 200 OK"), 3, raw[:2000])
        # A signed STS request pipelined behind a garbage-free one and before a broken one.
        req = self.signed(STS_FORM, {"Content-Type": FORM_CT}).replace(
            b"Connection: close\r\n", b"")
        raw, _ = self.raw(one + req + b"BROKEN LINE\r\n\r\n")
        self.assertGreaterEqual(raw.count(b"HTTP/1.1 200 OK"), 2, raw[:3000])
        self.assertIn(b"<GetCallerIdentityResponse", raw)
        cases = [
            b"GARBAGE\r\n\r\n",
            b"GET\r\n\r\n",
            b"\r\n\r\n\r\n",
            b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
            b"GET /health HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\nabc\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"ffffffffffffffffffff\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS ClientHello
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",  # the HTTP/2 preface
        ]
        for data in cases:
            raw, closed = self.raw(data, timeout=IDLE_TIMEOUT_S + 8)
            self.assertClosedOrStatus(raw, closed, (400, 404, 405, 413, 414, 431, 501, 505),
                                      repr(data[:40]))
        # Obsolete line folding: RFC 9112 allows refusing it or unfolding it into a space.
        raw, closed = self.raw(b"GET /health HTTP/1.1\r\nHost: x\r\n folded: line\r\n\r\n")
        self.assertClosedOrStatus(raw, closed, (200, 400), "obs-fold")
        self.assertServerUp()

    def test_nul_bytes(self):
        cases = [
            b"GET /he\x00alth HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\nConnection: close\r\n\r\n",
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-\x00: v\r\nConnection: close\r\n\r\n",
            b"\x00" * 1000,
            b"GET /?Action=Get\x00CallerIdentity HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ]
        for data in cases:
            raw, closed = self.raw(data, timeout=IDLE_TIMEOUT_S + 8)
            self.assertClosedOrStatus(raw, closed, (200, 400, 403, 404, 501),
                                      repr(data[:40]))
        # NUL bytes in signed bodies: JSON refuses them as unknown target, STS ignores them
        # in a parameter it does not use.
        raw, _ = self.raw(self.signed(b"{\"a\":\"\x00\"}\x00",
                                      {"X-Amz-Target": UNKNOWN_TARGET, "Content-Type": JSON_CT},
                                      service="logs"))
        self.assertJsonError(raw, 400, "UnknownOperationException")
        raw, _ = self.raw(self.signed(STS_FORM.encode() + b"&N=\x00\x00",
                                      {"Content-Type": FORM_CT}))
        self.assertEqual(status_of(raw), 200, raw[:500])
        self.assertServerUp()

    def test_huge_url(self):
        for n in (9000, 15000, 100000, 2 << 20):
            req = b"GET /" + b"a" * n + b"?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
            raw, closed = self.raw(req, shutdown=False)
            self.assertClosedOrStatus(raw, closed, (414, 431), f"{n}-byte URL")
        # A huge query string on an AWS request.
        req = b"GET /?Action=GetCallerIdentity&" + b"p=1&" * 3000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        raw, closed = self.raw(req, shutdown=False)
        self.assertClosedOrStatus(raw, closed, (403, 414, 431), "huge query")
        # And a long but acceptable one through boto3-signed STS still works afterwards.
        ident = self.server.client("sts").get_caller_identity()
        self.assertEqual(ident["Account"], ACCOUNTS["security"]["id"])
        self.assertServerUp()

    def test_wrong_secret_and_keep_alive(self):
        # Refused requests on a keep-alive connection do not poison the next ones.
        c = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        self.addCleanup(c.close)
        for secret in ("wrongSecret/000000000000000000000000000", None, "x" * 40, None):
            raw = self.signed(STS_FORM, {"Content-Type": FORM_CT}, secret=secret)
            head, _, body = raw.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")[1:]
            headers = {k: v.strip() for k, _, v in (l.partition(":") for l in lines)
                       if k != "Connection"}
            c.request("POST", "/", body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
            self.assertEqual(r.status, 200 if secret is None else 403, data)
        self.assertServerUp()


if __name__ == "__main__":
    unittest.main()
