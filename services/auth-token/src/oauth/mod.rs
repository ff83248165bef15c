//! Standard OAuth 2 beside the eHealth API, over the same clients, codes and tokens:
//! `GET /oauth/authorize` (the sign-in pages, reached with RFC 6749 §4.1.1 parameters and PKCE),
//! `POST /oauth/token` (§4.1.3, §6), introspection (RFC 7662), revocation (RFC 7009) and the
//! metadata (RFC 8414). Bodies are forms and answers RFC JSON, not the envelope
//! (ARCHITECTURE.md names the exception). RFC 9700 holds here: redirect URIs match exactly,
//! refresh tokens rotate and a reuse ends their grant, PKCE is S256 only.

mod authorization_code;
mod client;
pub mod introspect;
pub mod metadata;
mod refresh_token;
pub mod revoke;
pub mod wire;

use actix_web::{HttpRequest, HttpResponse, web};
use diesel_async::AsyncPgConnection;
use ehealth_core::ScopeSet;
use mithril_store::tokens::{self, ACCESS_TOKEN, OAUTH_REFRESH_TOKEN};
use platform::db;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::issue::{Minted, mint};
use crate::startup::AppState;
use client::{Public, authenticate};
use wire::OAuthError;

/// The paths that answer in RFC form (their OpenAPI is not the envelope's).
pub fn is_standard_path(path: &str) -> bool {
    matches!(
        path,
        "/oauth/authorize"
            | "/oauth/token"
            | "/oauth/introspect"
            | "/oauth/revoke"
            | "/.well-known/oauth-authorization-server"
    )
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/oauth/authorize").get(crate::pages::authorize))
        .service(web::resource("/oauth/token").post(token))
        .service(web::resource("/oauth/introspect").post(introspect::introspect))
        .service(web::resource("/oauth/revoke").post(revoke::revoke))
        .service(web::resource("/.well-known/oauth-authorization-server").get(metadata::metadata));
}

/// The answer of `/oauth/token` (§5.1).
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds.
    pub expires_in: i64,
    /// Rotated on every refresh: the one sent back replaces the one used.
    pub refresh_token: String,
    /// Space-separated.
    pub scope: String,
}

#[utoipa::path(post, path = "/oauth/token", tag = "oauth2",
    description = "RFC 6749 token endpoint. Form body (application/x-www-form-urlencoded). Client authentication: client_secret_basic, client_secret_post, or none for a client with a public connection (PKCE then required). grant_type authorization_code (code, redirect_uri, code_verifier) or refresh_token (refresh_token, optional scope); refresh tokens rotate, and a reused one revokes its grant.",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "tokens (Cache-Control: no-store)", body = TokenResponse),
              (status = 400, description = "invalid_request, invalid_grant, unauthorized_client, unsupported_grant_type, invalid_scope", body = wire::OAuthErrorBody),
              (status = 401, description = "invalid_client (WWW-Authenticate: Basic)", body = wire::OAuthErrorBody),
              (status = 413, description = "invalid_request: the body is too large", body = wire::OAuthErrorBody),
              (status = 415, description = "invalid_request: the body is not a form", body = wire::OAuthErrorBody),
              (status = 503, description = "temporarily_unavailable (Retry-After)", body = wire::OAuthErrorBody)))]
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    match token_grant(&state, &req, payload).await {
        Ok(tokens) => wire::json(&tokens),
        Err(e) => e.response(),
    }
}

/// The grants of `/oauth/token` (documentation).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
}

/// The form of `/oauth/token` (documentation: which grant takes which field). Parameters are
/// text without NUL; one sent empty counts as omitted (RFC 6749 §3.1).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenForm {
    grant_type: GrantType,
    /// client_secret_post and public clients; or in `Authorization: Basic`
    #[schema(nullable = false, pattern = "^[^\\x00]*$")]
    client_id: Option<String>,
    /// client_secret_post; or in `Authorization: Basic`
    #[schema(nullable = false, pattern = "^[^\\x00]*$")]
    client_secret: Option<String>,
    /// authorization_code
    #[schema(nullable = false, pattern = "^[^\\x00]*$")]
    code: Option<String>,
    /// authorization_code: as in the authorization request
    #[schema(nullable = false, pattern = "^[^\\x00]*$")]
    redirect_uri: Option<String>,
    /// authorization_code: the PKCE verifier (43-128 characters)
    #[schema(nullable = false, pattern = "^[^\\x00]*$")]
    code_verifier: Option<String>,
    /// refresh_token
    #[schema(nullable = false, pattern = "^[^\\x00]*$")]
    refresh_token: Option<String>,
    /// refresh_token: a narrower scope
    #[schema(nullable = false, pattern = "^[^\\x00]*$")]
    scope: Option<String>,
}

