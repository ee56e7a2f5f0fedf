#!/usr/bin/env python3
"""SigV4 cross-check: trailstream's verifier against botocore's own signer.

Generates requests with a seeded RNG (methods, paths with unicode and reserved characters, dot
segments and repeated slashes, repeated and unsorted query keys, empty and large bodies, extra
signed headers with messy whitespace, repeated headers, Date instead of X-Amz-Date, unsigned
payloads), signs each with botocore.auth (SigV4Auth, S3SigV4Auth, SigV4QueryAuth,
S3SigV4QueryAuth) through botocore.awsrequest.AWSRequest(...).prepare(), and feeds the request
exactly as it would go on the wire to tests/sigv4/sigv4_oracle (which calls ts_sigv4_verify).

Every valid request must be accepted, for the right account. Then, for each request, one byte
is changed in each signed part (method, path, a query key or value, a signed header value, the
body when the payload is signed, the signature, the date, the credential scope, the signed
header list, the algorithm) and the oracle must refuse it with the error code AWS uses for that
failure; a byte changed in an unsigned part (User-Agent, the body of an UNSIGNED-PAYLOAD request)
must still be accepted. Clock checks sit at the exact edges of the 15-minute skew window and of
the presigned expiry. The reference vectors of the SigV4 notes (V1-V4 and their negative
tests) run first.

Usage: crosscheck.py --oracle PATH [--count N] [--seed S] [-v]
Exits 0 when every check passed, 1 otherwise (the first failures are printed in full).
"""

import argparse
import base64
import calendar
import copy
import datetime
import hashlib
import json
import random
import subprocess
import sys
from unittest import mock
from urllib.parse import quote, urlsplit, urlunsplit

import botocore.auth
import botocore.config
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import normalize_url_path, percent_encode_sequence

SKEW_MS = 15 * 60 * 1000
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

# Keep in sync with ORACLE_KEYS in sigv4_oracle.c: (account, arn, key id, secret).
KEYS = [
    ("111111111111", "arn:aws:iam::111111111111:root", "AKIDEXAMPLE00000",
     "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
    ("222222222222", "arn:aws:iam::222222222222:user/alice", "AKIAORACLEALICE00001",
     "oracleAliceSecret/00000000000000000001"),
    ("333333333333", "arn:aws:iam::333333333333:root", "AKIAORACLEROOT000003",
     "oracleRootSecret+0000000000000000000003"),
]

# The AWS error code of each failure kind, per protocol (src/aws/aws_error.c generic_codes).
CODES = {
    "mismatch": {"json": "InvalidSignatureException", "query": "SignatureDoesNotMatch",
                 "s3": "SignatureDoesNotMatch"},
    "incomplete": {"json": "IncompleteSignatureException", "query": "IncompleteSignature",
                   "s3": "AuthorizationHeaderMalformed"},
    "skewed": {"json": "InvalidSignatureException", "query": "SignatureDoesNotMatch",
               "s3": "RequestTimeTooSkewed"},
    "expired": {"json": "InvalidSignatureException", "query": "SignatureDoesNotMatch",
                "s3": "AccessDenied"},
    "unknown_key": {"json": "UnrecognizedClientException", "query": "InvalidClientTokenId",
                    "s3": "InvalidAccessKeyId"},
    "sha_mismatch": {"json": "InvalidSignatureException", "query": "SignatureDoesNotMatch",
                     "s3": "XAmzContentSHA256Mismatch"},
    "missing": {"json": "MissingAuthenticationTokenException",
                "query": "MissingAuthenticationToken", "s3": "AccessDenied"},
}

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
HEX = "0123456789abcdef"

# Raw (unencoded) path segments: ASCII, unicode (NFC and combining), every reserved character.
SEGMENTS = [
    "a", "Bucket-01", "photos", "2024", "x.y", "~user", "under_score", "MiXeD", "v1.2.3",
    "日本語", "émigré", "e\u0301", "😀", "Ωmega", "straße", "кириллица", "ﬁ",
    "space here", "a+b", "50%", "q?x", "h#f", "semi;colon", "eq=al", "amp&er", "at@x", "col:on",
    "dollar$", "comma,", "paren(s)", "star*", "bang!", "quote'", "brack[et]", "back\\slash",
    "pipe|", "caret^", "grave`", "curly{}", "lt<gt>", 'dq"', "a/b", "%41", "tab\tx", "..a", "a..",
]
# Query keys and values (raw); keys never start with X-Amz- (that would make them presigned).
QKEYS = ["a", "b", "Action", "Version", "list-type", "prefix", "max-keys", "x", "é", "日本",
         "key with space", "k&=", "Param1", "Param2", "~t", "Z", "a.b", "a_b", "continuation"]
QVALUES = ["", "1", "value", "Value With Spaces", "a+b", "a=b", "a&b", "/path/to", "é", "日本語",
           "😀", "100%", "~tilde", "x" * 300, "MiXeD_case-1.2", "semi;colon", "q?x#f", "*"]
HEADER_NAMES = ["X-Custom-Thing", "x-amz-meta-Author", "Content-Type", "Accept", "X-Trace",
                "X-Amz-Foo", "If-Match", "Cache-Control", "x-lower", "X-Upper-CASE"]
HEADER_VALUES = ["value", "  leading", "trailing   ", "inner   runs  of   spaces", "tab\tsep",
                 "a,b,c", "text/plain; charset=utf-8", "", "x" * 500, "\"quoted  value\"",
                 "mixed \t whitespace  \t here", "*/*"]
REGIONS = ["us-east-1", "eu-west-3", "ap-southeast-2", "us-gov-west-1", "cn-north-1",
           "me-central-1"]
HOSTS = ["http://example.amazonaws.com", "http://127.0.0.1:4600", "http://localhost:8080",
         "http://s3.us-west-2.amazonaws.com", "http://example.amazonaws.com:80",
         "http://[::1]:4600", "http://Mixed.Case.Example:9000"]
METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"]
UNSIGNED_HEADERS = [("User-Agent", "aws-cli/1.45.0 Python/3.11 botocore/1.43.11"),
                    ("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793")]


# ------------------------------------------------------------------------------ oracle

class Oracle:
    def __init__(self, path):
        self.path = path

    def run(self, lines):
        """Runs every line through one oracle process; returns the parsed outputs in order."""
        if not lines:
            return []
        data = "".join(json.dumps(l, ensure_ascii=True) + "\n" for l in lines)
        p = subprocess.run([self.path], input=data.encode(), capture_output=True, timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"oracle exited {p.returncode}: {p.stderr.decode()[-4000:]}")
        out = [json.loads(l) for l in p.stdout.decode().splitlines()]
        if len(out) != len(lines):
            raise RuntimeError(f"oracle answered {len(out)} of {len(lines)} lines: "
                               f"{p.stderr.decode()[-4000:]}")
        return out


def ms_of(stamp):
    """'YYYYMMDDTHHMMSSZ' -> ms since the epoch (as glibc timegm: out-of-range days roll)."""
    y, mo, d = int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8])
    h, mi, s = int(stamp[9:11]), int(stamp[11:13]), int(stamp[13:15])
    # days_from_civil, valid for any year (Python's date() refuses year 0).
    yy = y - (mo <= 2)
    era = (yy if yy >= 0 else yy - 399) // 400
    yoe = yy - era * 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + 1 - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468 + (d - 1)
    return ((days * 24 + h) * 60 + mi) * 60000 + s * 1000


