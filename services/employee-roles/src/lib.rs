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
        .service(web::resource("/api/employee_roles/{id}").get(roles::show))
        .service(
            web::resource("/api/employee_roles/{id}/actions/deactivate").patch(roles::deactivate),
        )
        .service(web::resource("/admin/legal_entities/{id}").put(registry::put_legal_entity))
        .service(web::resource("/admin/employees/{id}").put(registry::put_employee))
        .service(
            web::resource("/admin/healthcare_services/{id}").put(registry::put_healthcare_service),
        )
        .service(web::resource("/admin/parties/{id}").put(registry::put_party))
        .service(
            web::resource("/admin/employees/{id}/employee_roles").get(internal::roles_of_employee),
        )
        .service(
            web::resource("/admin/employees/{id}/employee_roles/actions/deactivate")
                .patch(internal::deactivate_for_employee),
        )
        .service(
            web::resource("/admin/legal_entities/{id}/employee_roles/actions/deactivate")
                .patch(internal::deactivate_for_legal_entity),
        );
}
