#!/usr/bin/env python3
"""Durable HTTP ingestion on SQLite: NDJSON events posted with wrk on loopback.

    python3 bench/http_ingest.py [--per-request N] [--seconds S] [--connections C] [--gzip]

Starts the release `tocsin serve` on a fresh SQLite database and runs `wrk` posting the
same NDJSON body of N auth events (taken from the generated OpenSSH workload committed
as a test fixture) to `POST /api/v1/events` with an ingest token. Every 200 means the
events were committed before the answer. Prints events per second (requests per second
times N, checked against the rows in the database afterwards), p50 and p99 latency per
request, and the server's peak resident memory. wrk and the server share the 2 cores.
"""
import argparse
import gzip
import os
import re
import sqlite3
import subprocess
import tempfile
import time

from common import ROOT, PeakRss, Server, build, ensure_wrk

FIXTURE = os.path.join(ROOT, "crates", "tocsin-detect", "tests", "fixtures", "sshd-20k.ndjson.gz")

LUA = """
local f = io.open("{body}", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/x-ndjson"
wrk.headers["Authorization"] = "Bearer {token}"
{encoding}
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-request", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args()

    ensure_wrk()
    build()
    with gzip.open(FIXTURE, "rt") as f:
        lines = [line for line in f if line.strip()][: args.per_request]
    if len(lines) < args.per_request:
        raise SystemExit(f"the fixture holds only {len(lines)} events")
    body = "".join(lines).encode()

    with tempfile.TemporaryDirectory() as work:
        server = Server(work)
        try:
            token = server.token("bench", "ingest")
            body_path = os.path.join(work, "body.ndjson")
            with open(body_path, "wb") as f:
                f.write(gzip.compress(body, 1) if args.gzip else body)
            script = os.path.join(work, "post.lua")
            with open(script, "w") as f:
                f.write(LUA.format(body=body_path, token=token,
                                   encoding='wrk.headers["Content-Encoding"] = "gzip"' if args.gzip else ""))
            url = f"http://127.0.0.1:{server.port}/api/v1/events"
            with PeakRss(server.process.pid) as rss:
                out = subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--latency",
                                      "-s", script, url], check=True, capture_output=True, text=True).stdout
            time.sleep(1)
        finally:
            server.stop()
        stored = sqlite3.connect(os.path.join(work, "tocsin-data", "tocsin.db")).execute(
            "SELECT COUNT(*) FROM events").fetchone()[0]

    def latency(pct):
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(errors.group(1)) if errors else 0
    print(f"POST /api/v1/events, SQLite, durable, {args.per_request} auth events per request"
          f"{' (gzip)' if args.gzip else ''}, {len(body) // 1024} KiB body, wrk -t2 -c{args.connections} -d{args.seconds}s")
    print(f"{rps * args.per_request:10.0f} events/s   {rps:7.1f} req/s   p50 {latency(50):7.2f} ms   "
          f"p99 {latency(99):7.2f} ms   peak RSS {rss.peak:.1f} MB")
    print(f"stored {stored} events for {requests - errors} acknowledged requests "
          f"({(requests - errors) * args.per_request} events){f'; {errors} non-2xx' if errors else ''}")


if __name__ == "__main__":
    main()