def stamp_valid(stamp):
    """Mirrors ts_time_parse_basic's field checks."""
    if len(stamp) != 16 or stamp[8] != "T" or stamp[15] != "Z":
        return False
    digits = stamp[0:8] + stamp[9:15]
    if not digits.isdigit():
        return False
    mo, d = int(stamp[4:6]), int(stamp[6:8])
    h, mi, s = int(stamp[9:11]), int(stamp[11:13]), int(stamp[13:15])
    return 1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and s <= 60


# ------------------------------------------------------------------------------ generation

class Req:
    """A request as it goes on the wire, plus what the checks need to know about it."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def line(self, now_ms=None, **extra):
        d = {"cmd": "verify", "method": self.method, "path": self.path, "query": self.query,
             "headers": [[n, v] for n, v in self.headers],
             "body": base64.b64encode(self.body).decode(),
             "now_ms": self.now_ms if now_ms is None else now_ms,
             "service": self.service, "protocol": self.protocol}
        d.update(extra)
        return d

    def header_index(self, lname):
        for i, (n, _) in enumerate(self.headers):
            if n.lower() == lname:
                return i
        return -1


def encode_path(rng, segs, safe, lower_escapes):
    out = "/" + "/".join(quote(s, safe=safe) for s in segs)
    if lower_escapes:
        # %2F -> %2f: still valid on the wire; botocore signs what it sends.
        res, i = [], 0
        while i < len(out):
            if out[i] == "%" and i + 2 < len(out):
                res.append("%" + out[i + 1:i + 3].lower())
                i += 3
            else:
                res.append(out[i])
                i += 1
        out = "".join(res)
    return out


def gen_path(rng, s3):
    r = rng.random()
    if r < 0.08:
        return "/"
    segs = [rng.choice(SEGMENTS) for _ in range(rng.randint(1, 5))]
    safe = rng.choice(["~", "~!$&'()*+,;=:@"])
    path = encode_path(rng, segs, safe, rng.random() < 0.15)
    # Dot segments and repeated slashes: normalised for every service but S3.
    if rng.random() < 0.3:
        parts = path.split("/")
        at = rng.randint(1, len(parts) - 1)
        parts.insert(at, rng.choice([".", "..", "", "x/..", "./."]))
        path = "/".join(parts)
    if rng.random() < 0.2:
        path += "/"
    return path


def gen_query_pairs(rng):
    pairs = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 4, 6])):
        if pairs and rng.random() < 0.3:
            k = rng.choice(pairs)[0]  # a repeated key
        else:
            k = rng.choice(QKEYS)
        pairs.append((k, rng.choice(QVALUES)))
    return pairs


def gen_body(rng):
    r = rng.random()
    if r < 0.3:
        return b""
    if r < 0.55:
        return json.dumps({"StreamName": "audit", "Data": "aGVsbG8=", "n": rng.randint(0, 1 << 30),
                           "s": "é😀"}).encode()
    if r < 0.96:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 2048)))
    return rng.randbytes(rng.randint(64 << 10, 1 << 20))


def gen_extra_headers(rng):
    out = []
    for _ in range(rng.randint(0, 4)):
        out.append((rng.choice(HEADER_NAMES), rng.choice(HEADER_VALUES)))
    # One name, one value: AWSRequest keeps one value per name unless added twice on purpose.
    seen, uniq = set(), []
    for n, v in out:
        if n.lower() not in seen:
            seen.add(n.lower())
            uniq.append((n, v))
    return uniq


def random_time(rng):
    start = calendar.timegm((2015, 1, 1, 0, 0, 0))
    end = calendar.timegm((2035, 12, 31, 23, 59, 59))
    return datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=rng.randint(start, end))


def sign(signer, request, when):
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        signer.add_auth(request)


def gen_request(rng, idx):
    """One valid request, signed by botocore, as it goes on the wire."""
    kind = rng.choices(["json", "query", "s3", "presign", "s3presign"],
                       weights=[30, 18, 27, 12, 13])[0]
    key = rng.randrange(len(KEYS))
    account, arn, akid, secret = KEYS[key]
    creds = Credentials(akid, secret)
    region = rng.choice(REGIONS)
    base = rng.choice(HOSTS)
    when = random_time(rng)
    req_ms = calendar.timegm(when.timetuple()) * 1000
    info = {"kind": kind, "idx": idx}
    dup_headers = False
    date_header = False
    payload = "hash"
    expires = None

    if kind in ("json", "query", "s3"):
        protocol = kind
        s3 = kind == "s3"
        service = {"json": rng.choice(["logs", "kinesis", "cloudtrail", "monitoring"]),
                   "query": "sts", "s3": "s3"}[kind]
        method = rng.choice(METHODS) if kind != "query" else rng.choice(["POST", "GET"])
        path = gen_path(rng, s3) if kind != "query" or rng.random() < 0.3 else "/"
        pairs = gen_query_pairs(rng)
        headers = gen_extra_headers(rng)
        body = gen_body(rng)
        if kind == "json":
            headers.append(("X-Amz-Target", rng.choice(["Logs_20140328.PutLogEvents",
                                                        "Kinesis_20131202.PutRecord"])))
            headers.append(("Content-Type", "application/x-amz-json-1.1"))
        elif kind == "query":
            form = [("Action", "GetCallerIdentity"), ("Version", "2011-06-15")] + pairs
            if method == "POST":
                body = percent_encode_sequence(form).encode()
                headers.append(("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"))
                pairs = []
            else:
                pairs = form
                body = b""
        query = percent_encode_sequence(pairs) if pairs else ""
        if s3 and rng.random() < 0.2:
            query = (query + "&" if query else "") + rng.choice(["acl", "uploads", "versioning"])
        # Unique names (case-insensitively) for AWSRequest; the last one wins.
        hdict = {}
        for n, v in headers:
            for old in list(hdict):
                if old.lower() == n.lower():
                    del hdict[old]
            hdict[n] = v
        url = base + path + ("?" + query if query else "")
        request = AWSRequest(method=method, url=url, headers=hdict, data=body)
        if not s3 and rng.random() < 0.1:
            request.context["payload_signing_enabled"] = False
            payload = "unsigned"
        if s3:
            if rng.random() < 0.25:
                request.context["client_config"] = botocore.config.Config(
                    s3={"payload_signing_enabled": False})
                payload = "unsigned"
            else:
                payload = "declared"
        if rng.random() < 0.06:
            request.headers["X-Dup"] = rng.choice(HEADER_VALUES)
            request.headers["X-Dup"] = rng.choice(HEADER_VALUES)
            dup_headers = True
        if rng.random() < 0.05:
            request.headers["Date"] = "placeholder"  # botocore replaces it with the real date
            date_header = True
        signer = (S3SigV4Auth if s3 else SigV4Auth)(creds, service, region)
        sign(signer, request, when)
        prepared = request.prepare()
        if dup_headers:
            wire_headers = list(request.headers.items())
        else:
            wire_headers = list(prepared.headers.items())
        presigned = False
    else:
        s3 = kind == "s3presign"
        protocol = "s3" if s3 else rng.choice(["json", "query"])
        service = "s3" if s3 else ("sts" if protocol == "query" else
                                   rng.choice(["logs", "kinesis"]))
        method = rng.choice(["GET", "GET", "PUT", "POST", "DELETE", "HEAD"])
        path = gen_path(rng, s3) if rng.random() < 0.8 else "/"
        pairs = gen_query_pairs(rng)
        if protocol == "query":
            pairs = [("Action", "GetCallerIdentity"), ("Version", "2011-06-15")] + pairs
        query = percent_encode_sequence(pairs) if pairs else ""
        hdict = dict(gen_extra_headers(rng)[:2])
        expires = rng.choice([1, 60, 900, 901, 3600, 86400, 604800])
        url = base + path + ("?" + query if query else "")
        request = AWSRequest(method=method, url=url, headers=hdict)
        signer = (S3SigV4QueryAuth if s3 else SigV4QueryAuth)(creds, service, region,
                                                             expires=expires)
        sign(signer, request, when)
        prepared = request.prepare()
        wire_headers = list(prepared.headers.items())
        # A presigned S3 URL says UNSIGNED-PAYLOAD: any body may come with it (an upload).
        body = gen_body(rng) if s3 and rng.random() < 0.5 else b""
        payload = "unsigned" if s3 else "hash"
        presigned = True

    parts = urlsplit(prepared.url)
    wire_path, wire_query = parts.path, parts.query
    if not any(n.lower() == "host" for n, _ in wire_headers):
        wire_headers.append(("Host", botocore.auth._host_from_url(prepared.url)))
    for n, v in UNSIGNED_HEADERS:
        if rng.random() < 0.7:
            wire_headers.append((n, v))
    # Any Content-Length the HTTP client adds is not signed.
    if not presigned and method not in ("GET", "HEAD", "OPTIONS") and not any(
            n.lower() == "content-length" for n, _ in wire_headers):
        wire_headers.append(("Content-Length", str(len(body))))
    if not presigned:
        # Arrival order across names must not matter; the order of one name's values does.
        names = [n.lower() for n, _ in wire_headers]
        values = {}
        for n, v in wire_headers:
            values.setdefault(n.lower(), []).append((n, v))
        rng.shuffle(names)
        wire_headers = [values[n].pop(0) for n in names]

    # The server's clock, anywhere inside the window (edges included).
    if presigned:
        lo, hi = -SKEW_MS, expires * 1000
    else:
        lo, hi = -SKEW_MS, SKEW_MS
    now_ms = req_ms + rng.choice([0, lo, hi, rng.randint(lo, hi), rng.randint(lo, hi)])
    stamp = request.context["timestamp"]
    r = Req(method=method, path=wire_path, query=wire_query, headers=wire_headers, body=body,
            protocol=protocol, service=service, s3=s3, presigned=presigned, now_ms=now_ms,
            req_ms=req_ms, stamp=stamp, expires=expires, payload=payload, account=account,
            arn=arn, region=region, akid=akid, signer=signer, request=request,
            dup_headers=dup_headers, date_header=date_header, info=info)
    return r


# ------------------------------------------------------------------------------ mutations

def in_escape(s, i):
    return (i >= 1 and s[i - 1] == "%") or (i >= 2 and s[i - 2] == "%")


def replace_char(rng, s, i):
    """s with s[i] replaced by a character that changes what it means (an escape's hex
    digit keeps being hex but gets another value; hex digits case-insensitively)."""
    c = s[i]
    if in_escape(s, i) and c in "0123456789abcdefABCDEF":
        choices = [h for h in "0123456789ABCDEF" if h != c.upper()]
    elif c in HEX and all(ch in HEX for ch in s) and len(s) == 64:
        choices = [h for h in HEX if h != c.lower()]
    elif c.isalpha() and c.islower():
        choices = [h for h in "abcdefghijklmnopqrstuvwxyz" if h != c]
    elif c.isdigit():
        choices = [h for h in "0123456789" if h != c]
    else:
        choices = [h for h in ALNUM if h != c]
    return s[:i] + rng.choice(choices) + s[i + 1:]


def alnum_positions(s, lo=0, hi=None):
    hi = len(s) if hi is None else hi
    return [i for i in range(lo, hi) if s[i].isascii() and s[i].isalnum()]


def canonical_uri(path, s3):
    if s3:
        return path or "/"
    return quote(normalize_url_path(path), safe="/~")


def query_params(q):
    """[(start, end, key, value_start)] for each & piece of a raw query."""
    out, pos = [], 0
    for piece in q.split("&"):
        k, eq, _ = piece.partition("=")
        out.append((pos, pos + len(piece), k, pos + len(k) + (1 if eq else 0)))
        pos += len(piece) + 1
    return out


def auth_parts(r):
    """(header index, dict of name -> (start, end) in the Authorization value) for the header
    form, or None."""
    i = r.header_index("authorization")
    if i < 0:
        return None
    v = r.headers[i][1]
    spans = {}
    for name in ("Credential", "SignedHeaders", "Signature"):
        at = v.index(name + "=") + len(name) + 1
        end = v.find(",", at)
        spans[name] = (at, len(v) if end < 0 else end)
    return i, spans


def query_span(r, name):
    for start, end, k, vstart in query_params(r.query):
        if k == name:
            return vstart, end
    return None


def set_header_value(r, i, v):
    r.headers = list(r.headers)
    r.headers[i] = (r.headers[i][0], v)


def expected_for_date(r, new_stamp):
    """The failure a changed X-Amz-Date causes, following ts_sigv4_verify's order."""
    if not stamp_valid(new_stamp):
        return "incomplete"
    if new_stamp[:8] != r.stamp[:8]:
        return "mismatch"  # the credential scope date no longer matches
    t = ms_of(new_stamp)
    if r.presigned and r.now_ms > t + r.expires * 1000:
        return "expired"
    if t > r.now_ms + SKEW_MS or (not r.presigned and t < r.now_ms - SKEW_MS):
        return "skewed"
    return "mismatch"


