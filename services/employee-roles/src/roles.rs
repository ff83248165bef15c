//! The public employee-role endpoints (seed 004 and spec §1). The caller is the gatekeeper's
//! trusted identity: user = `x-consumer-id`, legal entity = `client_id` of
//! `x-consumer-metadata`. Scopes (`employee_role:read|write`) are the gatekeeper's.
//!
//! Choices where the spec is silent (§7), in check order after the spec's own:
//! - the healthcare service of another legal entity: 422 at `$.healthcare_service_id`;
//!   a service that is not ACTIVE: 409 "Healthcare service is not active";
//! - the employee of another legal entity: 422 at `$.employee_id`; not APPROVED: 409
//!   "Employee is not active";
//! - the officio speciality differs from the service's speciality_type: 422 at `$.employee_id`;
//!   a service without speciality_type skips that match unless
//!   `roles.require_speciality_type` is set (then 422 at `$.healthcare_service_id`);
//! - the party gate (§1.1 #3, `roles.block_unverified_party_users`): a user with no party in
//!   the registry data is refused as unverified (403 "Access denied. Party is not verified");
//!   the cut-off is midnight UTC of `current_date - unverified_party_period_days_allowed`;
//! - the list needs one of employee_id, healthcare_service_id, status (page and page_size do not
//!   count): else 422 `query_parameter`; status is matched case-insensitively.

use actix_web::{HttpRequest, web};
use chrono::Utc;
use ehealth_core::InvalidEntry;
use ehealth_core::Paging;
use platform::query::QueryParams;
use platform::{ApiError, ApiResult, Caller, Reply, RequestSchema, ValidatedJson, db};
use serde::Deserialize;
use uuid::Uuid;

use crate::startup::AppState;
use crate::store::{self, ACTIVE, Deactivation, EmployeeRole, NewEmployeeRole, RoleFilter};

pub const MAX_PAGE_SIZE: i64 = 300;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateRole {
    healthcare_service_id: Uuid,
    employee_id: Uuid,
}

impl RequestSchema for CreateRole {
    const SCHEMA: &'static str = "employee_role_create";
}

fn le_conflict() -> ApiError {
    ApiError::conflict("Legal entity must be ACTIVE or SUSPENDED")
}

fn invalid(path: &str, rule: &str, description: &str) -> ApiError {
    ApiError::validation(vec![InvalidEntry::body(path, rule, description)])
}

pub const PARTY_NOT_VERIFIED: &str = "Access denied. Party is not verified";

/// Spec §1.1 #3: the user's party is not NOT_VERIFIED, or has been since before the cut-off.
async fn require_verified_party(
    conn: &mut db::DbConn,
    caller: &Caller,
    roles: &crate::settings::RoleSettings,
) -> ApiResult<()> {
    let cutoff = (Utc::now().date_naive()
        - chrono::Days::new(u64::from(roles.unverified_party_period_days_allowed)))
    .and_time(chrono::NaiveTime::MIN)
    .and_utc();
    match store::party_of_user(conn, caller.user_id.0).await? {
        Some((status, updated_at)) if status != "NOT_VERIFIED" || updated_at <= cutoff => Ok(()),
        _ => Err(ApiError::forbidden_with(PARTY_NOT_VERIFIED)),
    }
}

/// Spec §1.1 #5 and §1.4 #2: the caller's legal entity is ACTIVE or SUSPENDED.
async fn require_active_legal_entity(conn: &mut db::DbConn, caller: &Caller) -> ApiResult<()> {
    match store::legal_entity_status(conn, caller.client_id.0)
        .await?
        .as_deref()
    {
        Some("ACTIVE" | "SUSPENDED") => Ok(()),
        _ => Err(le_conflict()),
    }
}

