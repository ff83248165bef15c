//! `grant_type=refresh_token` (spec §3.4): a new access token whose scope is the user's current
//! approval of the client. As in the reference, the refresh token is not rotated.

use ehealth_core::SecretHash;
use mithril_store::tokens::{self, ACCESS_TOKEN, REFRESH_TOKEN, now_unix};
use platform::{ApiResult, Reply, db};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::authorization_code::{expired, invalid_client, other_client, revoked, token_not_found};
use crate::issue::mint;
use crate::startup::AppState;

#[derive(Deserialize)]
struct RefreshGrant {
    client_id: Uuid,
    client_secret: String,
    refresh_token: String,
}

pub async fn refresh(state: &AppState, body: serde_json::Value) -> ApiResult<Reply> {
    let req: RefreshGrant = super::parse(state, "token_refresh_token", body)?;
    let mut conn = db::conn(&state.pool).await?;
    let check = tokens::grant_check(
        &mut conn,
        req.client_id,
        &SecretHash::of(&req.client_secret),
        &SecretHash::of(&req.refresh_token),
        REFRESH_TOKEN,
    )
    .await?;
    check.connection_id.ok_or_else(invalid_client)?;
    let (Some(user_id), Some(expires_at), Some(details)) = (
        check.token_user_id,
        check.token_expires_at,
        check.token_details,
    ) else {
        return Err(token_not_found());
    };
    let client_id = req.client_id.to_string();
    if details.get("client_id").and_then(serde_json::Value::as_str) != Some(client_id.as_str()) {
        return Err(other_client());
    }
    if expires_at <= now_unix() {
        return Err(expired());
    }
    let scope = check.app_scope.ok_or_else(revoked)?;
    let access = mint(
        ACCESS_TOKEN,
        state.settings.tokens.access_ttl_secs,
        user_id,
        json!({"grant_type": "refresh_token", "client_id": client_id, "scope": scope}),
    )?;
    tokens::insert(&mut conn, &access.row).await?;
    Ok(Reply::created(access.view()))
}