def mutations(rng, r):
    """Yields (category, mutated Req, expected) where expected is "ok" or a failure kind."""
    auth = auth_parts(r)

    # method
    m = copy.copy(r)
    i = rng.randrange(len(r.method))
    m.method = r.method[:i] + rng.choice([c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          if c != r.method[i]]) + r.method[i + 1:]
    yield "method", m, "mismatch"

    # path: a byte whose change survives normalisation
    pos = alnum_positions(r.path)
    rng.shuffle(pos)
    for i in pos[:8]:
        p = replace_char(rng, r.path, i)
        if canonical_uri(p, r.s3) != canonical_uri(r.path, r.s3):
            m = copy.copy(r)
            m.path = p
            yield "path", m, "mismatch"
            break

    # a query key or value that is not one of the presigned X-Amz-* parameters
    cands = []
    for start, end, k, vstart in query_params(r.query):
        if k.startswith("X-Amz-"):
            continue
        cands += alnum_positions(r.query, start, end)
    if cands:
        m = copy.copy(r)
        m.query = replace_char(rng, r.query, rng.choice(cands))
        yield "query", m, "mismatch"

    # a signed header value (host included; the date and content hash have their own cases)
    if auth:
        sh_text = r.headers[auth[0]][1][slice(*auth[1]["SignedHeaders"])]
    else:
        span = query_span(r, "X-Amz-SignedHeaders")
        sh_text = r.query[span[0]:span[1]].replace("%3B", ";")
    signed = sh_text.split(";")
    hc = [i for i, (n, v) in enumerate(r.headers)
          if n.lower() in signed and n.lower() not in ("x-amz-date", "date", "x-amz-content-sha256")
          and alnum_positions(v)]
    if hc:
        i = rng.choice(hc)
        m = copy.copy(r)
        v = r.headers[i][1]
        set_header_value(m, i, replace_char(rng, v, rng.choice(alnum_positions(v))))
        yield "header", m, "mismatch"

    # an unsigned header: still accepted
    uc = [i for i, (n, v) in enumerate(r.headers)
          if n.lower() in ("user-agent", "x-amzn-trace-id") and n.lower() not in signed]
    if uc:
        i = rng.choice(uc)
        m = copy.copy(r)
        v = r.headers[i][1]
        set_header_value(m, i, replace_char(rng, v, rng.choice(alnum_positions(v))))
        yield "unsigned-header", m, "ok"

    # x-amz-content-sha256
    ci = r.header_index("x-amz-content-sha256")
    if ci >= 0:
        v = r.headers[ci][1]
        m = copy.copy(r)
        set_header_value(m, ci, replace_char(rng, v, rng.choice(alnum_positions(v))))
        yield "content-sha256", m, "incomplete" if v == "UNSIGNED-PAYLOAD" else "sha_mismatch"

    # the body
    if r.body:
        m = copy.copy(r)
        b = bytearray(r.body)
        b[rng.randrange(len(b))] ^= rng.randint(1, 255)
        m.body = bytes(b)
        exp = {"hash": "mismatch", "declared": "sha_mismatch", "unsigned": "ok"}[r.payload]
        yield "body", m, exp

    # the signature
    m = copy.copy(r)
    if auth:
        hi = auth[0]
        s, e = auth[1]["Signature"]
        v = r.headers[hi][1]
        set_header_value(m, hi, v[:s] + replace_char(rng, v[s:e], rng.randrange(e - s)) + v[e:])
    else:
        s, e = query_span(r, "X-Amz-Signature")
        m.query = r.query[:s] + replace_char(rng, r.query[s:e], rng.randrange(e - s)) + r.query[e:]
    yield "signature", m, "mismatch"

    # the date
    m = copy.copy(r)
    if r.date_header:
        di = r.header_index("date")
        v = r.headers[di][1]
        dpos = [i for i in range(len(v)) if v[i].isdigit()]
        set_header_value(m, di, replace_char(rng, v, rng.choice(dpos)))
        yield "date", m, ("incomplete", "mismatch", "skewed")
    else:
        i = rng.choice([k for k in range(16) if k not in (8, 15)])
        new = replace_char(rng, r.stamp, i)
        if r.presigned:
            s, e = query_span(r, "X-Amz-Date")
            m.query = r.query[:s] + new + r.query[e:]
        else:
            di = r.header_index("x-amz-date")
            set_header_value(m, di, new)
        yield "date", m, expected_for_date(r, new)

    # the credential: key id (unknown key) or scope (date, region, service, terminator)
    if auth:
        hi = auth[0]
        s, e = auth[1]["Credential"]
        v = r.headers[hi][1]
        cred = v[s:e]
    else:
        s, e = query_span(r, "X-Amz-Credential")
        cred = r.query[s:e].replace("%2F", "/")
    pieces = cred.split("/")
    which = rng.randrange(5)
    pieces2 = list(pieces)
    pieces2[which] = replace_char(rng, pieces[which],
                                  rng.choice(alnum_positions(pieces[which])))
    new_cred = "/".join(pieces2)
    m = copy.copy(r)
    if auth:
        set_header_value(m, hi, v[:s] + new_cred + v[e:])
    else:
        m.query = r.query[:s] + new_cred.replace("/", "%2F") + r.query[e:]
    yield "credential" if which == 0 else "scope", m, "unknown_key" if which == 0 else "mismatch"

    # the signed header list
    m = copy.copy(r)
    lpos = [i for i, c in enumerate(sh_text) if c.isalpha()]
    new_sh = replace_char(rng, sh_text, rng.choice(lpos))
    if auth:
        s, e = auth[1]["SignedHeaders"]
        v = r.headers[auth[0]][1]
        set_header_value(m, auth[0], v[:s] + new_sh + v[e:])
    else:
        s, e = query_span(r, "X-Amz-SignedHeaders")
        m.query = r.query[:s] + new_sh.replace(";", "%3B") + r.query[e:]
    yield "signed-headers", m, "mismatch"

    # the algorithm
    m = copy.copy(r)
    if auth:
        v = r.headers[auth[0]][1]
        set_header_value(m, auth[0], replace_char(rng, v, rng.randrange(4)))
    else:
        s, e = query_span(r, "X-Amz-Algorithm")
        m.query = r.query[:s] + replace_char(rng, r.query[s:e], rng.randrange(4)) + r.query[e:]
    yield "algorithm", m, "incomplete"

    # presigned expiry: a changed X-Amz-Expires
    if r.presigned:
        s, e = query_span(r, "X-Amz-Expires")
        ex = r.query[s:e]
        new = replace_char(rng, ex, rng.randrange(len(ex)))
        m = copy.copy(r)
        m.query = r.query[:s] + new + r.query[e:]
        n = int(new)
        if n < 1 or n > 604800:
            exp = "incomplete"
        elif r.now_ms > r.req_ms + n * 1000:
            exp = "expired"
        else:
            exp = "mismatch"
        yield "expires", m, exp


