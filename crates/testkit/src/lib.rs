//! Test harness (dev-dependency only).
//!
//! - [`pg`]: one throwaway PostgreSQL per test process, started from the local binaries
//!   (or the server named by `TEST_DATABASE_URL`);
//! - [`TestDb`]: a database cloned from a per-store template that is migrated once per process.

pub mod pg;

pub use pg::TestDb;
