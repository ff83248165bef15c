//! `/admin/clients/{client_id}/connections`: internal; bodies unwrapped, as the reference's
//! connections controller (and its caller, ehealth.api) use them.

use actix_web::{HttpRequest, web};
use ehealth_core::{ClientId, ConnectionId};
use mithril_store::Connection;
use platform::db;
use platform::query::QueryParams;
use platform::{ApiResult, Reply, ValidatedJson};
use uuid::Uuid;

use crate::connections::{self, ConnectionUpdate, ConnectionUpsert, ConnectionWithSecret};
use crate::startup::AppState;

#[utoipa::path(get, path = "/admin/clients/{client_id}/connections", tag = "admin: connections",
    params(("client_id" = Uuid, Path), ("consumer_id" = Option<Uuid>, Query),
           ("redirect_uri" = Option<String>, Query, description = "case-insensitive substring"),
           ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, description = "list envelope; secrets are never shown", body = Vec<Connection>),
              (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    client_id: web::Path<Uuid>,
    query: QueryParams,
) -> ApiResult<Reply> {
    let conn = state.reads.conn().await?;
    connections::list(&conn, ClientId(*client_id), &query).await
}

#[utoipa::path(get, path = "/admin/clients/{client_id}/connections/{id}", tag = "admin: connections",
    params(("client_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = Connection), (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn show(state: web::Data<AppState>, path: web::Path<(Uuid, Uuid)>) -> ApiResult<Reply> {
    let (client_id, id) = path.into_inner();
    let conn = state.reads.conn().await?;
    Ok(Reply::ok(
        connections::get(&conn, ClientId(client_id), ConnectionId(id)).await?,
    ))
}

#[utoipa::path(put, path = "/admin/clients/{client_id}/connections", tag = "admin: connections",
    params(("client_id" = Uuid, Path)), request_body = ConnectionUpsert,
    responses((status = 201, description = "created; the only time the secret is shown (a public connection has none)", body = ConnectionWithSecret),
              (status = 200, description = "redirect_uri updated; the secret is unchanged and not shown", body = Connection),
              (status = 404, description = "no such client", body = ehealth_core::ErrorBody),
              (status = 409, description = "the connection exists with the other is_public", body = ehealth_core::ErrorBody),
              (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn upsert(
    state: web::Data<AppState>,
    client_id: web::Path<Uuid>,
    body: ValidatedJson<ConnectionUpsert>,
) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    connections::upsert(&mut conn, ClientId(*client_id), body.into_inner()).await
}

#[utoipa::path(patch, path = "/admin/clients/{client_id}/connections/{id}", tag = "admin: connections",
    params(("client_id" = Uuid, Path), ("id" = Uuid, Path)), request_body = ConnectionUpdate,
    responses((status = 200, body = Connection), (status = 404, body = ehealth_core::ErrorBody),
              (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    path: web::Path<(Uuid, Uuid)>,
    body: ValidatedJson<ConnectionUpdate>,
) -> ApiResult<Reply> {
    let (client_id, id) = path.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    let updated = connections::update(
        &mut conn,
        ClientId(client_id),
        ConnectionId(id),
        body.into_inner(),
    )
    .await?;
    Ok(Reply::ok(updated))
}

#[utoipa::path(patch, path = "/admin/clients/{client_id}/connections/{id}/actions/refresh_secret", tag = "admin: connections",
    params(("client_id" = Uuid, Path), ("id" = Uuid, Path),
           ("api-key" = Option<String>, Header, description = "the consumer's own connection secret; not needed for a self-connection")),
    responses((status = 200, description = "the new secret, shown once", body = ConnectionWithSecret),
              (status = 401, description = "api-key header not set / invalid api-key header", body = ehealth_core::ErrorBody),
              (status = 403, description = "the api-key belongs to another client than the consumer", body = ehealth_core::ErrorBody),
              (status = 404, body = ehealth_core::ErrorBody),
              (status = 409, description = "a public connection has no secret", body = ehealth_core::ErrorBody)))]
pub async fn refresh_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<Reply> {
    let (client_id, id) = path.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    let refreshed = connections::refresh_secret(
        &mut conn,
        ClientId(client_id),
        ConnectionId(id),
        connections::api_key(&req),
    )
    .await?;
    Ok(Reply::ok(refreshed))
}

#[utoipa::path(delete, path = "/admin/clients/{client_id}/connections/{id}", tag = "admin: connections",
    params(("client_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, path: web::Path<(Uuid, Uuid)>) -> ApiResult<Reply> {
    let (client_id, id) = path.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    connections::delete(&mut conn, ClientId(client_id), ConnectionId(id)).await?;
    Ok(Reply::no_content())
}
