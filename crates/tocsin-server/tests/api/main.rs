//! The HTTP API against a real server on a loopback port, on SQLite and PostgreSQL.

mod authorization;
mod bad_input;
mod blocks;
mod events;
mod helpers;
mod identity;
mod incidents;
mod openapi;
mod ops;
mod plans;
mod ratelimit;
mod web;
