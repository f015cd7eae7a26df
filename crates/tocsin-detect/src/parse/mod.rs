//! Log parsers: lines as servers write them, into typed events.

pub mod access_json;
pub mod nginx;
pub mod postgres;
pub mod reorder;
pub mod sshd;
pub mod syslog;
