//! `POST /oauth/tokens` and `POST /auth/login`: one body shape (`{"token":{..}}`), a grant
//! whitelist per endpoint, then one module per grant.

use actix_web::web;
use platform::{ApiError, ApiResult, Reply, RequestSchema, ValidatedJson};
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::startup::AppState;

pub mod authorization_code;
pub mod password;
pub mod refresh_token;
pub mod two_factor;

/// The `token` object of a token request; its grant's schema checks it further.
#[derive(serde::Deserialize)]
#[serde(transparent)]
pub struct TokenRequest(pub serde_json::Value);

/// Documentation of the `token` object: which fields each grant takes.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenFields {
    /// authorization_code | refresh_token (on /oauth/tokens); password | change_password |
    /// authorize_2fa_access_token | refresh_2fa_access_token (on /auth/login)
    grant_type: String,
    /// authorization_code, refresh_token, password
    client_id: Option<uuid::Uuid>,
    /// authorization_code, refresh_token: the connection's secret
    client_secret: Option<String>,
    /// authorization_code
    code: Option<String>,
    /// authorization_code
    redirect_uri: Option<String>,
    /// refresh_token
    refresh_token: Option<String>,
    /// password
    email: Option<String>,
    /// password
    password: Option<String>,
    /// password: requested scopes; authorization_code: accepted and ignored
    scope: Option<String>,
    /// authorize_2fa_access_token: the code sent by SMS (with `Authorization: Bearer <2FA token>`)
    otp: Option<u32>,
}

impl RequestSchema for TokenRequest {
    const SCHEMA: &'static str = "token_request";
    const WRAPPER: Option<&'static str> = Some("token");
}

const OAUTH_GRANTS: &[&str] = &["authorization_code", "refresh_token"];
/// The reference also lists digital_signature here; it is not implemented, so it is refused
/// like any grant the endpoint does not allow.
const LOGIN_GRANTS: &[&str] = &[
    "password",
    "change_password",
    "authorize_2fa_access_token",
    "refresh_2fa_access_token",
];

/// Step 1 of every grant: `grant_type` present (422) and allowed on this endpoint (401).
fn grant_type<'a>(body: &'a serde_json::Value, allowed: &[&str]) -> ApiResult<&'a str> {
    let grant = body
        .get("grant_type")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| ApiError::invalid_request("Request must include grant_type."))?;
    if allowed.contains(&grant) {
        Ok(grant)
    } else {
        Err(ApiError::unauthorized(
            "invalid_grant",
            "Grant type not allowed.",
        ))
    }
}

/// Step 2: the grant's own schema (422 `validation_failed` at `$.field`).
pub(crate) fn parse<T: DeserializeOwned>(
    state: &AppState,
    schema: &str,
    body: serde_json::Value,
) -> ApiResult<T> {
    state.schemas.validate(schema, &body)?;
    serde_json::from_value(body).map_err(|e| ApiError::invalid_field("$", "cast", e.to_string()))
}

#[utoipa::path(post, path = "/oauth/tokens", tag = "oauth",
    description = "Seed 003. grant_type authorization_code (code exchange) or refresh_token. Wrapped as {\"token\": {...}}.",
    request_body(content = TokenFields, description = "wrapped as {\"token\": {...}}"),
    responses((status = 201, description = "the access token; details.refresh_token carries the refresh token (code grant only)", body = crate::issue::TokenView),
              (status = 401, description = "invalid_client, token_not_found, invalid_grant, token_expired, access_denied", body = ehealth_core::ErrorBody),
              (status = 422, description = "grant_type missing, or a field missing or malformed", body = ehealth_core::ErrorBody)))]
pub async fn oauth_tokens(
    state: web::Data<AppState>,
    body: ValidatedJson<TokenRequest>,
) -> ApiResult<Reply> {
    let body = body.into_inner().0;
    match grant_type(&body, OAUTH_GRANTS)? {
        "authorization_code" => authorization_code::exchange(&state, body).await,
        _ => refresh_token::refresh(&state, body).await,
    }
}

#[utoipa::path(post, path = "/auth/login", tag = "oauth",
    description = "The auth front-end's login. grant_type password (or change_password); for a user with an active SMS factor it answers a 2FA token and sends a code (urgent.next_step REQUEST_OTP, or REQUEST_FACTOR when the factor has no phone yet). Then, with `Authorization: Bearer <2FA token>`, authorize_2fa_access_token with the code (→ REQUEST_APPS) or refresh_2fa_access_token for a new code. Wrapped as {\"token\": {...}}.",
    request_body(content = TokenFields, description = "wrapped as {\"token\": {...}}"),
    responses((status = 201, description = "the token; urgent.next_step = REQUEST_APPS, REQUEST_OTP or REQUEST_FACTOR", body = crate::issue::TokenView),
              (status = 401, body = ehealth_core::ErrorBody), (status = 403, body = ehealth_core::ErrorBody),
              (status = 409, description = "2FA: the user has no active factor, or it has no phone", body = ehealth_core::ErrorBody),
              (status = 422, body = ehealth_core::ErrorBody),
              (status = 429, description = "otp_timeout: too many codes sent; Retry-After", body = ehealth_core::ErrorBody),
              (status = 503, description = "the SMS provider failed; Retry-After", body = ehealth_core::ErrorBody)))]
pub async fn login(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    body: ValidatedJson<TokenRequest>,
) -> ApiResult<Reply> {
    let body = body.into_inner().0;
    match grant_type(&body, LOGIN_GRANTS)? {
        "authorize_2fa_access_token" => two_factor::authorize(&state, &req, body).await,
        "refresh_2fa_access_token" => two_factor::refresh(&state, &req, body).await,
        _ => password::login(&state, body).await,
    }
}
