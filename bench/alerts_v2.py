#!/usr/bin/env python3
"""Alerts posted to `POST /api/v2/alerts`, tocsin against Debian's Alertmanager, side by side.

    python3 bench/alerts_v2.py [--seconds S] [--connections C] [--rounds R] [--pool N]

Starts the release `tocsin serve` on a fresh SQLite database (with an alertmanager
integration, whose key goes as the bearer token) and `prometheus-alertmanager` with a
receiver that sends nothing, then runs `wrk` against each in turn, R rounds, with the
same workload: batches of 100 alerts, each a distinct label set, cycling through a pool
of N alerts as Prometheus re-sends its firing alerts. Prints alerts accepted per second
(requests per second times 100), p50 and p99 latency per request, peak memory, and the
ratio. tocsin answers 200 once the batch is committed to its event log; afterwards the
stored batches are counted against the acknowledged requests, and the time the
detectors' leader needed to bring every alert up to date is reported. Alertmanager keeps
alerts in memory (a snapshot every 15 minutes). wrk and the server share the 2 cores.
"""
import argparse
import os
import re
import sqlite3
import subprocess
import tempfile
import time

from common import PeakRss, Server, build, ensure_wrk, free_port, request

AM = "/usr/bin/prometheus-alertmanager"
BATCH = 100

LUA = """
local bodies = {{}}
for b = 0, {batches} - 1 do
  local parts = {{}}
  for i = 0, {batch} - 1 do
    parts[#parts+1] = string.format('{{"labels":{{"alertname":"HighLatency","instance":"web-%d-%d:9100","job":"node","severity":"warning"}},"annotations":{{"summary":"p99 latency above 500ms on web-%d-%d"}},"generatorURL":"http://prometheus:9090/graph?g0.expr=latency"}}', b, i, b, i)
  end
  bodies[#bodies+1] = "[" .. table.concat(parts, ",") .. "]"
end
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{auth}
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])
end
"""


def run_wrk(url, script, seconds, connections):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url],
                         check=True, capture_output=True, text=True).stdout

    def latency(pct):
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, requests - (int(errors.group(1)) if errors else 0), latency(50), latency(99)


def start_alertmanager(work, config_text='route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n'):
    """Alertmanager on a free port with `config_text` (by default, a receiver that sends
    nothing): the process and its port."""
    if not os.path.exists(AM):
        raise SystemExit("prometheus-alertmanager is missing: run .ci/ensure-alerting")
    port = free_port()
    config = os.path.join(work, "alertmanager.yml")
    with open(config, "w") as f:
        f.write(config_text)
    process = subprocess.Popen([AM, f"--config.file={config}", f"--storage.path={work}/am-data",
                                f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            if request(port, "GET", "/-/ready")[0].status == 200:
                return process, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit("Alertmanager did not start")


def caught_up(db):
    """Waits until the stored alerts are up to date with tocsin's event log; how long it took."""
    started = time.time()
    while time.time() - started < 600:
        conn = sqlite3.connect(db)
        last = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
        cursor = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM event_cursors WHERE name = 'alerts'").fetchone()[0]
        conn.close()
        if cursor >= last:
            break
        time.sleep(0.2)
    return time.time() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pool", type=int, default=20_000, help="distinct alerts, re-sent in turn")
    args = parser.parse_args()
    batches = max(1, args.pool // BATCH)

    ensure_wrk()
    build()
    version = subprocess.run([AM, "--version"], capture_output=True, text=True)
    version = (version.stdout + version.stderr).split("\n")[0]
    with tempfile.TemporaryDirectory() as work:
        server = Server(work)
        am, am_port = start_alertmanager(work)
        try:
            key = server.cli("integration", "add", "alertmanager", "--name", "prometheus")["key"]
            scripts = {}
            for name, auth in [("tocsin", f'wrk.headers["Authorization"] = "Bearer {key}"'), ("alertmanager", "")]:
                scripts[name] = os.path.join(work, f"{name}.lua")
                with open(scripts[name], "w") as f:
                    f.write(LUA.format(batches=batches, batch=BATCH, auth=auth))
            urls = {"tocsin": f"http://127.0.0.1:{server.port}/api/v2/alerts",
                    "alertmanager": f"http://127.0.0.1:{am_port}/api/v2/alerts"}
            pids = {"tocsin": server.process.pid, "alertmanager": am.pid}
            results = {"tocsin": [], "alertmanager": []}
            acknowledged = 0
            db = os.path.join(work, "tocsin-data", "tocsin.db")
            behind = []
            for _ in range(args.rounds):
                for name in ["alertmanager", "tocsin"]:
                    with PeakRss(pids[name]) as rss:
                        rps, ok, p50, p99 = run_wrk(urls[name], scripts[name], args.seconds, args.connections)
                    results[name].append((rps * BATCH, p50, p99, rss.peak))
                    if name == "tocsin":
                        acknowledged += ok
                        # The next round starts on an idle machine: the detectors' leader
                        # first brings every alert up to date.
                        behind.append(caught_up(db))
        finally:
            server.stop()
            am.terminate()
            am.wait(timeout=30)
        conn = sqlite3.connect(db)
        stored = conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'alert'").fetchone()[0]
        alerts = conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
        conn.close()

    print(f"POST /api/v2/alerts, batches of {BATCH} alerts from a pool of {batches * BATCH} re-sent in turn, "
          f"wrk -t2 -c{args.connections} -d{args.seconds}s, {args.rounds} rounds each, alternating")
    print(f"peer: {version}")
    for name in ["alertmanager", "tocsin"]:
        for i, (aps, p50, p99, peak) in enumerate(results[name], 1):
            print(f"  {name:12} round {i}: {aps:10.0f} alerts/s   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   "
                  f"peak RSS {peak:.1f} MB")
    median = {name: sorted(r[0] for r in rows)[len(rows) // 2] for name, rows in results.items()}
    print(f"median: tocsin {median['tocsin']:.0f} alerts/s, Alertmanager {median['alertmanager']:.0f} alerts/s, "
          f"ratio {median['tocsin'] / median['alertmanager']:.2f}x")
    print(f"tocsin stored {stored} batches ({stored * BATCH} alerts) for {acknowledged} acknowledged requests; "
          f"{alerts} distinct alerts kept; after each round the alerts were up to date within "
          f"{', '.join(f'{b:.1f}' for b in behind)} s")


if __name__ == "__main__":
    main()
