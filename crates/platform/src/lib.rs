//! actix glue every service uses.
//!
//! - [`error`]: the one `ApiError`, rendered as the envelope's error body;
//! - [`reply`]: success envelopes (`meta`, `data`, `paging`, `urgent`);
//! - [`request_context`]: request id and idempotency key, and final rendering of errors;
//! - [`json`]: request bodies validated against a JSON Schema (422 `invalid[]`);
//! - [`query`] and [`path`]: query parameters and path ids with the envelope's errors;
//! - [`caller`]: the identity the gatekeeper vouches for (signed headers);
//! - [`admin`]: operator credentials on the internal APIs;
//! - [`settings`], [`telemetry`], [`db`], [`ops`], [`server`]: configuration, logs and traces,
//!   the DB pool and migrations, health/ready/metrics/openapi/docs, and the HTTP server;
//! - [`shutdown`]: draining before stopping (SIGTERM).

pub mod admin;
pub mod caller;
pub mod cli;
pub mod db;
pub mod docs_page;
pub mod error;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod path;
pub mod query;
pub mod reply;
pub mod request_context;
pub mod server;
pub mod settings;
pub mod shutdown;
pub mod telemetry;

pub use caller::{Actor, Caller, ConsumerId};
pub use error::{ApiError, ApiResult};
pub use json::{OptionalJson, RequestSchema, Schemas, ValidatedJson};
pub use reply::Reply;
