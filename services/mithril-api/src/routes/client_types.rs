//! `/admin/client_types`: CRUD with unique names; the `scope` filter matches any overlap.

use actix_web::web;
use diesel::result::OptionalExtension;
use ehealth_core::{Paging, ScopeSet};
use mithril_store::ClientType;
use mithril_store::client_types::{self, ClientTypeFilter};
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
pub struct ClientTypeCreate {
    pub name: String,
    /// Space-separated scopes.
    pub scope: String,
}

impl RequestSchema for ClientTypeCreate {
    const SCHEMA: &'static str = "client_type_create";
    const WRAPPER: Option<&'static str> = Some("client_type");
}

#[derive(Deserialize, ToSchema)]
pub struct ClientTypeUpdate {
    pub name: Option<String>,
    pub scope: Option<String>,
}

impl RequestSchema for ClientTypeUpdate {
    const SCHEMA: &'static str = "client_type_update";
    const WRAPPER: Option<&'static str> = Some("client_type");
}

fn name_taken(e: diesel::result::Error) -> ApiError {
    match violated_constraint(&e) {
        Some((ConstraintKind::Unique, "client_types_name_key")) => {
            ApiError::invalid_field("$.name", "unique", "has already been taken")
        }
        _ => e.into(),
    }
}

fn normalize(scope: &str) -> String {
    ScopeSet::parse(scope).to_string()
}

#[utoipa::path(get, path = "/admin/client_types", tag = "admin: client types",
    params(("name" = Option<String>, Query, description = "exact name"),
           ("scope" = Option<String>, Query, description = "comma-separated scopes; matches types having any of them"),
           ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query, description = "1..=50, default 50")),
    responses((status = 200, description = "list envelope of client types", body = Vec<ClientType>),
              (status = 422, description = "bad query parameter", body = ehealth_core::ErrorBody)))]
pub async fn list(state: web::Data<AppState>, query: QueryParams) -> ApiResult<Reply> {
    let mut q = query.reader();
    let filter = ClientTypeFilter {
        name: q.string("name"),
        scopes: q.string("scope").map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect()
        }),
    };
    let page = q.page(MAX_PAGE_SIZE);
    q.finish()?;
    let mut conn = db::conn(&state.pool).await?;
    let found = client_types::list(&mut conn, &filter, page.page_size, page.offset()).await?;
    Ok(Reply::list(
        found.rows,
        Paging::new(page.page, page.page_size, found.total),
    ))
}

#[utoipa::path(post, path = "/admin/client_types", tag = "admin: client types",
    request_body(content = ClientTypeCreate, description = "wrapped as {\"client_type\": {...}}"),
    responses((status = 201, body = ClientType), (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    body: ValidatedJson<ClientTypeCreate>,
) -> ApiResult<Reply> {
    let body = body.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    let created = client_types::insert(
        &mut conn,
        Uuid::now_v7(),
        &body.name,
        &normalize(&body.scope),
    )
    .await
    .map_err(name_taken)?;
    Ok(Reply::created(created))
}

#[utoipa::path(get, path = "/admin/client_types/{id}", tag = "admin: client types",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ClientType), (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn show(state: web::Data<AppState>, id: web::Path<Uuid>) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(Reply::ok(client_types::get(&mut conn, *id).await?))
}

#[utoipa::path(put, path = "/admin/client_types/{id}", tag = "admin: client types",
    params(("id" = Uuid, Path)),
    request_body(content = ClientTypeUpdate, description = "wrapped as {\"client_type\": {...}}; PATCH is the same"),
    responses((status = 200, body = ClientType), (status = 404, body = ehealth_core::ErrorBody),
              (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: ValidatedJson<ClientTypeUpdate>,
) -> ApiResult<Reply> {
    let body = body.into_inner();
    let scope = body.scope.as_deref().map(normalize);
    let mut conn = db::conn(&state.pool).await?;
    let updated = client_types::update(&mut conn, *id, body.name.as_deref(), scope.as_deref())
        .await
        .optional()
        .map_err(name_taken)?
        .ok_or_else(ApiError::not_found)?;
    Ok(Reply::ok(updated))
}

#[utoipa::path(delete, path = "/admin/client_types/{id}", tag = "admin: client types",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ehealth_core::ErrorBody),
              (status = 409, description = "clients of this type exist", body = ehealth_core::ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, id: web::Path<Uuid>) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    match client_types::delete(&mut conn, *id).await {
        Ok(0) => Err(ApiError::not_found()),
        Ok(_) => Ok(Reply::no_content()),
        Err(e) => match violated_constraint(&e) {
            Some((ConstraintKind::ForeignKey, _)) => Err(ApiError::conflict(
                "Client type is used by clients and cannot be deleted.",
            )),
            _ => Err(e.into()),
        },
    }
}
