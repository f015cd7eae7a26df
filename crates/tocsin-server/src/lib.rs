//! tocsin-server: the application layer shared by the CLI and the HTTP server, and the server.
//!
//! `services/` hold the state and apply its rules, `workers/` run behind the requests,
//! `http/` answers them, and `documents` and `phrases` say things to programs and to
//! people. `app` puts it all together.
#![forbid(unsafe_code)]
// A panic in a running server is an outage: library code says what went wrong instead.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod app;
pub mod documents;
pub mod http;
pub mod ingest;
pub mod phrases;
pub mod services;
#[cfg(feature = "test-support")]
pub mod testing;

pub mod wake;
pub mod workers;

pub use services::incidents::{Changed, Desk, DeskError, IncidentView, TimelineEntry, next_deadlines};
pub use services::verify::{Broken, Verification};
