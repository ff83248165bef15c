//! Connection operations shared by the admin API and the public `/api/clients/...` endpoints.
//! Secrets: generated here, returned once, stored only as SHA-256.

use diesel::result::OptionalExtension;
use ehealth_core::{ClientId, ConnectionId, Paging, RedirectUri, SecretHash, SecretValue};
use mithril_store::Connection;
use mithril_store::connections::{self, ConnectionFilter, Upserted};
use platform::db::{DbConn, ReadConn};
use platform::error::{ConstraintKind, violated_constraint};
use platform::query::QueryParams;
use platform::{ApiError, ApiResult, Reply};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A connection with the secret that was just generated for it.
#[derive(Serialize, ToSchema)]
pub struct ConnectionWithSecret {
    #[serde(flatten)]
    pub connection: Connection,
    /// Shown only in this response; store it now. Null for a public connection, which has none.
    pub secret: Option<String>,
}

/// Body of the connection PATCH endpoints (seed 001).
#[derive(Deserialize, ToSchema)]
pub struct ConnectionUpdate {
    /// `https://` only.
    pub redirect_uri: String,
}

impl platform::RequestSchema for ConnectionUpdate {
    const SCHEMA: &'static str = "connection_update";
}

/// Body of `PUT /admin/clients/{client_id}/connections`.
#[derive(Deserialize, ToSchema)]
pub struct ConnectionUpsert {
    pub consumer_id: uuid::Uuid,
    pub redirect_uri: String,
    /// A native or browser app: no secret; its codes are redeemed with PKCE. Fixed at creation.
    #[serde(default)]
    pub is_public: bool,
}

impl platform::RequestSchema for ConnectionUpsert {
    const SCHEMA: &'static str = "connection_upsert";
}

pub const MAX_PAGE_SIZE: i64 = 50;

fn redirect_uri(raw: &str) -> ApiResult<RedirectUri> {
    RedirectUri::parse(raw)
        .map_err(|e| ApiError::invalid_field("$.redirect_uri", "format", e.to_string()))
}

fn new_secret() -> ApiResult<SecretValue> {
    SecretValue::generate().map_err(|e| ApiError::internal(anyhow::anyhow!("OS RNG failed: {e}")))
}

/// A page of `client_id`'s connections: reads only, on a shared read connection.
pub async fn list(conn: &ReadConn, client_id: ClientId, query: &QueryParams) -> ApiResult<Reply> {
    let mut q = query.reader();
    let filter = ConnectionFilter {
        consumer_id: q.uuid("consumer_id"),
        redirect_uri: q.string("redirect_uri"),
    };
    let page = q.page(MAX_PAGE_SIZE);
    q.finish()?;
    let found = conn.checked(
        connections::list(
            conn,
            client_id.as_uuid(),
            &filter,
            page.page_size,
            page.offset(),
        )
        .await,
    )?;
    Ok(Reply::list(
        found.rows,
        Paging::new(page.page, page.page_size, found.total),
    ))
}

pub async fn get(conn: &ReadConn, client_id: ClientId, id: ConnectionId) -> ApiResult<Connection> {
    Ok(conn.checked(connections::get(conn, client_id.as_uuid(), id.as_uuid()).await)?)
}

pub async fn update(
    conn: &mut DbConn,
    client_id: ClientId,
    id: ConnectionId,
    body: ConnectionUpdate,
) -> ApiResult<Connection> {
    let uri = redirect_uri(&body.redirect_uri)?;
    Ok(
        connections::update_redirect_uri(conn, client_id.as_uuid(), id.as_uuid(), uri.as_str())
            .await?,
    )
}

pub async fn delete(conn: &mut DbConn, client_id: ClientId, id: ConnectionId) -> ApiResult<()> {
    match connections::delete(conn, client_id.as_uuid(), id.as_uuid()).await? {
        0 => Err(ApiError::not_found()),
        _ => Ok(()),
    }
}

/// Creates (201, with the new secret) or updates the redirect URI of (200, no secret) the
/// connection between `client_id` and the body's consumer.
pub async fn upsert(
    conn: &mut DbConn,
    client_id: ClientId,
    body: ConnectionUpsert,
) -> ApiResult<Reply> {
    let uri = redirect_uri(&body.redirect_uri)?;
    if !mithril_store::clients::exists(conn, client_id.as_uuid()).await? {
        return Err(ApiError::not_found());
    }
    let secret = if body.is_public {
        None
    } else {
        Some(new_secret()?)
    };
    let result = connections::upsert(
        conn,
        client_id.as_uuid(),
        body.consumer_id,
        uri.as_str(),
        secret.as_ref().map(SecretValue::hash).as_ref(),
    )
    .await;
    match result {
        Ok(Upserted::Created(connection)) => {
            let location = format!("/admin/clients/{}/connections/{}", client_id, connection.id);
            Ok(Reply::created(ConnectionWithSecret {
                connection,
                secret: secret.map(SecretValue::into_string),
            })
            .location(&location))
        }
        Ok(Upserted::Updated(connection)) => Ok(Reply::ok(connection)),
        Ok(Upserted::KindDiffers) => Err(ApiError::conflict(
            "The connection exists with the other is_public: delete it and create it again.",
        )),
        Err(e) => match violated_constraint(&e) {
            Some((ConstraintKind::ForeignKey, "connections_consumer_id_fkey")) => Err(
                ApiError::invalid_field("$.consumer_id", "existence", "does not exist"),
            ),
            // The client was deleted between the check and the insert.
            Some((ConstraintKind::ForeignKey, "connections_client_id_fkey")) => {
                Err(ApiError::not_found())
            }
            _ => Err(e.into()),
        },
    }
}

/// Rotates the secret. Allowed for a self-connection (its consumer is the addressed client);
/// otherwise only the consumer, proving itself with `api-key` = one of its own connections'
/// secrets, may rotate it (spec §4 `validate_connection_context`).
pub async fn refresh_secret(
    conn: &mut DbConn,
    client_id: ClientId,
    id: ConnectionId,
    api_key: Option<&str>,
) -> ApiResult<ConnectionWithSecret> {
    let connection = connections::get(conn, client_id.as_uuid(), id.as_uuid())
        .await
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    if connection.is_public {
        return Err(ApiError::conflict("A public connection has no secret."));
    }
    if connection.consumer_id != client_id.as_uuid() {
        let api_key = api_key
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ApiError::access_denied("api-key header not set"))?;
        let caller = connections::find_by_secret(conn, &SecretHash::of(api_key))
            .await?
            .ok_or_else(|| ApiError::access_denied("invalid api-key header"))?;
        if caller.client_id != connection.consumer_id {
            return Err(ApiError::forbidden());
        }
    }
    let secret = new_secret()?;
    let connection =
        connections::set_secret(conn, client_id.as_uuid(), id.as_uuid(), &secret.hash()).await?;
    Ok(ConnectionWithSecret {
        connection,
        secret: Some(secret.into_string()),
    })
}

/// The `api-key` header, if any.
pub fn api_key(req: &actix_web::HttpRequest) -> Option<&str> {
    req.headers().get("api-key").and_then(|v| v.to_str().ok())
}
