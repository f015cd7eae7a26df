#!/usr/bin/env python3
"""Blocks as bouncers see them: the decisions stream with many blocks, and the time a block
takes to reach a real bouncer.

    python3 bench/blocks.py [--blocks N] [--rounds N] [--reach N] [--peer]

Part one: a fresh SQLite database holding N blocks in force (100,000 by default; written
straight into the table, as many additions would leave it), a release `tocsin serve`, and
one bouncer key. Times `GET /v1/decisions/stream?startup=true` (every block, as a bouncer
starting) and a delta after 10 additions and 5 removals, each the median of ROUNDS, with
the size of the answer and the server's peak resident memory.

With --peer, the same pulls are timed against CrowdSec's own Local API in the same run: its
binaries taken out of Debian's `crowdsec` package (`apt-get download`, `dpkg-deb -x`, so
that no install script runs or reaches the internet), an SQLite database, the same N
decisions imported with `cscli decisions import`, then 10 added and 5 deleted with cscli.

Part two: Debian's `crowdsec-custom-bouncer` (`.ci/ensure-bouncers` installs it) pointed at
the server, its program noting when it is run. Times `tocsin block add` (from just before
the command) until the program runs for that address, at the bouncer's default poll of 10
seconds and at 1 second, REACH times each, each block added at a random point of the
bouncer's poll; prints the median and the worst.
"""
import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time

from common import BINARY, PeakRss, Server, build, free_port, request

CUSTOM = "/usr/bin/crowdsec-custom-bouncer"


