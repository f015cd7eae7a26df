"""What the benchmark scripts share: the release binary, a server on a fresh database,
resident memory, and plain HTTP requests."""
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# TOCSIN_BENCH_BINARY names another build to measure (an older one, for before and after);
# otherwise the release build of this tree, built first.
BINARY = os.environ.get("TOCSIN_BENCH_BINARY") or os.path.join(ROOT, "target", "release", "tocsin")


def build():
    if os.environ.get("TOCSIN_BENCH_BINARY"):
        return
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "tocsin-cli"], cwd=ROOT, check=True)


def ingest_sshd_log(work, *signal_args):
    """`tocsin ingest --format sshd` on WORK/auth.log into a fresh database in WORK, then
    `tocsin signals --json` with SIGNAL_ARGS: the ingest's summary line and the signals."""
    env = dict(os.environ, TOCSIN_DB=f"sqlite:{work}/tocsin.db")
    ingest = [BINARY, "ingest", os.path.join(work, "auth.log"), "--format", "sshd", "--year", "2026",
              "--timezone", "UTC"]
    summary = subprocess.run(ingest, env=env, check=True, capture_output=True, text=True).stdout.strip()
    listed = subprocess.run([BINARY, "--json", "signals", "--limit", "100000", *signal_args], env=env,
                            check=True, capture_output=True, text=True).stdout
    return summary, json.loads(listed)


def ensure_wrk():
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """Samples a process's resident memory every 0.1 s while in use."""

    def __init__(self, pid):
        self.pid, self.peak, self.done = pid, rss_mb(pid), threading.Event()
        self.thread = threading.Thread(target=self.sample)

    def sample(self):
        while not self.done.is_set():
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except OSError:
                return
            time.sleep(0.1)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.done.set()
        self.thread.join()


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data


class Server:
    """`tocsin serve` on a fresh SQLite database in `work`."""

    def __init__(self, work):
        self.work, self.port = work, free_port()
        self.env = dict(os.environ, TOCSIN_DB=f"sqlite:{work}/tocsin-data/tocsin.db", TOCSIN_LOG="warn",
                        TOCSIN_ACTOR="bench")
        self.process = subprocess.Popen([BINARY, "serve", "--listen", f"127.0.0.1:{self.port}"], cwd=work,
                                        env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                if request(self.port, "GET", "/readyz")[0].status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        sys.exit("the server did not start")

    def cli(self, *args):
        out = subprocess.run([BINARY, "--json", *args], cwd=self.work, env=self.env, check=True,
                             capture_output=True, text=True).stdout
        return json.loads(out)

    def token(self, name, scopes):
        return self.cli("token", "create", "--name", name, "--scope", scopes)["secret"]

    def admin_password(self):
        with open(os.path.join(self.work, "tocsin-data", "initial-admin-password")) as f:
            return f.read().split()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
