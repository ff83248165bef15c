//! `grant_type=authorization_code` at `/oauth/token` (RFC 6749 §4.1.3, RFC 7636 §4.6): the code
//! is locked, checked, marked used and exchanged in one transaction, so that of two concurrent
//! redemptions one wins and the other finds it used. A code presented again ends every token
//! issued for it (§4.1.2).

use diesel_async::AsyncConnection;
use ehealth_core::pkce::{Challenge, is_verifier};
use ehealth_core::{ScopeSet, SecretHash};
use mithril_store::tokens::{self, AUTHORIZATION_CODE, Token, now_unix};
use platform::db::DbConn;

use super::client::Caller;
use super::wire::{OAuthError, Params};
use super::{Grant, Pair, TokenResponse, detail, still_approved};
use crate::startup::AppState;

fn unknown_code() -> OAuthError {
    OAuthError::invalid_grant("The code is unknown, expired or was issued to another client.")
}

pub async fn exchange(
    state: &AppState,
    conn: &mut DbConn,
    caller: &Caller,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let code = SecretHash::of(params.require("code")?);
    let redirect_uri = params.require("redirect_uri")?.to_owned();
    let verifier = params.get("code_verifier").map(str::to_owned);
    if verifier.as_deref().is_some_and(|v| !is_verifier(v)) {
        return Err(OAuthError::invalid_request(
            "code_verifier must be 43 to 128 unreserved characters.",
        ));
    }
    let pair = Pair::mint()?;
    let access_ttl = state.settings.tokens.access_ttl_secs;
    let ttl = state.settings.tokens.refresh_ttl_secs;
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        let Some(code) = tokens::lock_by_hash(conn, &code, &[AUTHORIZATION_CODE]).await? else {
            return Ok(Err(unknown_code()));
        };
        if detail(&code.details, "client_id") != caller.id().to_string() {
            return Ok(Err(unknown_code()));
        }
        if code.used_at.is_some() {
            tokens::expire_family(conn, code.id).await?;
            return Ok(Err(OAuthError::invalid_grant(
                "The code was used already: the tokens issued for it are revoked.",
            )));
        }
        if let Err(e) = redeemable(&code, caller, &redirect_uri, verifier.as_deref()) {
            return Ok(Err(e));
        }
        let Some(connection_id) = caller.connection_for(&redirect_uri) else {
            return Ok(Err(OAuthError::invalid_grant(
                "redirect_uri is not registered on the connection the client authenticated with.",
            )));
        };
        let requested = ScopeSet::parse(detail(&code.details, "scope_request"));
        let scope = match still_approved(conn, code.user_id, caller.id(), &requested).await? {
            Ok(scope) => scope,
            Err(e) => return Ok(Err(e)),
        };
        tokens::mark_used(conn, code.id).await?;
        let grant = Grant {
            user_id: code.user_id,
            client_id: caller.id(),
            granted: &requested,
            scope: &scope,
            redirect_uri: &redirect_uri,
            connection_id,
            family: code.id,
            refresh_expires_at: now_unix().saturating_add(ttl),
        };
        pair.store(conn, access_ttl, &grant).await.map(Ok)
    })
    .await?
}

/// The checks of the code itself, after its client: expiry, the redirect URI (identical to
/// the authorization request's), then PKCE.
fn redeemable(
    code: &Token,
    caller: &Caller,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> Result<(), OAuthError> {
    if code.expires_at <= now_unix() {
        return Err(OAuthError::invalid_grant("The code has expired."));
    }
    if detail(&code.details, "redirect_uri") != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the authorization request's.",
        ));
    }
    let challenge = code
        .details
        .get("code_challenge")
        .and_then(serde_json::Value::as_str);
    match (challenge, verifier) {
        (Some(challenge), Some(verifier)) => {
            let met = Challenge::parse(challenge).is_ok_and(|c| c.is_met_by(verifier));
            if !met {
                return Err(OAuthError::invalid_grant(
                    "code_verifier does not match the code_challenge.",
                ));
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_request(
                "code_verifier is required: the code was issued with a code_challenge.",
            ));
        }
        // RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a downgrade.
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier was sent, but the code was issued without a code_challenge.",
            ));
        }
        (None, None) if caller.is_public() => {
            return Err(OAuthError::invalid_grant(
                "A public client needs PKCE: the code was issued without a code_challenge.",
            ));
        }
        (None, None) => {}
    }
    Ok(())
}
