//! Error policy (every service follows it):
//!
//! - Handlers return `ApiResult<T>`. Every failure a client can cause is an `ApiError` built
//!   with one of the constructors below, carrying the type and message the contract names.
//! - Domain and store code returns `anyhow::Result` or `diesel::QueryResult`, adding
//!   `.context(..)` at each step; those errors become `internal_error` (500). The cause chain is
//!   logged, never sent: the client sees only "Internal server error" and the request id.
//! - A pool that cannot hand out a connection is `service_unavailable` (503, Retry-After): the
//!   request did nothing, and the client may retry.
//! - The body is the envelope `{"meta":{..},"error":{"type","message"[,"invalid"]}}`; the
//!   request-context middleware fills `meta` (url, request id) before it leaves.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use ehealth_core::envelope::{MALFORMED_MESSAGE, VALIDATION_FAILED_MESSAGE};
use ehealth_core::{ErrorBody, InvalidEntry};

pub type ApiResult<T> = Result<T, ApiError>;

pub struct ApiError {
    status: StatusCode,
    kind: Cow<'static, str>,
    message: Option<Cow<'static, str>>,
    invalid: Option<Vec<InvalidEntry>>,
    retry_after: Option<u64>,
    www_authenticate: bool,
    /// `Allow` of a 405 (RFC 9110 §15.5.6: the methods the resource takes).
    allow: Option<Box<str>>,
    /// Only for 5xx: what went wrong, for the log.
    source: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: impl Into<Cow<'static, str>>,
        message: Option<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            kind: kind.into(),
            message,
            invalid: None,
            retry_after: None,
            www_authenticate: false,
            allow: None,
            source: None,
        }
    }

    /// 400 `request_malformed` with the reference's message (not JSON, or the resource key is missing).
    pub fn malformed() -> Self {
        Self::malformed_with(MALFORMED_MESSAGE).with_invalid(vec![InvalidEntry {
            entry_type: "request",
            entry: None,
            rules: vec![ehealth_core::Rule {
                rule: "json".into(),
                description: "invalid JSON".into(),
                params: serde_json::json!([]),
            }],
        }])
    }

    pub fn malformed_with(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "request_malformed",
            Some(message.into()),
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "request_malformed",
            Some("Content-Type must be application/json.".into()),
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_malformed",
            Some(format!("Request body is larger than {limit} bytes.").into()),
        )
    }

    /// 401 `access_denied`.
    pub fn access_denied(message: impl Into<Cow<'static, str>>) -> Self {
        Self::unauthorized("access_denied", message)
    }

    /// 401 with a specific type (`invalid_client`, `invalid_grant`, `token_expired`, ...).
    pub fn unauthorized(
        kind: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, kind, Some(message.into()))
    }

    /// 403 `forbidden` without a message, as the reference answers.
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", None)
    }

    pub fn forbidden_with(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", Some(message.into()))
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", None)
    }

    pub fn not_found_with(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", Some(message.into()))
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            Some("Method not allowed for this resource.".into()),
        )
    }

    /// 409 `request_conflict`.
    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "request_conflict",
            Some(message.into()),
        )
    }

    /// 422 `validation_failed` with `invalid[]`.
    pub fn validation(invalid: Vec<InvalidEntry>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some(VALIDATION_FAILED_MESSAGE.into()),
        )
        .with_invalid(invalid)
    }

    /// 422 for one body field: `$.field`, rule, description.
    pub fn invalid_field(path: &str, rule: &str, description: impl Into<String>) -> Self {
        Self::validation(vec![InvalidEntry::body(path, rule, description)])
    }

    /// 422 `request_malformed` with a message: the reference's `invalid_request` (EView), used for
    /// rule failures that are not about one field ("Scope is not allowed by client type.").
    pub fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "request_malformed",
            Some(message.into()),
        )
        .with_invalid(vec![InvalidEntry {
            entry_type: "request",
            entry: None,
            rules: vec![ehealth_core::Rule {
                rule: "json".into(),
                description: "invalid request".into(),
                params: serde_json::json!([]),
            }],
        }])
    }

    /// 422 with a type and message of its own (the OAuth endpoints' 422s).
    pub fn unprocessable(
        kind: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, kind, Some(message.into()))
    }

    /// 408: the request's body did not arrive in time (the connection is closed after it).
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            Some("The request body did not arrive in time.".into()),
        )
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            Some("Too many requests. Try later.".into()),
        );
        e.retry_after = Some(retry_after_secs.max(1));
        e
    }

    pub fn service_unavailable(
        message: impl Into<Cow<'static, str>>,
        retry_after_secs: u64,
    ) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            Some(message.into()),
        );
        e.retry_after = Some(retry_after_secs.max(1));
        e
    }

    /// 500 `internal_error`; the cause is logged, not sent.
    pub fn internal(source: anyhow::Error) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            Some("Internal server error".into()),
        );
        e.source = Some(source);
        e
    }

    pub fn with_invalid(mut self, invalid: Vec<InvalidEntry>) -> Self {
        self.invalid = Some(invalid);
        self
    }

    /// Adds `WWW-Authenticate: Bearer` (the gatekeeper's 401s).
    /// Adds `Retry-After` (seconds; at least 1).
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }

    pub fn with_www_authenticate(mut self) -> Self {
        self.www_authenticate = true;
        self
    }

    /// Adds `Allow` (the gatekeeper's 405s; actix sets it on the services' own).
    pub fn with_allow(mut self, methods: String) -> Self {
        self.allow = Some(methods.into_boxed_str());
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            kind: self.kind.to_string(),
            message: self.message.as_ref().map(|m| m.to_string()),
            invalid: self.invalid.clone(),
        }
    }

    /// The envelope's bytes for a request's `meta` (url, id, idempotency key). Servers that are
    /// not actix (the gatekeeper's proxy port) render errors with this and [`Self::headers`].
    pub fn envelope(&self, meta: ehealth_core::Meta) -> Vec<u8> {
        let body = serde_json::json!({"meta": meta, "error": self.body()});
        // A `Value` of strings and numbers always serializes.
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// The headers this error adds to its response: `Retry-After`, `WWW-Authenticate`.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, String)> {
        let retry = self.retry_after.map(|s| ("retry-after", s.to_string()));
        let auth = self
            .www_authenticate
            .then(|| ("www-authenticate", "Bearer".to_owned()));
        let allow = self.allow.as_deref().map(|m| ("allow", m.to_owned()));
        retry.into_iter().chain(auth).chain(allow)
    }

    /// The response without its body: status and headers. The body is written by
    /// [`crate::request_context`], which knows the request's url and id.
    pub(crate) fn response_head(&self) -> actix_web::HttpResponseBuilder {
        let mut res = HttpResponse::build(self.status);
        for (name, value) in self.headers() {
            res.insert_header((name, value));
        }
        res
    }

    fn log(&self) {
        if let Some(source) = &self.source {
            tracing::error!(error.cause_chain = ?source, status = self.status.as_u16(), "request failed");
        } else if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), kind = %self.kind, "request failed");
        }
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status.as_u16())
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.kind)?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    /// Rendered without url and request id; [`crate::request_context`] renders it again with
    /// them. This fallback only shows when that middleware is not installed.
    fn error_response(&self) -> HttpResponse {
        self.log();
        let meta = ehealth_core::Meta {
            url: String::new(),
            kind: "object",
            code: self.status.as_u16(),
            request_id: String::new(),
            idempotency_key: None,
        };
        self.response_head()
            .json(serde_json::json!({"meta": meta, "error": self.body()}))
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::internal(e)
    }
}

