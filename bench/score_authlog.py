#!/usr/bin/env python3
"""tocsin's detectors against the ground truth of a generated OpenSSH log, end to end.

    python3 bench/score_authlog.py [--lines N] [--seed S]

Generates an N-line log with ../shared/bench/gen_authlog.py (1,000,000 by default), runs
`tocsin ingest --format sshd` on it into a fresh SQLite database, reads `tocsin signals
--json`, and checks the done criteria: the brute_force detector flags exactly the sources
the truth flags under the classic rule, no benign source is flagged by any detector, every
slow campaign is caught, every brute force that got in is a compromise. Prints recall per
class and the sources each detector flagged (campaign signals flag their sources), and
the same through the shared score_flagged.py for the brute_force detector.
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

from common import ROOT, build, ingest_sshd_log

SHARED = os.path.join(os.path.dirname(ROOT), "shared", "bench")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    build()
    with tempfile.TemporaryDirectory() as work:
        subprocess.run([sys.executable, os.path.join(SHARED, "gen_authlog.py"), str(args.lines), "--seed",
                        str(args.seed), "--outdir", work, "--prefix", "auth"], check=True, capture_output=True)
        summary, signals = ingest_sshd_log(work)
        print(summary)
        truth = json.load(open(os.path.join(work, "auth.truth.json")))["ips"]
        by = collections.defaultdict(set)
        for s in signals:
            by[s["detector"]].update(s["evidence"]["sources"] or [s["key"]])
        flagged_file = os.path.join(work, "brute_force.txt")
        with open(flagged_file, "w") as f:
            f.write("\n".join(sorted(by["brute_force"])))
        shared = subprocess.run([sys.executable, os.path.join(SHARED, "score_flagged.py"),
                                 os.path.join(work, "auth.truth.json"), flagged_file],
                                capture_output=True, text=True).stdout

    label = {ip: v["label"] for ip, v in truth.items()}
    members = collections.defaultdict(set)
    for ip, l in label.items():
        members[l].add(ip)
    flagged_any = set().union(*by.values()) if by else set()
    checks = {
        "brute_force flags exactly the truth's flagged sources":
            by["brute_force"] == {ip for ip, v in truth.items() if v["flagged"]},
        "no benign source flagged": not (members["benign"] & flagged_any),
        "every slow campaign caught": members["slow"] <= by["slow_brute_force"] | by["brute_force"],
        "every bruteforce_success is a compromise": members["bruteforce_success"] <= by["compromise"],
    }
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    print(f"{'class':20} {'sources':>7} {'flagged':>7} {'recall':>7}")
    for l in sorted(members):
        n, caught = len(members[l]), len(members[l] & flagged_any)
        print(f"{l:20} {n:7} {caught:7} {100 * caught / n:6.1f}%")
    print(f"{'detector':22} {'sources':>7}")
    for d in sorted(by):
        print(f"{d:22} {len(by[d]):7}")
    print("score_flagged.py on the brute_force detector:")
    print(shared.strip())
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
