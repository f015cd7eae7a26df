//! Peers for tests on loopback: Telegram's Bot API and Slack's Web API speaking their wire
//! formats, and a real SMTP server (Python's aiosmtpd) recording what it accepts.
#![allow(clippy::unwrap_used, reason = "test support: a failure here is a failed test")]

mod certificates;
mod slack;
mod smtp;
mod telegram;

pub use certificates::{TestCertificates, certificates};
pub use slack::FakeSlack;
pub use smtp::{SmtpSink, header, smtp_server_available};
pub use telegram::{Call, FakeTelegram};
