#!/usr/bin/env python3
"""Load on the server's read paths with wrk on loopback: the API's incident read and the dashboard.

    python3 bench/http_read.py [--incidents N] [--open M] [--seconds S] [--connections C]

Starts the release `tocsin serve` on a fresh SQLite database, declares N incidents through
the API (M of them stay open, the rest are dismissed; each has a note), then runs
`wrk --latency` against `GET /api/v1/incidents/{id}` (bearer token) and `GET /` (session
cookie) and prints requests per second, p50 and p99 latency, and the server's resident
memory: just started, idle after seeding, and the peak under load.

wrk is installed from Debian when missing. wrk and the server share the machine's cores.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data


def api(port, token, method, path, payload):
    response, data = request(port, method, path, json.dumps(payload),
                             {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    if response.status >= 300:
        sys.exit(f"{method} {path}: {response.status} {data[:300]}")
    return json.loads(data)


def login(port, name, password):
    response, page = request(port, "GET", "/login")
    login_cookie = response.getheader("Set-Cookie").split(";")[0]
    csrf = re.search(rb'name="csrf" value="([0-9a-f]+)"', page).group(1).decode()
    form = urllib.parse.urlencode({"name": name, "password": password, "csrf": csrf, "next": "/"})
    response, _ = request(port, "POST", "/login", form,
                          {"Content-Type": "application/x-www-form-urlencoded", "Cookie": login_cookie})
    for header, value in response.getheaders():
        if header.lower() == "set-cookie" and value.startswith("tocsin_session="):
            return value.split(";")[0]
    sys.exit(f"login failed: {response.status}")


def wrk(url, header, seconds, connections, pid):
    peak = [rss_mb(pid)]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", header, url],
                         check=True, capture_output=True, text=True).stdout
    done.set()
    sampler.join()

    def latency(pct):
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, latency(50), latency(99), peak[0], int(errors.group(1)) if errors else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--open", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()

    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "tocsin-cli"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target", "release", "tocsin")

    with tempfile.TemporaryDirectory() as work:
        port = free_port()
        env = dict(os.environ, TOCSIN_DB=f"sqlite:{work}/tocsin-data/tocsin.db", TOCSIN_LOG="warn", TOCSIN_ACTOR="bench")
        server = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}"], cwd=work, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    if request(port, "GET", "/readyz")[0].status == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            started_rss = rss_mb(server.pid)
            token = json.loads(subprocess.run([binary, "--json", "token", "create", "--name", "bench", "--scope", "read,respond"],
                                              cwd=work, env=env, check=True, capture_output=True, text=True).stdout)["secret"]
            with open(os.path.join(work, "tocsin-data", "initial-admin-password")) as f:
                admin, password = f.read().split()
            for i in range(args.incidents):
                severity = f"P{i % 4 + 1}"
                doc = api(port, token, "POST", "/api/v1/incidents", {"title": f"Incident {i}", "severity": severity})
                number = doc["incident"]["id"]
                api(port, token, "POST", f"/api/v1/incidents/{number}/actions", {"action": "add_note", "text": "looked at it"})
                if i >= args.open:
                    api(port, token, "POST", f"/api/v1/incidents/{number}/actions", {"action": "dismiss", "reason": "bench"})
            target = f"INC-{args.incidents // 2:04d}"
            time.sleep(2)
            seeded_rss = rss_mb(server.pid)
            cookie = login(port, admin, password)
            time.sleep(2)
            idle_rss = rss_mb(server.pid)
            print(f"tocsin serve, SQLite, {args.incidents} incidents ({args.open} open), wrk -t2 -c{args.connections} -d{args.seconds}s")
            print(f"RSS: {started_rss:.1f} MB just started, {seeded_rss:.1f} MB idle after seeding, {idle_rss:.1f} MB after a login")
            for name, path, header in [
                (f"GET /api/v1/incidents/{target}", f"/api/v1/incidents/{target}", f"Authorization: Bearer {token}"),
                ("GET / (dashboard)", "/", f"Cookie: {cookie}"),
            ]:
                rps, p50, p99, peak, errors = wrk(f"http://127.0.0.1:{port}{path}", header, args.seconds, args.connections, server.pid)
                note = f", {errors} non-2xx" if errors else ""
                print(f"{name:40} {rps:9.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   peak RSS {peak:.1f} MB{note}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