/// `NotFound` is a 404; a lost connection or a read-only server a 503; the rest a 500.
impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => Self::not_found(),
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::UnableToSendCommand
                | DatabaseErrorKind::ReadOnlyTransaction,
                _,
            ) => Self::service_unavailable("Database is unavailable. Try later.", 1),
            // The server ended the session: a shutdown or restart (SQLSTATE 57P01, 57P02), an
            // idle timeout. diesel reports these as `Unknown` with the server's message (the
            // servers run with C messages), and the connection is gone: the client may retry.
            Error::DatabaseError(DatabaseErrorKind::Unknown, info)
                if info.message().starts_with("terminating connection") =>
            {
                Self::service_unavailable("Database is unavailable. Try later.", 1)
            }
            other => Self::internal(anyhow::Error::new(other).context("database query failed")),
        }
    }
}

/// The constraint a unique or foreign-key violation names, if `e` is one.
pub fn violated_constraint(e: &diesel::result::Error) -> Option<(ConstraintKind, &str)> {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            info.constraint_name().map(|c| (ConstraintKind::Unique, c))
        }
        Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => info
            .constraint_name()
            .map(|c| (ConstraintKind::ForeignKey, c)),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstraintKind {
    Unique,
    ForeignKey,
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind, Error};

    use super::ApiError;

    fn db_error(kind: DatabaseErrorKind, message: &str) -> ApiError {
        ApiError::from(Error::DatabaseError(kind, Box::new(message.to_owned())))
    }

    #[test]
    fn a_session_the_server_ended_is_a_503_and_other_failures_a_500() {
        for message in [
            "terminating connection due to administrator command",
            "terminating connection due to idle-session timeout",
        ] {
            let e = db_error(DatabaseErrorKind::Unknown, message);
            assert_eq!(e.status().as_u16(), 503, "{message}");
            assert!(
                e.headers()
                    .any(|(name, v)| name == "retry-after" && v == "1")
            );
        }
        let e = db_error(DatabaseErrorKind::ClosedConnection, "closed");
        assert_eq!(e.status().as_u16(), 503);
        let e = db_error(DatabaseErrorKind::Unknown, "syntax error at or near \"x\"");
        assert_eq!(e.status().as_u16(), 500);
    }
}
