//! Two-factor login (spec §3.5, §3.6): after a password, a user with an active SMS factor gets a
//! `2fa_access_token` and a code by SMS; `authorize_2fa_access_token` trades both for the access
//! token, `refresh_2fa_access_token` sends a new code; `init_factor` / `approve_factor` set or
//! change the phone. The reference's weaknesses fixed: codes are stored hashed, single-use,
//! compared in constant time; a user without an active factor gets 409, not a 500.

use actix_web::{HttpRequest, web};
use chrono::{Duration, Utc};
use ehealth_core::{SecretHash, otp};
use mithril_store::otps::{self, Check, NewOtp};
use mithril_store::tokens::{self, ACCESS_TOKEN, CHANGE_PASSWORD_TOKEN, TWO_FACTOR_TOKEN, Token};
use mithril_store::{factors, users};
use platform::{ApiError, ApiResult, Reply, RequestSchema, ValidatedJson, db};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::issue::issue_ending_others;
use crate::startup::AppState;

const NO_FACTOR: &str = "Active authentication factor not found";
const BLOCK_REASON: &str = "Passed invalid OTP more than USER_OTP_ERROR_MAX";

/// After a right password, for a user with an active factor: the 2FA token, and the code sent
/// when the factor has a phone (`REQUEST_OTP`; else `REQUEST_FACTOR`: set one first).
pub async fn start(
    state: &AppState,
    mut conn: db::DbConn,
    user_id: Uuid,
    phone: Option<String>,
    details: Value,
) -> ApiResult<Reply> {
    let client_id = client_of(&details)?;
    let phone = phone.filter(|p| !p.is_empty());
    if phone.is_some() {
        // Refused before any token changes: the caller's current 2FA token stays good.
        may_send(state, &mut conn, user_id).await?;
    }
    let ttl = state.settings.tokens.access_ttl_secs;
    let ending = [ACCESS_TOKEN, TWO_FACTOR_TOKEN];
    let token = issue_ending_others(
        &mut conn,
        TWO_FACTOR_TOKEN,
        ttl,
        user_id,
        client_id,
        details,
        &ending,
    )
    .await?;
    drop(conn);
    let next = match phone {
        Some(phone) => {
            send_code(state, user_id, token.row.id, &phone).await?;
            "REQUEST_OTP"
        }
        None => "REQUEST_FACTOR",
    };
    Ok(Reply::created(token.view()).urgent(json!({"next_step": next})))
}

#[derive(Deserialize)]
struct OtpGrant {
    #[serde(default, deserialize_with = "optional_code")]
    otp: Option<u32>,
}

/// A code as JSON Schema's `integer` has it (`123456`, and `123456.0` too); the schema has
/// checked its range.
fn code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = f64::deserialize(d)?;
    if n.fract() == 0.0 && (0.0..=999_999.0).contains(&n) {
        Ok(n as u32)
    } else {
        Err(serde::de::Error::custom("a code is six digits"))
    }
}

fn optional_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    code(d).map(Some)
}

/// `grant_type=authorize_2fa_access_token`: the code for the access token (or the
/// change-password token, when the password step was change_password).
pub async fn authorize(state: &AppState, req: &HttpRequest, body: Value) -> ApiResult<Reply> {
    let grant: OtpGrant = super::parse(state, "token_2fa", body)?;
    let mut conn = db::conn(&state.pool).await?;
    let token = two_factor_token(&mut conn, req).await?;
    let phone = factor_phone(&mut conn, token.user_id).await?;
    check_code(state, &mut conn, &token, &phone, grant.otp).await?;
    finish(state, conn, &token).await
}

/// `grant_type=refresh_2fa_access_token`: a new 2FA token and a new code.
pub async fn refresh(state: &AppState, req: &HttpRequest, body: Value) -> ApiResult<Reply> {
    super::parse::<Value>(state, "token_refresh_2fa", body)?;
    let mut conn = db::conn(&state.pool).await?;
    let old = two_factor_token(&mut conn, req).await?;
    let phone = factor_phone(&mut conn, old.user_id).await?;
    let mut details = old.details.clone();
    details["scope"] = json!("");
    start(state, conn, old.user_id, Some(phone), details).await
}

