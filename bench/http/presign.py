#!/usr/bin/env python3
"""Signs one STS GetCallerIdentity POST with botocore and writes it as a Lua table for
replay.lua: {method=..., path=..., headers={...}, body=...}.

A SigV4-signed request stays valid for the server's clock-skew window (15 minutes), so wrk can
replay the same bytes for a whole benchmark run.

Usage: presign.py URL ACCESS_KEY SECRET OUT.lua
"""
import sys
from urllib.parse import urlsplit

import botocore.auth
import botocore.credentials
from botocore.awsrequest import AWSRequest


def lua_str(s):
    return '"' + "".join(c if c.isalnum() or c in " -_./:;=,+*&%()" else "\\%03d" % ord(c)
                         for c in s) + '"'


def main():
    url, key, secret, out = sys.argv[1:5]
    body = "Action=GetCallerIdentity&Version=2011-06-15"
    req = AWSRequest(method="POST", url=url + "/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), "sts",
                            "us-east-1").add_auth(req)
    prepared = req.prepare()
    headers = dict(prepared.headers.items())
    headers["Host"] = urlsplit(url).netloc
    with open(out, "w") as f:
        f.write("return {\n  method = %s,\n  path = %s,\n  body = %s,\n  headers = {\n"
                % (lua_str("POST"), lua_str("/"), lua_str(body)))
        for k, v in headers.items():
            f.write("    [%s] = %s,\n" % (lua_str(k), lua_str(v)))
        f.write("  },\n}\n")


if __name__ == "__main__":
    main()
