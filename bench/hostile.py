#!/usr/bin/env python3
"""What hostile senders cost the server: peak resident memory under the loads of the
security probe (issue 16), and how many passwords a burst of logins gets checked.

    python3 bench/hostile.py [--rounds R] [--seconds S]

Starts the release `tocsin serve` on a fresh SQLite database for each load and samples
its resident memory every 0.1 s:
- a 61 KB gzip body expanding to 31 million lines, to `POST /api/v1/events`, once and
  two at a time; then 16 MiB of short lines, not compressed;
- 100 connections without a key, each sending 16 MiB to `/api/v2/alerts`; then four
  clients sending compressed Sentry envelopes without a key for S seconds, while
  `/healthz` is asked every 0.1 s (median and p99 of its answer times);
- distinct label sets posted to `/api/v2/alerts` for S seconds, then the memory after a
  restart, while the open alerts are loaded and the backlog read again;
- 40 and 200 logins at once for one account, one of them with the right password: how
  many had their password checked.
Prints the median of R rounds for each figure.
"""
import argparse
import gzip
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse

from common import BINARY, PeakRss, Server, build

MIB = 1024 * 1024


def post_raw(port, path, body, headers=None, timeout=120):
    """Sends a request on a plain socket, body in pieces; its status, or the error."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    for name, value in (headers or {}).items():
        head += f"{name}: {value}\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            try:
                s.sendall(head.encode() + b"\r\n")
                view = memoryview(body)
                for at in range(0, len(body), 256 * 1024):
                    s.sendall(view[at:at + 256 * 1024])
            except OSError:
                pass  # answered before the body was read: the answer is still there
            answer = s.recv(64)
            return answer.split(b" ")[1].decode() if answer else "closed"
    except OSError as e:
        return type(e).__name__


def at_once(n, work):
    results = [None] * n
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, work(i))) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def measured(server, load):
    with PeakRss(server.process.pid) as peak:
        started = time.time()
        statuses = load()
        took = time.time() - started
    return peak.peak, took, statuses


def events_bombs(work):
    server = Server(work)
    token = server.token("bench", "ingest")
    bomb = gzip.compress(b"x\n" * 31_000_000, 9)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson",
               "Content-Encoding": "gzip"}
    plain = b"x\n" * (8 * MIB)
    plain_headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    figures = {
        "gzip bomb (61 KB), one": measured(server, lambda: [post_raw(server.port, "/api/v1/events", bomb, headers)]),
        "gzip bomb, two at once": measured(server, lambda: at_once(2, lambda _: post_raw(
            server.port, "/api/v1/events", bomb, headers))),
        "16 MiB of short lines": measured(server, lambda: [post_raw(server.port, "/api/v1/events", plain,
                                                                    plain_headers)]),
    }
    server.stop()
    return figures, len(bomb)


def keyless_senders(work, seconds):
    server = Server(work)
    big = b"[" + b" " * (16 * MIB - 2) + b"]"
    alerts = measured(server, lambda: at_once(100, lambda _: post_raw(
        server.port, "/api/v2/alerts", big, {"Content-Type": "application/json"})))
    item = json.dumps({"message": "x" * 1000, "extra": {"pad": "y" * (40 * MIB)}}).encode()
    envelope = gzip.compress(b"{}\n" + b'{"type":"event"}\n' + item + b"\n", 9)
    stop = threading.Event()

    def client(_):
        sent = 0
        while not stop.is_set():
            post_raw(server.port, "/api/1/envelope/", envelope, {"Content-Encoding": "gzip"})
            sent += 1
        return sent

    latencies = []

    def health():
        while not stop.is_set():
            started = time.time()
            s = socket.create_connection(("127.0.0.1", server.port))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            s.recv(64)
            s.close()
            latencies.append((time.time() - started) * 1000)
            time.sleep(0.1)

    with PeakRss(server.process.pid) as peak:
        prober = threading.Thread(target=health)
        prober.start()
        clients = threading.Thread(target=lambda: at_once(4, client))
        clients.start()
        time.sleep(seconds)
        stop.set()
        clients.join()
        prober.join()
    latencies.sort()
    server.stop()
    return alerts, (peak.peak, len(envelope), statistics.median(latencies),
                    latencies[int(len(latencies) * 0.99) - 1])


def cardinality(work, seconds):
    server = Server(work)
    key = server.cli("integration", "add", "alertmanager", "--name", "prometheus")["key"]
    stop = threading.Event()
    counter = [0]

    def sender(worker):
        n = 0
        while not stop.is_set():
            alerts = [{"labels": {"alertname": "Cardinality", "series": f"{worker}-{n}-{i}"}} for i in range(1000)]
            n += 1
            status = post_raw(server.port, "/api/v2/alerts", json.dumps(alerts).encode(),
                              {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            if status == "200":
                counter[0] += 1000
        return n

    with PeakRss(server.process.pid) as peak:
        senders = threading.Thread(target=lambda: at_once(4, sender))
        senders.start()
        time.sleep(seconds)
        stop.set()
        senders.join()
        time.sleep(3)
    server.process.terminate()
    server.process.wait(timeout=60)
    again = Server.__new__(Server)
    again.work, again.port, again.env = work, server.port, server.env
    again.process = subprocess.Popen(server.process.args, cwd=work, env=server.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The detectors read the backlog again and the open alerts are loaded: the peak of that.
    time.sleep(0.2)
    with PeakRss(again.process.pid) as reloaded:
        time.sleep(20)
    after = reloaded.peak
    again.stop()
    return counter[0], peak.peak, after


def login_burst(work, n):
    server = Server(work)
    subprocess.run([BINARY, "user", "add", "dana", "--role", "responder", "--password-stdin"],
                   input="the right password 1", text=True, cwd=work, env=server.env, check=True,
                   capture_output=True)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    page = b""
    while chunk := s.recv(65536):
        page += chunk
    s.close()
    text = page.decode()
    cookie = [line.split(":", 1)[1].split(";")[0].strip() for line in text.split("\r\n")
              if line.lower().startswith("set-cookie:")][0]
    csrf = text.split('name="csrf" value="')[1].split('"')[0]

    def attempt(i):
        password = "the right password 1" if i == n - 1 else f"wrong password {i}"
        body = urllib.parse.urlencode({"name": "dana", "password": password, "csrf": csrf}).encode()
        return post_raw(server.port, "/login", body, {"Cookie": cookie,
                                                      "Content-Type": "application/x-www-form-urlencoded"})

    statuses = at_once(n, attempt)
    db = sqlite3.connect(os.path.join(work, "tocsin-data", "tocsin.db"))
    checked = db.execute(
        "SELECT COUNT(*) FROM login_attempts WHERE outcome IN ('success', 'bad_password')").fetchone()[0]
    db.close()
    server.stop()
    return checked, statuses.count("303")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--only", choices=["events", "keyless", "alerts", "logins"], action="append",
                        help="run only these loads (repeat for several)")
    args = parser.parse_args()
    wanted = set(args.only or ["events", "keyless", "alerts", "logins"])
    build()
    rounds = {}

    def keep(name, value):
        rounds.setdefault(name, []).append(value)

    for _ in range(args.rounds):
        if "events" in wanted:
            with tempfile.TemporaryDirectory() as work:
                figures, size = events_bombs(work)
                for name, (peak, took, statuses) in figures.items():
                    keep(f"item 3, {name}: peak RSS MB", peak)
                    keep(f"item 3, {name}: seconds", took)
                    keep(f"item 3, {name}: answers", "/".join(statuses))
                keep("item 3, gzip bomb size KB", size / 1000)
        if "keyless" in wanted:
            with tempfile.TemporaryDirectory() as work:
                (peak, took, statuses), (env_peak, env_size, p50, p99) = keyless_senders(work, min(args.seconds, 10))
                keep("item 4, 100 keyless 16 MiB alert posts: peak RSS MB", peak)
                keep("item 4, 100 keyless 16 MiB alert posts: seconds", took)
                keep("item 4, 100 keyless 16 MiB alert posts: answered 401", statuses.count("401"))
                keep("item 4, keyless Sentry envelopes: peak RSS MB", env_peak)
                keep("item 4, keyless Sentry envelope size KB", env_size / 1000)
                keep("item 4, /healthz p50 ms under them", p50)
                keep("item 4, /healthz p99 ms under them", p99)
        if "alerts" in wanted:
            with tempfile.TemporaryDirectory() as work:
                sent, peak, after = cardinality(work, args.seconds)
                keep("item 5, distinct alerts accepted", sent)
                keep("item 5, peak RSS MB", peak)
                keep("item 5, peak RSS MB in the 20 s after a restart", after)
        if "logins" in wanted:
            for n in (40, 200):
                with tempfile.TemporaryDirectory() as work:
                    checked, logged_in = login_burst(work, n)
                    keep(f"item 1, {n} logins at once: passwords checked", checked)
                    keep(f"item 1, {n} logins at once: logged in", logged_in)
    for name, values in rounds.items():
        if isinstance(values[0], str):
            print(f"{name}: {', '.join(values)}")
        else:
            print(f"{name}: median {statistics.median(values):.1f} of {values and len(values)} "
                  f"({', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
