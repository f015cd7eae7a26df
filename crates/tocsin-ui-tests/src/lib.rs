//! Browser tests of the web UI live in `tests/`; this crate has no code of its own.
#![forbid(unsafe_code)]