def clock_checks(r):
    """Yields (category, now_ms, expected) at the edges of the clock window."""
    yield "clock-too-new", r.req_ms - SKEW_MS - 1, "skewed"
    yield "clock-new-edge", r.req_ms - SKEW_MS, "ok"
    if r.presigned:
        yield "clock-expired", r.req_ms + r.expires * 1000 + 1, "expired"
        yield "clock-expiry-edge", r.req_ms + r.expires * 1000, "ok"
    else:
        yield "clock-too-old", r.req_ms + SKEW_MS + 1, "skewed"
        yield "clock-old-edge", r.req_ms + SKEW_MS, "ok"


# ------------------------------------------------------------------------------ checks

class Checker:
    def __init__(self, verbose):
        self.failures = []
        self.counts = {}
        self.verbose = verbose

    def check(self, what, category, protocol, expected, got, req=None, account=None, arn=None):
        self.counts[category] = self.counts.get(category, 0) + 1
        ok = True
        if expected == "ok":
            ok = got.get("ok") is True
            if ok and account is not None:
                ok = got.get("account") == account and got.get("arn") == arn
        else:
            exp = expected if isinstance(expected, tuple) else (expected,)
            codes = {CODES[e][protocol] for e in exp}
            ok = got.get("ok") is False and got.get("code") in codes
            expected = " or ".join(sorted(codes))
        if not ok:
            self.failures.append((what, category, expected, got, req))
        return ok


