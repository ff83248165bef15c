//! The gatekeeper's contract (spec §1.4): `GET /admin/tokens/{token}/verify` with an optional
//! `api-key`, and `GET /admin/tokens/{token}/user`.
//!
//! Hardened against the reference: only access tokens verify (a refresh token or a code is
//! unknown here), and a broker's `api-key` must belong to a MIS that integrates the token's
//! client (a connection with that client and the MIS as consumer).

use actix_web::{HttpRequest, web};
use ehealth_core::SecretHash;
use mithril_store::tokens::{self, ACCESS_TOKEN, VerifyRow, now_unix};
use mithril_store::user_roles::UserRoleFilter;
use mithril_store::{global_user_roles, user_roles, users};
use platform::{ApiError, ApiResult, Reply, db};
use serde_json::json;

use crate::startup::AppState;

/// The verify answer's `data` (the reference's token view).
#[derive(serde::Serialize)]
struct Verified<'a> {
    id: uuid::Uuid,
    name: &'a str,
    value: &'a str,
    expires_at: i64,
    user_id: uuid::Uuid,
    details: &'a serde_json::Value,
}

#[derive(serde::Serialize)]
struct MisClient {
    mis_client_id: Option<uuid::Uuid>,
}

fn expired() -> ApiError {
    ApiError::unauthorized(
        "invalid_grant",
        "Token expired or client approval was revoked.",
    )
}

/// Steps 1–2: a live access token (`row` is the token's verify row, if any).
fn live_token(row: Option<VerifyRow>) -> ApiResult<VerifyRow> {
    let row = row
        .filter(|r| r.name == ACCESS_TOKEN)
        .ok_or_else(ApiError::not_found)?;
    if row.expires_at <= now_unix() {
        return Err(expired());
    }
    Ok(row)
}

#[utoipa::path(get, path = "/admin/tokens/{token}/verify", tag = "verify",
    description = "The gatekeeper's verify contract. data.details carries client_id, scope, grant_type, redirect_uri (and broker_scope for BROKER clients); urgent.mis_client_id names the broker MIS.",
    params(("token" = String, Path, description = "the bearer token"),
           ("api-key" = Option<String>, Header, description = "the MIS's connection secret; required for BROKER clients")),
    responses((status = 200, description = "valid", body = crate::issue::TokenView),
              (status = 401, description = "expired, blocked client or user, client without access_type", body = ehealth_core::ErrorBody),
              (status = 404, description = "unknown token", body = ehealth_core::ErrorBody),
              (status = 422, description = "API-KEY header required / is invalid, or incorrect broker settings", body = ehealth_core::ErrorBody)))]
pub async fn verify(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> ApiResult<Reply> {
    // Both statements are single reads: they share the worker's pipelined connections.
    let conn = state.reads.conn().await?;
    let row = live_token(conn.checked(tokens::verify_row(&conn, &SecretHash::of(&token)).await)?)?;
    let client_id = row.client_id.ok_or_else(ApiError::not_found)?;
    if row.client_blocked == Some(true) {
        return Err(ApiError::unauthorized(
            "invalid_client",
            "Authentication failed.",
        ));
    }
    match row.user_blocked {
        None => return Err(ApiError::not_found()),
        Some(true) => {
            return Err(ApiError::unauthorized(
                "invalid_user",
                "Authentication failed.",
            ));
        }
        Some(false) => {}
    }
    let mut details = row.details;
    let mis_client_id = match row.access_type.as_deref() {
        Some("DIRECT") => None,
        Some("BROKER") => {
            let api_key = req
                .headers()
                .get("api-key")
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ApiError::invalid_request("API-KEY header required."))?;
            let broker = conn
                .checked(tokens::broker_row(&conn, &SecretHash::of(api_key), client_id).await)?
                .filter(|b| b.bound)
                .ok_or_else(|| ApiError::invalid_request("API-KEY header is invalid."))?;
            let scope = broker
                .broker_scope
                .ok_or_else(|| ApiError::invalid_request("Incorrect broker settings."))?;
            details["broker_scope"] = json!(scope);
            Some(broker.mis_client_id)
        }
        _ => {
            return Err(ApiError::access_denied(
                "Client settings must contain access_type.",
            ));
        }
    };
    Ok(Reply::ok(Verified {
        id: row.id,
        name: &row.name,
        value: &token,
        expires_at: row.expires_at,
        user_id: row.user_id,
        details: &details,
    })
    .urgent(MisClient { mis_client_id }))
}

