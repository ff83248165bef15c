//! gatekeeper: the only public entry of the platform. For each request: route (longest prefix
//! and method, on a normalized path) → bearer token through auth-token's verify contract
//! (cached) → first matching rule, its scopes and optional ABAC decision → rate limit →
//! identity headers stripped and set → forwarded. The ops port serves health, metrics, cache
//! purge, explain and the route table.

mod abac;
mod body;
pub mod cli;
pub mod connections;
pub mod forwarded;
pub mod gate;
mod h1;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod path;
mod plan;
mod proxy;
pub mod public_doc;
pub mod ratelimit;
pub mod reload;
pub mod revocations;
mod server;
pub mod settings;
mod spans;
pub mod startup;
pub mod state;
pub mod table;
pub mod tls;
pub mod upstream;
pub mod verify;

#[cfg(feature = "fuzzing")]
pub use h1::fuzzing as h1_fuzzing;
pub use settings::Settings;
pub use startup::Application;
