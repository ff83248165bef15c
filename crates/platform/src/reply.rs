//! Success envelopes. Handlers return `Reply`; it reads the request's url and id when it is
//! turned into a response, so handlers never thread them through.

use actix_web::body::BoxBody;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, Responder};
use ehealth_core::{Meta, Paging};
use serde::Serialize;

use crate::request_context::RequestMeta;

pub struct Reply {
    status: StatusCode,
    kind: &'static str,
    data: Option<serde_json::Value>,
    paging: Option<Paging>,
    urgent: Option<serde_json::Value>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Serialization failure, reported as a 500 when the response is built.
    failed: Option<serde_json::Error>,
}

impl Reply {
    fn with(
        status: StatusCode,
        kind: &'static str,
        data: Result<Option<serde_json::Value>, serde_json::Error>,
    ) -> Self {
        let (data, failed) = match data {
            Ok(d) => (d, None),
            Err(e) => (None, Some(e)),
        };
        Self {
            status,
            kind,
            data,
            paging: None,
            urgent: None,
            headers: Vec::new(),
            failed,
        }
    }

    /// `{"meta":{"type":"object"},"data":..}` with 200.
    pub fn ok<T: Serialize>(data: T) -> Self {
        Self::object(StatusCode::OK, data)
    }

    /// `{"meta":{"type":"object"},"data":..}` with 201.
    pub fn created<T: Serialize>(data: T) -> Self {
        Self::object(StatusCode::CREATED, data)
    }

    pub fn object<T: Serialize>(status: StatusCode, data: T) -> Self {
        Self::with(status, "object", serde_json::to_value(data).map(Some))
    }

    /// `{"meta":{"type":"list"},"data":[..],"paging":{..}}`.
    pub fn list<T: Serialize>(data: T, paging: Paging) -> Self {
        let mut r = Self::with(StatusCode::OK, "list", serde_json::to_value(data).map(Some));
        r.paging = Some(paging);
        r
    }

    /// An unpaged list.
    pub fn unpaged_list<T: Serialize>(data: T) -> Self {
        Self::with(StatusCode::OK, "list", serde_json::to_value(data).map(Some))
    }

    /// Only `meta` (seed 002's delete answer).
    pub fn meta_only(status: StatusCode) -> Self {
        Self::with(status, "object", Ok(None))
    }

    /// 204 with an empty body.
    pub fn no_content() -> Self {
        Self::with(StatusCode::NO_CONTENT, "object", Ok(None))
    }

    pub fn urgent<T: Serialize>(mut self, urgent: T) -> Self {
        match serde_json::to_value(urgent) {
            Ok(v) => self.urgent = Some(v),
            Err(e) => self.failed = Some(e),
        }
        self
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// `location` header, as the reference sets on creates.
    pub fn location(self, value: &str) -> Self {
        match HeaderValue::from_str(value) {
            Ok(v) => self.header(header::LOCATION, v),
            Err(_) => self,
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    meta: Meta,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    paging: Option<&'a Paging>,
    #[serde(skip_serializing_if = "Option::is_none")]
    urgent: Option<&'a serde_json::Value>,
}

/// `<scheme>://host[:port]/path`, as the reference's `meta.url`.
pub fn request_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}{}", info.scheme(), info.host(), req.path())
}

impl Responder for Reply {
    type Body = BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse<Self::Body> {
        if let Some(e) = self.failed {
            return actix_web::ResponseError::error_response(&crate::ApiError::internal(
                anyhow::Error::new(e).context("serializing the response"),
            ));
        }
        let mut res = HttpResponse::build(self.status);
        for (name, value) in self.headers {
            res.insert_header((name, value));
        }
        if self.status == StatusCode::NO_CONTENT {
            return res.finish();
        }
        let (request_id, idempotency_key) = RequestMeta::of(req);
        let body = Body {
            meta: Meta {
                url: request_url(req),
                kind: self.kind,
                code: self.status.as_u16(),
                request_id,
                idempotency_key,
            },
            data: self.data.as_ref(),
            paging: self.paging.as_ref(),
            urgent: self.urgent.as_ref(),
        };
        match serde_json::to_vec(&body) {
            Ok(bytes) => res.content_type("application/json").body(bytes),
            Err(e) => actix_web::ResponseError::error_response(&crate::ApiError::internal(
                anyhow::Error::new(e).context("serializing the envelope"),
            )),
        }
    }
}
