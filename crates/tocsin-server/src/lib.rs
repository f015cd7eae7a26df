//! tocsin-server: the application layer shared by the CLI and (later) the HTTP server.
#![forbid(unsafe_code)]

pub mod desk;
mod verify;

pub use desk::{Desk, DeskError, IncidentView, Outcome, TimelineEntry};
pub use verify::{Broken, Verification};