/// The body of `init_factor`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct FactorRequest {
    #[serde(rename = "type")]
    pub factor_type: String,
    pub factor: String,
}

impl RequestSchema for FactorRequest {
    const SCHEMA: &'static str = "factor_init";
    const WRAPPER: Option<&'static str> = None;
}

#[utoipa::path(post, path = "/oauth/users/actions/init_factor", tag = "oauth",
    description = "Sets the SMS factor's phone (with the 2FA token of a login whose factor has none) or changes it (with an access token of a user whose factor has one): a code goes to the new phone. `Authorization: Bearer <token>`; body {\"type\": \"SMS\", \"factor\": \"+380XXXXXXXXX\"}.",
    request_body(content = FactorRequest),
    responses((status = 201, description = "a 2FA token for approve_factor (without details); urgent.next_step = APPROVE_FACTOR", body = crate::issue::TokenView),
              (status = 401, description = "no or unknown token (token_invalid), expired (token_expired), not one that may set a factor (token_invalid_type), user blocked", body = ehealth_core::ErrorBody),
              (status = 409, description = "the user has no active factor", body = ehealth_core::ErrorBody),
              (status = 422, body = ehealth_core::ErrorBody),
              (status = 429, description = "otp_timeout: too many codes sent; Retry-After", body = ehealth_core::ErrorBody),
              (status = 503, description = "the SMS provider failed; Retry-After", body = ehealth_core::ErrorBody)))]
pub async fn init_factor(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ValidatedJson<FactorRequest>,
) -> ApiResult<Reply> {
    let body = body.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    let token = bearer_token(&mut conn, &req).await?;
    let factor = factors::active_sms(&mut conn, token.user_id)
        .await?
        .ok_or_else(|| ApiError::conflict(NO_FACTOR))?;
    let has_phone = factor.factor.as_deref().is_some_and(|p| !p.is_empty());
    let may_set = match token.name.as_str() {
        ACCESS_TOKEN => has_phone,
        TWO_FACTOR_TOKEN => !has_phone,
        _ => false,
    };
    if !may_set {
        return Err(ApiError::unauthorized(
            "token_invalid_type",
            "Invalid token type.",
        ));
    }
    may_send(&state, &mut conn, token.user_id).await?;
    let mut details = token.details.clone();
    details["request_authentication_factor"] = json!(body.factor);
    details["request_authentication_factor_type"] = json!(body.factor_type);
    let client_id = client_of(&details)?;
    let ttl = state.settings.tokens.access_ttl_secs;
    let new = issue_ending_others(
        &mut conn,
        TWO_FACTOR_TOKEN,
        ttl,
        token.user_id,
        client_id,
        details,
        &[TWO_FACTOR_TOKEN],
    )
    .await?;
    drop(conn);
    send_code(&state, token.user_id, new.row.id, &body.factor).await?;
    let mut view = serde_json::to_value(new.view()).map_err(|e| ApiError::internal(e.into()))?;
    if let Some(fields) = view.as_object_mut() {
        fields.remove("details");
    }
    Ok(Reply::created(view).urgent(json!({"next_step": "APPROVE_FACTOR"})))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ApproveRequest {
    #[serde(deserialize_with = "code")]
    pub otp: u32,
}

impl RequestSchema for ApproveRequest {
    const SCHEMA: &'static str = "factor_approve";
    const WRAPPER: Option<&'static str> = None;
}

#[utoipa::path(post, path = "/oauth/users/actions/approve_factor", tag = "oauth",
    description = "Approves the phone of init_factor with the code sent to it: the factor takes the phone, and the login goes on. `Authorization: Bearer <2FA token of init_factor>`; body {\"otp\": 123456}.",
    request_body(content = ApproveRequest),
    responses((status = 201, description = "the access token (or change-password token); urgent.next_step = REQUEST_APPS", body = crate::issue::TokenView),
              (status = 401, description = "token_invalid, token_expired, token_invalid_type (init the factor first), otp_invalid, otp_expired, otp_reached_max_attempts, user_blocked", body = ehealth_core::ErrorBody),
              (status = 409, description = "the user has no active factor", body = ehealth_core::ErrorBody),
              (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn approve_factor(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ValidatedJson<ApproveRequest>,
) -> ApiResult<Reply> {
    let guess = body.into_inner().otp;
    let mut conn = db::conn(&state.pool).await?;
    let token = bearer_token(&mut conn, &req).await?;
    let phone = token
        .details
        .get("request_authentication_factor")
        .and_then(Value::as_str)
        .filter(|_| token.name == TWO_FACTOR_TOKEN)
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "token_invalid_type",
                "Invalid token type. Init factor at first",
            )
        })?;
    factors::active_sms(&mut conn, token.user_id)
        .await?
        .ok_or_else(|| ApiError::conflict(NO_FACTOR))?;
    check_code(&state, &mut conn, &token, &phone, Some(guess)).await?;
    factors::set_phone(&mut conn, token.user_id, &phone).await?;
    finish(&state, conn, &token).await
}

