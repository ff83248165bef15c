//! `grant_type=password` and `change_password` on `/auth/login` (spec §3.5; a user with an active
//! factor goes on with [`super::two_factor`]; reCAPTCHA is not implemented). Checks in the reference's order, except that nothing about the account
//! (unknown, blocked, not registered in the cabinet) is said before its password is verified.

use actix_web::web;
use chrono::{Duration, Utc};
use diesel::result::OptionalExtension;
use ehealth_core::{ScopeSet, password};
use mithril_store::tokens::{ACCESS_TOKEN, CHANGE_PASSWORD_TOKEN};
use mithril_store::{client_types, clients, factors, users};
use platform::{ApiError, ApiResult, Reply, db};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::issue::issue_ending_others;
use crate::startup::AppState;

#[derive(Deserialize)]
struct PasswordGrant {
    grant_type: String,
    email: String,
    password: String,
    client_id: Uuid,
    scope: String,
}

const CHANGE_PASSWORD_SCOPE: &str = "user:change_password";

fn allows_password(settings: &serde_json::Value) -> bool {
    settings
        .get("allowed_grant_types")
        .and_then(serde_json::Value::as_array)
        .is_some_and(|grants| grants.iter().any(|g| g == "password"))
}

pub async fn login(state: &AppState, body: serde_json::Value) -> ApiResult<Reply> {
    let req: PasswordGrant = super::parse(state, "token_password", body)?;
    let change_password = req.grant_type == "change_password";
    let mut conn = db::conn(&state.pool).await?;

    let (client, type_name) = clients::get_with_type_name(&mut conn, req.client_id)
        .await
        .optional()?
        .ok_or_else(|| ApiError::unauthorized("invalid_client", "Invalid client id."))?;
    if !allows_password(&client.settings) {
        return Err(ApiError::access_denied(
            "Client is not allowed to issue login token.",
        ));
    }
    drop(conn);
    let user = authenticate(
        state,
        &req.email,
        req.password,
        type_name == "CABINET",
        !change_password,
    )
    .await?;
    let mut conn = db::conn(&state.pool).await?;
    let requested = ScopeSet::parse(&req.scope);
    let allowed = ScopeSet::parse(
        &client_types::get(&mut conn, client.client_type_id)
            .await?
            .scope,
    );
    if !requested.is_subset_of(&allowed) {
        return Err(ApiError::invalid_request(
            "Scope is not allowed by client type.",
        ));
    }
    if change_password && requested.to_string() != CHANGE_PASSWORD_SCOPE {
        return Err(ApiError::access_denied(
            "Allowed scopes for the token are user:change_password.",
        ));
    }

    let details = json!({"grant_type": req.grant_type, "client_id": client.id.to_string(), "scope": requested.to_string()});
    if let Some(factor) = factors::active_sms(&mut conn, user.id).await? {
        let mut details = details;
        details["scope"] = json!("");
        details["scope_request"] = json!(requested.to_string());
        return super::two_factor::start(state, conn, user.id, factor.factor, details).await;
    }
    let name = if change_password {
        CHANGE_PASSWORD_TOKEN
    } else {
        ACCESS_TOKEN
    };
    let ttl = state.settings.tokens.access_ttl_secs;
    let token =
        issue_ending_others(&mut conn, name, ttl, user.id, client.id, details, &[name]).await?;
    Ok(Reply::created(token.view()).urgent(json!({"next_step": "REQUEST_APPS"})))
}

/// The account of `email`, if `password` is its password: spec §3.5's checks 2-6 in an order
/// that says nothing about the account before its password is verified (an unknown address is
/// answered as a wrong password, after the same work; README: "Sign-in that leaks nothing").
/// Failures are counted per address typed, before the password is checked. `cabinet`: the
/// client is the patients' cabinet (a user without a tax id is not registered there);
/// `expiry_applies`: an expired password is refused (not so for change_password).
pub(crate) async fn authenticate(
    state: &AppState,
    email: &str,
    password: String,
    cabinet: bool,
    expiry_applies: bool,
) -> ApiResult<users::LoginUser> {
    let rules = &state.settings.login;
    let mut conn = db::conn(&state.pool).await?;
    let since = Utc::now() - Duration::seconds(rules.failed_logins_period_secs);
    let reserved = users::reserve_login_attempt(&mut conn, email, since, rules.max_failed_logins);
    if reserved.await?.is_none() {
        return Err(ApiError::access_denied(
            "You reached login attempts limit. Try again later",
        ));
    }
    let user = users::find_for_login(&mut conn, email).await?;
    // The pooled connection goes back while the hash is checked (tens of milliseconds).
    drop(conn);
    let hash = user.as_ref().map(|u| u.password.clone());
    let matches = web::block(move || password::verify_or_pretend(&password, hash.as_deref()))
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("blocking pool: {e}")))?;
    let Some(user) = user.filter(|_| matches) else {
        return Err(ApiError::access_denied(
            "Identity, password combination is wrong.",
        ));
    };
    let mut conn = db::conn(&state.pool).await?;
    users::clear_login_failures(&mut conn, email).await?;
    if cabinet && user.tax_id.is_empty() {
        return Err(ApiError::forbidden_with("User is not registered"));
    }
    if user.is_blocked {
        return Err(ApiError::unauthorized("user_blocked", "User blocked."));
    }
    if expiry_applies
        && user.password_set_at + Duration::days(rules.password_expiration_days) <= Utc::now()
    {
        return Err(ApiError::unauthorized(
            "password_expired",
            format!("The password expired for user: {}", user.id),
        ));
    }
    Ok(user)
}
