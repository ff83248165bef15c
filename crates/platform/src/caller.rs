//! The caller the gatekeeper vouches for. The gatekeeper strips every inbound copy of these
//! headers, sets them from auth-token's verify answer and signs them
//! ([`ehealth_core::identity_signature`]). When the service has a signing key (app data
//! [`SignatureVerifier`]), [`Caller`] and [`ConsumerId`] believe them only under a valid, recent
//! signature over this very request; without a key they are believed as they come.
//!
//! [`Actor`] is the other kind of `x-consumer-id`: the operator's account of who acts, on the
//! internal APIs, which the admin credential authenticates ([`crate::admin`]); it is not signed.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use ehealth_core::identity_signature::{
    SIGNATURE_HEADER, SIGNED_HEADERS, SignatureError, SignatureVerifier,
};
use ehealth_core::{ClientId, InvalidEntry, UserId};
use serde::Deserialize;

use crate::ApiError;

pub const CONSUMER_ID: &str = "x-consumer-id";
pub const CONSUMER_METADATA: &str = "x-consumer-metadata";

#[derive(Clone, Debug)]
pub struct Caller {
    /// The user the token was issued to.
    pub user_id: UserId,
    /// The client the token was issued for (`details.client_id`); the legal entity for MSPs.
    pub client_id: ClientId,
    /// The token's scope, space-separated.
    pub scope: String,
}

#[derive(Deserialize)]
struct Metadata {
    client_id: ClientId,
    #[serde(default)]
    scope: Option<String>,
}

fn missing(header: &'static str) -> ApiError {
    ApiError::access_denied(format!("Missing header {header}")).with_invalid(vec![
        InvalidEntry::header(header, "required", "required header was not present"),
    ])
}

fn invalid(header: &'static str) -> ApiError {
    ApiError::access_denied(format!("Invalid header {header}")).with_invalid(vec![
        InvalidEntry::header(header, "format", "header has an invalid value"),
    ])
}

/// The signature check: only when a key is configured, and only once the identity headers the
/// extractor needs are known to be there (their absence keeps its own message).
fn check_signature(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(verifier) = req.app_data::<SignatureVerifier>() else {
        return Ok(());
    };
    if !verifier.is_enabled() {
        return Ok(());
    }
    let headers = req.headers();
    let values = SIGNED_HEADERS.map(|name| headers.get(name).map(|v| v.as_bytes()));
    let target = req
        .uri()
        .path_and_query()
        .map_or(req.path(), |p| p.as_str());
    let now = chrono::Utc::now().timestamp();
    verifier
        .verify(
            now,
            req.method().as_str().as_bytes(),
            target.as_bytes(),
            values,
            headers.get(SIGNATURE_HEADER).map(|v| v.as_bytes()),
        )
        .map_err(|e| match e {
            SignatureError::Missing => missing(SIGNATURE_HEADER),
            SignatureError::Expired => {
                ApiError::access_denied("Expired header x-consumer-signature").with_invalid(vec![
                    InvalidEntry::header(
                        SIGNATURE_HEADER,
                        "expired",
                        "the identity signature is too old",
                    ),
                ])
            }
            SignatureError::Malformed | SignatureError::Mismatch => invalid(SIGNATURE_HEADER),
        })
}

fn user_id_header(req: &HttpRequest) -> Result<&str, ApiError> {
    req.headers()
        .get(CONSUMER_ID)
        .ok_or_else(|| missing(CONSUMER_ID))?
        .to_str()
        .map_err(|_| invalid(CONSUMER_ID))
}

fn parse_user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse::<UserId>().map_err(|_| invalid(CONSUMER_ID))
}

impl Caller {
    pub fn from_headers(req: &HttpRequest) -> Result<Self, ApiError> {
        let raw_meta = req
            .headers()
            .get(CONSUMER_METADATA)
            .ok_or_else(|| missing(CONSUMER_METADATA))?
            .to_str()
            .map_err(|_| invalid(CONSUMER_METADATA))?;
        let raw_user = user_id_header(req)?;
        check_signature(req)?;
        // Straight into the two fields services read; other keys of the token details are skipped.
        let meta: Metadata =
            serde_json::from_str(raw_meta).map_err(|_| invalid(CONSUMER_METADATA))?;
        let user_id = parse_user_id(raw_user)?;
        Ok(Self {
            user_id,
            client_id: meta.client_id,
            scope: meta.scope.unwrap_or_default(),
        })
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::from_headers(req))
    }
}

/// Only the user (`x-consumer-id`, signed by the gatekeeper), for public endpoints that act for
/// a user without a client context (authorize).
#[derive(Clone, Copy, Debug)]
pub struct ConsumerId(pub UserId);

impl FromRequest for ConsumerId {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let raw = user_id_header(req)?;
            check_signature(req)?;
            parse_user_id(raw).map(ConsumerId)
        })())
    }
}

/// Who acts, on an internal endpoint (`x-consumer-id` as the operator's tooling names it): the
/// audit actor of registry writes, the user whose approvals are managed. The admin credential
/// authenticates these calls; the header is not signed.
#[derive(Clone, Copy, Debug)]
pub struct Actor(pub UserId);

impl FromRequest for Actor {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(user_id_header(req).and_then(parse_user_id).map(Actor))
    }
}