/// The token of `Authorization: Bearer …`, of a user who is not blocked, whatever its state.
async fn bearer(conn: &mut db::DbConn, req: &HttpRequest) -> ApiResult<Token> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
        })
        .ok_or_else(|| ApiError::access_denied("Authorization header required."))?;
    let token = tokens::find_by_hash(conn, &SecretHash::of(value))
        .await?
        .ok_or_else(|| ApiError::unauthorized("token_invalid", "Invalid token."))?;
    if users::is_blocked(conn, token.user_id).await? != Some(false) {
        return Err(ApiError::unauthorized("user_blocked", "User blocked."));
    }
    Ok(token)
}

/// 401 `token_expired` for a token past its expiry.
fn live(token: Token) -> ApiResult<Token> {
    if token.expires_at <= tokens::now_unix() {
        return Err(ApiError::unauthorized("token_expired", "Token expired."));
    }
    Ok(token)
}

/// [`bearer`], live (`init_factor` and `approve_factor` check its kind themselves).
async fn bearer_token(conn: &mut db::DbConn, req: &HttpRequest) -> ApiResult<Token> {
    live(bearer(conn, req).await?)
}

/// [`bearer`], which must be a 2FA token, then live (the reference's order of checks).
async fn two_factor_token(conn: &mut db::DbConn, req: &HttpRequest) -> ApiResult<Token> {
    let token = bearer(conn, req).await?;
    if token.name != TWO_FACTOR_TOKEN {
        return Err(ApiError::unauthorized(
            "token_invalid_type",
            "Invalid token type",
        ));
    }
    live(token)
}

/// The phone of the user's active factor: 409 without an active factor (the reference's
/// unhandled 500), 409 "Factor not set" without a phone.
async fn factor_phone(conn: &mut db::DbConn, user_id: Uuid) -> ApiResult<String> {
    let factor = factors::active_sms(conn, user_id)
        .await?
        .ok_or_else(|| ApiError::conflict(NO_FACTOR))?;
    factor
        .factor
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::conflict("Factor not set"))
}

/// Checks a code sent for `token` to `phone` ([`check_code_for`]).
async fn check_code(
    state: &AppState,
    conn: &mut db::DbConn,
    token: &Token,
    phone: &str,
    guess: Option<u32>,
) -> ApiResult<()> {
    check_code_for(state, conn, token.id, token.user_id, phone, guess).await
}

