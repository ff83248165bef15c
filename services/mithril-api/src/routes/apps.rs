//! `/admin/apps`: a user's approvals. Every route is scoped to `x-consumer-id`: the list shows
//! only that user's approvals, and an approval of another user is a 404 (the reference did not
//! check ownership on `/admin/apps/{id}`). Deleting an approval expires the user's tokens for
//! that client.

use actix_web::web;
use ehealth_core::{Paging, ScopeSet};
use mithril_store::apps::{self, App, AppFilter};
use mithril_store::tokens;
use platform::db;
use platform::error::{ConstraintKind, violated_constraint};
use platform::query::QueryParams;
use platform::{Actor, ApiError, ApiResult, Reply, RequestSchema, ValidatedJson};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::connections::MAX_PAGE_SIZE;
use crate::startup::AppState;

#[derive(Deserialize, ToSchema)]
pub struct AppCreate {
    pub user_id: Uuid,
    pub client_id: Uuid,
    pub scope: String,
}

impl RequestSchema for AppCreate {
    const SCHEMA: &'static str = "app_create";
    const WRAPPER: Option<&'static str> = Some("app");
}

#[derive(Deserialize, ToSchema)]
pub struct AppUpdate {
    pub scope: String,
}

impl RequestSchema for AppUpdate {
    const SCHEMA: &'static str = "app_update";
    const WRAPPER: Option<&'static str> = Some("app");
}

/// `client_ids=client-<uuid>,…` and `client_names=client_name-<prefix>,…`, as the reference.
fn prefixed(raw: Option<String>, prefix: &str) -> Option<Vec<String>> {
    raw.map(|s| {
        s.split(',')
            .filter_map(|v| v.trim().strip_prefix(prefix))
            .map(str::to_owned)
            .collect()
    })
}

#[utoipa::path(get, path = "/admin/apps", tag = "admin: approvals",
    params(("x-consumer-id" = Uuid, Header), ("client_ids" = Option<String>, Query, description = "client-<uuid>,…"),
           ("client_names" = Option<String>, Query, description = "client_name-<prefix>,…"),
           ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, description = "the caller's approvals", body = Vec<App>),
              (status = 401, description = "Missing header x-consumer-id", body = ehealth_core::ErrorBody),
              (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn list(state: web::Data<AppState>, user: Actor, query: QueryParams) -> ApiResult<Reply> {
    let mut q = query.reader();
    let ids = prefixed(q.string("client_ids"), "client-");
    let names = prefixed(q.string("client_names"), "client_name-");
    let page = q.page(MAX_PAGE_SIZE);
    q.finish()?;
    let client_ids = match ids {
        Some(raw) => Some(
            raw.iter()
                .map(|s| Uuid::parse_str(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    ApiError::validation(vec![ehealth_core::InvalidEntry::query(
                        "client_ids",
                        "uuid",
                        "must be client-<uuid>,…",
                    )])
                })?,
        ),
        None => None,
    };
    let filter = AppFilter {
        client_ids,
        client_name_prefixes: names,
    };
    let mut conn = db::conn(&state.pool).await?;
    let found = apps::list(
        &mut conn,
        user.0.as_uuid(),
        &filter,
        page.page_size,
        page.offset(),
    )
    .await?;
    Ok(Reply::list(
        found.rows,
        Paging::new(page.page, page.page_size, found.total),
    ))
}

#[utoipa::path(post, path = "/admin/apps", tag = "admin: approvals",
    params(("x-consumer-id" = Uuid, Header)),
    request_body(content = AppCreate, description = "wrapped as {\"app\": {...}}; an existing approval gains the scopes"),
    responses((status = 201, body = App), (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    _user: Actor,
    body: ValidatedJson<AppCreate>,
) -> ApiResult<Reply> {
    let b = body.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    let app = apps::approve(
        &mut conn,
        b.user_id,
        b.client_id,
        &ScopeSet::parse(&b.scope).to_string(),
    )
    .await
    .map_err(|e| match violated_constraint(&e) {
        Some((ConstraintKind::ForeignKey, c)) if c.ends_with("user_id_fkey") => {
            ApiError::invalid_field("$.user_id", "existence", "does not exist")
        }
        Some((ConstraintKind::ForeignKey, _)) => {
            ApiError::invalid_field("$.client_id", "existence", "does not exist")
        }
        _ => e.into(),
    })?;
    Ok(Reply::created(app))
}

#[utoipa::path(get, path = "/admin/apps/{id}", tag = "admin: approvals", params(("id" = Uuid, Path), ("x-consumer-id" = Uuid, Header)),
    responses((status = 200, body = App), (status = 404, description = "no such approval of this user", body = ehealth_core::ErrorBody)))]
pub async fn show(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(Reply::ok(
        apps::get(&mut conn, user.0.as_uuid(), *id).await?,
    ))
}

#[utoipa::path(method(put, patch), path = "/admin/apps/{id}", tag = "admin: approvals", params(("id" = Uuid, Path), ("x-consumer-id" = Uuid, Header)),
    request_body(content = AppUpdate, description = "wrapped as {\"app\": {...}}; PATCH is the same"),
    responses((status = 200, body = App), (status = 404, body = ehealth_core::ErrorBody), (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
    body: ValidatedJson<AppUpdate>,
) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    let scope = ScopeSet::parse(&body.0.scope).to_string();
    Ok(Reply::ok(
        apps::update_scope(&mut conn, user.0.as_uuid(), *id, &scope).await?,
    ))
}

#[utoipa::path(delete, path = "/admin/apps/{id}", tag = "admin: approvals", params(("id" = Uuid, Path), ("x-consumer-id" = Uuid, Header)),
    responses((status = 204, description = "approval removed; the user's tokens for that client are expired"),
              (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    let client_id = apps::delete(&mut conn, user.0.as_uuid(), *id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tokens::expire_for_user(&mut conn, user.0.as_uuid(), Some(client_id)).await?;
    Ok(Reply::no_content())
}

#[utoipa::path(delete, path = "/admin/users/{user_id}/apps", tag = "admin: approvals",
    params(("user_id" = Uuid, Path), ("client_id" = Option<Uuid>, Query)),
    responses((status = 204, description = "approvals removed; the user's tokens for those clients are expired"),
              (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn delete_by_user(
    state: web::Data<AppState>,
    user_id: web::Path<Uuid>,
    query: QueryParams,
) -> ApiResult<Reply> {
    let mut q = query.reader();
    let client_id = q.uuid("client_id");
    q.finish()?;
    let mut conn = db::conn(&state.pool).await?;
    for client in apps::delete_by_user(&mut conn, *user_id, client_id).await? {
        tokens::expire_for_user(&mut conn, *user_id, Some(client)).await?;
    }
    Ok(Reply::no_content())
}
