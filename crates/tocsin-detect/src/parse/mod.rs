//! Log parsers: lines as servers write them, into typed events.

pub mod nginx;
pub mod reorder;
pub mod sshd;
pub mod syslog;
