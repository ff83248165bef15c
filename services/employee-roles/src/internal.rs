//! Internal role operations for the registry's own flows (spec §4.3): the roles of an employee
//! (employee deactivation checks for ACTIVE ones), and bulk deactivation by employee or by
//! legal entity (the cascade policy and the legal-entity closing job), with an actor.

use actix_web::web;
use platform::query::QueryParams;
use platform::{Actor, ApiError, ApiResult, Reply, db};
use uuid::Uuid;

use crate::startup::AppState;
use crate::store::{self, Scope};

#[utoipa::path(get, path = "/admin/employees/{id}/employee_roles", tag = "internal",
    params(("id" = Uuid, Path), ("status" = Option<String>, Query, description = "ACTIVE or INACTIVE, any case",
               pattern = "^([Aa][Cc][Tt][Ii][Vv][Ee]|[Ii][Nn][Aa][Cc][Tt][Ii][Vv][Ee])$")),
    responses((status = 200, body = Vec<store::EmployeeRole>), (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn roles_of_employee(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: QueryParams,
) -> ApiResult<Reply> {
    let status = match query.get("status").map(str::to_ascii_uppercase) {
        None => None,
        Some(s) if s == store::ACTIVE || s == store::INACTIVE => Some(s),
        Some(_) => {
            return Err(ApiError::validation(vec![
                ehealth_core::InvalidEntry::query(
                    "status",
                    "inclusion",
                    "must be ACTIVE or INACTIVE",
                ),
            ]));
        }
    };
    let mut conn = db::conn(&state.pool).await?;
    let rows = store::roles_of_employee(&mut conn, *id, status.as_deref()).await?;
    Ok(Reply::unpaged_list(rows))
}

async fn deactivate(state: &AppState, scope: Scope, actor: Actor) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    let ids = store::deactivate_all(&mut conn, scope, actor.0.0).await?;
    Ok(Reply::ok(
        serde_json::json!({"deactivated": ids.len(), "ids": ids}),
    ))
}

#[utoipa::path(patch, path = "/admin/employees/{id}/employee_roles/actions/deactivate", tag = "internal",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "{deactivated, ids}"), (status = 401, body = ehealth_core::ErrorBody)))]
pub async fn deactivate_for_employee(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<Reply> {
    deactivate(&state, Scope::Employee(*id), actor).await
}

#[utoipa::path(patch, path = "/admin/legal_entities/{id}/employee_roles/actions/deactivate", tag = "internal",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "{deactivated, ids}"), (status = 401, body = ehealth_core::ErrorBody)))]
pub async fn deactivate_for_legal_entity(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<Reply> {
    deactivate(&state, Scope::LegalEntity(*id), actor).await
}
