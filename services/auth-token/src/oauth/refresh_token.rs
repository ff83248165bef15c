//! `grant_type=refresh_token` at `/oauth/token` (RFC 6749 §6, RFC 9700 §4.14.2): the refresh
//! token is rotated on every use. The old one is kept, marked used: presented again, it ends
//! every token of its grant (the family), whichever party, the client or a thief, used it first.
//! A new access token's scope is what the grant allowed, narrowed to the request's `scope` and
//! to what the user still approves.

use diesel_async::AsyncConnection;
use ehealth_core::{ScopeSet, SecretHash};
use mithril_store::tokens::{self, OAUTH_REFRESH_TOKEN, now_unix};
use platform::db::DbConn;
use uuid::Uuid;

use super::client::Caller;
use super::wire::{OAuthError, Params};
use super::{Grant, Pair, TokenResponse, detail, still_approved};
use crate::startup::AppState;

fn unknown() -> OAuthError {
    OAuthError::invalid_grant(
        "The refresh token is unknown, expired or was issued to another client.",
    )
}

pub async fn refresh(
    state: &AppState,
    conn: &mut DbConn,
    caller: &Caller,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let presented = SecretHash::of(params.require("refresh_token")?);
    let narrowed = params.get("scope").map(ScopeSet::parse);
    let pair = Pair::mint()?;
    let access_ttl = state.settings.tokens.access_ttl_secs;
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        let Some(old) = tokens::lock_by_hash(conn, &presented, &[OAUTH_REFRESH_TOKEN]).await?
        else {
            return Ok(Err(unknown()));
        };
        if !caller.issued(&old.details) {
            return Ok(Err(unknown()));
        }
        let family = Uuid::parse_str(detail(&old.details, "family")).unwrap_or(old.id);
        if old.used_at.is_some() {
            tokens::expire_family(conn, family).await?;
            return Ok(Err(OAuthError::invalid_grant(
                "The refresh token was used already: every token of its grant is revoked.",
            )));
        }
        if old.expires_at <= now_unix() {
            return Ok(Err(unknown()));
        }
        let granted = ScopeSet::parse(detail(&old.details, "scope"));
        let wanted = match &narrowed {
            Some(s) if !s.is_subset_of(&granted) => {
                return Ok(Err(OAuthError::invalid_scope(
                    "scope must be within the scope the grant allowed.",
                )));
            }
            Some(s) => s.clone(),
            None => granted.clone(),
        };
        let scope = match still_approved(conn, old.user_id, caller.id(), &wanted).await? {
            Ok(scope) => scope,
            Err(e) => return Ok(Err(e)),
        };
        tokens::mark_used(conn, old.id).await?;
        let grant = Grant {
            user_id: old.user_id,
            client_id: caller.id(),
            granted: &granted,
            scope: &scope,
            redirect_uri: detail(&old.details, "redirect_uri"),
            connection_id: Uuid::parse_str(detail(&old.details, "connection_id"))
                .unwrap_or_default(),
            family,
            // The family's lifetime does not grow with its rotations.
            refresh_expires_at: old.expires_at,
        };
        pair.store(conn, access_ttl, &grant).await.map(Ok)
    })
    .await?
}
