//! The standard endpoints' wire format (RFC 6749): `application/x-www-form-urlencoded` bodies,
//! answers and errors as JSON objects of their own (§5.1, §5.2), not the eHealth envelope.

use std::borrow::Cow;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use platform::ApiError;
use serde::Serialize;
use utoipa::ToSchema;

/// The largest body the standard endpoints read (a code, a verifier, a redirect URI and a
/// secret fit many times over).
pub const BODY_LIMIT: usize = 16 * 1024;

/// An error of the standard endpoints (RFC 6749 §5.2, RFC 7009 §2.2.1).
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: Cow<'static, str>,
    retry_after: Option<String>,
}

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct OAuthErrorBody {
    /// invalid_request, invalid_client, invalid_grant, unauthorized_client,
    /// unsupported_grant_type, invalid_scope, unsupported_token_type, server_error,
    /// temporarily_unavailable
    pub error: String,
    pub error_description: String,
}

impl OAuthError {
    fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            retry_after: None,
        }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// 401 with `WWW-Authenticate: Basic` (§5.2): the client may retry with credentials.
    pub fn invalid_client() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed.",
        )
    }

    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub fn unauthorized_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", description)
    }

    pub fn unsupported_grant_type() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token.",
        )
    }

    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    pub fn unsupported_token_type() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_token_type",
            "token_type_hint must be access_token or refresh_token.",
        )
    }

    fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn error(&self) -> &str {
        self.error
    }

    pub fn response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        no_store(&mut res);
        if self.error == "invalid_client" {
            res.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"eHealth\""));
        }
        if let Some(secs) = &self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.as_str()));
        }
        res.json(OAuthErrorBody {
            error: self.error.to_owned(),
            error_description: self.description.to_string(),
        })
    }
}

/// A failure of this service (the database is down, say) in RFC form: `temporarily_unavailable`
/// (503, Retry-After) or `server_error` (500, logged, nothing said). A client error of the
/// shared code keeps its status as an `invalid_request`.
impl From<ApiError> for OAuthError {
    fn from(e: ApiError) -> Self {
        let status = e.status();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let mut out = Self::new(status, "temporarily_unavailable", "Try again later.");
            out.retry_after = e
                .headers()
                .find(|(name, _)| *name == "retry-after")
                .map(|(_, v)| v);
            return out;
        }
        if status.is_server_error() {
            tracing::error!(error = ?e, "a standard OAuth request failed");
            return Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Internal server error.",
            );
        }
        let message = e.message().unwrap_or("Bad request.").to_owned();
        Self::invalid_request(message).with_status(status)
    }
}

impl From<diesel::result::Error> for OAuthError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::from(e).into()
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (§5.1): answers carry credentials.
pub fn no_store(res: &mut actix_web::HttpResponseBuilder) {
    res.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
}

/// A 200 with a JSON body and no caching.
pub fn json<T: Serialize>(body: &T) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    no_store(&mut res);
    res.json(body)
}

/// The request parameters of a form body or query (§3.1, §3.2), of the names the endpoint
/// takes: decoded as UTF-8 (anything else is refused, not replaced), without NUL; one sent
/// without a value counts as omitted, one sent twice is refused; other names are ignored, as
/// §3.1 requires (undecodable ones included: they are not the endpoint's).
#[derive(Debug, Default)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    pub fn parse(raw: &[u8], known: &[&'static str]) -> Result<Self, OAuthError> {
        let mut pairs: Vec<(&'static str, String)> = Vec::new();
        for part in raw.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match part.iter().position(|b| *b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &b""[..]),
            };
            let Some(name) = decode(name)
                .ok()
                .and_then(|n| known.iter().find(|k| **k == n))
            else {
                continue;
            };
            let value = decode(value)?;
            if value.is_empty() {
                continue;
            }
            if pairs.iter().any(|(n, _)| n == name) {
                return Err(OAuthError::invalid_request(format!(
                    "{name} is sent more than once."
                )));
            }
            pairs.push((name, value));
        }
        Ok(Self(pairs))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required.")))
    }
}

/// One form-encoded name or value.
pub fn decode(raw: &[u8]) -> Result<String, OAuthError> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    let text = String::from_utf8(bytes)
        .map_err(|_| OAuthError::invalid_request("Parameters must be UTF-8."))?;
    if text.contains('\0') {
        return Err(OAuthError::invalid_request(
            "Parameters must not contain NUL.",
        ));
    }
    Ok(text)
}

/// The parameters (of the names in `known`) of a POST: a form body of at most [`BODY_LIMIT`]
/// bytes.
pub async fn form(
    req: &HttpRequest,
    mut payload: web::Payload,
    known: &[&'static str],
) -> Result<Params, OAuthError> {
    let form_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(OAuthError::invalid_request(
            "The body must be application/x-www-form-urlencoded.",
        )
        .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| OAuthError::invalid_request("The body could not be read."))?;
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(OAuthError::invalid_request(format!(
                "The body is larger than {BODY_LIMIT} bytes."
            ))
            .with_status(StatusCode::PAYLOAD_TOO_LARGE));
        }
        body.extend_from_slice(&chunk);
    }
    Params::parse(&body, known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms_strictly() {
        const KNOWN: &[&str] = &["a", "b", "c", "d", "e"];
        let parse = |raw: &[u8]| Params::parse(raw, KNOWN);
        let p = parse(b"a=1+2&b=%C3%A9&c=&d&e=x%3Dy&z=1&z=2&=3&=4&%FF=5").unwrap();
        assert_eq!(p.get("a"), Some("1 2"));
        assert_eq!(p.get("b"), Some("é"));
        assert_eq!(p.get("c"), None);
        assert_eq!(p.get("d"), None);
        assert_eq!(p.get("e"), Some("x=y"));
        assert_eq!(
            p.get("z"),
            None,
            "unknown names are ignored, repeated or not"
        );
        assert_eq!(parse(b"a=1&a=2").unwrap_err().error(), "invalid_request");
        assert!(parse(b"a=&a=2").is_ok());
        assert_eq!(parse(b"a=%FF").unwrap_err().error(), "invalid_request");
        assert_eq!(parse(b"a=%00").unwrap_err().error(), "invalid_request");
        assert_eq!(parse(b"a=\xff").unwrap_err().error(), "invalid_request");
    }
}