#[utoipa::path(get, path = "/admin/tokens/{token}/user", tag = "verify",
    description = "The token's user, with urgent.roles (its roles for the token's client), urgent.global_roles and urgent.token.expires_at inside data.",
    params(("token" = String, Path)),
    responses((status = 200, description = "the user"), (status = 401, body = ehealth_core::ErrorBody),
              (status = 404, body = ehealth_core::ErrorBody)))]
pub async fn user(state: web::Data<AppState>, token: web::Path<String>) -> ApiResult<Reply> {
    let mut conn = db::conn(&state.pool).await?;
    let row = live_token(tokens::verify_row(&conn, &SecretHash::of(&token)).await?)?;
    let user = users::get(&mut conn, row.user_id).await?;
    let filter = UserRoleFilter {
        user_id: Some(row.user_id),
        client_id: row.client_id,
        ..Default::default()
    };
    let roles: Vec<_> = user_roles::list(&mut conn, &filter)
        .await?
        .into_iter()
        .map(|r| json!({"id": r.role_id, "name": r.role_name, "scope": r.scope}))
        .collect();
    let global: Vec<_> = global_user_roles::list_for_user(&mut conn, row.user_id)
        .await?
        .into_iter()
        .map(|g| json!({"id": g.role_id, "name": g.role_name, "scope": g.scope}))
        .collect();
    let mut data = serde_json::to_value(user).map_err(|e| ApiError::internal(e.into()))?;
    data["urgent"] =
        json!({"roles": roles, "global_roles": global, "token": {"expires_at": row.expires_at}});
    Ok(Reply::ok(data))
}

#[derive(serde::Serialize)]
struct ApiKeyDetails {
    client_id: uuid::Uuid,
    scope: String,
}

#[derive(serde::Serialize)]
struct ApiKeyVerified {
    consumer_scope: String,
    details: ApiKeyDetails,
}

#[utoipa::path(get, path = "/admin/api_keys/verify", tag = "verify",
    description = "The gatekeeper's check for api-key routes (the reference's mis_only): the client that owns the connection secret sent as `api-key`, and its client type's scope. The key travels in a header, never in the path.",
    params(("api-key" = String, Header, description = "a connection secret of the calling client")),
    responses((status = 200, description = "data.consumer_scope and data.details {client_id, scope}; urgent.mis_client_id"),
              (status = 401, description = "API-KEY header required / the client is blocked", body = ehealth_core::ErrorBody),
              (status = 404, description = "unknown key", body = ehealth_core::ErrorBody)))]
pub async fn verify_api_key(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<Reply> {
    let api_key = req
        .headers()
        .get("api-key")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::access_denied("API-KEY header required."))?;
    let conn = state.reads.conn().await?;
    let row = conn
        .checked(tokens::api_key_row(&conn, &SecretHash::of(api_key)).await)?
        .ok_or_else(ApiError::not_found)?;
    if row.client_blocked {
        return Err(ApiError::unauthorized(
            "invalid_client",
            "Authentication failed.",
        ));
    }
    Ok(Reply::ok(ApiKeyVerified {
        consumer_scope: row.scope.clone(),
        details: ApiKeyDetails {
            client_id: row.client_id,
            scope: row.scope,
        },
    })
    .urgent(MisClient {
        mis_client_id: Some(row.client_id),
    }))
}
