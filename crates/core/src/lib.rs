//! Domain and wire types shared by every service.
//!
//! This crate knows nothing of HTTP or SQL: it holds the vocabulary (ids, scopes, client-type
//! groups, redirect URIs, statuses), the wire shapes of the response envelope, paging, and the
//! credential helpers (random secrets stored as SHA-256). Services and stores depend on it; it
//! depends on neither.

pub mod client_type;
pub mod credentials;
pub mod envelope;
pub mod ids;
pub mod paging;
pub mod password;
pub mod redirect;
pub mod scope;

pub use client_type::{ClientAccess, ClientTypeGroups};
pub use credentials::{SecretHash, SecretValue};
pub use envelope::{ErrorBody, InvalidEntry, Meta, Paging, Rule};
pub use ids::{ClientId, ConnectionId, UserId};
pub use paging::PageRequest;
pub use redirect::RedirectUri;
pub use scope::ScopeSet;
