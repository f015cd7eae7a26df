#!/usr/bin/env python3
"""Times `tocsin clocks` end to end (process start, query, rendering) over N open incidents.

    python3 bench/cli_clocks.py [N]        # default 10000, SQLite in a temporary folder

Declares N incidents through the release binary (one process each, as a user would), then
runs `tocsin clocks` and `tocsin clocks --json` 20 times each and prints p50/p95.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000

subprocess.run(["cargo", "build", "--release", "-q", "-p", "tocsin-cli"], cwd=ROOT, check=True)
BIN = os.path.join(ROOT, "target", "release", "tocsin")

with tempfile.TemporaryDirectory() as work:
    env = dict(os.environ, TOCSIN_DB=f"sqlite:{work}/tocsin.db", TOCSIN_ACTOR="bench", NO_COLOR="1")
    env.pop("TOCSIN_PLAN", None)

    def tocsin(*args):
        return subprocess.run([BIN, *args], cwd=work, env=env, check=True, capture_output=True, text=True)

    tocsin("init", "--preset", "four-tier")
    started = time.perf_counter()
    for i in range(N):
        tocsin("incident", "declare", "--title", f"Incident {i}", "--severity", f"P{i % 4 + 1}")
        if i % 1000 == 999:
            print(f"  declared {i + 1}", file=sys.stderr)
    declare_s = time.perf_counter() - started
    print(f"declare via CLI: {N} incidents in {declare_s:.1f} s ({N / declare_s:.0f}/s, process start included)")

    for args in (["clocks"], ["clocks", "--json"]):
        samples = []
        for _ in range(20):
            t = time.perf_counter()
            out = tocsin(*args).stdout
            samples.append((time.perf_counter() - t) * 1000)
        samples.sort()
        lines = out.count("\n")
        print(
            f"tocsin {' '.join(args):<14} p50 {statistics.median(samples):6.1f} ms  "
            f"p95 {samples[int(len(samples) * 0.95) - 1]:6.1f} ms  ({len(out)} bytes, {lines} lines)"
        )
