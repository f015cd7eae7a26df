//! The services: each is the one door to its part of the state and applies its rules, for
//! the server's requests, its workers and the CLI alike.

pub mod actions;
pub mod approval_links;
pub mod audit;
pub mod blocks;
pub mod breaches;
pub(crate) mod dns;
pub mod event_reads;
pub mod evidence;
pub mod identity;
pub mod incidents;
pub mod integrations;
pub mod isolation;
pub mod notices;
pub mod plans;
pub mod probes;
pub mod ratelimit;
pub(crate) mod read_cache;
pub mod seal;
pub mod switches;
pub mod verify;
