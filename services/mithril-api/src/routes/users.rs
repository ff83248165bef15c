//! `/admin/users`: CRUD with the password policy and history, block/unblock.

use actix_web::web;
use diesel::result::OptionalExtension;
use ehealth_core::{InvalidEntry, Paging, password};
use mithril_store::User;
use mithril_store::users::{self, NewUser, UserChanges, UserFilter};
use platform::db::{self, DbConn};
use platform::error::{ConstraintKind, violated_constraint};
use platform::query::QueryParams;
use platform::{ApiError, ApiResult, OptionalJson, Reply, RequestSchema, ValidatedJson};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::connections::MAX_PAGE_SIZE;
use crate::startup::AppState;

#[derive(Deserialize, ToSchema)]
pub struct UserCreate {
    pub email: String,
    /// 12+ characters with an upper-case and a lower-case letter and a digit.
    pub password: String,
    pub tax_id: Option<String>,
    pub person_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
}

impl RequestSchema for UserCreate {
    const SCHEMA: &'static str = "user_create";
    const WRAPPER: Option<&'static str> = Some("user");
}

#[derive(Deserialize, ToSchema)]
pub struct UserUpdate {
    pub email: Option<String>,
    pub password: Option<String>,
    pub tax_id: Option<String>,
    pub person_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
}

impl RequestSchema for UserUpdate {
    const SCHEMA: &'static str = "user_update";
    const WRAPPER: Option<&'static str> = Some("user");
}

#[derive(Deserialize, ToSchema)]
pub struct UserBlock {
    pub block_reason: Option<String>,
}

impl RequestSchema for UserBlock {
    const SCHEMA: &'static str = "user_block";
    const WRAPPER: Option<&'static str> = Some("user");
}

fn email_taken(e: diesel::result::Error) -> ApiError {
    match violated_constraint(&e) {
        Some((ConstraintKind::Unique, "users_email_key")) => {
            ApiError::invalid_field("$.email", "unique", "has already been taken")
        }
        _ => e.into(),
    }
}

fn policy(pw: &str) -> ApiResult<()> {
    password::check_policy(pw).map_err(|violations| {
        ApiError::validation(
            violations
                .into_iter()
                .map(|(rule, description)| InvalidEntry::body("$.password", rule, description))
                .collect(),
        )
    })
}

/// argon2id off the async threads.
async fn hash(pw: String) -> ApiResult<String> {
    web::block(move || password::hash(&pw))
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("blocking pool: {e}")))?
        .map_err(|e| ApiError::internal(e.into()))
}

/// 422 `password_used` when `pw` matches one of the last passwords.
async fn not_recent(conn: &mut DbConn, id: Uuid, pw: &str) -> ApiResult<()> {
    let recent = users::recent_password_hashes(conn, id).await?;
    let pw = pw.to_owned();
    let reused = web::block(move || recent.iter().any(|h| password::verify(&pw, h)))
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("blocking pool: {e}")))?;
    if reused {
        return Err(ApiError::invalid_field(
            "$.password",
            "password_used",
            "This password has been used recently. Try another one",
        ));
    }
    Ok(())
}

