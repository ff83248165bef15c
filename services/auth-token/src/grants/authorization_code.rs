//! `grant_type=authorization_code` (seed 003; spec §3.3), checks in the reference's order.
//! The code is single-use by one atomic statement, so concurrent exchanges cannot both win.

use ehealth_core::SecretHash;
use ehealth_core::redirect::redirect_matches;
use mithril_store::tokens::{self, ACCESS_TOKEN, AUTHORIZATION_CODE, REFRESH_TOKEN, now_unix};
use platform::{ApiError, ApiResult, Reply, db};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::issue::mint;
use crate::startup::AppState;

#[derive(Deserialize)]
struct CodeGrant {
    client_id: Uuid,
    client_secret: String,
    code: String,
    redirect_uri: String,
}

pub(crate) fn invalid_client() -> ApiError {
    ApiError::unauthorized("invalid_client", "Invalid client id or secret.")
}

pub(crate) fn token_not_found() -> ApiError {
    ApiError::unauthorized("token_not_found", "Token not found.")
}

pub(crate) fn other_client() -> ApiError {
    ApiError::unauthorized("invalid_grant", "Token not found or expired.")
}

pub(crate) fn expired() -> ApiError {
    ApiError::unauthorized("token_expired", "Token expired.")
}

pub(crate) fn revoked() -> ApiError {
    ApiError::access_denied("Resource owner revoked access for the client.")
}

fn used() -> ApiError {
    ApiError::access_denied("Token has already been used.")
}

fn detail<'a>(details: &'a serde_json::Value, key: &str) -> &'a str {
    details
        .get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
}

pub async fn exchange(state: &AppState, body: serde_json::Value) -> ApiResult<Reply> {
    let req: CodeGrant = super::parse(state, "token_authorization_code", body)?;
    let mut conn = db::conn(&state.pool).await?;
    let check = tokens::grant_check(
        &mut conn,
        req.client_id,
        &SecretHash::of(&req.client_secret),
        &SecretHash::of(&req.code),
        AUTHORIZATION_CODE,
    )
    .await?;
    let connection_redirect = check.connection_redirect_uri.ok_or_else(invalid_client)?;
    let (Some(code_id), Some(user_id), Some(expires_at), Some(details)) = (
        check.token_id,
        check.token_user_id,
        check.token_expires_at,
        check.token_details,
    ) else {
        return Err(token_not_found());
    };
    let client_id = req.client_id.to_string();
    if detail(&details, "client_id") != client_id {
        return Err(other_client());
    }
    if expires_at <= now_unix() {
        return Err(expired());
    }
    let code_redirect = detail(&details, "redirect_uri");
    if !(redirect_matches(code_redirect, &req.redirect_uri)
        && redirect_matches(&connection_redirect, &req.redirect_uri))
    {
        return Err(ApiError::unauthorized(
            "invalid_client",
            "The redirection URI provided does not match a pre-registered value.",
        ));
    }
    if check.app_scope.is_none() {
        return Err(revoked());
    }
    if check.token_used_at.is_some() {
        return Err(used());
    }

    let ttl = &state.settings.tokens;
    let refresh = mint(
        REFRESH_TOKEN,
        ttl.refresh_ttl_secs,
        user_id,
        json!({"grant_type": "authorization_code", "client_id": client_id, "scope": ""}),
    )?;
    let access = mint(
        ACCESS_TOKEN,
        ttl.access_ttl_secs,
        user_id,
        json!({"grant_type": "authorization_code", "client_id": client_id,
               "scope": detail(&details, "scope_request"), "redirect_uri": code_redirect}),
    )?;
    if !tokens::redeem_code(&mut conn, code_id, &refresh.row, &access.row).await? {
        return Err(used());
    }
    // The refresh token's value is never stored; the client sees it here, once.
    let mut view = access.view();
    view.details["refresh_token"] = json!(refresh.value.expose());
    Ok(Reply::created(view))
}
