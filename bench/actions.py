#!/usr/bin/env python3
"""From an approval to the action's request leaving tocsin.

    python3 bench/actions.py [--samples N] [--cli-samples N]

tocsin (release build, fresh SQLite database) follows the four-tier preset with one more
action: an `http` POST to a receiver on loopback, needing one approval. Each sample asks
for a run with an API token, then times from just before the approval until the receiver
has the request. Approvals go through the API as a signed-in person (the admin's
session), and, for fewer samples, through `tocsin action approve` in a process of its own
(which the server finds at its next poll of the database, at most a second later).
Prints p50, p90, p99 and the worst of each.
"""
import argparse
import http.cookies
import http.server
import json
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.parse

from common import BINARY, Server, build, free_port, request


class Receiver(http.server.ThreadingHTTPServer):
    """Notes when each run's request arrived, by its run id."""

    def __init__(self):
        self.seen, self.changed = {}, threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                now = time.perf_counter()
                self.send_response(204)
                self.end_headers()
                run = json.loads(body)["run"]
                with receiver.changed:
                    receiver.seen[run] = now
                    receiver.changed.notify_all()

            def log_message(self, *_):
                pass

        super().__init__(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def wait(self, run, timeout=10.0):
        deadline = time.perf_counter() + timeout
        with self.changed:
            while run not in self.seen:
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise SystemExit(f"run {run} did not arrive within {timeout} s")
                self.changed.wait(left)
            return self.seen[run]


def login(port, name, password):
    """A session cookie and its CSRF token, through the login form as a browser would."""
    response, page = request(port, "GET", "/login")
    login_cookie = http.cookies.SimpleCookie(response.getheader("Set-Cookie")).output(attrs=[], header="").strip()
    csrf = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()
    form = urllib.parse.urlencode({"name": name, "password": password, "csrf": csrf, "next": "/"})
    response, _ = request(port, "POST", "/login", form, {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": login_cookie,
        "Origin": f"http://127.0.0.1:{port}"})
    cookies = http.cookies.SimpleCookie()
    for header in response.headers.get_all("Set-Cookie"):
        cookies.load(header)
    session = f"tocsin_session={cookies['tocsin_session'].value}"
    _, page = request(port, "GET", "/", headers={"Cookie": session})
    csrf = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()
    return session, csrf


def summary(name, samples):
    samples = sorted(samples)
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] * 1000
    print(f"{name}: n={len(samples)} p50={pick(0.50):.1f} ms p90={pick(0.90):.1f} ms "
          f"p99={pick(0.99):.1f} ms worst={samples[-1] * 1000:.1f} ms")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--cli-samples", type=int, default=20)
    args = parser.parse_args()
    build()
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as work:
        env = dict(os.environ, TOCSIN_DB=f"sqlite:{work}/tocsin-data/tocsin.db", TOCSIN_ACTOR="bench")
        subprocess.run([BINARY, "init", "--preset", "four-tier"], cwd=work, env=env, check=True,
                       capture_output=True)
        with open(os.path.join(work, "tocsin.toml"), "a") as plan:
            plan.write(f'''
[[action]]
id = "call-home"
name = "Tell the app"
kind = "http"
url = "{receiver.url()}"
body = {{ run = "{{{{ run.id }}}}" }}
# One approval from any responder.
[action.approval]
needs = 1
''')
        server = Server(work)
        try:
            token = server.token("bench", "read,respond")
            auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            _, body = request(server.port, "POST", "/api/v1/incidents",
                              json.dumps({"title": "Bench", "severity": "P3"}), auth)
            incident = json.loads(body)["incident"]["id"]
            name, password = server.admin_password()
            session, csrf = login(server.port, name, password)
            approve_headers = {"Cookie": session, "X-CSRF-Token": csrf}

            def ask():
                response, body = request(server.port, "POST", f"/api/v1/incidents/{incident}/runs",
                                         json.dumps({"action": "call-home"}), auth)
                assert response.status == 201, body
                return json.loads(body)["run"]

            api = []
            for _ in range(args.samples):
                run = ask()
                start = time.perf_counter()
                response, body = request(server.port, "POST",
                                         f"/api/v1/incidents/{incident}/runs/{run}/approve",
                                         headers=approve_headers)
                assert response.status == 200, body
                api.append(receiver.wait(f"{incident}/{run}") - start)
            summary("approved through the API -> request at the receiver", api)

            cli = []
            for _ in range(args.cli_samples):
                run = ask()
                start = time.perf_counter()
                subprocess.run([BINARY, "action", "approve", incident, str(run)], cwd=work,
                               env=dict(env, TOCSIN_ACTOR=name), check=True, capture_output=True)
                cli.append(receiver.wait(f"{incident}/{run}") - start)
            summary("approved with `tocsin action approve` -> request at the receiver", cli)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
