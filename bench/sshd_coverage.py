#!/usr/bin/env python3
"""How much of real OpenSSH logs tocsin's sshd parser understands, measured on corpora that
nobody on the project wrote:

- fail2ban's sshd filter test log (`fail2ban/tests/files/logs/sshd` in its repository): lines
  collected over two decades of OpenSSH releases and platforms, each annotated with whether
  it is a failure and from which host. Each annotated line is read alone; a line fail2ban
  counts is covered when tocsin finds a failed attempt from that host, and a line it says is
  no failure must give none. Lines are grouped by the fail2ban mode they are tested in:
  normal, extra (disconnects during authentication), ddos (scanners that never try to log
  in: tocsin leaves those to other detectors, on purpose), aggressive.
- fail2ban's journal test log (`sshd-journal`), its lines turned into `journalctl -o json`
  entries, to read the same forms through the journal's export.
- loghub's OpenSSH_2k log (`OpenSSH/OpenSSH_2k.log` with `OpenSSH_2k.log_structured.csv`):
  28 days of a lab server under attack. Each connection's attempts are counted from the
  templates loghub assigned to its lines (each `Failed ...` line one, `message repeated N
  times` N, a connection with only `Invalid user` or PAM failures one) and compared with what
  tocsin counts on that connection.

Usage: python3 bench/sshd_coverage.py --fail2ban DIR --loghub DIR
(DIR: a checkout of each repository; nothing is downloaded.)
"""

import argparse
import collections
import csv
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "target", "release", "examples", "sshd_attempts")


def build():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "tocsin-detect", "--example", "sshd_attempts"],
                   cwd=ROOT, check=True)


def attempts(lines, alone):
    """Runs the parser over `lines`; the attempts by the (1-based) line that completed them."""
    args = [EXAMPLE] + (["--alone"] if alone else [])
    out = subprocess.run(args, input="\n".join(lines) + "\n", capture_output=True, text=True, check=True).stdout
    found = collections.defaultdict(list)
    for row in out.splitlines():
        doc = json.loads(row)
        found[doc["line"]].append(doc)
    return found


def norm(host):
    host = host.lower()
    return host[7:] if host.startswith("::ffff:") and "." in host else host


def fail2ban_cases(path, journal):
    """(mode, expected failure?, host, line) for each annotated line of a fail2ban test log."""
    cases = []
    mode = "normal"
    pending = None
    pid = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.startswith("# filterOptions:"):
                options = line.split(":", 1)[1]
                if "rfc5424" in options:
                    mode = "rfc5424"
                elif "{}" in options or options.strip() in ("", "[]"):
                    mode = "normal"
                else:
                    found = re.search(r'"mode":\s*"(\w+)"', options)
                    mode = found.group(1) if found else "normal"
                continue
            if line.startswith("# failJSON:"):
                pending = json.loads(line.split(":", 1)[1])
                continue
            if not line.strip() or line.startswith("#"):
                continue
            if pending is None:
                continue
            spec, pending = pending, None
            case_mode = mode
            constraint = spec.get("constraint", "")
            if "== 'aggressive'" in constraint:
                case_mode = "aggressive"
            elif "name ==" in constraint or "name==" in constraint:
                pass
            if journal:
                # "srv sshd[13709]: message" as `journalctl -o json` exports it.
                m = re.match(r"^(\S+) (\S+?)(?:\[(\d+)\])?: (.*)$", line)
                if not m:
                    continue
                pid += 1
                line = json.dumps({
                    "__REALTIME_TIMESTAMP": str(1767571200000000 + pid * 1000000),
                    "_HOSTNAME": m.group(1), "SYSLOG_IDENTIFIER": m.group(2),
                    "_PID": m.group(3) or str(pid), "MESSAGE": m.group(4),
                })
                case_mode = "journal " + case_mode
            cases.append((case_mode, bool(spec.get("match")), spec.get("host"), line))
    return cases


def fail2ban(directory):
    logs = os.path.join(directory, "fail2ban", "tests", "files", "logs")
    cases = fail2ban_cases(os.path.join(logs, "sshd"), False) + fail2ban_cases(os.path.join(logs, "sshd-journal"), True)
    found = attempts([c[3] for c in cases], alone=True)
    by_mode = collections.OrderedDict()
    missed = collections.defaultdict(list)
    for i, (mode, expected, host, line) in enumerate(cases, start=1):
        failures = [a for a in found.get(i, []) if a["outcome"] == "failure"]
        row = by_mode.setdefault(mode, {"fail": 0, "covered": 0, "nofail": 0, "false": 0})
        if expected:
            row["fail"] += 1
            if any(host is None or norm(a["source"]) == norm(host) for a in failures):
                row["covered"] += 1
            else:
                missed[mode].append(line)
        else:
            row["nofail"] += 1
            if failures:
                row["false"] += 1
                missed[mode + " (false)"].append(line)
    print("fail2ban's sshd test logs, each annotated line read alone:")
    print("  %-22s %8s %8s %8s %12s" % ("mode", "failures", "covered", "share", "false pos."))
    for mode, r in by_mode.items():
        share = "%.1f%%" % (100.0 * r["covered"] / r["fail"]) if r["fail"] else "-"
        print("  %-22s %8d %8d %8s %6d of %d" % (mode, r["fail"], r["covered"], share, r["false"], r["nofail"]))
    for mode, lines in missed.items():
        print("  missed in %s:" % mode)
        for line in lines:
            print("    " + line[:150])
    by_connection(cases)
    return by_mode


