"""A real SMTP server on loopback for tocsin's email tests (aiosmtpd).

Prints "ready" once it listens, then one JSON line per message it accepts:
{"mail_from", "rcpt_tos", "data", "text", "tls", "authenticated"}, where "text" is the
plain text part, decoded. Options: --starttls CERT KEY (STARTTLS
required before MAIL), --implicit CERT KEY (TLS from the first byte), --login USER:PASSWORD
(AUTH required), --busy N (answer 451 to the first N messages).
"""

import argparse
import asyncio
import email
import email.policy
import json
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def tls_context(cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


class Sink:
    def __init__(self, busy):
        self.busy = busy

    async def handle_DATA(self, server, session, envelope):
        if self.busy > 0:
            self.busy -= 1
            return "451 4.3.0 Try again later"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        plain = parsed.get_body(preferencelist=("plain",))
        line = {
            "text": plain.get_content() if plain is not None else None,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": bool(session.authenticated),
        }
        print(json.dumps(line), flush=True)
        return "250 2.0.0 Accepted"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--starttls", nargs=2)
    parser.add_argument("--implicit", nargs=2)
    parser.add_argument("--login")
    parser.add_argument("--busy", type=int, default=0)
    args = parser.parse_args()

    options = {}
    if args.starttls:
        options.update(tls_context=tls_context(*args.starttls), require_starttls=True)
    if args.implicit:
        options.update(ssl_context=tls_context(*args.implicit))
    if args.login:
        user, password = args.login.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            return AuthResult(success=ok, handled=False)

        options.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(args.starttls or args.implicit))
    controller = Controller(Sink(args.busy), hostname="127.0.0.1", port=args.port, server_hostname="localhost", **options)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
