#!/usr/bin/env python3
"""Probes at scale: N http probes at a 60-second interval against local HTTP targets, run by
`tocsin serve` and, in the same run, by Debian's prometheus-blackbox-exporter driven by
Prometheus scraping the same targets at the same rate (how it is run in practice).

    python3 bench/probes.py [--probes 10000] [--seconds 120] [--rounds 3]

Each side runs alone on the machine, in turn, for a warm-up of one interval (every probe
has started) and then `--seconds` of measurement. Per side:

- CPU seconds per 1,000 probe runs: the prober's own CPU (utime + stime) over the window,
  divided by the runs the target saw from it in the window (counted by User-Agent). For
  blackbox_exporter, Prometheus' CPU is reported beside it: it is the scheduler there.
- peak RSS of the prober (and of Prometheus) while probing, sampled over the window; and
  tocsin's high-water mark from its start (reading a plan of N probes, a new database's
  first admin), said apart;
- schedule lateness p99: for tocsin, how late runs started against their schedule
  (`GET /api/v1/probes`, over its last 10,000 runs); for Prometheus, the 0.99 quantile of
  its scrape interval minus the interval (`prometheus_target_interval_length_seconds`).

blackbox_exporter is installed with apt when missing. Prints each round and the medians.
"""
import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import BINARY, PeakRss, Server, build, free_port, request  # noqa: E402

INTERVAL = 60
TICK = os.sysconf("SC_CLK_TCK")


