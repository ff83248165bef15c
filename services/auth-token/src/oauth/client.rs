//! Client authentication at the standard endpoints (RFC 6749 §2.3.1): `client_secret_basic`
//! (the secret of one of the client's confidential connections, in `Authorization: Basic`),
//! `client_secret_post` (the same in the body) or, for a client with a public connection,
//! `none` (its `client_id` only; its codes then need PKCE).

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use diesel::result::OptionalExtension;
use ehealth_core::SecretHash;
use mithril_store::connections::{self, Registered};
use mithril_store::{Client, Connection, clients};
use platform::db::DbConn;
use uuid::Uuid;

use super::wire::{OAuthError, Params, decode};

/// An authenticated client.
pub enum Caller {
    /// It proved a connection's secret.
    Confidential {
        client: Client,
        connection: Connection,
    },
    /// It named itself only; these are its public connections.
    Public {
        client: Client,
        public: Vec<Registered>,
    },
}

impl Caller {
    pub fn client(&self) -> &Client {
        match self {
            Self::Confidential { client, .. } | Self::Public { client, .. } => client,
        }
    }

    pub fn id(&self) -> Uuid {
        self.client().id
    }

    pub fn is_public(&self) -> bool {
        matches!(self, Self::Public { .. })
    }

    /// Whether a token (by its details) was issued to this caller: to its client and, for a
    /// token of the standard endpoint, through the connection the caller proved (a client's
    /// connections are its consumers, each with its own secret: one does not act for another).
    pub fn issued(&self, details: &serde_json::Value) -> bool {
        let field = |key: &str| details.get(key).and_then(serde_json::Value::as_str);
        field("client_id") == Some(self.id().to_string().as_str())
            && field("connection_id").is_none_or(|c| self.has_connection(c))
    }

    fn has_connection(&self, id: &str) -> bool {
        match self {
            Self::Confidential { connection, .. } => connection.id.to_string() == id,
            Self::Public { public, .. } => public.iter().any(|r| r.id.to_string() == id),
        }
    }

    /// The connection a code sent to `redirect_uri` is redeemed through: the one the caller
    /// proved, or its public connection with that redirect URI. `None`: not this caller's.
    pub fn connection_for(&self, redirect_uri: &str) -> Option<Uuid> {
        match self {
            Self::Confidential { connection, .. } => {
                (connection.redirect_uri == redirect_uri).then_some(connection.id)
            }
            Self::Public { public, .. } => public
                .iter()
                .find(|r| r.redirect_uri == redirect_uri)
                .map(|r| r.id),
        }
    }
}

/// Whether a caller without a secret is accepted (token and revocation: yes; introspection:
/// no, RFC 7662 §2.1 wants the caller authenticated).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Public {
    Allowed,
    Refused,
}

/// Steps: the one method used, the client, its secret (or its public connections), then
/// whether it is blocked. Every failure of the first three is the same `invalid_client`.
pub async fn authenticate(
    conn: &mut DbConn,
    req: &HttpRequest,
    params: &Params,
    public: Public,
) -> Result<Caller, OAuthError> {
    let (client_id, secret) = credentials(req, params)?;
    let client_id = Uuid::parse_str(&client_id).map_err(|_| OAuthError::invalid_client())?;
    let client = clients::get(conn, client_id)
        .await
        .optional()?
        .ok_or_else(OAuthError::invalid_client)?;
    let caller = match secret {
        Some(secret) => {
            let connection = connections::authenticate(conn, client_id, &SecretHash::of(&secret))
                .await?
                .ok_or_else(OAuthError::invalid_client)?;
            Caller::Confidential { client, connection }
        }
        None if public == Public::Allowed => {
            let public: Vec<Registered> = connections::redirects(conn, client_id)
                .await?
                .into_iter()
                .filter(|r| r.is_public)
                .collect();
            if public.is_empty() {
                return Err(OAuthError::invalid_client());
            }
            Caller::Public { client, public }
        }
        None => return Err(OAuthError::invalid_client()),
    };
    if caller.client().is_blocked {
        return Err(OAuthError::unauthorized_client("Client is blocked."));
    }
    Ok(caller)
}

/// `client_id` and the secret, if any, from the one method the request uses.
fn credentials(req: &HttpRequest, params: &Params) -> Result<(String, Option<String>), OAuthError> {
    let basic = basic(req)?;
    let posted_id = params.get("client_id");
    let posted_secret = params.get("client_secret");
    match basic {
        Some(_) if posted_secret.is_some() => Err(OAuthError::invalid_request(
            "Use one client authentication method: the Authorization header or client_secret.",
        )),
        Some((id, _)) if posted_id.is_some_and(|p| p != id) => Err(OAuthError::invalid_request(
            "client_id differs from the client of the Authorization header.",
        )),
        Some((id, secret)) => Ok((id, Some(secret))),
        None => {
            let id = posted_id.ok_or_else(OAuthError::invalid_client)?;
            Ok((id.to_owned(), posted_secret.map(str::to_owned)))
        }
    }
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`; another scheme is not
/// client authentication and is ignored. A malformed one fails authentication.
fn basic(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| OAuthError::invalid_client())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| OAuthError::invalid_client())?;
    let (id, secret) = decoded
        .iter()
        .position(|b| *b == b':')
        .map(|i| (&decoded[..i], &decoded[i + 1..]))
        .ok_or_else(OAuthError::invalid_client)?;
    let id = decode(id).map_err(|_| OAuthError::invalid_client())?;
    let secret = decode(secret).map_err(|_| OAuthError::invalid_client())?;
    if id.is_empty() || secret.is_empty() {
        return Err(OAuthError::invalid_client());
    }
    Ok(Some((id, secret)))
}