def connection_of(line):
    """The (host, pid) a log line is about, or None."""
    if line.startswith("{"):
        doc = json.loads(line)
        return (doc.get("_HOSTNAME"), doc.get("_PID"))
    m = re.search(r"(\S+) sshd(?:-session)?\[(\d+)\]", line) or re.search(r"(\S+) sshd (\d+) ", line)
    return (m.group(1), m.group(2)) if m else None


def by_connection(cases):
    """The same lines read as one log: an attempt may be told by one line and counted at
    another of its connection (sshd's Invalid user, then the connection's end). By
    connection, within each mode: does tocsin count a failure on a connection where fail2ban
    counts one, and none where fail2ban counts none?"""
    found = attempts([c[3] for c in cases], alone=False)
    table = collections.OrderedDict()
    sources = {}
    for i, (mode, expected, host, line) in enumerate(cases, start=1):
        key = connection_of(line)
        if key is None:
            continue
        entry = table.setdefault((mode, key), [False, 0])
        entry[0] |= expected
        entry[1] += sum(1 for a in found.get(i, []) if a["outcome"] == "failure")
        for address in re.findall(r"[0-9a-fA-F:.]*[0-9][0-9a-fA-F:.]*", line):
            sources[(key[0], norm(address))] = (mode, key)
    # What the end of the log counted goes to the last connection whose lines named its source.
    unplaced = 0
    for a in found.get(None, []):
        if a["outcome"] != "failure":
            continue
        place = sources.get((a.get("host"), norm(a["source"])))
        if place in table:
            table[place][1] += 1
        else:
            unplaced += 1
    rows = collections.OrderedDict()
    for (mode, _), (expected, counted) in table.items():
        r = rows.setdefault(mode, [0, 0, 0, 0])
        if expected:
            r[0] += 1
            r[1] += counted > 0
        else:
            r[2] += 1
            r[3] += counted > 0
    print("fail2ban's sshd test logs, read as one log, by connection:")
    print("  %-22s %12s %8s %8s %12s" % ("mode", "failing conn.", "counted", "share", "false pos."))
    for mode, (failing, counted, clean, false) in rows.items():
        share = "%.1f%%" % (100.0 * counted / failing) if failing else "-"
        print("  %-22s %12d %8d %8s %6d of %d" % (mode, failing, counted, share, false, clean))
    print("  counted at the end of the log and not placed on a connection: %d" % unplaced)


def loghub(directory):
    base = os.path.join(directory, "OpenSSH")
    with open(os.path.join(base, "OpenSSH_2k.log"), encoding="utf-8", errors="replace") as f:
        lines = [l.rstrip("\n") for l in f]
    with open(os.path.join(base, "OpenSSH_2k.log_structured.csv"), encoding="utf-8", errors="replace") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(lines), "the log and its structure differ"
    failed_lines = {"E8", "E9", "E10"}
    other_signs = {"E4", "E5", "E6", "E13", "E19", "E20"}
    expected = collections.Counter()
    signs = set()
    for row in rows:
        pid, event = row["Pid"], row["EventId"]
        if event in failed_lines:
            expected[pid] += 1
        elif event == "E14":
            expected[pid] += int(re.search(r"repeated (\d+) times", row["Content"]).group(1))
        elif event in other_signs:
            signs.add(pid)
    for pid in signs:
        if expected[pid] == 0:
            expected[pid] = 1
    found = attempts(lines, alone=False)
    counted = collections.Counter()
    at_end = 0
    for line_no, docs in found.items():
        for doc in docs:
            if doc["outcome"] != "failure":
                continue
            if line_no is None:
                at_end += 1
                continue
            counted[rows[line_no - 1]["Pid"]] += 1
    pids = set(expected) | set(counted)
    exact = sum(1 for p in pids if expected[p] == counted[p])
    failing = [p for p in pids if expected[p] > 0]
    seen = sum(1 for p in failing if counted[p] > 0)
    over = sum(max(0, counted[p] - expected[p]) for p in pids)
    under = sum(max(0, expected[p] - counted[p]) for p in pids)
    total_expected, total_counted = sum(expected.values()), sum(counted.values())
    print("loghub OpenSSH_2k (%d lines, %d connections with failures):" % (len(lines), len(failing)))
    print("  attempts by loghub's templates: %d; counted by tocsin: %d (+%d at the end of the log)" % (
        total_expected, total_counted, at_end))
    print("  connections with failures that tocsin saw fail: %d of %d (%.1f%%)" % (
        seen, len(failing), 100.0 * seen / max(1, len(failing))))
    print("  connections counted exactly: %d of %d; attempts over: %d, under: %d" % (exact, len(pids), over, under))
    for p in sorted(pids, key=lambda p: int(p))[:400]:
        if expected[p] != counted[p]:
            print("    pid %s: expected %d, counted %d" % (p, expected[p], counted[p]))
    return total_expected, total_counted


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fail2ban", help="a checkout of fail2ban's repository")
    parser.add_argument("--loghub", help="a checkout of loghub's repository")
    args = parser.parse_args()
    if not args.fail2ban and not args.loghub:
        parser.error("name --fail2ban, --loghub or both")
    build()
    if args.fail2ban:
        fail2ban(args.fail2ban)
    if args.loghub:
        loghub(args.loghub)


if __name__ == "__main__":
    sys.exit(main())