#[utoipa::path(post, path = "/api/employee_roles", tag = "employee roles",
    description = "Add an employee role. Scope employee_role:write (checked by the gatekeeper).",
    request_body = CreateRole,
    responses((status = 201, body = EmployeeRole),
              (status = 401, description = "Missing or invalid identity headers", body = ehealth_core::ErrorBody),
              (status = 403, description = "Access denied. Party is not verified (roles.block_unverified_party_users)", body = ehealth_core::ErrorBody),
              (status = 409, description = "Legal entity must be ACTIVE or SUSPENDED / Duplicated employee role for this employee and healthcare service / Healthcare service is not active / Employee is not active", body = ehealth_core::ErrorBody),
              (status = 422, description = "Schema, or $.healthcare_service_id / $.employee_id not found, of another legal entity, or speciality mismatch", body = ehealth_core::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<Reply> {
    // §1.1 order: the party gate (#3) comes before the body's schema (#4).
    if state.settings.roles.block_unverified_party_users {
        let mut conn = db::conn(&state.pool).await?;
        require_verified_party(&mut conn, &caller, &state.settings.roles).await?;
    }
    let body = ValidatedJson::<CreateRole>::read(req, payload).await?;
    let mut conn = db::conn(&state.pool).await?;
    require_active_legal_entity(&mut conn, &caller).await?;
    let le = caller.client_id.0;
    let service = store::healthcare_service(&mut conn, body.healthcare_service_id)
        .await?
        .filter(|s| s.is_active)
        .ok_or_else(|| {
            invalid(
                "$.healthcare_service_id",
                "existence",
                "Healthcare service not found",
            )
        })?;
    let employee = store::employee(&mut conn, body.employee_id)
        .await?
        .filter(|e| e.is_active)
        .ok_or_else(|| invalid("$.employee_id", "existence", "Employee not found"))?;
    if store::active_role_exists(&mut conn, employee.id, service.id).await? {
        return Err(duplicate());
    }
    if service.legal_entity_id != le {
        return Err(invalid(
            "$.healthcare_service_id",
            "invalid",
            "Healthcare service should belong to your legal entity",
        ));
    }
    if service.status != ACTIVE {
        return Err(ApiError::conflict("Healthcare service is not active"));
    }
    if employee.legal_entity_id != le {
        return Err(invalid(
            "$.employee_id",
            "invalid",
            "Employee should belong to your legal entity",
        ));
    }
    if employee.status != "APPROVED" {
        return Err(ApiError::conflict("Employee is not active"));
    }
    match service.speciality_type.as_deref() {
        Some(wanted) => {
            let officio = employee
                .speciality
                .as_ref()
                .filter(|s| s.get("speciality_officio") == Some(&serde_json::Value::Bool(true)))
                .and_then(|s| s.get("speciality"))
                .and_then(|s| s.as_str());
            if officio != Some(wanted) {
                return Err(invalid(
                    "$.employee_id",
                    "invalid",
                    "Employee speciality does not match healthcare service speciality",
                ));
            }
        }
        None if state.settings.roles.require_speciality_type => {
            return Err(invalid(
                "$.healthcare_service_id",
                "invalid",
                "Healthcare service has no speciality type",
            ));
        }
        None => {}
    }
    let now = Utc::now();
    let new = NewEmployeeRole {
        id: Uuid::new_v4(),
        healthcare_service_id: service.id,
        employee_id: employee.id,
        legal_entity_id: le,
        start_date: now,
        status: ACTIVE,
        is_active: true,
        inserted_at: now,
        inserted_by: caller.user_id.0,
        updated_at: now,
        updated_by: caller.user_id.0,
    };
    match store::insert_role(&mut conn, &new).await {
        Ok(role) => Ok(Reply::created(role)),
        Err(e)
            if matches!(
                platform::error::violated_constraint(&e),
                Some((
                    platform::error::ConstraintKind::Unique,
                    "employee_roles_active_pair"
                ))
            ) =>
        {
            Err(duplicate())
        }
        Err(e) => Err(e.into()),
    }
}

fn duplicate() -> ApiError {
    ApiError::conflict("Duplicated employee role for this employee and healthcare service")
}

#[utoipa::path(get, path = "/api/employee_roles", tag = "employee roles",
    description = "The caller's legal entity's roles. Scope employee_role:read. At least one of employee_id, healthcare_service_id, status.",
    params(("employee_id" = Option<Uuid>, Query), ("healthcare_service_id" = Option<Uuid>, Query),
           ("status" = Option<String>, Query, description = "ACTIVE or INACTIVE, any case; empty is absent",
            pattern = "^([Aa][Cc][Tt][Ii][Vv][Ee]|[Ii][Nn][Aa][Cc][Tt][Ii][Vv][Ee])?$"),
           ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query, description = "1..300, default 50")),
    responses((status = 200, body = Vec<EmployeeRole>),
              (status = 401, body = ehealth_core::ErrorBody),
              (status = 422, description = "no filter, a bad UUID or status, page out of range", body = ehealth_core::ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: QueryParams,
) -> ApiResult<Reply> {
    let mut r = query.reader();
    let employee_id = r.uuid("employee_id");
    let healthcare_service_id = r.uuid("healthcare_service_id");
    let status_raw = r.string("status");
    let page = r.page(MAX_PAGE_SIZE);
    r.finish()?;
    let status = match status_raw.as_deref().map(str::to_ascii_uppercase) {
        None => None,
        Some(s) if s == ACTIVE || s == store::INACTIVE => Some(s),
        Some(_) => {
            return Err(ApiError::validation(vec![InvalidEntry::query(
                "status",
                "inclusion",
                "must be ACTIVE or INACTIVE",
            )]));
        }
    };
    if employee_id.is_none() && healthcare_service_id.is_none() && status.is_none() {
        return Err(ApiError::validation(vec![InvalidEntry::query(
            "employee_id",
            "required",
            "at least one of employee_id, healthcare_service_id, status must be provided",
        )]));
    }
    let filter = RoleFilter {
        legal_entity_id: caller.client_id.0,
        employee_id,
        healthcare_service_id,
        status,
    };
    let mut conn = db::conn(&state.pool).await?;
    let (rows, total) =
        store::list_roles(&mut conn, &filter, page.offset(), page.page_size).await?;
    Ok(Reply::list(
        rows,
        Paging::new(page.page, page.page_size, total),
    ))
}

#[utoipa::path(get, path = "/api/employee_roles/{id}", tag = "employee roles",
    description = "Scope employee_role:read.",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EmployeeRole), (status = 401, body = ehealth_core::ErrorBody),
              (status = 403, description = "the role belongs to another legal entity", body = ehealth_core::ErrorBody),
              (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> ApiResult<Reply> {
    let conn = state.reads.conn().await?;
    let role = conn
        .checked(store::role(&conn, *id).await)?
        .filter(|r| r.is_active)
        .ok_or_else(ApiError::not_found)?;
    if role.legal_entity_id != caller.client_id.0 {
        return Err(ApiError::forbidden());
    }
    Ok(Reply::ok(role))
}

#[utoipa::path(patch, path = "/api/employee_roles/{id}/actions/deactivate", tag = "employee roles",
    description = "Seed 004. Scope employee_role:write. No body.",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EmployeeRole), (status = 401, body = ehealth_core::ErrorBody),
              (status = 403, body = ehealth_core::ErrorBody), (status = 404, body = ehealth_core::ErrorBody),
              (status = 409, description = "Legal entity must be ACTIVE or SUSPENDED / {STATUS} employee role cannot be DEACTIVATED", body = ehealth_core::ErrorBody)))]
pub async fn deactivate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    require_active_legal_entity(&mut conn, &caller).await?;
    match store::deactivate_role(&mut conn, *id, caller.client_id.0, caller.user_id.0).await? {
        Deactivation::Done(role) => Ok(Reply::ok(role)),
        Deactivation::Missing => Err(ApiError::not_found()),
        Deactivation::Foreign => Err(ApiError::forbidden()),
        Deactivation::NotActive(status) => Err(ApiError::conflict(format!(
            "{status} employee role cannot be DEACTIVATED"
        ))),
    }
}
