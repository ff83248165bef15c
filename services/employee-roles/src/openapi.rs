use utoipa::OpenApi;

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
