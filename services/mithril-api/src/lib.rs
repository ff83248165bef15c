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
    macro_rules! schema {
        ($name:literal) => {
            (
                $name,
                include_str!(concat!("../../../proto-contracts/schemas/", $name, ".json")),
            )
        };
    }
    platform::Schemas::compile(&[
        schema!("client_type_create"),
        schema!("client_type_update"),
        schema!("client_create"),
        schema!("client_update"),
        schema!("connection_upsert"),
        schema!("connection_update"),
        schema!("role_create"),
        schema!("role_update"),
        schema!("user_create"),
        schema!("user_update"),
        schema!("user_block"),
        schema!("user_role_create"),
        schema!("global_user_role_create"),
        schema!("app_create"),
        schema!("app_update"),
    ])
}
