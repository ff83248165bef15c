//! `/admin/clients`: CRUD; PUT/PATCH upsert by id; `/details` without `priv_settings`.

use actix_web::web;
use chrono::{DateTime, Utc};
use diesel::result::OptionalExtension;
use ehealth_core::{InvalidEntry, Paging};
use mithril_store::Client;
use mithril_store::clients::{self, ClientChanges, ClientFilter, NewClient};
use platform::db;
use platform::error::{ConstraintKind, violated_constraint};
use platform::json::double_option;
use platform::query::QueryParams;
use platform::{ApiError, ApiResult, Reply, RequestSchema, ValidatedJson};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::connections::MAX_PAGE_SIZE;
use crate::startup::AppState;

#[derive(Deserialize, ToSchema)]
pub struct ClientCreate {
    pub name: String,
    pub user_id: Uuid,
    pub client_type_id: Uuid,
    /// `{"allowed_grant_types": [..]}`
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
    /// `{"access_type": "DIRECT"|"BROKER", "broker_scope": ".."}`
    #[schema(value_type = Object)]
    pub priv_settings: serde_json::Value,
    pub is_blocked: Option<bool>,
    pub block_reason: Option<String>,
}

impl RequestSchema for ClientCreate {
    const SCHEMA: &'static str = "client_create";
    const WRAPPER: Option<&'static str> = Some("client");
}

#[derive(Deserialize, ToSchema)]
pub struct ClientUpsert {
    pub name: Option<String>,
    pub user_id: Option<Uuid>,
    pub client_type_id: Option<Uuid>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub priv_settings: Option<serde_json::Value>,
    pub is_blocked: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub block_reason: Option<Option<String>>,
}

impl RequestSchema for ClientUpsert {
    const SCHEMA: &'static str = "client_update";
    const WRAPPER: Option<&'static str> = Some("client");
}

/// A client with the name of its type (show).
#[derive(Serialize, ToSchema)]
pub struct ClientWithType {
    #[serde(flatten)]
    pub client: Client,
    pub client_type_name: String,
}

