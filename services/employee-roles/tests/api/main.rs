//! employee-roles integration tests: the real app on 127.0.0.1:0 against one real PostgreSQL
//! database (`prm`) per test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod create;
mod deactivate;
mod helpers;
mod internal;
mod read;
mod registry;
