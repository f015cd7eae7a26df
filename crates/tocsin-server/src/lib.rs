//! tocsin-server: the application layer shared by the CLI and the HTTP server, and the server.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod app;
pub mod bot;
pub mod channels;
pub mod delivery;
pub mod desk;
pub mod detection;
pub mod event_reads;
pub mod http;
pub mod identity;
pub mod ingest;
pub mod integrations;
pub mod model;
pub mod notifier;
pub mod pipeline;
pub mod plans;
pub mod ratelimit;
mod read_cache;
pub mod seal;
#[cfg(feature = "test-support")]
pub mod testing;
mod verify;
pub mod wake;
pub mod words;

pub use desk::{Desk, DeskError, IncidentView, Outcome, TimelineEntry, next_deadlines};
pub use verify::{Broken, Verification};
