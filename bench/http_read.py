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
import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse

from common import PeakRss, Server, build, ensure_wrk, request, rss_mb


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
    with PeakRss(pid) as rss:
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", header, url],
                             check=True, capture_output=True, text=True).stdout

    def latency(pct):
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, latency(50), latency(99), rss.peak, int(errors.group(1)) if errors else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--open", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()

    ensure_wrk()
    build()
    with tempfile.TemporaryDirectory() as work:
        server = Server(work)
        port = server.port
        try:
            started_rss = rss_mb(server.process.pid)
            token = server.token("bench", "read,respond")
            admin, password = server.admin_password()
            for i in range(args.incidents):
                severity = f"P{i % 4 + 1}"
                doc = api(port, token, "POST", "/api/v1/incidents", {"title": f"Incident {i}", "severity": severity})
                number = doc["incident"]["id"]
                api(port, token, "POST", f"/api/v1/incidents/{number}/actions", {"action": "add_note", "text": "looked at it"})
                if i >= args.open:
                    api(port, token, "POST", f"/api/v1/incidents/{number}/actions", {"action": "dismiss", "reason": "bench"})
            target = f"INC-{args.incidents // 2:04d}"
            time.sleep(2)
            seeded_rss = rss_mb(server.process.pid)
            cookie = login(port, admin, password)
            time.sleep(2)
            idle_rss = rss_mb(server.process.pid)
            print(f"tocsin serve, SQLite, {args.incidents} incidents ({args.open} open), wrk -t2 -c{args.connections} -d{args.seconds}s")
            print(f"RSS: {started_rss:.1f} MB just started, {seeded_rss:.1f} MB idle after seeding, {idle_rss:.1f} MB after a login")
            for name, path, header in [
                (f"GET /api/v1/incidents/{target}", f"/api/v1/incidents/{target}", f"Authorization: Bearer {token}"),
                ("GET / (dashboard)", "/", f"Cookie: {cookie}"),
            ]:
                rps, p50, p99, peak, errors = wrk(f"http://127.0.0.1:{port}{path}", header, args.seconds, args.connections, server.process.pid)
                note = f", {errors} non-2xx" if errors else ""
                print(f"{name:40} {rps:9.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   peak RSS {peak:.1f} MB{note}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
