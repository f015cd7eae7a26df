//! Peers for tests on loopback: a Telegram Bot API server speaking its wire format, and a
//! real SMTP server (Python's aiosmtpd) recording what it accepts.
#![allow(clippy::unwrap_used, reason = "test support: a failure here is a failed test")]

mod smtp;
mod telegram;

pub use smtp::{SmtpSink, header, smtp_server_available};
pub use telegram::{Call, FakeTelegram};
