//! Token administration and revocation (internal). Revocation expires tokens (`expires_at` =
//! now) or deletes them; token values are never shown here.

use actix_web::web;
use ehealth_core::Paging;
use mithril_store::clients;
use mithril_store::tokens::{self, Token, TokenFilter};
use platform::query::QueryParams;
use platform::{ApiError, ApiResult, Reply, db};
use uuid::Uuid;

use crate::startup::AppState;

pub const MAX_PAGE_SIZE: i64 = 50;

#[utoipa::path(get, path = "/admin/tokens", tag = "admin: tokens",
    params(("user_id" = Option<Uuid>, Query), ("client_id" = Option<Uuid>, Query), ("name" = Option<String>, Query),
           ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, description = "list envelope; values are never shown", body = Vec<Token>),
              (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn list(state: web::Data<AppState>, query: QueryParams) -> ApiResult<Reply> {
    let mut q = query.reader();
    let filter = TokenFilter {
        user_id: q.uuid("user_id"),
        client_id: q.uuid("client_id"),
        name: q.string("name"),
    };
    let page = q.page(MAX_PAGE_SIZE);
    q.finish()?;
    let mut conn = db::conn(&state.pool).await?;
    let found = tokens::list(&mut conn, &filter, page.page_size, page.offset()).await?;
    Ok(Reply::list(
        found.rows,
        Paging::new(page.page, page.page_size, found.total),
    ))
}

#[utoipa::path(get, path = "/admin/tokens/{id}", tag = "admin: tokens", params(("id" = Uuid, Path)),
    responses((status = 200, body = Token), (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn show(state: web::Data<AppState>, id: web::Path<Uuid>) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(Reply::ok(tokens::get(&mut conn, *id).await?))
}

#[utoipa::path(delete, path = "/admin/tokens/{id}", tag = "admin: tokens", params(("id" = Uuid, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, id: web::Path<Uuid>) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    match tokens::delete(&mut conn, *id).await? {
        0 => Err(ApiError::not_found()),
        _ => Ok(Reply::no_content()),
    }
}

#[utoipa::path(delete, path = "/admin/tokens", tag = "admin: tokens",
    params(("user_ids" = String, Query, description = "comma-separated UUIDs (required)")),
    responses((status = 204, description = "all tokens of those users deleted"),
              (status = 400, description = "user_ids missing", body = ehealth_core::ErrorBody),
              (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn delete_by_user_ids(
    state: web::Data<AppState>,
    query: QueryParams,
) -> ApiResult<Reply> {
    let mut q = query.reader();
    let ids = q.uuid_list("user_ids");
    q.finish()?;
    let ids =
        ids.ok_or_else(|| ApiError::malformed_with("Query parameter user_ids is required."))?;
    let mut conn = db::conn(&state.pool).await?;
    tokens::delete_by_users(&mut conn, &ids).await?;
    Ok(Reply::no_content())
}

#[utoipa::path(delete, path = "/admin/users/{user_id}/tokens", tag = "admin: tokens",
    params(("user_id" = Uuid, Path), ("client_id" = Option<Uuid>, Query), ("name" = Option<String>, Query)),
    responses((status = 204, description = "deleted"), (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn delete_by_user(
    state: web::Data<AppState>,
    user_id: web::Path<Uuid>,
    query: QueryParams,
) -> ApiResult<Reply> {
    let mut q = query.reader();
    let (client_id, name) = (q.uuid("client_id"), q.string("name"));
    q.finish()?;
    let mut conn = db::conn(&state.pool).await?;
    tokens::delete_by_user(&mut conn, *user_id, client_id, name.as_deref()).await?;
    Ok(Reply::no_content())
}

#[utoipa::path(patch, path = "/admin/clients/{id}/actions/deactivate_tokens", tag = "admin: tokens", params(("id" = Uuid, Path)),
    responses((status = 200, description = "every live token issued for the client is expired; the client"),
              (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn deactivate_client_tokens(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    let client = clients::get(&mut conn, *id).await?;
    tokens::expire_for_client(&mut conn, client.id).await?;
    Ok(Reply::ok(client))
}
