//! employee-roles: the employee roles of the provider registry (spec employee_roles.md) in the
//! `prm` database it owns, with the reference data it checks (legal entities, employees,
//! healthcare services) kept current by the registry through internal upserts.

pub mod cli;
mod internal;
pub mod openapi;
mod registry;
mod roles;
mod schema;
pub mod settings;
pub mod startup;
pub mod store;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};

pub use settings::Settings;
pub use startup::Application;

/// Every migration of the `prm` database, embedded in the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The advisory-lock key under which `prm` migrations run (replicas starting together).
pub const MIGRATION_LOCK_KEY: i64 = 0x0070_726d_726f_6c65; // "prmrole"

pub(crate) fn schemas() -> anyhow::Result<platform::Schemas> {
    platform::schemas!(
        "employee_role_create",
        "legal_entity_upsert",
        "employee_upsert",
        "healthcare_service_upsert",
        "party_upsert",
    )
}

fn configure(cfg: &mut actix_web::web::ServiceConfig, state: startup::AppState) {
    use actix_web::web;
    cfg.app_data(web::Data::new(state))
        .service(
            web::resource("/api/employee_roles")
                .post(roles::create)
                .get(roles::list),
        )
        .route("/api/employee_roles/{id}", web::get().to(roles::show))
        .route(
            "/api/employee_roles/{id}/actions/deactivate",
            web::patch().to(roles::deactivate),
        )
        .route(
            "/admin/legal_entities/{id}",
            web::put().to(registry::put_legal_entity),
        )
        .route(
            "/admin/employees/{id}",
            web::put().to(registry::put_employee),
        )
        .route(
            "/admin/healthcare_services/{id}",
            web::put().to(registry::put_healthcare_service),
        )
        .route("/admin/parties/{id}", web::put().to(registry::put_party))
        .route(
            "/admin/employees/{id}/employee_roles",
            web::get().to(internal::roles_of_employee),
        )
        .route(
            "/admin/employees/{id}/employee_roles/actions/deactivate",
            web::patch().to(internal::deactivate_for_employee),
        )
        .route(
            "/admin/legal_entities/{id}/employee_roles/actions/deactivate",
            web::patch().to(internal::deactivate_for_legal_entity),
        );
}