def describe(req):
    if req is None:
        return ""
    return json.dumps({"method": req.method, "path": req.path, "query": req.query[:400],
                       "headers": req.headers, "body_len": len(req.body),
                       "protocol": req.protocol, "service": req.service,
                       "now_ms": req.now_ms, "info": req.info}, ensure_ascii=False)[:3000]


def explain_valid_failures(oracle, reqs):
    """For rejected valid requests: botocore's canonical request next to ours."""
    lines = []
    for r in reqs:
        # What botocore signed: its canonical request before the Authorization header existed.
        del r.request.headers["Authorization"]
        sig_lines = r.signer.canonical_request(r.request).split("\n")
        signed, payload = sig_lines[-2], sig_lines[-1]
        lines.append({"cmd": "canonical", "method": r.method, "path": r.path, "query": r.query,
                      "headers": [[n, v] for n, v in r.headers],
                      "body": base64.b64encode(r.body).decode(), "signed_headers": signed,
                      "payload_hash": payload, "s3": r.s3, "presigned": r.presigned})
    outs = oracle.run(lines)
    for r, o in zip(reqs, outs):
        mine = o.get("canonical", o.get("error"))
        theirs = r.signer.canonical_request(r.request)
        print(f"--- request {r.info}: botocore canonical request:\n{theirs}\n"
              f"--- ts_sigv4_canonical_request:\n{mine}\n", file=sys.stderr)


