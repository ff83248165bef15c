//! gatekeeper integration tests: the real gatekeeper, auth-token and mithril-api apps on
//! 127.0.0.1:0 against one real PostgreSQL database per test, with a stub upstream and a stub
//! ABAC server (real HTTP servers in the test), and a real redis-server for shared limits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod abac;
mod access;
mod auth;
mod differential;
mod e2e;
mod forwarding;
mod helpers;
mod http1;
mod limits;
mod ops;
mod public_doc;
mod ratelimit;
mod reload;
mod revocation;
mod stubs;
mod traces;
// The identity fixtures (users, clients, connections, the OAuth flow) of auth-token's tests,
// used as they are rather than copied.
#[allow(dead_code)]
#[path = "../../../auth-token/tests/api/helpers.rs"]
mod world;
