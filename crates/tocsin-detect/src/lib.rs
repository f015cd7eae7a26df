//! tocsin-detect: log parsers and detectors. Events in, findings out; no storage, no network.
#![forbid(unsafe_code)]
// A panic in a running server is an outage: library code says what went wrong instead.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod detect;
pub mod parse;