/// `/details`: the client without `priv_settings`, plus its type name.
#[derive(Serialize, ToSchema)]
pub struct ClientDetails {
    pub id: Uuid,
    pub name: String,
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    pub user_id: Uuid,
    pub client_type_id: Uuid,
    pub client_type_name: String,
    pub is_blocked: bool,
    pub block_reason: Option<String>,
    pub inserted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn reference_errors(e: diesel::result::Error) -> ApiError {
    match violated_constraint(&e) {
        Some((ConstraintKind::ForeignKey, "clients_user_id_fkey")) => {
            ApiError::invalid_field("$.user_id", "existence", "does not exist")
        }
        Some((ConstraintKind::ForeignKey, "clients_client_type_id_fkey")) => {
            ApiError::invalid_field("$.client_type_id", "existence", "does not exist")
        }
        Some((ConstraintKind::Unique, "clients_pkey")) => {
            ApiError::conflict("The client was created by a concurrent request; retry.")
        }
        _ => e.into(),
    }
}

#[utoipa::path(get, path = "/admin/clients", tag = "admin: clients",
    params(("id" = Option<Uuid>, Query), ("user_id" = Option<Uuid>, Query),
           ("name" = Option<String>, Query, description = "case-insensitive substring"),
           ("is_blocked" = Option<bool>, Query), ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, description = "list envelope of clients", body = Vec<Client>),
              (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn list(state: web::Data<AppState>, query: QueryParams) -> ApiResult<Reply> {
    let mut q = query.reader();
    let filter = ClientFilter {
        id: q.uuid("id"),
        user_id: q.uuid("user_id"),
        name: q.string("name"),
        is_blocked: q.bool("is_blocked"),
    };
    let page = q.page(MAX_PAGE_SIZE);
    q.finish()?;
    let mut conn = db::conn(&state.pool).await?;
    let found = clients::list(&mut conn, &filter, page.page_size, page.offset()).await?;
    Ok(Reply::list(
        found.rows,
        Paging::new(page.page, page.page_size, found.total),
    ))
}

#[utoipa::path(post, path = "/admin/clients", tag = "admin: clients",
    request_body(content = ClientCreate, description = "wrapped as {\"client\": {...}}"),
    responses((status = 201, body = Client), (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    body: ValidatedJson<ClientCreate>,
) -> ApiResult<Reply> {
    let b = body.into_inner();
    let new = NewClient {
        id: Uuid::now_v7(),
        name: b.name,
        settings: b.settings.unwrap_or_else(|| serde_json::json!({})),
        priv_settings: b.priv_settings,
        user_id: b.user_id,
        client_type_id: b.client_type_id,
        is_blocked: b.is_blocked.unwrap_or(false),
        block_reason: b.block_reason,
    };
    let mut conn = db::conn(&state.pool).await?;
    let created = clients::insert(&mut conn, &new)
        .await
        .map_err(reference_errors)?;
    Ok(Reply::created(created).location(&format!("/admin/clients/{}", new.id)))
}

#[utoipa::path(get, path = "/admin/clients/{client_id}", tag = "admin: clients", params(("client_id" = Uuid, Path)),
    responses((status = 200, body = ClientWithType), (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn show(state: web::Data<AppState>, id: web::Path<Uuid>) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    let (client, client_type_name) = clients::get_with_type_name(&mut conn, *id).await?;
    Ok(Reply::ok(ClientWithType {
        client,
        client_type_name,
    }))
}

#[utoipa::path(get, path = "/admin/clients/{client_id}/details", tag = "admin: clients", params(("client_id" = Uuid, Path)),
    responses((status = 200, body = ClientDetails), (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn details(state: web::Data<AppState>, id: web::Path<Uuid>) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    let (c, client_type_name) = clients::get_with_type_name(&mut conn, *id).await?;
    Ok(Reply::ok(ClientDetails {
        id: c.id,
        name: c.name,
        settings: c.settings,
        user_id: c.user_id,
        client_type_id: c.client_type_id,
        client_type_name,
        is_blocked: c.is_blocked,
        block_reason: c.block_reason,
        inserted_at: c.inserted_at,
        updated_at: c.updated_at,
    }))
}

/// Updates the given fields of client `id`, or creates it with that id when it does not exist.
#[utoipa::path(method(put, patch), path = "/admin/clients/{client_id}", tag = "admin: clients", params(("client_id" = Uuid, Path)),
    request_body(content = ClientUpsert, description = "wrapped as {\"client\": {...}}; PATCH is the same"),
    responses((status = 200, description = "updated or created", body = Client),
              (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn upsert(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: ValidatedJson<ClientUpsert>,
) -> ApiResult<Reply> {
    let b = body.into_inner();
    let id = id.into_inner();
    let changes = ClientChanges {
        name: b.name,
        settings: b.settings,
        priv_settings: b.priv_settings,
        user_id: b.user_id,
        client_type_id: b.client_type_id,
        is_blocked: b.is_blocked,
        block_reason: b.block_reason,
    };
    let mut conn = db::conn(&state.pool).await?;
    // Update first: a single statement, so an existing client is never half-written.
    if let Some(updated) = clients::update(&mut conn, id, &changes)
        .await
        .optional()
        .map_err(reference_errors)?
    {
        return Ok(Reply::ok(updated));
    }
    let mut missing = Vec::new();
    for (field, present) in [
        ("name", changes.name.is_some()),
        ("user_id", changes.user_id.is_some()),
        ("client_type_id", changes.client_type_id.is_some()),
        ("priv_settings", changes.priv_settings.is_some()),
    ] {
        if !present {
            missing.push(InvalidEntry::body(
                format!("$.{field}"),
                "required",
                "required property was not present",
            ));
        }
    }
    let (Some(name), Some(user_id), Some(client_type_id), Some(priv_settings)) = (
        changes.name,
        changes.user_id,
        changes.client_type_id,
        changes.priv_settings,
    ) else {
        return Err(ApiError::validation(missing));
    };
    let new = NewClient {
        id,
        name,
        settings: changes.settings.unwrap_or_else(|| serde_json::json!({})),
        priv_settings,
        user_id,
        client_type_id,
        is_blocked: changes.is_blocked.unwrap_or(false),
        block_reason: changes.block_reason.flatten(),
    };
    let created = clients::insert(&mut conn, &new)
        .await
        .map_err(reference_errors)?;
    Ok(Reply::ok(created))
}

#[utoipa::path(delete, path = "/admin/clients/{client_id}", tag = "admin: clients", params(("client_id" = Uuid, Path)),
    responses((status = 204, description = "deleted with its connections, approvals and roles"),
              (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, id: web::Path<Uuid>) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    match clients::delete(&mut conn, *id).await? {
        0 => Err(ApiError::not_found()),
        _ => Ok(Reply::no_content()),
    }
}