/// The parameters `/oauth/token` takes (others are ignored).
const TOKEN_PARAMS: &[&str] = &[
    "grant_type",
    "client_id",
    "client_secret",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
];

/// Steps: the form, `grant_type`, the client, then the grant.
async fn token_grant(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<TokenResponse, OAuthError> {
    let params = wire::form(req, payload, TOKEN_PARAMS).await?;
    let grant_type = params.require("grant_type")?;
    if !matches!(grant_type, "authorization_code" | "refresh_token") {
        return Err(OAuthError::unsupported_grant_type());
    }
    let mut conn = db::conn(&state.pool).await?;
    let caller = authenticate(&mut conn, req, &params, Public::Allowed).await?;
    match grant_type {
        "authorization_code" => {
            authorization_code::exchange(state, &mut conn, &caller, &params).await
        }
        _ => refresh_token::refresh(state, &mut conn, &caller, &params).await,
    }
}

/// A string of a token's details ("" when absent).
fn detail<'a>(details: &'a serde_json::Value, key: &str) -> &'a str {
    details
        .get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
}

/// `wanted` narrowed to what the user still approves for the client; an `invalid_grant` when
/// nothing is left (the approval was withdrawn).
async fn still_approved(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    client_id: Uuid,
    wanted: &ScopeSet,
) -> diesel::QueryResult<Result<ScopeSet, OAuthError>> {
    let approved = mithril_store::apps::find(conn, user_id, client_id).await?;
    let scope = wanted.intersection(&ScopeSet::parse(
        approved.as_ref().map_or("", |a| a.scope.as_str()),
    ));
    Ok(if scope.is_empty() {
        Err(OAuthError::invalid_grant(
            "Resource owner revoked access for the client.",
        ))
    } else {
        Ok(scope)
    })
}

/// What a grant issues its two tokens for.
struct Grant<'a> {
    user_id: Uuid,
    client_id: Uuid,
    /// What the grant allows (kept on the refresh token: a refresh may narrow, never widen).
    granted: &'a ScopeSet,
    /// The access token's scope.
    scope: &'a ScopeSet,
    redirect_uri: &'a str,
    /// The connection it was redeemed through: only that connection refreshes, introspects or
    /// revokes its tokens.
    connection_id: Uuid,
    /// The code that started the grant: every token of it carries its id.
    family: Uuid,
    refresh_expires_at: i64,
}

/// An access token and a refresh token, minted before the transaction that stores them (their
/// values are shown only if it commits).
struct Pair {
    access: Minted,
    refresh: Minted,
}

impl Pair {
    fn mint() -> Result<Self, OAuthError> {
        Ok(Self {
            access: mint(ACCESS_TOKEN, 0, Uuid::nil(), json!({}))?,
            refresh: mint(OAUTH_REFRESH_TOKEN, 0, Uuid::nil(), json!({}))?,
        })
    }

    async fn store(
        mut self,
        conn: &mut AsyncPgConnection,
        access_ttl: i64,
        g: &Grant<'_>,
    ) -> diesel::QueryResult<TokenResponse> {
        let client_id = g.client_id.to_string();
        let family = g.family.to_string();
        let connection_id = g.connection_id.to_string();
        self.access.row.user_id = g.user_id;
        self.access.row.expires_at = tokens::now_unix().saturating_add(access_ttl);
        self.access.row.details = json!({
            "grant_type": "authorization_code", "client_id": client_id,
            "scope": g.scope.to_string(), "redirect_uri": g.redirect_uri, "family": family,
            "connection_id": connection_id,
        });
        self.refresh.row.user_id = g.user_id;
        self.refresh.row.expires_at = g.refresh_expires_at;
        self.refresh.row.details = json!({
            "client_id": client_id, "scope": g.granted.to_string(),
            "redirect_uri": g.redirect_uri, "family": family, "connection_id": connection_id,
        });
        tokens::insert(conn, &self.access.row).await?;
        tokens::insert(conn, &self.refresh.row).await?;
        Ok(TokenResponse {
            access_token: self.access.value.into_string(),
            token_type: "Bearer",
            expires_in: access_ttl,
            refresh_token: self.refresh.value.into_string(),
            scope: g.scope.to_string(),
        })
    }
}