def high_water_mb(pid):
    """The most resident memory the process has had, from its start."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Targets:
    """An HTTP server on loopback answering every GET with 200 "ok", counting the requests
    by who sent them (tocsin or blackbox_exporter), on a thread of its own."""

    def __init__(self):
        self.port = free_port()
        self.counts = {"tocsin": 0, "blackbox": 0}
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        threading.Thread(target=self.run, args=(started,), daemon=True).start()
        started.wait()

    def run(self, started):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self.serve, "127.0.0.1", self.port, backlog=4096))
        started.set()
        self.loop.run_forever()
        server.close()

    async def serve(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                who = "tocsin" if b"tocsin-probe" in head else "blackbox"
                self.counts[who] += 1
                close = b"connection: close" in head.lower()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok")
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def count(self, who):
        return self.counts[who]


def tocsin_side(args, targets):
    with tempfile.TemporaryDirectory() as work:
        env = dict(os.environ, TOCSIN_DB=f"sqlite:{work}/tocsin-data/tocsin.db", TOCSIN_ACTOR="bench")
        subprocess.run([BINARY, "init", "--preset", "four-tier"], cwd=work, env=env, check=True,
                       capture_output=True)
        with open(os.path.join(work, "tocsin.toml"), "a") as plan:
            for i in range(args.probes):
                plan.write(f'\n[[probe]]\nid = "t{i}"\nname = "target {i}"\nkind = "http"\n'
                           f'url = "http://127.0.0.1:{targets.port}/t/{i}"\ninterval = "{INTERVAL}s"\n'
                           f'timeout = "5s"\n')
        server = Server(work)
        try:
            token = server.token("bench", "read")
            auth = {"Authorization": f"Bearer {token}"}
            # Starting: reading the plan of N probes, and a new database's first admin.
            startup = high_water_mb(server.process.pid)
            time.sleep(INTERVAL + 5)
            with PeakRss(server.process.pid) as peak:
                cpu0, runs0 = cpu_seconds(server.process.pid), targets.count("tocsin")
                time.sleep(args.seconds)
                cpu1, runs1 = cpu_seconds(server.process.pid), targets.count("tocsin")
                response, body = request(server.port, "GET", "/api/v1/probes", headers=auth)
                assert response.status == 200, body[:200]
                doc = json.loads(body)
            down = sum(1 for p in doc["probes"] if p["state"] != "up")
            runs = runs1 - runs0
            return {
                "cpu_per_1000": (cpu1 - cpu0) / runs * 1000,
                "runs_per_s": runs / args.seconds,
                "rss_mb": peak.peak,
                "startup_rss_mb": startup,
                "late_p99_ms": doc["schedule"]["late_p99_ms"],
                "late_max_ms": doc["schedule"]["late_max_ms"],
                "not_up": down,
            }
        finally:
            server.stop()


def ensure_blackbox():
    if not os.path.exists("/usr/bin/prometheus-blackbox-exporter"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                        "prometheus-blackbox-exporter"], check=True, capture_output=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def prometheus_quantile(port, quantile):
    url = (f"http://127.0.0.1:{port}/api/v1/query?query="
           f"prometheus_target_interval_length_seconds%7Bquantile%3D%22{quantile}%22%7D")
    with urllib.request.urlopen(url, timeout=10) as response:
        result = json.load(response)["data"]["result"]
    return max(float(r["value"][1]) for r in result) if result else float("nan")


def blackbox_side(args, targets):
    ensure_blackbox()
    with tempfile.TemporaryDirectory() as work:
        bb_port, prom_port = free_port(), free_port()
        with open(os.path.join(work, "blackbox.yml"), "w") as f:
            f.write("modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n"
                    "    http:\n      preferred_ip_protocol: ip4\n")
        with open(os.path.join(work, "targets.json"), "w") as f:
            json.dump([{"targets": [f"http://127.0.0.1:{targets.port}/t/{i}" for i in range(args.probes)]}], f)
        with open(os.path.join(work, "prometheus.yml"), "w") as f:
            f.write(f"""global:
  scrape_interval: {INTERVAL}s
  scrape_timeout: 10s
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params:
      module: [http_2xx]
    file_sd_configs:
      - files: ['{work}/targets.json']
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:{bb_port}
""")
        blackbox = subprocess.Popen(
            ["/usr/bin/prometheus-blackbox-exporter", f"--config.file={work}/blackbox.yml",
             f"--web.listen-address=127.0.0.1:{bb_port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        prometheus = subprocess.Popen(
            ["/usr/bin/prometheus", f"--config.file={work}/prometheus.yml", f"--storage.tsdb.path={work}/data",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(INTERVAL + 5)
            with PeakRss(blackbox.pid) as bb_peak, PeakRss(prometheus.pid) as prom_peak:
                bb0, prom0 = cpu_seconds(blackbox.pid), cpu_seconds(prometheus.pid)
                runs0 = targets.count("blackbox")
                time.sleep(args.seconds)
                bb1, prom1 = cpu_seconds(blackbox.pid), cpu_seconds(prometheus.pid)
                runs1 = targets.count("blackbox")
                p99 = prometheus_quantile(prom_port, "0.99")
            runs = runs1 - runs0
            return {
                "cpu_per_1000": (bb1 - bb0) / runs * 1000,
                "prometheus_cpu_per_1000": (prom1 - prom0) / runs * 1000,
                "runs_per_s": runs / args.seconds,
                "rss_mb": bb_peak.peak,
                "prometheus_rss_mb": prom_peak.peak,
                "late_p99_ms": max(0.0, (p99 - INTERVAL) * 1000),
            }
        finally:
            for process in (prometheus, blackbox):
                process.terminate()
                process.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probes", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=120, help="measured after one interval of warm-up")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    build()
    targets = Targets()
    rounds = []
    for r in range(args.rounds):
        ours = tocsin_side(args, targets)
        theirs = blackbox_side(args, targets)
        rounds.append((ours, theirs))
        print(f"round {r + 1}: tocsin {json.dumps({k: round(v, 3) for k, v in ours.items()})}")
        print(f"round {r + 1}: blackbox_exporter {json.dumps({k: round(v, 3) for k, v in theirs.items()})}",
              flush=True)
    med = lambda side, key: statistics.median(r[side][key] for r in rounds)  # noqa: E731
    print(f"\n{args.probes} http probes every {INTERVAL} s, median of {args.rounds} rounds of {args.seconds} s:")
    print(f"  tocsin:            {med(0, 'cpu_per_1000'):.3f} CPU s per 1,000 runs, "
          f"{med(0, 'runs_per_s'):.0f} runs/s, peak RSS {med(0, 'rss_mb'):.0f} MB "
          f"(starting: {med(0, 'startup_rss_mb'):.0f} MB), "
          f"lateness p99 {med(0, 'late_p99_ms'):.0f} ms, probes not up {med(0, 'not_up'):.0f}")
    print(f"  blackbox_exporter: {med(1, 'cpu_per_1000'):.3f} CPU s per 1,000 runs "
          f"(+ Prometheus {med(1, 'prometheus_cpu_per_1000'):.3f}), {med(1, 'runs_per_s'):.0f} runs/s, "
          f"peak RSS {med(1, 'rss_mb'):.0f} MB (+ Prometheus {med(1, 'prometheus_rss_mb'):.0f} MB), "
          f"scrape lateness p99 {med(1, 'late_p99_ms'):.0f} ms")
    print(f"  CPU ratio (blackbox_exporter / tocsin): {med(1, 'cpu_per_1000') / med(0, 'cpu_per_1000'):.2f}; "
          f"with Prometheus: {(med(1, 'cpu_per_1000') + med(1, 'prometheus_cpu_per_1000')) / med(0, 'cpu_per_1000'):.2f}")


if __name__ == "__main__":
    main()
