#!/usr/bin/env python3
"""From an alert to a notification, end to end: tocsin against Debian's Alertmanager.

    python3 bench/latency.py [--samples N] [--gap MS]

One receiver on loopback takes the webhooks of both. tocsin (release build, fresh SQLite
database) has an alertmanager integration, and a plan whose route sends `declared` news
to a signed webhook channel: each alert, a new alert name, opens an incident whose
notification is the one timed. Alertmanager runs with `group_wait: 0s`, grouping by
alert name, and a webhook receiver. Each sample posts one new alert to one of them (in
turn) and times it from just before the POST until the receiver has the webhook that
names it. Both answer the POST first, so the time covers the whole path: intake,
detection, the incident, the outbox and delivery for tocsin; intake, dispatch and
notification for Alertmanager. Prints p50, p90, p99 and the worst for each.
"""
import argparse
import http.server
import json
import os
import subprocess
import tempfile
import threading
import time

from common import BINARY, Server, build, free_port, request
import alerts_v2
from alerts_v2 import AM

SECRET = "a-secret-of-32-bytes-for-bench!!"


class Receiver(http.server.ThreadingHTTPServer):
    """Notes when each webhook body arrived, by the alert names it mentions."""

    def __init__(self):
        self.seen, self.changed = {}, threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                now = time.perf_counter()
                self.send_response(200)
                self.end_headers()
                text = body.decode("utf-8", "replace")
                with receiver.changed:
                    for word in text.replace('"', " ").replace(":", " ").split():
                        if word.startswith("BenchAlert") and word not in receiver.seen:
                            receiver.seen[word] = now
                    receiver.changed.notify_all()

            def log_message(self, *_):
                pass

        super().__init__(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def wait(self, name, timeout=10.0):
        deadline = time.perf_counter() + timeout
        with self.changed:
            while name not in self.seen:
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise SystemExit(f"no webhook named {name} within {timeout} s")
                self.changed.wait(left)
            return self.seen[name]


def start_alertmanager(work, hook):
    return alerts_v2.start_alertmanager(
        work,
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 0s\n  group_interval: 1s\n"
        "  repeat_interval: 1h\n"
        f"receivers:\n  - name: hook\n    webhook_configs:\n      - url: {hook}\n        send_resolved: false\n",
    )


def alert(name):
    return json.dumps([{"labels": {"alertname": name, "instance": "web-1:9100", "severity": "critical"},
                        "annotations": {"summary": f"{name} fired"}}])


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round((len(values) - 1) * p))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200, help="alerts to each")
    parser.add_argument("--gap", type=int, default=50, help="milliseconds between alerts")
    args = parser.parse_args()
    if not os.path.exists(AM):
        raise SystemExit("prometheus-alertmanager is missing: run .ci/ensure-alerting")
    build()
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as work:
        os.environ["TOCSIN_BENCH_HOOK_SECRET"] = SECRET
        subprocess.run([BINARY, "init"], cwd=work, check=True, capture_output=True)
        with open(os.path.join(work, "tocsin.toml"), "a") as f:
            f.write(f'\n[[channel]]\nname = "hook"\ntype = "webhook"\nurl = "{receiver.url("/tocsin")}"\n'
                    'secret_env = "TOCSIN_BENCH_HOOK_SECRET"\n\n[[route]]\nchannels = ["hook"]\n'
                    'events = ["declared"]\n')
        server = Server(work)
        am, am_port = start_alertmanager(work, receiver.url("/alertmanager"))
        try:
            key = server.cli("integration", "add", "alertmanager", "--name", "prometheus")["key"]
            targets = {
                "tocsin": (server.port, {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}),
                "alertmanager": (am_port, {"Content-Type": "application/json"}),
            }
            times = {name: [] for name in targets}
            for i in range(args.samples * 2):
                name = ["tocsin", "alertmanager"][i % 2]
                port, headers = targets[name]
                label = f"BenchAlert{i}"
                started = time.perf_counter()
                response, body = request(port, "POST", "/api/v2/alerts", alert(label), headers)
                if response.status != 200:
                    raise SystemExit(f"{name} answered {response.status}: {body[:200]!r}")
                times[name].append((receiver.wait(label) - started) * 1000)
                time.sleep(args.gap / 1000)
        finally:
            server.stop()
            am.terminate()
            am.wait(timeout=30)
    version = subprocess.run([AM, "--version"], capture_output=True, text=True)
    version = (version.stdout + version.stderr).split("\n")[0]
    print(f"one alert in, its webhook received: {args.samples} alerts each, {args.gap} ms apart, alternating")
    print(f"peer: {version} (group_wait 0s)")
    for name, values in times.items():
        print(f"  {name:12} p50 {percentile(values, 0.5):8.1f} ms   p90 {percentile(values, 0.9):8.1f} ms   "
              f"p99 {percentile(values, 0.99):8.1f} ms   worst {max(values):8.1f} ms")


if __name__ == "__main__":
    main()
