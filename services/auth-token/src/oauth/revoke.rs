//! `POST /oauth/revoke` (RFC 7009): a client ends one of its tokens. A refresh token of the
//! standard endpoint ends its whole grant (the access tokens issued with it too, §2.1); an
//! access token ends alone. Unknown or already ended tokens are answered 200 as well (§2.2).
//! The expiry announces the revocation to every gatekeeper (migration 000004's triggers).

use actix_web::{HttpRequest, HttpResponse, web};
use ehealth_core::SecretHash;
use mithril_store::tokens::{self, ACCESS_TOKEN, OAUTH_REFRESH_TOKEN, REFRESH_TOKEN};
use platform::db;
use uuid::Uuid;

use super::client::{Public, authenticate};
use super::detail;
use super::introspect::{TOKEN_HINT_PARAMS, TokenHintForm, hint};
use super::wire::{self, OAuthError};
use crate::startup::AppState;

#[utoipa::path(post, path = "/oauth/revoke", tag = "oauth2",
    description = "RFC 7009 revocation. Form body; the caller authenticates (client_secret_basic, client_secret_post, or client_id alone for a public client). A refresh token revokes its whole grant; an access token only itself. Unknown tokens are answered 200 too.",
    request_body(content = TokenHintForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "revoked (or unknown)"),
              (status = 400, description = "invalid_request, unauthorized_client (the token is another client's), unsupported_token_type", body = wire::OAuthErrorBody),
              (status = 401, description = "invalid_client (WWW-Authenticate: Basic)", body = wire::OAuthErrorBody),
              (status = 413, description = "invalid_request: the body is too large", body = wire::OAuthErrorBody),
              (status = 415, description = "invalid_request: the body is not a form", body = wire::OAuthErrorBody),
              (status = 503, description = "temporarily_unavailable (Retry-After)", body = wire::OAuthErrorBody)))]
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let done = async {
        let params = wire::form(&req, payload, TOKEN_HINT_PARAMS).await?;
        let value = params.require("token")?.to_owned();
        hint(params.get("token_type_hint"))?;
        let mut conn = db::conn(&state.pool).await?;
        let caller = authenticate(&mut conn, &req, &params, Public::Allowed).await?;
        let Some(token) = tokens::find_by_hash(&mut conn, &SecretHash::of(&value)).await? else {
            return Ok(());
        };
        if !matches!(
            token.name.as_str(),
            ACCESS_TOKEN | REFRESH_TOKEN | OAUTH_REFRESH_TOKEN
        ) {
            return Ok(());
        }
        if !caller.issued(&token.details) {
            return Err(OAuthError::unauthorized_client(
                "The token was not issued to this client.",
            ));
        }
        match Uuid::parse_str(detail(&token.details, "family")) {
            Ok(family) if token.name == OAUTH_REFRESH_TOKEN => {
                tokens::expire_family(&mut conn, family).await?;
            }
            _ => {
                tokens::expire(&mut conn, token.id).await?;
            }
        }
        Ok::<(), OAuthError>(())
    };
    match done.await {
        Ok(()) => {
            let mut res = HttpResponse::Ok();
            wire::no_store(&mut res);
            res.finish()
        }
        Err(e) => e.response(),
    }
}