# ------------------------------------------------------------------------------ vectors

V_SECRET = KEYS[0][3]
V_AKID = KEYS[0][2]  # the vectors' AKIDEXAMPLE is too short for an IAM key id; the id is not
# part of what is signed, so the vectors' signatures verify unchanged with this one.
V1_CANON = ("GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
V1_SIG = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
V2_SIG = "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
V3_BODY = b'{"StreamName":"audit","Data":"aGVsbG8=","PartitionKey":"pk1"}'
V3_CANON = ("POST\n/\n\ncontent-type:application/x-amz-json-1.1\n"
            "host:kinesis.us-east-1.amazonaws.com\nx-amz-date:20240101T000000Z\n"
            "x-amz-target:Kinesis_20131202.PutRecord\n\n"
            "content-type;host;x-amz-date;x-amz-target\n"
            "f1d4576f5dba934fb7d3e8a64fab10d05620a5941960b05813d4ec8e677e400c")
V3_SIG = "08bbcce703af25df2dd3944e717e1f6359eceaa127608b7ad402b5388c27eca0"


def ts_ms(y, mo, d, h, mi, s):
    return calendar.timegm((y, mo, d, h, mi, s)) * 1000


def vector_requests():
    """(name, oracle line, check) for the reference vectors; check(output) -> error or None."""
    out = []
    v1_auth = (f"AWS4-HMAC-SHA256 Credential={V_AKID}/20150830/us-east-1/service/aws4_request, "
               f"SignedHeaders=host;x-amz-date, Signature={V1_SIG}")
    v1_headers = [["Host", "example.amazonaws.com"], ["X-Amz-Date", "20150830T123600Z"]]
    t1 = ts_ms(2015, 8, 30, 12, 36, 0)

    def verify(name, headers, now, expect, msg=None, query="", method="GET", body=b"",
               service="service", proto="json", max_skew=0):
        line = {"cmd": "verify", "method": method, "path": "/", "query": query,
                "headers": headers, "body": base64.b64encode(body).decode(), "now_ms": now,
                "service": service, "protocol": proto, "max_skew_ms": max_skew}

        def check(o):
            if expect == "ok":
                if not o.get("ok") or o.get("account") != KEYS[0][0]:
                    return f"expected acceptance, got {o}"
                return None
            if o.get("ok") or o.get("code") != expect:
                return f"expected {expect}, got {o}"
            if msg is not None and o.get("message") != msg:
                return f"expected message {msg!r}, got {o.get('message')!r}"
            return None
        out.append((name, line, check))

    def canonical(name, headers, expect, query="", method="GET", body=b"", sh="host;x-amz-date"):
        line = {"cmd": "canonical", "method": method, "path": "/", "query": query,
                "headers": headers, "body": base64.b64encode(body).decode(),
                "signed_headers": sh, "payload_hash": hashlib.sha256(body).hexdigest(),
                "s3": False, "presigned": False}
        out.append((name, line, lambda o: None if o.get("canonical") == expect
                    else f"canonical request differs:\n{o}\nexpected:\n{expect}"))

    canonical("V1 canonical request", v1_headers, V1_CANON)
    verify("V1 accepted", v1_headers + [["Authorization", v1_auth]], t1, "ok")
    v2_headers = [["Host", "example.amazonaws.com"], ["X-Amz-Date", "20150830T123600Z"]]
    v2_auth = v1_auth.replace(V1_SIG, V2_SIG)
    out.append(("V2 canonical query hash",
                {"cmd": "canonical", "method": "GET", "path": "/",
                 "query": "Param2=value2&Param1=value1", "headers": v2_headers, "body": "",
                 "signed_headers": "host;x-amz-date", "payload_hash": EMPTY_SHA256,
                 "s3": False, "presigned": False},
                lambda o: None if hashlib.sha256(o.get("canonical", "").encode()).hexdigest() ==
                "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"
                and "\nParam1=value1&Param2=value2\n" in o.get("canonical", "")
                else f"V2 canonical request wrong: {o}"))
    verify("V2 accepted", v2_headers + [["Authorization", v2_auth]], t1, "ok",
           query="Param2=value2&Param1=value1")
    v3_headers = [["Content-Type", "application/x-amz-json-1.1"],
                  ["Host", "kinesis.us-east-1.amazonaws.com"],
                  ["X-Amz-Date", "20240101T000000Z"],
                  ["X-Amz-Target", "Kinesis_20131202.PutRecord"]]
    canonical("V3 canonical request", v3_headers, V3_CANON, method="POST", body=V3_BODY,
              sh="content-type;host;x-amz-date;x-amz-target")
    v3_auth = (f"AWS4-HMAC-SHA256 Credential={V_AKID}/20240101/us-east-1/kinesis/aws4_request, "
               f"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={V3_SIG}")
    t3 = ts_ms(2024, 1, 1, 0, 0, 0)
    verify("V3 accepted", v3_headers + [["Authorization", v3_auth]], t3, "ok", method="POST",
           body=V3_BODY, service="kinesis")
    out.append(("V4 signing key",
                {"cmd": "signing_key", "secret": V_SECRET, "date8": "20150830",
                 "region": "us-east-1", "service": "iam"},
                lambda o: None if o.get("key") ==
                "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
                else f"V4 signing key wrong: {o}"))

    # Negative tests of the notes.
    bad_sig = V1_SIG[:10] + ("0" if V1_SIG[10] != "0" else "1") + V1_SIG[11:]
    verify("V1 one signature digit changed", v1_headers + [["Authorization",
           v1_auth.replace(V1_SIG, bad_sig)]], t1, "InvalidSignatureException",
           "The request signature we calculated does not match the signature you provided. "
           "Check your AWS Secret Access Key and signing method. Consult the service "
           "documentation for details.")
    # The notes use AWS's 5 minutes; trailstream's default window is 15 (TS_SIGV4_MAX_SKEW_MS).
    verify("V1 at 12:42 with a 5-minute window", v1_headers + [["Authorization", v1_auth]],
           ts_ms(2015, 8, 30, 12, 42, 0), "InvalidSignatureException",
           "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z "
           "(20150830T124200Z - 5 min.)", max_skew=5 * 60000)
    verify("V1 at 12:42 with the default window", v1_headers + [["Authorization", v1_auth]],
           ts_ms(2015, 8, 30, 12, 42, 0), "ok")
    verify("V1 at 12:51:00 (edge of 15 min)", v1_headers + [["Authorization", v1_auth]],
           ts_ms(2015, 8, 30, 12, 51, 0), "ok")
    verify("V1 at 12:51:01", v1_headers + [["Authorization", v1_auth]],
           ts_ms(2015, 8, 30, 12, 51, 1), "InvalidSignatureException",
           "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z "
           "(20150830T125101Z - 15 min.)")
    verify("V1 at 12:20:59 (request from the future)", v1_headers + [["Authorization", v1_auth]],
           ts_ms(2015, 8, 30, 12, 20, 59), "InvalidSignatureException",
           "Signature not yet current: 20150830T123600Z is still later than 20150830T123559Z "
           "(20150830T122059Z + 15 min.)")
    verify("V3 scoped to logs", v3_headers + [["Authorization", v3_auth.replace(
           "/kinesis/", "/logs/")]], t3, "InvalidSignatureException",
           "Credential should be scoped to correct service: 'kinesis'. ", method="POST",
           body=V3_BODY, service="kinesis")
    verify("V3 unknown access key", v3_headers + [["Authorization", v3_auth.replace(
           V_AKID, "AKIDEXAMPLE")]], t3, "UnrecognizedClientException",
           "The security token included in the request is invalid.", method="POST",
           body=V3_BODY, service="kinesis")
    no_sh = (f"AWS4-HMAC-SHA256 Credential={V_AKID}/20150830/us-east-1/service/aws4_request, "
             f"Signature={V1_SIG}")
    verify("Authorization without SignedHeaders", v1_headers + [["Authorization", no_sh]], t1,
           "IncompleteSignatureException",
           "Authorization header requires 'SignedHeaders' parameter. Authorization=" + no_sh)

    # A few more request shapes that have one right answer.
    verify("no credentials at all (json)", v1_headers, t1, "MissingAuthenticationTokenException",
           "Missing Authentication Token")
    verify("no credentials at all (query)", v1_headers, t1, "MissingAuthenticationToken",
           proto="query")
    verify("no credentials at all (s3)", v1_headers, t1, "AccessDenied", "Access Denied",
           proto="s3")
    verify("both header and query forms", v1_headers + [["Authorization", v1_auth]], t1,
           "InvalidSignatureException",
           "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP "
           "header.", query="X-Amz-Algorithm=AWS4-HMAC-SHA256")
    verify("session token (none are issued)", v1_headers + [["Authorization", v1_auth],
           ["X-Amz-Security-Token", "FQoGZXIvYXdzE"]], t1, "UnrecognizedClientException")
    verify("unsupported algorithm", v1_headers + [["Authorization",
           v1_auth.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512")]], t1,
           "IncompleteSignatureException", "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'.")
    no_date = [["Host", "example.amazonaws.com"], ["Authorization", v1_auth]]
    verify("no date header", no_date, t1, "IncompleteSignatureException",
           "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
           "header. Authorization=" + v1_auth)
    verify("piece without '='", v1_headers + [["Authorization", v1_auth + ", Bogus"]], t1,
           "IncompleteSignatureException",
           "'Bogus' not a valid key=value pair (missing equal-sign) in Authorization header: '"
           + v1_auth + ", Bogus'.")
    verify("presigned without a signature", [["Host", "example.amazonaws.com"]], t1,
           "IncompleteSignatureException",
           "AWS query-string parameters must include 'X-Amz-Signature'. Re-examine the "
           "query-string parameters.",
           query="X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + V_AKID +
           "%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z"
           "&X-Amz-SignedHeaders=host&X-Amz-Expires=60")
    verify("host not signed", v1_headers + [["Authorization", v1_auth.replace(
           "SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date")]], t1,
           "InvalidSignatureException")
    verify("date not signed", v1_headers + [["Authorization", v1_auth.replace(
           "SignedHeaders=host;x-amz-date", "SignedHeaders=host")]], t1,
           "InvalidSignatureException")
    verify("uppercase signature hex is the same signature", v1_headers + [["Authorization",
           v1_auth.replace(V1_SIG, V1_SIG.upper())]], t1, "ok")

    # A presigned URL without X-Amz-Expires (botocore always sends one; other clients may
    # not): it must not stay valid forever, it gets the normal skew window.
    when = datetime.datetime(2024, 5, 1, 12, 0, 0)
    t = ts_ms(2024, 5, 1, 12, 0, 0)
    for proto, service, signer_cls in (("json", "logs", NoExpiresQueryAuth),
                                       ("query", "sts", NoExpiresQueryAuth),
                                       ("s3", "s3", NoExpiresS3QueryAuth)):
        request = AWSRequest(method="GET", url="http://127.0.0.1:4600/?b=c")
        sign(signer_cls(Credentials(V_AKID, V_SECRET), service, "us-east-1"), request, when)
        parts = urlsplit(request.prepare().url)
        headers = [["Host", "127.0.0.1:4600"]]
        if proto == "s3":
            verify("presigned S3 without X-Amz-Expires", headers, t,
                   "AuthorizationHeaderMalformed", query=parts.query, service=service,
                   proto=proto)
            continue
        verify(f"presigned {service} without X-Amz-Expires, fresh", headers, t, "ok",
               query=parts.query, service=service, proto=proto)
        verify(f"presigned {service} without X-Amz-Expires, a day later", headers,
               t + 86400000, CODES["skewed"][proto], query=parts.query, service=service,
               proto=proto)
    return out


class NoExpiresQueryAuth(SigV4QueryAuth):
    """SigV4QueryAuth minus the X-Amz-Expires parameter (signed without it)."""

    def _modify_request_before_signing(self, request):
        super()._modify_request_before_signing(request)
        p = urlsplit(request.url)
        q = "&".join(x for x in p.query.split("&") if not x.startswith("X-Amz-Expires="))
        request.url = urlunsplit((p[0], p[1], p[2], q, p[4]))


class NoExpiresS3QueryAuth(NoExpiresQueryAuth, S3SigV4QueryAuth):
    pass


# ------------------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--oracle", required=True)
    ap.add_argument("--count", type=int, default=600)
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    oracle = Oracle(args.oracle)
    checker = Checker(args.verbose)

    # 1. Reference vectors.
    vecs = vector_requests()
    outs = oracle.run([l for _, l, _ in vecs])
    vec_fail = 0
    for (name, _, check), o in zip(vecs, outs):
        problem = check(o)
        checker.counts["vector"] = checker.counts.get("vector", 0) + 1
        if problem:
            vec_fail += 1
            checker.failures.append((name, "vector", problem, o, None))

    # 2. Generated requests: every valid one accepted by the right account.
    rng = random.Random(args.seed)
    reqs = [gen_request(rng, i) for i in range(args.count)]
    outs = oracle.run([r.line() for r in reqs])
    rejected = []
    for r, o in zip(reqs, outs):
        if not checker.check(f"valid #{r.info['idx']}", "valid-" + r.info["kind"], r.protocol,
                             "ok", o, r, r.account, r.arn):
            rejected.append(r)
        elif o.get("region") != r.region:
            checker.failures.append((f"valid #{r.info['idx']}", "region", r.region, o, r))

    # 3. One byte changed in each signed part; clock edges.
    cases = []
    for r in reqs:
        for cat, m, exp in mutations(rng, r):
            cases.append((f"#{r.info['idx']} {cat}", cat, m, exp, m.line()))
        for cat, now, exp in clock_checks(r):
            cases.append((f"#{r.info['idx']} {cat}", cat, r, exp, r.line(now_ms=now)))
    outs = oracle.run([c[4] for c in cases])
    for (what, cat, m, exp, _), o in zip(cases, outs):
        if exp == "ok":
            checker.check(what, cat, m.protocol, "ok", o, m, m.account, m.arn)
        else:
            checker.check(what, cat, m.protocol, exp, o, m)

    total = sum(checker.counts.values())
    print(f"sigv4 cross-check: {args.count} botocore-signed requests (seed {args.seed}), "
          f"{total} checks, {len(checker.failures)} failures")
    for cat in sorted(checker.counts):
        print(f"  {cat:22} {checker.counts[cat]}")
    if checker.failures:
        by_cat = {}
        for f in checker.failures:
            by_cat[f[1]] = by_cat.get(f[1], 0) + 1
        print("failures by category: " + ", ".join(f"{k}={v}" for k, v in sorted(by_cat.items())))
        for what, cat, exp, got, req in checker.failures[:25]:
            if cat == "vector":
                print(f"FAIL {what}: {exp}")
            else:
                print(f"FAIL {what} [{cat}]: expected {exp}, got {got}\n  {describe(req)}")
        if rejected:
            explain_valid_failures(oracle, rejected[:5])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
