"""Integration test harness: runs a real `trailstream serve` on a free loopback port with a
temporary data directory, and gives tests boto3 clients and the real `aws` CLI signed with
the test accounts' own keys.

Every wait is bounded and polls a condition; every process started is reaped; the server's
stderr is checked for sanitizer reports when it stops.
"""

import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

import boto3
import botocore.config

BIN = os.environ.get("TRAILSTREAM_BIN", "")
REGION = "us-east-1"

# Test accounts: security (111...), source (222...) and a third (333...) with root keys only.
ACCOUNTS = {
    "security": {"id": "111111111111", "user": "auditor",
                 "key": "AKIATESTSECURITY0001", "secret": "testSecuritySecret/000000000000000001",
                 "root_key": "AKIATESTSECROOT00001", "root_secret": "testSecurityRootSecret/00000000000001"},
    "source": {"id": "222222222222", "user": "developer",
               "key": "AKIATESTSOURCE000001", "secret": "testSourceSecret/00000000000000000001",
               "root_key": "AKIATESTSRCROOT00001", "root_secret": "testSourceRootSecret/0000000000000001"},
    "third": {"id": "333333333333", "user": None, "key": None, "secret": None,
              "root_key": "AKIATESTTHIRDROOT001", "root_secret": "testThirdRootSecret/00000000000000001"},
}


def config_text(extra=""):
    """The YAML config used by the tests (port and data dir come from the command line)."""
    lines = ["quickstart:", "  credentials_file: credentials", "accounts:"]
    for name, a in ACCOUNTS.items():
        lines.append(f'  - id: "{a["id"]}"')
        lines.append(f"    name: {name}")
        if a["user"]:
            lines.append("    users:")
            lines.append(f"      - name: {a['user']}")
            lines.append(f'        access_keys: [{{id: {a["key"]}, secret: "{a["secret"]}"}}]')
        lines.append(f'    root_access_keys: [{{id: {a["root_key"]}, secret: "{a["root_secret"]}"}}]')
    return extra + "\n" + "\n".join(lines) + "\n"


def wait_for(cond, timeout=10.0, interval=0.02, what="condition"):
    """Polls cond() until it returns a truthy value or the timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Server:
    """One trailstream serve process."""

    def __init__(self, extra_config="", args=(), data_dir=None):
        if not BIN or not os.path.exists(BIN):
            raise RuntimeError("TRAILSTREAM_BIN must point at the trailstream binary")
        self.tmp = tempfile.mkdtemp(prefix="ts-it-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.config_path = os.path.join(self.tmp, "trailstream.yaml")
        with open(self.config_path, "w") as f:
            f.write(config_text(extra_config))
        self.args = list(args)
        self.proc = None
        self.port = None
        self.stdout_lines = []

    def start(self, timeout=20.0):
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        self.stderr = open(self.stderr_path, "ab")
        cmd = [BIN, "serve", "--config", self.config_path, "--data-dir", self.data_dir,
               "--listen", "127.0.0.1:0"] + self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr,
                                     stdin=subprocess.DEVNULL)
        line = self._read_line(timeout)
        if not line.startswith("listening on http://127.0.0.1:"):
            self.kill()
            raise AssertionError(f"unexpected first line {line!r}; stderr:\n{self.stderr_text()}")
        self.port = int(line.rsplit(":", 1)[1])
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for(self.healthy, timeout, what="/health")
        return self

    def _read_line(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                break
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                buf += chunk
        text = buf.decode(errors="replace")
        self.stdout_lines = text.splitlines()
        return self.stdout_lines[0] if self.stdout_lines else ""

    def healthy(self):
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                return r.status == 200 and json.loads(r.read())["status"] == "ok"
        except OSError:
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None and self.healthy()

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=5) as r:
            return r.status, r.read().decode()

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=30.0, expect_clean=True):
        """SIGTERM and wait; returns the exit code. Fails on sanitizer reports."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not stop within %ss" % timeout)
        rc = self.proc.returncode
        self.proc.stdout.close()
        self.proc = None
        self.stderr.close()
        err = self.stderr_text()
        if expect_clean:
            for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
                if marker in err:
                    raise AssertionError(f"sanitizer report in server stderr:\n{err[-6000:]}")
            if rc != 0:
                raise AssertionError(f"server exited with {rc}; stderr:\n{err[-4000:]}")
        return rc

    def kill(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
            self.stderr.close()

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- clients

    def client(self, service, account="security", root=False, key=None, secret=None,
               region=REGION, **cfg):
        a = ACCOUNTS[account]
        return boto3.client(
            service, endpoint_url=self.url, region_name=region,
            aws_access_key_id=key or (a["root_key"] if root else a["key"]),
            aws_secret_access_key=secret or (a["root_secret"] if root else a["secret"]),
            config=botocore.config.Config(retries={"max_attempts": 1}, **cfg))

    def credentials_file(self):
        return os.path.join(self.data_dir, "credentials")

    def aws(self, *args, profile="security", env=None, check=True, timeout=60):
        """Runs the real aws CLI against the server; returns (rc, stdout, stderr)."""
        e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        e.update({
            "AWS_SHARED_CREDENTIALS_FILE": self.credentials_file(),
            "AWS_CONFIG_FILE": os.path.join(self.tmp, "aws-config-absent"),
            "AWS_ENDPOINT_URL": self.url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_PAGER": "",
        })
        if env:
            e.update(env)
        cmd = ["aws"] + (["--profile", profile] if profile else []) + list(args)
        p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return p.returncode, p.stdout, p.stderr


class ServerTestCase(unittest.TestCase):
    """A test case with one server for the whole class."""

    extra_config = ""
    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.server = Server(cls.extra_config, cls.server_args)
        try:
            cls.server.start()
        except Exception:
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()
        finally:
            cls.server.cleanup()

    def assertServerUp(self):
        self.assertTrue(self.server.alive(), "server is no longer up")
