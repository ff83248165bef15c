//! `/admin/users/{user_id}/authentication_factors` (spec §1.3): the SMS factor of two-factor
//! login. A user has at most one; a login of a user whose factor is active asks for a code.

use actix_web::web;
use ehealth_core::Paging;
use mithril_store::factors::{self, FactorFilter};
use mithril_store::users;
use platform::db;
use platform::error::{ConstraintKind, violated_constraint};
use platform::query::QueryParams;
use platform::{ApiError, ApiResult, Reply, RequestSchema, ValidatedJson};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::connections::MAX_PAGE_SIZE;
use crate::startup::AppState;

#[derive(Deserialize, ToSchema)]
pub struct FactorCreate {
    /// `SMS`
    #[serde(rename = "type")]
    pub factor_type: String,
    /// `+380` and nine digits.
    pub factor: String,
}

impl RequestSchema for FactorCreate {
    const SCHEMA: &'static str = "factor_init";
    const WRAPPER: Option<&'static str> = None;
}

#[utoipa::path(get, path = "/admin/users/{user_id}/authentication_factors", tag = "admin: users",
    params(("user_id" = Uuid, Path), ("type" = Option<String>, Query), ("is_active" = Option<bool>, Query),
           ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, description = "list envelope of the user's factors"), (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    user_id: web::Path<Uuid>,
    query: QueryParams,
) -> ApiResult<Reply> {
    let mut q = query.reader();
    let filter = FactorFilter {
        factor_type: q.string("type"),
        is_active: q.bool("is_active"),
    };
    let page = q.page(MAX_PAGE_SIZE);
    q.finish()?;
    let mut conn = db::conn(&state.pool).await?;
    let found = factors::list(&mut conn, *user_id, &filter, page.page_size, page.offset()).await?;
    Ok(Reply::list(
        found.rows,
        Paging::new(page.page, page.page_size, found.total),
    ))
}

#[utoipa::path(post, path = "/admin/users/{user_id}/authentication_factors", tag = "admin: users",
    params(("user_id" = Uuid, Path)),
    request_body(content = FactorCreate, description = "{\"type\": \"SMS\", \"factor\": \"+380XXXXXXXXX\"}"),
    responses((status = 201, description = "the factor (active): the user's logins now ask for a code"),
              (status = 404, description = "no such user", body = ehealth_core::ErrorBody),
              (status = 422, description = "bad type or phone, or the user has a factor already", body = ehealth_core::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    user_id: web::Path<Uuid>,
    body: ValidatedJson<FactorCreate>,
) -> ApiResult<Reply> {
    let body = body.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    if !users::exists(&mut conn, *user_id).await? {
        return Err(ApiError::not_found());
    }
    let created = factors::create(&mut conn, *user_id, &body.factor_type, Some(&body.factor))
        .await
        .map_err(|e| match violated_constraint(&e) {
            Some((ConstraintKind::Unique, _)) => {
                ApiError::invalid_field("$.type", "unique", "has already been taken")
            }
            _ => e.into(),
        })?;
    Ok(Reply::created(created))
}

#[utoipa::path(get, path = "/admin/users/{user_id}/authentication_factors/{id}", tag = "admin: users",
    params(("user_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 200, description = "the factor"), (status = 404, description = "none, or another user's", body = ehealth_core::ErrorBody)))]
pub async fn show(state: web::Data<AppState>, path: web::Path<(Uuid, Uuid)>) -> ApiResult<Reply> {
    let (user_id, id) = path.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    let factor = factors::get(&mut conn, user_id, id).await?;
    factor.map(Reply::ok).ok_or_else(ApiError::not_found)
}

#[utoipa::path(patch, path = "/admin/users/{user_id}/authentication_factors/{id}/actions/reset", tag = "admin: users",
    params(("user_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 200, description = "the phone is cleared: the next login asks the user to set one (REQUEST_FACTOR)"),
              (status = 404, description = "no such active factor", body = ehealth_core::ErrorBody)))]
pub async fn reset(state: web::Data<AppState>, path: web::Path<(Uuid, Uuid)>) -> ApiResult<Reply> {
    let (user_id, id) = path.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    let factor = factors::reset(&mut conn, user_id, id).await?;
    factor.map(Reply::ok).ok_or_else(ApiError::not_found)
}

#[utoipa::path(patch, path = "/admin/users/{user_id}/authentication_factors/{id}/actions/disable", tag = "admin: users",
    params(("user_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 200, description = "disabled: logins no longer ask for a code"),
              (status = 404, body = ehealth_core::ErrorBody),
              (status = 409, description = "user authentication factor already disabled", body = ehealth_core::ErrorBody)))]
pub async fn disable(
    state: web::Data<AppState>,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<Reply> {
    set_active(&state, path.into_inner(), false).await
}

#[utoipa::path(patch, path = "/admin/users/{user_id}/authentication_factors/{id}/actions/enable", tag = "admin: users",
    params(("user_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 200, description = "enabled"),
              (status = 404, body = ehealth_core::ErrorBody),
              (status = 409, description = "user authentication factor already enabled", body = ehealth_core::ErrorBody)))]
pub async fn enable(state: web::Data<AppState>, path: web::Path<(Uuid, Uuid)>) -> ApiResult<Reply> {
    set_active(&state, path.into_inner(), true).await
}

async fn set_active(
    state: &AppState,
    (user_id, id): (Uuid, Uuid),
    active: bool,
) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    if let Some(factor) = factors::set_active(&mut conn, user_id, id, active).await? {
        return Ok(Reply::ok(factor));
    }
    factors::get(&mut conn, user_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Err(ApiError::conflict(if active {
        "user authentication factor already enabled"
    } else {
        "user authentication factor already disabled"
    }))
}
