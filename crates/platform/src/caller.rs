//! The caller the gatekeeper vouches for. The gatekeeper strips every inbound copy of these
//! headers and sets them from auth-token's verify answer, so services trust them as they are;
//! the services' own ports must only be reachable from the gatekeeper (as in the reference).

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
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

impl Caller {
    pub fn from_headers(req: &HttpRequest) -> Result<Self, ApiError> {
        let raw_meta = req
            .headers()
            .get(CONSUMER_METADATA)
            .ok_or_else(|| missing(CONSUMER_METADATA))?
            .to_str()
            .map_err(|_| invalid(CONSUMER_METADATA))?;
        // Straight into the two fields services read; other keys of the token details are skipped.
        let meta: Metadata =
            serde_json::from_str(raw_meta).map_err(|_| invalid(CONSUMER_METADATA))?;
        let user_id = req
            .headers()
            .get(CONSUMER_ID)
            .ok_or_else(|| missing(CONSUMER_ID))?
            .to_str()
            .ok()
            .and_then(|v| v.parse::<UserId>().ok())
            .ok_or_else(|| invalid(CONSUMER_ID))?;
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

/// Only the user (`x-consumer-id`), for internal endpoints the auth front-end calls on a user's
/// behalf (approvals, authorize).
#[derive(Clone, Copy, Debug)]
pub struct ConsumerId(pub UserId);

impl FromRequest for ConsumerId {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.headers()
                .get(CONSUMER_ID)
                .ok_or_else(|| missing(CONSUMER_ID))
                .and_then(|v| {
                    v.to_str()
                        .ok()
                        .and_then(|v| v.parse::<UserId>().ok())
                        .map(ConsumerId)
                        .ok_or_else(|| invalid(CONSUMER_ID))
                }),
        )
    }
}
