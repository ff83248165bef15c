//! Domain and wire types shared by every service.
//!
//! This crate knows nothing of HTTP: it holds the vocabulary (ids, scopes, client-type groups,
//! redirect URIs, statuses), the wire shapes of the response envelope, paging, and the
//! credential helpers (random secrets stored as SHA-256). Services and stores depend on it; it
//! depends on neither. With the `sql` feature it also carries the stores' one piece of shared
//! SQL machinery: hand-written statements that stay prepared ([`sql`]).

pub mod client_type;
pub mod credentials;
pub mod envelope;
pub mod identity_signature;
pub mod ids;
pub mod otp;
pub mod paging;
pub mod password;
pub mod pkce;
pub mod redirect;
pub mod scope;
#[cfg(feature = "sql")]
pub mod sql;

pub use client_type::{ClientAccess, ClientTypeGroups};
pub use credentials::{SecretHash, SecretValue};
pub use envelope::{ErrorBody, InvalidEntry, Meta, Paging, Rule};
pub use ids::{ClientId, ConnectionId, UserId};
pub use paging::PageRequest;
pub use redirect::RedirectUri;
pub use scope::ScopeSet;
