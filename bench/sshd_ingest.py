#!/usr/bin/env python3
"""`tocsin ingest --format sshd` against `fail2ban-regex` with the stock sshd filter, on
the same generated OpenSSH log, in the same run.

    python3 bench/sshd_ingest.py [--lines N] [--seed S]

Generates an N-line auth log with ../shared/bench/gen_authlog.py (1,000,000 lines by
default), then times each tool on it under /usr/bin/time: tocsin parses the log attempt
by attempt and stores every attempt durably in a fresh SQLite event log (and indexes the
login trail); fail2ban-regex only matches lines. Prints lines per second, peak RSS and
the ratio. fail2ban is installed from Debian when missing.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

from common import BINARY, ROOT, build

GENERATOR = os.path.join(os.path.dirname(ROOT), "shared", "bench", "gen_authlog.py")
FILTER = "/etc/fail2ban/filter.d/sshd.conf"


def timed(command, cwd, env=None):
    """Runs a command under /usr/bin/time -v: wall seconds, peak RSS in MB, stdout."""
    result = subprocess.run(["/usr/bin/time", "-v", *command], cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{command[0]} failed: {result.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", result.stderr)
    hours, minutes, seconds = wall.groups()
    elapsed = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1)) / 1024
    return elapsed, rss, result.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if not os.path.exists(GENERATOR):
        sys.exit(f"the workload generator is not at {GENERATOR}")
    if not shutil.which("fail2ban-regex"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "fail2ban"], check=True, capture_output=True)
    build()

    with tempfile.TemporaryDirectory() as work:
        subprocess.run([sys.executable, GENERATOR, str(args.lines), "--seed", str(args.seed), "--outdir", work,
                        "--prefix", "auth"], check=True, capture_output=True)
        log = os.path.join(work, "auth.log")
        env = dict(os.environ, TOCSIN_DB=f"sqlite:{work}/tocsin-data/tocsin.db")
        t_time, t_rss, t_out = timed([BINARY, "ingest", log, "--format", "sshd", "--year", "2026", "--timezone", "UTC"],
                                     work, env)
        f_time, f_rss, f_out = timed(["fail2ban-regex", log, FILTER], work)
        matched = re.search(r"Lines: \d+ lines, \d+ ignored, (\d+) matched", f_out)

    print(f"{args.lines} lines of a generated OpenSSH log (gen_authlog.py seed {args.seed})")
    print(f"tocsin ingest --format sshd  {args.lines / t_time:10.0f} lines/s  {t_time:6.1f} s  peak RSS {t_rss:6.1f} MB"
          f"  ({t_out.strip()})")
    print(f"fail2ban-regex (sshd filter) {args.lines / f_time:10.0f} lines/s  {f_time:6.1f} s  peak RSS {f_rss:6.1f} MB"
          f"  ({matched.group(1) if matched else '?'} lines matched)")
    print(f"ratio: tocsin is {f_time / t_time:.1f}x as fast, with {f_rss / t_rss:.1f}x less memory")


if __name__ == "__main__":
    main()
