//! The OpenAPI document: the handler annotations completed as the wire has them
//! ([`platform::openapi`]). Its committed snapshot is `proto-contracts/openapi/employee-roles.json`;
//! `make contract` runs schemathesis against it.

use platform::Schemas;
use platform::admin::admin_paths;
use platform::openapi::{BodySchema, Contract, Refusal};
use utoipa::OpenApi;

use crate::{registry, roles};

/// The served document.
pub fn document(schemas: &Schemas) -> anyhow::Result<serde_json::Value> {
    platform::openapi::wire(&ApiDoc::openapi(), schemas, &contract())
}

fn contract() -> Contract {
    Contract {
        access: admin_paths,
        identity: |path| path.starts_with("/api/"),
        // The registry's copies and the bulk deactivations record who acted.
        actor: |method, path| path.starts_with("/admin/") && (method == "put" || method == "patch"),
        bodies: vec![
            BodySchema::of::<roles::CreateRole>(),
            BodySchema::of::<registry::LegalEntityBody>(),
            BodySchema::of::<registry::EmployeeBody>(),
            BodySchema::of::<registry::HealthcareServiceBody>(),
            BodySchema::of::<registry::PartyBody>(),
        ],
        max_page_size: roles::MAX_PAGE_SIZE,
        uuid_lists: &[],
        own_form: |_| false,
        refusals: REFUSALS,
    }
}

/// The rules of the data behind this service's 422s.
const REFUSALS: &[Refusal] = &[
    Refusal {
        path: "/api/employee_roles",
        entry: "employee_id",
        rule: "required",
        why: "a list needs at least one of employee_id, healthcare_service_id and status",
    },
    Refusal {
        path: "/api/employee_roles",
        entry: "$.employee_id",
        rule: "existence",
        why: "no active employee has this id",
    },
    Refusal {
        path: "/api/employee_roles",
        entry: "$.healthcare_service_id",
        rule: "existence",
        why: "no active healthcare service has this id",
    },
    Refusal {
        path: "/api/employee_roles",
        entry: "$.healthcare_service_id",
        rule: "invalid",
        why: "the healthcare service belongs to another legal entity, or has no speciality type",
    },
    Refusal {
        path: "/api/employee_roles",
        entry: "$.employee_id",
        rule: "invalid",
        why: "the employee belongs to another legal entity, or their speciality is not the \
              healthcare service's",
    },
    Refusal {
        path: "/admin/employees/{id}",
        entry: "$.legal_entity_id",
        rule: "existence",
        why: "no legal entity has this id",
    },
    Refusal {
        path: "/admin/healthcare_services/{id}",
        entry: "$.legal_entity_id",
        rule: "existence",
        why: "no legal entity has this id",
    },
];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "employee-roles",
        version = "0.1.0",
        description = "Employee roles of the provider registry. Public routes (/api/employee_roles) are reached through the gatekeeper, which checks employee_role:read / employee_role:write; /admin routes are internal."
    ),
    paths(
        crate::roles::create,
        crate::roles::list,
        crate::roles::show,
        crate::roles::deactivate,
        crate::registry::put_legal_entity,
        crate::registry::put_employee,
        crate::registry::put_healthcare_service,
        crate::registry::put_party,
        crate::internal::roles_of_employee,
        crate::internal::deactivate_for_employee,
        crate::internal::deactivate_for_legal_entity
    ),
    components(schemas(
        crate::store::EmployeeRole,
        crate::store::LegalEntity,
        crate::store::Employee,
        crate::store::HealthcareService,
        crate::roles::CreateRole,
        crate::registry::LegalEntityBody,
        crate::registry::EmployeeBody,
        crate::registry::HealthcareServiceBody,
        crate::registry::PartyBody,
        crate::registry::PartyView,
        crate::store::Party,
        ehealth_core::ErrorBody
    ))
)]
pub struct ApiDoc;