/// Checks a code sent to `phone` for `owner` (a 2FA token, or a browser sign-in) of
/// `user_id`. Every wrong one counts against the user, who is blocked (and their tokens
/// expired) at the configured number in a row.
pub(crate) async fn check_code_for(
    state: &AppState,
    conn: &mut db::DbConn,
    owner: Uuid,
    user_id: Uuid,
    phone: &str,
    guess: Option<u32>,
) -> ApiResult<()> {
    let rules = &state.settings.otp;
    let key = format!("{owner}==={phone}");
    let check = match guess {
        Some(guess) => {
            let right = move |id: Uuid, stored: &[u8]| otp::matches(id, guess, stored);
            otps::check(conn, &key, rules.max_attempts, right).await?
        }
        None => Check::Invalid,
    };
    if check == Check::Verified {
        users::otp_succeeded(conn, user_id).await?;
        return Ok(());
    }
    if users::otp_failed(conn, user_id).await? >= rules.user_error_max {
        users::set_blocked(conn, user_id, true, Some(BLOCK_REASON)).await?;
        tokens::expire_for_user(conn, user_id, None).await?;
    }
    Err(match check {
        Check::Expired => ApiError::unauthorized("otp_expired", "OTP expired."),
        Check::TooManyAttempts => ApiError::unauthorized(
            "otp_reached_max_attempts",
            "Reached max OTP verify attempts",
        ),
        _ => ApiError::unauthorized("otp_invalid", "Invalid OTP code."),
    })
}

/// After a right code: the access token of the requested scope (or `app:authorize`), or the
/// change-password token; the user's other tokens of that client end.
async fn finish(state: &AppState, mut conn: db::DbConn, token: &Token) -> ApiResult<Reply> {
    let details = &token.details;
    let client_id = client_of(details)?;
    let grant = details
        .get("grant_type")
        .and_then(Value::as_str)
        .unwrap_or("password");
    let scope = details
        .get("scope_request")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("app:authorize");
    let name = if grant == "change_password" {
        CHANGE_PASSWORD_TOKEN
    } else {
        ACCESS_TOKEN
    };
    let details = json!({"grant_type": grant, "client_id": client_id.to_string(), "scope": scope});
    let ttl = state.settings.tokens.access_ttl_secs;
    let ending = [name, TWO_FACTOR_TOKEN];
    let issued = issue_ending_others(
        &mut conn,
        name,
        ttl,
        token.user_id,
        client_id,
        details,
        &ending,
    )
    .await?;
    Ok(Reply::created(issued.view()).urgent(json!({"next_step": "REQUEST_APPS"})))
}

/// 429 `otp_timeout` (Retry-After) when the user has had the configured number of codes within
/// the period.
pub(crate) async fn may_send(
    state: &AppState,
    conn: &mut db::DbConn,
    user_id: Uuid,
) -> ApiResult<()> {
    let rules = &state.settings.otp;
    let since = Utc::now() - Duration::seconds(rules.send_period_secs);
    if otps::sent_since(conn, user_id, since).await? >= rules.send_limit {
        return Err(ApiError::new(
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            "otp_timeout",
            Some("Sending OTP timeout. Try later.".into()),
        )
        .with_retry_after(rules.send_period_secs.unsigned_abs()));
    }
    Ok(())
}

/// Stores a new code for `owner` (a 2FA token, or a browser sign-in; cancelling its earlier
/// ones) and sends it
/// to `phone`. The caller has checked [`may_send`].
pub(crate) async fn send_code(
    state: &AppState,
    user_id: Uuid,
    owner: Uuid,
    phone: &str,
) -> ApiResult<()> {
    let code =
        otp::generate().map_err(|e| ApiError::internal(anyhow::anyhow!("OS RNG failed: {e}")))?;
    let id = Uuid::now_v7();
    let new = NewOtp {
        id,
        user_id,
        key: format!("{owner}==={phone}"),
        code_hash: otp::hash(id, code).to_vec(),
        expires_at: Utc::now() + Duration::seconds(state.settings.otp.ttl_secs),
    };
    {
        let mut conn = db::conn(&state.pool).await?;
        otps::issue(&mut conn, new).await?;
    }
    state.sms.send_code(phone, &otp::format(code)).await
}

fn client_of(details: &Value) -> ApiResult<Uuid> {
    details
        .get("client_id")
        .and_then(Value::as_str)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a 2FA token without its client_id")))
}
