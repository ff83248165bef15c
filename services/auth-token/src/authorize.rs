//! `POST /oauth/apps/authorize` (spec §3.2): the user (`x-consumer-id`) approves a client; an
//! authorization code valid for a few minutes is issued and merged into the redirect URI.

use std::collections::BTreeMap;

use actix_web::web;
use diesel::result::OptionalExtension;
use ehealth_core::ScopeSet;
use ehealth_core::redirect::redirect_matches;
use mithril_store::tokens::{self, AUTHORIZATION_CODE};
use mithril_store::{apps, client_types, clients, connections, user_roles, users};
use platform::{ApiError, ApiResult, ConsumerId, Reply, RequestSchema, ValidatedJson, db};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::issue::{Minted, mint};
use crate::startup::AppState;

#[derive(Deserialize, ToSchema)]
pub struct AuthorizeRequest {
    pub client_id: Uuid,
    pub redirect_uri: String,
    /// Space-separated; when absent, a trusted client gets all of the user's role scopes.
    pub scope: Option<String>,
}

impl RequestSchema for AuthorizeRequest {
    const SCHEMA: &'static str = "app_authorize";
    const WRAPPER: Option<&'static str> = Some("app");
}

/// `redirect_uri` with `code` merged into its query; keys sorted, as the reference renders it.
fn with_code(redirect_uri: &str, code: &str) -> ApiResult<String> {
    let mut url = url::Url::parse(redirect_uri).map_err(|_| {
        ApiError::unauthorized(
            "access_denied",
            "The redirection URI provided does not match a pre-registered value.",
        )
    })?;
    let mut query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    query.insert("code".into(), code.into());
    url.query_pairs_mut().clear().extend_pairs(query.iter());
    Ok(url.to_string())
}

#[utoipa::path(post, path = "/oauth/apps/authorize", tag = "oauth",
    params(("x-consumer-id" = Uuid, Header, description = "the user, set by the gatekeeper")),
    request_body(content = AuthorizeRequest, description = "wrapped as {\"app\": {...}}"),
    responses((status = 201, description = "the code token; `location` and urgent.redirect_uri carry the redirect with ?code=", body = crate::issue::TokenView),
              (status = 401, body = ehealth_core::ErrorBody), (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn authorize(
    state: web::Data<AppState>,
    user: ConsumerId,
    body: ValidatedJson<AuthorizeRequest>,
) -> ApiResult<Reply> {
    let req = body.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    let user_id = user.0.as_uuid();
    let scope = req.scope.as_deref();
    let approved = approve(
        &state,
        &mut conn,
        user_id,
        req.client_id,
        &req.redirect_uri,
        scope,
        None,
    )
    .await?;
    Ok(Reply::created(approved.code.view())
        .location(&approved.location)
        .urgent(json!({"redirect_uri": approved.location})))
}

/// An approval and its authorization code.
pub struct Approved {
    pub code: Minted,
    /// The redirect URI with `code` in its query.
    pub location: String,
}

/// The user approves `scope` for the client (spec §3.2, checks in its order): the approval is
/// stored (its scope the union with what was approved before) and a code issued, carrying the
/// PKCE challenge if there is one. The JSON endpoint and the sign-in pages both end here.
pub async fn approve(
    state: &AppState,
    conn: &mut db::DbConn,
    user_id: Uuid,
    client_id: Uuid,
    redirect_uri: &str,
    scope: Option<&str>,
    code_challenge: Option<&str>,
) -> ApiResult<Approved> {
    let client = clients::get(conn, client_id)
        .await
        .optional()?
        .ok_or_else(|| ApiError::access_denied("Invalid client id."))?;
    if client.is_blocked {
        return Err(ApiError::access_denied("Client is blocked."));
    }
    let account = users::get(conn, user_id)
        .await
        .optional()?
        .ok_or_else(|| ApiError::access_denied("User not found."))?;
    if account.is_blocked {
        return Err(ApiError::unauthorized("user_blocked", "User blocked."));
    }
    let role_scopes = user_roles::role_scopes(conn, user_id, client.id)
        .await?
        .iter()
        .fold(ScopeSet::default(), |acc, s| acc.union(&ScopeSet::parse(s)));
    let requested = match scope.map(str::trim) {
        Some(s) if !s.is_empty() => ScopeSet::parse(s),
        _ if state
            .settings
            .authorize
            .trusted_client_ids
            .contains(&client.id) =>
        {
            role_scopes.clone()
        }
        _ => ScopeSet::default(),
    };
    if !registered_redirect(conn, client.id, redirect_uri).await? {
        return Err(ApiError::access_denied(
            "The redirection URI provided does not match a pre-registered value.",
        ));
    }
    if requested.is_empty() {
        return Err(ApiError::invalid_request(
            "Requested scope is empty. Scope not passed or user has no roles or global roles.",
        ));
    }
    let type_scope = ScopeSet::parse(&client_types::get(conn, client.client_type_id).await?.scope);
    if !requested.is_subset_of(&type_scope) {
        return Err(ApiError::invalid_request(
            "Scope is not allowed by client type.",
        ));
    }
    if !requested.is_subset_of(&role_scopes) {
        return Err(ApiError::invalid_request(
            "User requested scope that is not allowed by role based access policies.",
        ));
    }

    apps::approve(conn, user_id, client.id, &requested.to_string()).await?;
    let mut details = json!({"client_id": client.id.to_string(), "grant_type": "password",
               "redirect_uri": redirect_uri, "scope_request": requested.to_string()});
    if let Some(challenge) = code_challenge {
        details["code_challenge"] = json!(challenge);
    }
    let code = mint(
        AUTHORIZATION_CODE,
        state.settings.tokens.code_ttl_secs,
        user_id,
        details,
    )?;
    tokens::insert(conn, &code.row).await?;
    let location = with_code(redirect_uri, code.value.expose())?;
    Ok(Approved { code, location })
}

/// Whether `redirect_uri` matches one of the client's connections, as authorize matches it.
pub async fn registered_redirect(
    conn: &mut db::DbConn,
    client_id: Uuid,
    redirect_uri: &str,
) -> ApiResult<bool> {
    let registered = connections::redirects(conn, client_id).await?;
    Ok(registered
        .iter()
        .any(|r| redirect_matches(&r.redirect_uri, redirect_uri)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn code_is_merged_into_the_query_with_sorted_keys() {
        assert_eq!(
            super::with_code("https://h:3000/path?param=1", "X").unwrap(),
            "https://h:3000/path?code=X&param=1"
        );
        assert_eq!(
            super::with_code("https://h/cb", "a b").unwrap(),
            "https://h/cb?code=a+b"
        );
        assert_eq!(
            super::with_code("https://h/cb?code=old&z=2", "new").unwrap(),
            "https://h/cb?code=new&z=2"
        );
    }
}
