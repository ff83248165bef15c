//! `POST /oauth/introspect` (RFC 7662): whether a token is active, and what it allows. A client
//! may introspect the tokens issued to it; a client whose `priv_settings.introspection` is true
//! (a resource server) any token. Anything else is `{"active": false}`, as an unknown token is:
//! the answer never tells a caller about tokens that are not its business.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::result::OptionalExtension;
use ehealth_core::SecretHash;
use mithril_store::tokens::{
    self, ACCESS_TOKEN, OAUTH_REFRESH_TOKEN, REFRESH_TOKEN, Token, now_unix,
};
use mithril_store::{clients, users};
use platform::db::{self, DbConn};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::client::{Caller, Public, authenticate};
use super::detail;
use super::wire::{self, OAuthError};
use crate::startup::AppState;

/// The answer (RFC 7662 §2.2). Only `active` when the token is not.
#[derive(Serialize, ToSchema, Default)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `Bearer` (an access token) or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// The user the token acts for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

/// The form of `/oauth/introspect` and `/oauth/revoke` (documentation).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenHintForm {
    /// The token value.
    #[schema(min_length = 1, pattern = "^[^\\x00]*$")]
    token: String,
    #[schema(nullable = false)]
    token_type_hint: Option<TokenTypeHint>,
    /// client_secret_post; or in `Authorization: Basic`
    #[schema(nullable = false, pattern = "^[^\\x00]*$")]
    client_id: Option<String>,
    /// client_secret_post
    #[schema(nullable = false, pattern = "^[^\\x00]*$")]
    client_secret: Option<String>,
}

/// Which kind of token is sent (a hint: both are searched).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum TokenTypeHint {
    AccessToken,
    RefreshToken,
}

#[utoipa::path(post, path = "/oauth/introspect", tag = "oauth2",
    description = "RFC 7662 introspection. Form body; the caller authenticates (client_secret_basic or client_secret_post). A client sees its own tokens; a client with priv_settings.introspection = true (a resource server) any. Anything else answers {\"active\": false}.",
    request_body(content = TokenHintForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "the token's state (Cache-Control: no-store)", body = Introspection),
              (status = 400, description = "invalid_request, unauthorized_client, unsupported_token_type", body = wire::OAuthErrorBody),
              (status = 401, description = "invalid_client (WWW-Authenticate: Basic)", body = wire::OAuthErrorBody),
              (status = 413, description = "invalid_request: the body is too large", body = wire::OAuthErrorBody),
              (status = 415, description = "invalid_request: the body is not a form", body = wire::OAuthErrorBody),
              (status = 503, description = "temporarily_unavailable (Retry-After)", body = wire::OAuthErrorBody)))]
pub async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let answer = async {
        let params = wire::form(&req, payload, TOKEN_HINT_PARAMS).await?;
        let value = params.require("token")?.to_owned();
        hint(params.get("token_type_hint"))?;
        let mut conn = db::conn(&state.pool).await?;
        let caller = authenticate(&mut conn, &req, &params, Public::Refused).await?;
        let token = tokens::find_by_hash(&mut conn, &SecretHash::of(&value)).await?;
        let Some(token) = token.filter(|t| may_see(&caller, t)) else {
            return Ok(Introspection::default());
        };
        describe(&state, &mut conn, token).await
    };
    match answer.await {
        Ok(introspection) => wire::json(&introspection),
        Err(e) => e.response(),
    }
}

/// The parameters of `/oauth/introspect` and `/oauth/revoke` (others are ignored).
pub const TOKEN_HINT_PARAMS: &[&str] = &["token", "token_type_hint", "client_id", "client_secret"];

/// `token_type_hint`: one of the two types, or none (RFC 7009 §2.2.1 names the error).
pub fn hint(value: Option<&str>) -> Result<(), OAuthError> {
    match value {
        None | Some("access_token" | "refresh_token") => Ok(()),
        Some(_) => Err(OAuthError::unsupported_token_type()),
    }
}

fn may_see(caller: &Caller, token: &Token) -> bool {
    let own = caller.issued(&token.details);
    let resource_server = caller
        .client()
        .priv_settings
        .get("introspection")
        .and_then(serde_json::Value::as_bool)
        == Some(true);
    own || resource_server
}

/// Active: an access or refresh token, unexpired, not used (a rotated refresh token is not),
/// its user and its client not blocked.
async fn describe(
    state: &AppState,
    conn: &mut DbConn,
    token: Token,
) -> Result<Introspection, OAuthError> {
    let token_type = match token.name.as_str() {
        ACCESS_TOKEN => "Bearer",
        REFRESH_TOKEN | OAUTH_REFRESH_TOKEN => "refresh_token",
        _ => return Ok(Introspection::default()),
    };
    if token.expires_at <= now_unix() || token.used_at.is_some() {
        return Ok(Introspection::default());
    }
    let user = users::get(conn, token.user_id).await.optional()?;
    let client_id = detail(&token.details, "client_id");
    let client = match Uuid::parse_str(client_id) {
        Ok(id) => clients::get(conn, id).await.optional()?,
        Err(_) => None,
    };
    let (Some(user), Some(client)) = (user, client) else {
        return Ok(Introspection::default());
    };
    if user.is_blocked || client.is_blocked {
        return Ok(Introspection::default());
    }
    Ok(Introspection {
        active: true,
        scope: Some(detail(&token.details, "scope").to_owned()),
        client_id: Some(client_id.to_owned()),
        token_type: Some(token_type),
        exp: Some(token.expires_at),
        iat: Some(token.inserted_at.timestamp()),
        sub: Some(token.user_id),
        iss: Some(state.issuer.clone()),
    })
}
