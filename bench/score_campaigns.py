#!/usr/bin/env python3
"""Distributed password sprays caught as campaigns, against the generator's own campaigns.

    python3 bench/score_campaigns.py [--lines N] [--seed S]

The ground truth of ../shared/bench/gen_authlog.py labels addresses, and the botnet draws its
addresses from the pool the background noise uses, so it cannot say which campaign an
address took part in. This script runs the generator unchanged, but notes each botnet
campaign as it is made (its start and its addresses), then runs `tocsin ingest --format
sshd` on the log and matches the `distributed_spray` signals to the campaigns: a campaign is
caught when a signal whose evidence overlaps its time names one of its addresses. Prints
the campaigns caught, the signals that match none, and how many of the addresses named
took part in the campaign they were named for.
"""
import argparse
import calendar
import importlib.util
import json
import os
import sys
import tempfile
import time

from common import ROOT, build, ingest_sshd_log

SHARED = os.path.join(os.path.dirname(ROOT), "shared", "bench")
START = "2026-01-05T00:00:00Z"
# A campaign's attempts fall within 1.6 hours of its start (the generator spreads them over
# at most an hour, plus pacing).
SPAN = 1.6 * 3600


def generate(lines, seed, work):
    spec = importlib.util.spec_from_file_location("gen_authlog", os.path.join(SHARED, "gen_authlog.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    campaigns = []

    class Noting(gen.Gen):
        def campaign_botnet(self, t):
            self.noting = {"start": t, "ips": set()}
            super().campaign_botnet(t)
            campaigns.append(self.noting)
            self.noting = None

        def cat(self, ip, c):
            if c == "botnet" and getattr(self, "noting", None) is not None:
                self.noting["ips"].add(ip)
            super().cat(ip, c)

    gen.Gen = Noting
    argv = sys.argv
    sys.argv = ["gen_authlog.py", str(lines), "--seed", str(seed), "--outdir", work, "--prefix", "auth",
                "--start", START]
    try:
        gen.main()
    finally:
        sys.argv = argv
    epoch = seconds(START)
    return [{"start": epoch + c["start"], "ips": c["ips"]} for c in campaigns]


def seconds(ts):
    return calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    build()
    with tempfile.TemporaryDirectory() as work:
        campaigns = generate(args.lines, args.seed, work)
        _, signals = ingest_sshd_log(work, "--detector", "distributed_spray")
        last = max(seconds(json.loads(line)["ts"]) for line in open(os.path.join(work, "auth.ndjson")))
    campaigns = [c for c in campaigns if c["start"] <= last]
    matched, caught, named, right = set(), 0, 0, 0
    for c in campaigns:
        hits = [i for i, s in enumerate(signals)
                if seconds(s["evidence"]["first_at"]) <= c["start"] + SPAN
                and seconds(s["evidence"]["last_at"]) >= c["start"]
                and c["ips"] & set(s["evidence"]["sources"])]
        matched.update(hits)
        caught += bool(hits)
        for i in hits:
            sources = set(signals[i]["evidence"]["sources"])
            named += len(sources)
            right += len(sources & c["ips"])
    print(f"{args.lines} lines, seed {args.seed}: {len(campaigns)} botnet campaigns, {caught} caught "
          f"({100 * caught / max(len(campaigns), 1):.1f}%) by {len(signals)} distributed_spray signals; "
          f"{len(signals) - len(matched)} signals match no campaign; "
          f"{right} of {named} addresses named took part in their campaign")


if __name__ == "__main__":
    main()
