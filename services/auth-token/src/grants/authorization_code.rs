//! `grant_type=authorization_code` (seed 003; spec §3.3), checks in the reference's order.
//! The code is single-use by one atomic statement, so concurrent exchanges cannot both win.

use ehealth_core::SecretHash;
use ehealth_core::redirect::redirect_matches;
use mithril_store::tokens::{
    self, ACCESS_TOKEN, ExchangeTokens, GrantCheck, REFRESH_TOKEN, now_unix,
};
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

/// The first failed step of §3.3 (3–9), in the reference's order; `None` when all pass.
fn first_failure(req: &CodeGrant, check: &GrantCheck, now: i64) -> Option<ApiError> {
    let Some(connection_redirect) = &check.connection_redirect_uri else {
        return Some(invalid_client());
    };
    let (Some(_), Some(expires_at), Some(details)) =
        (check.token_id, check.token_expires_at, &check.token_details)
    else {
        return Some(token_not_found());
    };
    if detail(details, "client_id") != req.client_id.to_string() {
        return Some(other_client());
    }
    if expires_at <= now {
        return Some(expired());
    }
    let code_redirect = detail(details, "redirect_uri");
    if !(redirect_matches(code_redirect, &req.redirect_uri)
        && redirect_matches(connection_redirect, &req.redirect_uri))
    {
        return Some(ApiError::unauthorized(
            "invalid_client",
            "The redirection URI provided does not match a pre-registered value.",
        ));
    }
    if details.get("code_challenge").is_some() {
        return Some(ApiError::unauthorized(
            "invalid_grant",
            "The code was issued with a PKCE challenge: redeem it at /oauth/token with its code_verifier.",
        ));
    }
    if check.app_scope.is_none() {
        return Some(revoked());
    }
    if check.token_used_at.is_some() {
        return Some(used());
    }
    None
}

/// One statement checks, redeems and issues (see `tokens::exchange_code`); the answer is built
/// from what it returns.
pub async fn exchange(state: &AppState, body: serde_json::Value) -> ApiResult<Reply> {
    let req: CodeGrant = super::parse(state, "token_authorization_code", body)?;
    let ttl = &state.settings.tokens;
    let client_id = req.client_id.to_string();
    // Minted before the statement: their values are shown only if it redeems the code.
    let refresh = mint(
        REFRESH_TOKEN,
        ttl.refresh_ttl_secs,
        Uuid::nil(),
        json!({"grant_type": "authorization_code", "client_id": client_id, "scope": ""}),
    )?;
    let access = mint(ACCESS_TOKEN, ttl.access_ttl_secs, Uuid::nil(), json!({}))?;
    let now = now_unix();
    let mut conn = db::conn(&state.pool).await?;
    let result = tokens::exchange_code(
        &mut conn,
        req.client_id,
        &SecretHash::of(&req.client_secret),
        &SecretHash::of(&req.code),
        &req.redirect_uri,
        now,
        &ExchangeTokens {
            refresh: &refresh.row,
            access_id: access.row.id,
            access_hash: &access.row.hash,
            access_expires_at: access.row.expires_at,
        },
    )
    .await?;
    if result.inserted != 2 {
        // Every check passed but nothing was written: a concurrent exchange redeemed it first.
        return Err(first_failure(&req, &result.check, now).unwrap_or_else(used));
    }
    let details = result.check.token_details.unwrap_or_default();
    let mut view = access.view();
    view.user_id = result.check.token_user_id.unwrap_or_default();
    // The refresh token's value is never stored; the client sees it here, once.
    view.details = json!({
        "grant_type": "authorization_code", "client_id": client_id,
        "scope": detail(&details, "scope_request"), "redirect_uri": detail(&details, "redirect_uri"),
        "refresh_token": refresh.value.expose(),
    });
    Ok(Reply::created(view))
}
