//! auth-token integration tests: the real auth-token and mithril-api apps on 127.0.0.1:0
//! against one real PostgreSQL database per test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod admin;
mod authorize;
mod exchange;
mod flow;
mod helpers;
mod login;
mod oauth2;
mod sign_in;
mod two_factor;
mod verify;
