//! `/api/clients/{id}/connections...` (seeds 000, 001, 002): the caller comes from the trusted
//! headers; its client type decides which client it may address. Scopes are the gatekeeper's.

use actix_http::StatusCode;
use actix_web::{HttpRequest, web};
use ehealth_core::{ClientId, ConnectionId};
use mithril_store::Connection;
use platform::query::QueryParams;
use platform::{ApiResult, Caller, Reply, ValidatedJson};
use uuid::Uuid;

use crate::client_context;
use crate::connections::{self, ConnectionUpdate, ConnectionWithSecret};
use crate::startup::AppState;

#[utoipa::path(get, path = "/api/clients/{client_id}/connections", tag = "public: connections",
    description = "Seed 000. Scope connection:read (checked by the gatekeeper).",
    params(("client_id" = Uuid, Path, description = "client id"), ("consumer_id" = Option<Uuid>, Query),
           ("redirect_uri" = Option<String>, Query), ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, description = "list envelope with paging; no secrets", body = Vec<Connection>),
              (status = 401, description = "Access denied", body = ehealth_core::ErrorBody),
              (status = 403, description = "Forbidden: another client's connections", body = ehealth_core::ErrorBody),
              (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: QueryParams,
) -> ApiResult<Reply> {
    let client_id = ClientId(*id);
    let conn = client_context::read_for(&state, &caller, client_id).await?;
    connections::list(&conn, client_id, &query).await
}

#[utoipa::path(get, path = "/api/clients/{client_id}/connections/{connection_id}", tag = "public: connections",
    description = "Scope connection:read.",
    params(("client_id" = Uuid, Path), ("connection_id" = Uuid, Path)),
    responses((status = 200, body = Connection), (status = 401, body = ehealth_core::ErrorBody),
              (status = 403, body = ehealth_core::ErrorBody), (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<Reply> {
    let (client_id, id) = (ClientId(path.0), ConnectionId(path.1));
    let conn = client_context::read_for(&state, &caller, client_id).await?;
    Ok(Reply::ok(connections::get(&conn, client_id, id).await?))
}

#[utoipa::path(patch, path = "/api/clients/{client_id}/connections/{connection_id}", tag = "public: connections",
    description = "Seed 001. Scope connection:write. Only redirect_uri can change.",
    params(("client_id" = Uuid, Path), ("connection_id" = Uuid, Path)), request_body = ConnectionUpdate,
    responses((status = 200, body = Connection), (status = 401, body = ehealth_core::ErrorBody),
              (status = 403, body = ehealth_core::ErrorBody), (status = 404, body = ehealth_core::ErrorBody),
              (status = 422, description = "Validation failed", body = ehealth_core::ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: ValidatedJson<ConnectionUpdate>,
) -> ApiResult<Reply> {
    let (client_id, id) = (ClientId(path.0), ConnectionId(path.1));
    let mut conn = client_context::connect_for(&state, &caller, client_id).await?;
    Ok(Reply::ok(
        connections::update(&mut conn, client_id, id, body.into_inner()).await?,
    ))
}

#[utoipa::path(delete, path = "/api/clients/{client_id}/connections/{connection_id}", tag = "public: connections",
    description = "Seed 002. Scope connection:delete. Hard delete; the answer is the meta-only envelope.",
    params(("client_id" = Uuid, Path), ("connection_id" = Uuid, Path)),
    responses((status = 200, description = "{\"meta\":{..}} only"), (status = 401, body = ehealth_core::ErrorBody),
              (status = 403, body = ehealth_core::ErrorBody), (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<Reply> {
    let (client_id, id) = (ClientId(path.0), ConnectionId(path.1));
    let mut conn = client_context::connect_for(&state, &caller, client_id).await?;
    connections::delete(&mut conn, client_id, id).await?;
    Ok(Reply::meta_only(StatusCode::OK))
}

#[utoipa::path(patch, path = "/api/clients/{client_id}/connections/{connection_id}/actions/refresh_secret", tag = "public: connections",
    description = "Scope connection:refresh_secret.",
    params(("client_id" = Uuid, Path), ("connection_id" = Uuid, Path), ("api-key" = Option<String>, Header)),
    responses((status = 200, description = "the new secret, shown once", body = ConnectionWithSecret),
              (status = 401, body = ehealth_core::ErrorBody), (status = 403, body = ehealth_core::ErrorBody),
              (status = 404, body = ehealth_core::ErrorBody),
              (status = 409, description = "a public connection has no secret", body = ehealth_core::ErrorBody)))]
pub async fn refresh_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<Reply> {
    let (client_id, id) = (ClientId(path.0), ConnectionId(path.1));
    let mut conn = client_context::connect_for(&state, &caller, client_id).await?;
    Ok(Reply::ok(
        connections::refresh_secret(&mut conn, client_id, id, connections::api_key(&req)).await?,
    ))
}
