//! mithril-api integration tests: the real app on 127.0.0.1:0 against a real PostgreSQL
//! (a database per test, cloned from a migrated template).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod admin_connections;
mod bad_input;
mod client_types;
mod clients;
mod helpers;
mod identity;
mod ops;
mod public_connections;
