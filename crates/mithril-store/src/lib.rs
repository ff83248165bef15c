//! The `mithril` database: diesel schema, row models, queries and embedded migrations.
//!
//! Error policy: query functions return `diesel::QueryResult`; callers at the HTTP edge map
//! `NotFound`, unique and foreign-key violations to the statuses their endpoint documents.
//! No HTTP types live here.

pub mod apps;
pub mod client_types;
pub mod clients;
pub mod connections;
pub mod factors;
pub mod global_user_roles;
pub mod models;
mod named_scopes;
pub mod otps;
pub mod roles;
pub mod schema;
pub mod sign_ins;
pub mod tokens;
pub mod user_roles;
pub mod users;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};

pub use models::*;

/// Every migration of the `mithril` database, embedded in the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The advisory-lock key under which `mithril` migrations run, so that replicas of
/// mithril-api and auth-token starting together apply them once.
pub const MIGRATION_LOCK_KEY: i64 = 0x6d69_7468_7269_6c00; // "mithril\0"

/// Helpers shared by the query modules: hand-written statements (ehealth-core's `sql`), LIKE.
pub(crate) mod sql {
    pub use ehealth_core::sql::{Prepared, statement};

    /// Escapes `%`, `_` and `\` so user input is matched literally inside a LIKE pattern.
    pub fn like_escape(needle: &str) -> String {
        let mut out = String::with_capacity(needle.len() + 2);
        for c in needle.chars() {
            if matches!(c, '%' | '_' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        out
    }

    /// `%needle%`, with the needle matched literally.
    pub fn like_contains(needle: &str) -> String {
        format!("%{}%", like_escape(needle))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_escapes_wildcards() {
        assert_eq!(super::sql::like_contains("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }
}