#[utoipa::path(get, path = "/admin/users", tag = "admin: users",
    params(("id" = Option<Uuid>, Query), ("ids" = Option<String>, Query, description = "comma-separated UUIDs"),
           ("email" = Option<String>, Query, description = "exact, case-insensitive"), ("tax_id" = Option<String>, Query),
           ("is_blocked" = Option<bool>, Query), ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, description = "list envelope of users (never a password)"),
              (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn list(state: web::Data<AppState>, query: QueryParams) -> ApiResult<Reply> {
    let mut q = query.reader();
    let filter = UserFilter {
        id: q.uuid("id"),
        ids: q.uuid_list("ids"),
        email: q.string("email"),
        tax_id: q.string("tax_id"),
        is_blocked: q.bool("is_blocked"),
    };
    let page = q.page(MAX_PAGE_SIZE);
    q.finish()?;
    let mut conn = db::conn(&state.pool).await?;
    let found = users::list(&mut conn, &filter, page.page_size, page.offset()).await?;
    Ok(Reply::list(
        found.rows,
        Paging::new(page.page, page.page_size, found.total),
    ))
}

#[utoipa::path(post, path = "/admin/users", tag = "admin: users",
    request_body(content = UserCreate, description = "wrapped as {\"user\": {...}}"),
    responses((status = 201, description = "the user, without password"), (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    body: ValidatedJson<UserCreate>,
) -> ApiResult<Reply> {
    let b = body.into_inner();
    policy(&b.password)?;
    let new = NewUser {
        id: Uuid::now_v7(),
        email: b.email,
        password: hash(b.password).await?,
        settings: b.settings.unwrap_or_else(|| serde_json::json!({})),
        tax_id: b.tax_id.unwrap_or_default(),
        person_id: b.person_id.unwrap_or_default(),
        is_blocked: false,
        block_reason: None,
    };
    let mut conn = db::conn(&state.pool).await?;
    let user = users::create(&mut conn, &new).await.map_err(email_taken)?;
    Ok(Reply::created(user).location(&format!("/admin/users/{}", new.id)))
}

#[utoipa::path(get, path = "/admin/users/{id}", tag = "admin: users", params(("id" = Uuid, Path)),
    responses((status = 200, description = "the user"), (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn show(state: web::Data<AppState>, id: web::Path<Uuid>) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(Reply::ok(users::get(&mut conn, *id).await?))
}

#[utoipa::path(method(put, patch), path = "/admin/users/{id}", tag = "admin: users", params(("id" = Uuid, Path)),
    request_body(content = UserUpdate, description = "wrapped as {\"user\": {...}}; PATCH is the same"),
    responses((status = 200, description = "the user"), (status = 404, body = ehealth_core::ErrorBody),
              (status = 422, description = "policy, reuse of the last 3 passwords, taken email", body = ehealth_core::ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: ValidatedJson<UserUpdate>,
) -> ApiResult<Reply> {
    let b = body.into_inner();
    let id = id.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    if !users::exists(&mut conn, id).await? {
        return Err(ApiError::not_found());
    }
    if let Some(pw) = &b.password {
        policy(pw)?;
        not_recent(&mut conn, id, pw).await?;
    }
    let changes = UserChanges {
        email: b.email,
        settings: b.settings,
        tax_id: b.tax_id,
        person_id: b.person_id,
    };
    let mut user: User = users::update(&mut conn, id, &changes)
        .await
        .map_err(email_taken)?;
    if let Some(pw) = b.password {
        user = users::set_password(&mut conn, id, &hash(pw).await?).await?;
    }
    Ok(Reply::ok(user))
}

#[utoipa::path(delete, path = "/admin/users/{id}", tag = "admin: users", params(("id" = Uuid, Path)),
    responses((status = 204, description = "deleted with its roles, approvals and tokens"), (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, id: web::Path<Uuid>) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    match users::delete(&mut conn, *id).await? {
        0 => Err(ApiError::not_found()),
        _ => Ok(Reply::no_content()),
    }
}

#[utoipa::path(patch, path = "/admin/users/{id}/actions/block", tag = "admin: users", params(("id" = Uuid, Path)),
    request_body(content = Option<UserBlock>, description = "optional, wrapped as {\"user\": {\"block_reason\": ..}}"),
    responses((status = 200, description = "blocked; every live token of the user is expired"),
              (status = 404, body = ehealth_core::ErrorBody), (status = 409, description = "user already blocked", body = ehealth_core::ErrorBody)))]
pub async fn block(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: OptionalJson<UserBlock>,
) -> ApiResult<Reply> {
    let reason = body.0.and_then(|b| b.block_reason);
    set_blocked(&state, *id, true, reason.as_deref()).await
}

#[utoipa::path(patch, path = "/admin/users/{id}/actions/unblock", tag = "admin: users", params(("id" = Uuid, Path)),
    responses((status = 200, description = "unblocked; failed-login history cleared"),
              (status = 404, body = ehealth_core::ErrorBody), (status = 409, description = "user already unblocked", body = ehealth_core::ErrorBody)))]
pub async fn unblock(state: web::Data<AppState>, id: web::Path<Uuid>) -> ApiResult<Reply> {
    set_blocked(&state, *id, false, None).await
}

#[utoipa::path(patch, path = "/admin/users/{id}/actions/unlock", tag = "admin: users", params(("id" = Uuid, Path)),
    responses((status = 200, description = "the failed logins counted under the user's address are cleared: a lockout (10 failures in 10 minutes) ends at once"),
              (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn unlock(state: web::Data<AppState>, id: web::Path<Uuid>) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    let user = users::get(&mut conn, *id)
        .await
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    users::clear_failures(&mut conn, *id).await?;
    Ok(Reply::ok(user))
}

async fn set_blocked(
    state: &AppState,
    id: Uuid,
    blocked: bool,
    reason: Option<&str>,
) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    let Some(user) = users::set_blocked(&mut conn, id, blocked, reason).await? else {
        users::get(&mut conn, id)
            .await
            .optional()?
            .ok_or_else(ApiError::not_found)?;
        return Err(ApiError::conflict(if blocked {
            "user already blocked"
        } else {
            "user already unblocked"
        }));
    };
    if blocked {
        mithril_store::tokens::expire_for_user(&mut conn, id, None).await?;
    } else {
        users::clear_failures(&mut conn, id).await?;
    }
    Ok(Reply::ok(user))
}
