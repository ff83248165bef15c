//! User roles per client (unique triple) and global user roles.

use actix_web::web;
use mithril_store::global_user_roles::{self, GlobalUserRole};
use mithril_store::user_roles::{self, UserRole, UserRoleFilter, UserRoleFull};
use platform::db;
use platform::error::{ConstraintKind, violated_constraint};
use platform::query::QueryParams;
use platform::{ApiError, ApiResult, Reply, RequestSchema, ValidatedJson};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::startup::AppState;

#[derive(Deserialize, ToSchema)]
pub struct UserRoleCreate {
    pub role_id: Uuid,
    pub client_id: Uuid,
}

impl RequestSchema for UserRoleCreate {
    const SCHEMA: &'static str = "user_role_create";
    const WRAPPER: Option<&'static str> = Some("user_role");
}

#[derive(Deserialize, ToSchema)]
pub struct GlobalUserRoleCreate {
    pub role_id: Uuid,
}

impl RequestSchema for GlobalUserRoleCreate {
    const SCHEMA: &'static str = "global_user_role_create";
    const WRAPPER: Option<&'static str> = Some("global_user_role");
}

/// Unique and foreign-key violations of a role grant, as 422s on the field concerned.
fn grant_errors(e: diesel::result::Error) -> ApiError {
    match violated_constraint(&e) {
        Some((ConstraintKind::Unique, _)) => {
            ApiError::invalid_field("$.role_id", "unique", "has already been taken")
        }
        Some((ConstraintKind::ForeignKey, c)) if c.ends_with("user_id_fkey") => {
            ApiError::not_found()
        }
        Some((ConstraintKind::ForeignKey, c)) if c.ends_with("role_id_fkey") => {
            ApiError::invalid_field("$.role_id", "existence", "does not exist")
        }
        Some((ConstraintKind::ForeignKey, c)) if c.ends_with("client_id_fkey") => {
            ApiError::invalid_field("$.client_id", "existence", "does not exist")
        }
        _ => e.into(),
    }
}

fn filter(query: &QueryParams, user_id: Option<Uuid>) -> ApiResult<UserRoleFilter> {
    let mut q = query.reader();
    let f = UserRoleFilter {
        user_id: user_id.or_else(|| q.uuid("user_id")),
        user_ids: q.uuid_list("user_ids"),
        role_id: q.uuid("role_id"),
        client_id: q.uuid("client_id"),
    };
    q.finish()?;
    Ok(f)
}

#[utoipa::path(get, path = "/admin/users/{user_id}/roles", tag = "admin: user roles",
    params(("user_id" = Uuid, Path), ("client_id" = Option<Uuid>, Query), ("role_id" = Option<Uuid>, Query)),
    responses((status = 200, description = "unpaged list", body = Vec<UserRoleFull>), (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn list_for_user(
    state: web::Data<AppState>,
    user_id: web::Path<Uuid>,
    query: QueryParams,
) -> ApiResult<Reply> {
    let f = filter(&query, Some(*user_id))?;
    let mut conn = db::conn(&state.pool).await?;
    Ok(Reply::unpaged_list(user_roles::list(&mut conn, &f).await?))
}

#[utoipa::path(get, path = "/admin/user_roles", tag = "admin: user roles",
    params(("user_ids" = Option<String>, Query, description = "comma-separated UUIDs"), ("user_id" = Option<Uuid>, Query),
           ("role_id" = Option<Uuid>, Query), ("client_id" = Option<Uuid>, Query)),
    responses((status = 200, description = "unpaged list", body = Vec<UserRoleFull>), (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn list(state: web::Data<AppState>, query: QueryParams) -> ApiResult<Reply> {
    let f = filter(&query, None)?;
    let mut conn = db::conn(&state.pool).await?;
    Ok(Reply::unpaged_list(user_roles::list(&mut conn, &f).await?))
}

#[utoipa::path(post, path = "/admin/users/{user_id}/roles", tag = "admin: user roles", params(("user_id" = Uuid, Path)),
    request_body(content = UserRoleCreate, description = "wrapped as {\"user_role\": {...}}"),
    responses((status = 201, body = UserRole), (status = 404, description = "no such user", body = ehealth_core::ErrorBody),
              (status = 422, description = "duplicate, or unknown role/client", body = ehealth_core::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    user_id: web::Path<Uuid>,
    body: ValidatedJson<UserRoleCreate>,
) -> ApiResult<Reply> {
    let b = body.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    let created = user_roles::insert(&mut conn, *user_id, b.role_id, b.client_id)
        .await
        .map_err(grant_errors)?;
    Ok(Reply::created(created))
}

#[utoipa::path(get, path = "/admin/users/{user_id}/roles/{id}", tag = "admin: user roles",
    params(("user_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = UserRole), (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn show(state: web::Data<AppState>, path: web::Path<(Uuid, Uuid)>) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(Reply::ok(user_roles::get(&mut conn, path.0, path.1).await?))
}

#[utoipa::path(delete, path = "/admin/users/{user_id}/roles", tag = "admin: user roles",
    params(("user_id" = Uuid, Path), ("role_name" = Option<String>, Query), ("client_id" = Option<Uuid>, Query), ("role_id" = Option<Uuid>, Query)),
    responses((status = 204, description = "deleted"), (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn delete_by_user(
    state: web::Data<AppState>,
    user_id: web::Path<Uuid>,
    query: QueryParams,
) -> ApiResult<Reply> {
    let mut q = query.reader();
    let (role_name, client_id, role_id) = (
        q.string("role_name"),
        q.uuid("client_id"),
        q.uuid("role_id"),
    );
    q.finish()?;
    let mut conn = db::conn(&state.pool).await?;
    user_roles::delete_by_user(
        &mut conn,
        *user_id,
        role_name.as_deref(),
        client_id,
        role_id,
    )
    .await?;
    Ok(Reply::no_content())
}

#[utoipa::path(delete, path = "/admin/users/roles/{id}", tag = "admin: user roles", params(("id" = Uuid, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, id: web::Path<Uuid>) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    match user_roles::delete(&mut conn, *id).await? {
        0 => Err(ApiError::not_found()),
        _ => Ok(Reply::no_content()),
    }
}

#[utoipa::path(post, path = "/admin/users/{user_id}/global_roles", tag = "admin: user roles", params(("user_id" = Uuid, Path)),
    request_body(content = GlobalUserRoleCreate, description = "wrapped as {\"global_user_role\": {...}}; granting twice is harmless"),
    responses((status = 201, body = GlobalUserRole), (status = 404, description = "no such user", body = ehealth_core::ErrorBody),
              (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn grant_global(
    state: web::Data<AppState>,
    user_id: web::Path<Uuid>,
    body: ValidatedJson<GlobalUserRoleCreate>,
) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    let granted = global_user_roles::grant(&mut conn, *user_id, body.0.role_id)
        .await
        .map_err(grant_errors)?;
    Ok(Reply::created(granted))
}

#[utoipa::path(get, path = "/admin/users/{user_id}/global_roles/{id}", tag = "admin: user roles",
    params(("user_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = GlobalUserRole), (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn show_global(
    state: web::Data<AppState>,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(Reply::ok(
        global_user_roles::get(&mut conn, path.0, path.1).await?,
    ))
}
