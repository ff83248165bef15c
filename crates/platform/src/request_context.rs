//! The outermost middleware: gives every request an id (the caller's `x-request-id` when it is
//! sane, else a new UUID), echoes it on the response, keeps `x-idempotency-key` for `meta`, and
//! renders every error as the envelope with `meta.url` and `meta.request_id` filled in, including
//! errors raised by actix itself (no route, wrong method, payload errors).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};

use ehealth_core::Meta;

use crate::ApiError;
use crate::reply::request_url;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("x-idempotency-key");

#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub request_id: String,
    pub idempotency_key: Option<String>,
}

impl RequestMeta {
    pub fn of(req: &HttpRequest) -> (String, Option<String>) {
        match req.extensions().get::<RequestMeta>() {
            Some(m) => (m.request_id.clone(), m.idempotency_key.clone()),
            None => (String::new(), None),
        }
    }
}

/// At most 128 characters of `[A-Za-z0-9._#:-]`.
pub fn is_sane_request_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'#' | b':' | b'-'))
}

fn is_sane_idempotency_key(v: &str) -> bool {
    !v.is_empty() && v.len() <= 256 && v.bytes().all(|b| b.is_ascii_graphic())
}

fn header_str<'a>(req: &'a ServiceRequest, name: &HeaderName) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = header_str(&req, &REQUEST_ID)
        .filter(|v| is_sane_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let idempotency_key = header_str(&req, &IDEMPOTENCY_KEY)
        .filter(|v| is_sane_idempotency_key(v))
        .map(str::to_owned);
    req.extensions_mut().insert(RequestMeta {
        request_id: request_id.clone(),
        idempotency_key,
    });
    // No clone of the request may be held across `next.call`: routing needs it unshared.
    // An `Err` from the inner service (not a handler's error, which arrives as a response) keeps
    // ApiError's own rendering.
    let mut res = finish_errors(next.call(req).await?.map_into_boxed_body());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    // Leaving (SIGTERM): the caller's next request goes through its balancer to another instance.
    let draining = res
        .request()
        .app_data::<actix_web::web::Data<crate::ops::OpsState>>()
        .is_some_and(|ops| ops.draining().is_set());
    if draining {
        res.response_mut()
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
    }
    Ok(res)
}

/// Re-renders a response that carries an error, or an error status with an empty body.
fn finish_errors(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = res.status();
    // A middleware may turn an error into a success (the metrics endpoint does); keep it.
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let replacement = match res.response().error() {
        Some(err) => match err.as_error::<ApiError>() {
            Some(api) => Some(render_error(res.request(), api)),
            None => Some(render_error(res.request(), &from_status(status))),
        },
        None => {
            let empty = matches!(
                res.response().body().size(),
                actix_web::body::BodySize::Sized(0) | actix_web::body::BodySize::None
            );
            empty.then(|| render_error(res.request(), &from_status(status)))
        }
    };
    match replacement {
        Some(new) => {
            let (req, old) = res.into_parts();
            let mut new = new;
            // Keep headers the handler or actix set (Allow on 405, Retry-After, ...).
            for (name, value) in old.headers() {
                if !new.headers().contains_key(name) {
                    new.headers_mut().insert(name.clone(), value.clone());
                }
            }
            ServiceResponse::new(req, new)
        }
        None => res,
    }
}

fn from_status(status: StatusCode) -> ApiError {
    match status {
        StatusCode::NOT_FOUND => ApiError::not_found(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed(),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "request_malformed",
            Some("Request body is too large.".into()),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media_type(),
        s if s.is_client_error() => ApiError::malformed_with("Malformed request."),
        s => ApiError::new(s, "internal_error", Some("Internal server error".into())),
    }
}

pub fn render_error(req: &HttpRequest, err: &ApiError) -> HttpResponse {
    let (request_id, idempotency_key) = RequestMeta::of(req);
    let meta = Meta {
        url: request_url(req),
        kind: "object",
        code: err.status().as_u16(),
        request_id,
        idempotency_key,
    };
    err.response_head()
        .content_type("application/json")
        .body(err.envelope(meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_sanity() {
        assert!(is_sane_request_id(
            "6617aeec-15e2-4d6f-b9bd-53559c358f97#17810"
        ));
        assert!(!is_sane_request_id(""));
        assert!(!is_sane_request_id("a b"));
        assert!(!is_sane_request_id(&"a".repeat(129)));
        assert!(!is_sane_request_id("<script>"));
    }
}
