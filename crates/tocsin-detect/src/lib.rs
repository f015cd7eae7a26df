//! tocsin-detect: log parsers and detectors. Events in, findings out; no storage, no network.
#![forbid(unsafe_code)]

pub mod detect;
pub mod parse;