def fill(db, n):
    """N blocks in force, numbered as additions would number them."""
    now = int(time.time() * 1000)
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO blocks (network, reason, incident, created_by, created_ms, expires_ms, added_seq)"
            " VALUES (?, 'bench', NULL, 'bench', ?, ?, ?)",
            ((f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/32", now, now + 86_400_000, i + 1) for i in range(n)))
        conn.execute("UPDATE block_clock SET seq = ?", (n,))


def pull(port, key, startup):
    path = "/v1/decisions/stream" + ("?startup=true" if startup else "")
    start = time.perf_counter()
    response, body = request(port, "GET", path, headers={"X-Api-Key": key})
    took = time.perf_counter() - start
    assert response.status == 200, body[:200]
    doc = json.loads(body)
    return took, len(body), len(doc["new"] or []), len(doc["deleted"] or [])


def stream(args):
    with tempfile.TemporaryDirectory() as work:
        env = dict(os.environ, TOCSIN_DB=f"sqlite:{work}/tocsin-data/tocsin.db", TOCSIN_ACTOR="bench")
        subprocess.run([BINARY, "init", "--preset", "four-tier"], cwd=work, env=env, check=True, capture_output=True)
        Server(work).stop()  # creates and migrates the database
        fill(f"{work}/tocsin-data/tocsin.db", args.blocks)
        server = Server(work)
        try:
            key = server.cli("integration", "add", "crowdsec-bouncer", "--name", "bench")["key"]
            with PeakRss(server.process.pid) as peak:
                startups = [pull(server.port, key, True) for _ in range(args.rounds)]
                deltas = []
                for r in range(args.rounds):
                    added = [server.cli("block", "add", f"192.0.2.{r * 10 + i}", "--reason", "bench")["id"]
                             for i in range(10)]
                    for block in added[:5]:
                        server.cli("block", "remove", str(block))
                    deltas.append(pull(server.port, key, False))
            took = statistics.median(s[0] for s in startups)
            print(f"startup pull with {args.blocks} blocks: {took * 1000:.0f} ms (median of {args.rounds}), "
                  f"{startups[0][1] / 1e6:.1f} MB, {startups[0][2]} decisions")
            took = statistics.median(d[0] for d in deltas)
            print(f"delta pull (10 added, 5 of them removed): {took * 1000:.1f} ms (median of {args.rounds}), "
                  f"{deltas[0][1]} bytes, {deltas[0][2]} new, {deltas[0][3]} deleted")
            print(f"server peak RSS: {peak.peak:.0f} MB")
        finally:
            server.stop()


def crowdsec(work):
    """CrowdSec's crowdsec and cscli from Debian's package, unpacked into `work`."""
    subprocess.run(["apt-get", "download", "-qq", "crowdsec"], cwd=work, check=True, capture_output=True)
    package = next(f for f in os.listdir(work) if f.startswith("crowdsec_") and f.endswith(".deb"))
    root = os.path.join(work, "root")
    subprocess.run(["dpkg-deb", "-x", package, root], cwd=work, check=True)
    return root


def peer(args):
    with tempfile.TemporaryDirectory() as work:
        root = crowdsec(work)
        lapi = os.path.join(work, "lapi")
        os.makedirs(os.path.join(lapi, "data"))
        shutil.copy(os.path.join(root, "etc/crowdsec/profiles.yaml"), lapi)
        shutil.copy(os.path.join(root, "etc/crowdsec/simulation.yaml"), lapi)
        port = free_port()
        config = os.path.join(lapi, "config.yaml")
        with open(config, "w") as f:
            f.write(f"common:\n  daemonize: false\n  log_media: stdout\n  log_level: warning\n"
                    f"config_paths:\n  config_dir: {lapi}/\n  data_dir: {lapi}/data/\n"
                    f"  simulation_path: {lapi}/simulation.yaml\n  hub_dir: {lapi}/hub/\n"
                    f"  index_path: {lapi}/hub/.index.json\n"
                    f"db_config:\n  log_level: warning\n  type: sqlite\n  use_wal: true\n"
                    f"  db_path: {lapi}/data/crowdsec.db\n"
                    f"api:\n  client:\n    credentials_path: {lapi}/local_api_credentials.yaml\n"
                    f"  server:\n    log_level: warning\n    listen_uri: 127.0.0.1:{port}\n"
                    f"    profiles_path: {lapi}/profiles.yaml\n    trusted_ips: [127.0.0.1]\n"
                    f"prometheus:\n  enabled: false\n")
        cscli = [os.path.join(root, "usr/bin/cscli"), "-c", config]
        run = lambda *a: subprocess.run([*cscli, *a], check=True, capture_output=True, text=True)
        run("machines", "add", "bench", "--auto", "-f", os.path.join(lapi, "local_api_credentials.yaml"))
        key = "0123456789abcdef0123456789abcdef"
        run("bouncers", "add", "bench", "-k", key)
        server = subprocess.Popen([os.path.join(root, "usr/bin/crowdsec"), "-c", config, "-no-cs"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(3)
            with open(os.path.join(lapi, "d.csv"), "w") as f:
                f.write("value,duration,reason\n")
                for i in range(args.blocks):
                    f.write(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255},24h,bench\n")
            run("decisions", "import", "-i", os.path.join(lapi, "d.csv"))
            with PeakRss(server.pid) as peak:
                startups = [pull(port, key, True) for _ in range(args.rounds)]
                deltas = []
                for r in range(args.rounds):
                    for i in range(10):
                        run("decisions", "add", "-i", f"192.0.2.{r * 10 + i}", "-d", "24h", "-R", "bench")
                    for i in range(5):
                        run("decisions", "delete", "-i", f"192.0.2.{r * 10 + i}")
                    deltas.append(pull(port, key, False))
            took = statistics.median(s[0] for s in startups)
            print(f"CrowdSec LAPI, startup pull with {args.blocks} decisions: {took * 1000:.0f} ms (median of "
                  f"{args.rounds}), {startups[0][1] / 1e6:.1f} MB, {startups[0][2]} decisions")
            took = statistics.median(d[0] for d in deltas)
            print(f"CrowdSec LAPI, delta pull: {took * 1000:.1f} ms (median of {args.rounds}), {deltas[0][1]} bytes, "
                  f"{deltas[0][2]} new, {deltas[0][3]} deleted")
            print(f"CrowdSec LAPI peak RSS: {peak.peak:.0f} MB")
        finally:
            server.terminate()
            server.wait()


def reach(args, every):
    with tempfile.TemporaryDirectory() as work:
        env = dict(os.environ, TOCSIN_DB=f"sqlite:{work}/tocsin-data/tocsin.db", TOCSIN_ACTOR="bench")
        subprocess.run([BINARY, "init", "--preset", "four-tier"], cwd=work, env=env, check=True, capture_output=True)
        server = Server(work)
        seen = os.path.join(work, "seen")
        program = os.path.join(work, "enforce.sh")
        with open(program, "w") as f:
            f.write(f"#!/bin/sh\n[ \"$1\" = add ] && echo \"$2 $(date +%s.%N)\" >> {seen}\nexit 0\n")
        os.chmod(program, 0o755)
        key = server.cli("integration", "add", "crowdsec-bouncer", "--name", "custom")["key"]
        config = os.path.join(work, "custom.yaml")
        with open(config, "w") as f:
            f.write(f"bin_path: {program}\nfeed_via_stdin: false\ntotal_retries: 0\nscenarios_containing: []\n"
                    f"scenarios_not_containing: []\norigins: []\npiddir: {work}/\nupdate_frequency: {every}\n"
                    f"cache_retention_duration: 10s\ndaemonize: false\nlog_mode: stdout\nlog_level: warning\n"
                    f"api_url: http://127.0.0.1:{server.port}/\napi_key: {key}\n"
                    f"prometheus:\n  enabled: false\n  listen_addr: 127.0.0.1\n  listen_port: 60602\n")
        bouncer = subprocess.Popen([CUSTOM, "-c", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(2)
            times = []
            period = float(every.rstrip("s"))
            for i in range(args.reach):
                address = f"198.51.100.{i + 1}"
                # Anywhere in the bouncer's poll, not just after the last one.
                time.sleep(random.uniform(0, period))
                start = time.time()
                server.cli("block", "add", address, "--reason", "bench")
                deadline = start + 60
                while True:
                    arrived = None
                    if os.path.exists(seen):
                        with open(seen) as f:
                            for line in f:
                                ip, at = line.split()
                                if ip.split("/")[0] == address:
                                    arrived = float(at)
                    if arrived:
                        times.append(arrived - start)
                        break
                    if time.time() > deadline:
                        raise SystemExit(f"{address} did not reach the bouncer within 60 s")
                    time.sleep(0.02)
            print(f"block -> crowdsec-custom-bouncer, poll {every}: median {statistics.median(times):.2f} s, "
                  f"worst {max(times):.2f} s (n={len(times)})")
        finally:
            bouncer.terminate()
            bouncer.wait()
            server.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reach", type=int, default=10)
    parser.add_argument("--peer", action="store_true", help="time CrowdSec's own Local API too")
    args = parser.parse_args()
    build()
    stream(args)
    if args.peer:
        peer(args)
    if args.reach == 0:
        return
    if not shutil.which(CUSTOM):
        print("crowdsec-custom-bouncer is not installed (.ci/ensure-bouncers): the reach part is skipped")
        return
    reach(args, "1s")
    reach(args, "10s")


if __name__ == "__main__":
    main()
