"""`trailstream serve` and `check-config` as a user meets them: the quick-start config, the
lines printed at start, the credentials file, config errors, graceful stop."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

import harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUICKSTART = os.path.join(ROOT, "conf", "trailstream.yaml")


def run(*args, timeout=30):
    return subprocess.run([harness.BIN] + list(args), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


class QuickStartTest(unittest.TestCase):
    """Serve the committed quick-start config and follow the printed instructions."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ts-qs-")
        self.server = harness.Server()
        shutil.copy(QUICKSTART, self.server.config_path)
        self.server.data_dir = os.path.join(self.tmp, "var")

    def tearDown(self):
        self.server.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_quickstart_lines_work(self):
        s = self.server.start()
        lines = s.stdout_lines
        self.assertEqual(lines[0], f"listening on http://127.0.0.1:{s.port}")
        cred = os.path.join(s.data_dir, "credentials")
        self.assertEqual(lines[1], f"credentials for the AWS CLI: {cred} (profiles: security source)")
        self.assertTrue(lines[2].startswith("try: "))
        self.assertEqual(os.stat(cred).st_mode & 0o777, 0o600)
        # Run the printed command exactly as a user would: only the variables it names.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["HOME"] = self.tmp  # no ~/.aws of the machine's user
        p = subprocess.run(lines[2][len("try: "):], shell=True, env=env, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        ident = json.loads(p.stdout)
        self.assertEqual(ident["Account"], "222222222222")
        self.assertEqual(ident["Arn"], "arn:aws:iam::222222222222:user/developer")
        # The security profile works too.
        _, out, _ = s.aws("sts", "get-caller-identity", profile="security")
        self.assertEqual(json.loads(out)["Account"], "111111111111")
        self.assertEqual(s.stop(), 0)

    def test_credentials_file_kept_across_restarts(self):
        s = self.server.start()
        cred = os.path.join(s.data_dir, "credentials")
        s.stop()
        with open(cred, "a") as f:
            f.write("# edited by the user\n")
        s.start()
        with open(cred) as f:
            self.assertIn("# edited by the user", f.read())
        s.stop()


class ServeLifecycleTest(unittest.TestCase):

    def setUp(self):
        self.server = harness.Server()

    def tearDown(self):
        self.server.cleanup()

    def test_sigterm_and_sigint_exit_zero(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            s = self.server.start()
            s.client("sts").get_caller_identity()
            s.proc.send_signal(sig)
            self.assertEqual(s.proc.wait(30), 0)
            s.stop()
            self.assertIn("stopped cleanly", s.stderr_text())

    def test_stop_with_open_keepalive_connection(self):
        s = self.server.start()
        c = s.client("sts")
        c.get_caller_identity()  # leaves a pooled keep-alive connection open
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"200", sock.recv(4096))
        self.assertEqual(s.stop(timeout=30), 0)
        sock.close()

    def test_in_flight_request_finishes_on_sigterm(self):
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials
        s = self.server.start()
        a = harness.ACCOUNTS["source"]
        body = b"Action=GetCallerIdentity&Version=2011-06-15"
        req = botocore.awsrequest.AWSRequest(
            method="POST", url=s.url + "/", data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(a["key"], a["secret"]),
                                "sts", "us-east-1").add_auth(req)
        p = req.prepare()
        head = "POST / HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in p.headers.items())
        head += f"Host: 127.0.0.1:{s.port}\r\nContent-Length: {len(body)}\r\n\r\n"
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.sendall(head.encode() + body[:10])
        # The request is in flight (headers in, body incomplete) when the signal arrives:
        # /metrics counts it plus the /metrics request itself.
        def in_flight():
            _, text = s.get("/metrics")
            for line in text.splitlines():
                if line.startswith("ts_http_requests_in_flight "):
                    return float(line.split()[1]) >= 2
            return False
        harness.wait_for(in_flight, what="the partial request in flight")
        s.proc.send_signal(signal.SIGTERM)
        harness.wait_for(lambda: "SIGTERM received" in s.stderr_text(), what="stop begun")
        self.assertIsNone(s.proc.poll())
        sock.sendall(body[10:])
        sock.settimeout(10)
        data = b""
        while b"</GetCallerIdentityResponse>" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        sock.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
        self.assertIn(b"<Account>222222222222</Account>", data)
        self.assertEqual(s.proc.wait(30), 0)
        s.stop()

    def test_connection_limit_queues_new_connections(self):
        # At server.max_connections a new connection waits in the listen backlog (it is not
        # accepted and dropped); it is served as soon as an open one closes.
        s = harness.Server("server:\n  max_connections: 2\n").start()
        try:
            held = []
            for _ in range(2):
                c = socket.create_connection(("127.0.0.1", s.port))
                c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                c.settimeout(10)
                self.assertIn(b"200", c.recv(4096))
                held.append(c)
            third = socket.create_connection(("127.0.0.1", s.port))
            third.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            third.settimeout(0.5)
            with self.assertRaises(socket.timeout):
                third.recv(4096)
            held.pop().close()
            third.settimeout(10)
            self.assertIn(b"200", third.recv(4096))
            third.close()
            for c in held:
                c.close()
        finally:
            s.stop()
            s.cleanup()

    def test_port_in_use(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        try:
            p = run("serve", "--config", self.server.config_path, "--data-dir",
                    self.server.data_dir, "--listen", f"127.0.0.1:{port}")
            self.assertEqual(p.returncode, 2)
            self.assertIn("cannot listen on 127.0.0.1:%d" % port, p.stderr)
            self.assertEqual(p.stdout, "")
        finally:
            busy.close()

    def test_health_and_metrics(self):
        s = self.server.start()
        status, body = s.get("/health")
        h = json.loads(body)
        self.assertEqual((status, h["status"], h["accounts"]), (200, "ok", 3))
        status, text = s.get("/metrics")
        self.assertEqual(status, 200)
        self.assertIn("# TYPE", text)
        s.stop()


class ConfigErrorsTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ts-cfg-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, text):
        path = os.path.join(self.tmp, "c.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_check_config_quickstart(self):
        p = run("check-config", QUICKSTART)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("account 111111111111 (security)", p.stdout)
        self.assertIn("account 222222222222 (source)", p.stdout)
        self.assertNotIn("DeMoKeY", p.stdout)

    def test_errors_name_file_line_and_key(self):
        cases = [
            ("server:\n  listen: \"127.0.0.1:4600\"\n  treads: 4\n", ":3: server.treads: unknown key"),
            ("storage:\n  fsync: maybe\n", ":2: storage.fsync: 'maybe' is not one of"),
            ("accounts:\n  - id: 1234\n", ":2: accounts.id:"),
            ("server: [\n", "c.yaml:"),
        ]
        for text, fragment in cases:
            path = self.write(text)
            p = run("check-config", path)
            self.assertEqual(p.returncode, 1)
            self.assertIn(path + fragment if fragment.startswith(":") else fragment, p.stderr)
            # serve refuses to start with the same message, printing nothing on stdout.
            p = run("serve", "--config", path, "--data-dir", os.path.join(self.tmp, "d"),
                    "--listen", "127.0.0.1:0")
            self.assertEqual(p.returncode, 2)
            self.assertIn("invalid config", p.stderr)
            self.assertEqual(p.stdout, "")

    def test_usage_errors(self):
        self.assertEqual(run("check-config").returncode, 2)
        self.assertEqual(run("serve", "--bogus").returncode, 2)
        self.assertEqual(run("nonsense").returncode, 2)
        p = run("serve", "--listen", "nohost")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--listen", p.stderr)
        p = run("version")
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.startswith("trailstream "))


if __name__ == "__main__":
    unittest.main()
