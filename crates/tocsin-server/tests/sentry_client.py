"""A real Sentry SDK reporting to tocsin, for the Sentry tests.

Usage: sentry_client.py DSN COMPRESSION
  COMPRESSION is br, gzip or none. Reports one exception raised in charge_card() below
  (with tags and a user), then a cron check-in that failed and one that went well, and
  prints the event id of the exception.
"""

import sys

import sentry_sdk
from sentry_sdk.crons import capture_checkin

dsn, compression = sys.argv[1], sys.argv[2]
experiments = {"transport_compression_algo": compression}
if compression == "none":
    experiments = {"transport_compression_level": 0}
sentry_sdk.init(
    dsn=dsn,
    release="shop@1.4.2",
    environment="production",
    server_name="web-1",
    default_integrations=False,
    _experiments=experiments,
)
sentry_sdk.set_tag("region", "eu-west")
sentry_sdk.set_user({"id": "42", "email": "ana@example.com"})


def charge_card(cart):
    raise ValueError(f"card declined for cart {cart}")


try:
    charge_card(8812)
except ValueError as e:
    event_id = sentry_sdk.capture_exception(e)

config = {"schedule": {"type": "crontab", "value": "0 3 * * *"}, "checkin_margin": 5}
capture_checkin(monitor_slug="nightly-backup", status="error", monitor_config=config)
sentry_sdk.flush(timeout=10)
capture_checkin(monitor_slug="nightly-backup", status="ok", monitor_config=config)
sentry_sdk.flush(timeout=10)
print(event_id)
