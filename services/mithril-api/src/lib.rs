//! mithril-api: client types, clients and connections of the `mithril` database, as an admin
//! API (internal) and the public `/api/clients/...` endpoints the gatekeeper routes.

pub mod cli;
mod client_context;
mod connections;
pub mod openapi;
mod routes;
pub mod settings;
pub mod startup;

pub use settings::Settings;
pub use startup::Application;

/// Request-body schemas, compiled once at startup (proto-contracts/schemas).
pub(crate) fn schemas() -> anyhow::Result<platform::Schemas> {
    platform::schemas!(
        "client_type_create",
        "client_type_update",
        "client_create",
        "client_update",
        "connection_upsert",
        "connection_update",
        "role_create",
        "role_update",
        "user_create",
        "user_update",
        "user_block",
        "user_role_create",
        "global_user_role_create",
        "app_create",
        "app_update",
        "factor_init",
    )
}
