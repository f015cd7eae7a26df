#!/usr/bin/env python3
"""A customer notice emailed to many recipients: from the send to the last email at the
mail server.

    python3 bench/notices.py [--recipients N] [--rounds N]

tocsin (release build, fresh SQLite database) follows the four-tier preset with its
customer notice going to an email channel: a real SMTP server on loopback (aiosmtpd,
which `.ci/ensure-python` installs) that counts what it accepts. Each round declares an
incident, adds N recipients as CSV through the API, drafts the customer notice, fills
its blanks in, and sends it; it times from just before the send until the mail server
has accepted all N emails. Prints each round and the median: the time to deliver N, and
emails per second.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time

from aiosmtpd.controller import Controller

from common import BINARY, PeakRss, Server, build, free_port, request


class Counter:
    """Counts the messages accepted, noting when the last one came."""

    def __init__(self):
        self.count, self.last, self.changed = 0, 0.0, threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        with self.changed:
            self.count += 1
            self.last = time.perf_counter()
            self.changed.notify_all()
        return "250 2.0.0 Accepted"

    def wait_for(self, count, timeout):
        deadline = time.perf_counter() + timeout
        with self.changed:
            while self.count < count:
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise SystemExit(f"{self.count} of {count} emails arrived within {timeout} s")
                self.changed.wait(left)
            return self.last


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    build()
    counter = Counter()
    port = free_port()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    with tempfile.TemporaryDirectory() as work:
        env = dict(os.environ, TOCSIN_DB=f"sqlite:{work}/tocsin-data/tocsin.db", TOCSIN_ACTOR="bench")
        subprocess.run([BINARY, "init", "--preset", "four-tier"], cwd=work, env=env, check=True,
                       capture_output=True)
        plan_path = os.path.join(work, "tocsin.toml")
        with open(plan_path) as f:
            plan = f.read().replace('# channel = "customer-mail"', 'channel = "customer-mail"')
        plan += f'''
# The benchmark's mail server.
[[channel]]
name = "customer-mail"
type = "email"
url = "smtp://127.0.0.1:{port}"
tls = "none"
from = "security@example.com"
to = ["security@example.com"]
'''
        with open(plan_path, "w") as f:
            f.write(plan)
        server = Server(work)
        try:
            token = server.token("bench", "read,respond")
            auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            took, peak = [], 0.0
            for round_ in range(args.rounds):
                _, body = request(server.port, "POST", "/api/v1/incidents", json.dumps(
                    {"title": f"Records exposed {round_}", "severity": "P1", "personal_data": True,
                     "summary": "An export was readable without a login."}), auth)
                incident = json.loads(body)["incident"]["id"]
                csv = "email,name\n" + "".join(f"customer{n}@example.com,Customer {n}\n"
                                               for n in range(args.recipients))
                response, body = request(server.port, "POST", f"/api/v1/incidents/{incident}/recipients", csv,
                                         dict(auth, **{"Content-Type": "text/csv"}))
                assert response.status == 200, body
                response, body = request(server.port, "POST", f"/api/v1/incidents/{incident}/notices",
                                         json.dumps({"kind": "customers"}), auth)
                assert response.status == 201, body
                draft = json.loads(body)
                filled = re.sub(r"\[\[[^\]]*\]\]", "Written by a person.", draft["body"])
                response, body = request(server.port, "POST", f"/api/v1/incidents/{incident}/notices/1/revise",
                                         json.dumps({"subject": draft["subject"], "body": filled}), auth)
                assert response.status == 200, body
                before = counter.count
                start = time.perf_counter()
                with PeakRss(server.process.pid) as rss:
                    response, body = request(server.port, "POST", f"/api/v1/incidents/{incident}/notices/1/send",
                                             "{}", auth)
                    assert response.status == 200, body
                    last = counter.wait_for(before + args.recipients, timeout=600)
                seconds = last - start
                took.append(seconds)
                peak = max(peak, rss.peak)
                print(f"round {round_ + 1}: {args.recipients} emails in {seconds:.2f} s "
                      f"({args.recipients / seconds:.0f}/s), server RSS peak {rss.peak:.0f} MB")
            median = statistics.median(took)
            print(f"median of {args.rounds}: {args.recipients} emails in {median:.2f} s "
                  f"({args.recipients / median:.0f} emails/s); server RSS peak {peak:.0f} MB")
        finally:
            server.stop()
            controller.stop()


if __name__ == "__main__":
    main()
