//! The proxy port's handler: every request goes through [`crate::gate::decide`], then the rate
//! limit, then to the upstream over the worker's pooled keep-alive client. Requests and answers
//! keep hyper's own types end to end: headers are filtered in place, the upstream's body streams
//! back as hyper received it, and only a request body with a known length under 64 KiB is read
//! whole first (one write upstream).
//!
//! The gatekeeper's own answers are envelopes; the upstream's answers pass untouched except for
//! hop-by-hop headers, `x-request-id` and `traceparent`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use platform::ApiError;
use platform::request_context::is_sane_request_id;

use crate::body::{ReqBody, ResBody};
use crate::gate::{self, Inbound, Passed, Stop, Trace};
use crate::ratelimit::Decision;
use crate::startup::Gate;
use crate::table::{Cors, Route};
use crate::upstream::Upstreams;
use crate::verify::{Identity, Verifier};

/// Request bodies up to this size (with a Content-Length) are read whole before forwarding.
const BUFFERED_BODY: u64 = 64 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Hop-by-hop headers (RFC 9110 §7.6.1), dropped in both directions.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Request headers this hop drops besides the hop-by-hop ones: the client's `host` (the
/// upstream's is set from its URI), `content-length` (set from the body sent) and `expect`
/// (the 100-continue is answered here).
fn is_hop_by_hop_request(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name)
        || name == header::HOST
        || name == header::CONTENT_LENGTH
        || name == header::EXPECT
}

/// Headers only the gatekeeper may set (spec §4 W9): every inbound copy is dropped.
pub fn is_identity_header(name: &str) -> bool {
    name.starts_with("x-consumer-")
        || matches!(
            name,
            "x-person-id" | "x-mis-client-id" | "x-client-id" | "x-request-id" | "traceparent"
        )
        || name.starts_with("x-forwarded-")
}

/// W3C trace context: keep the caller's trace id when its `traceparent` is well formed, with a
/// new parent id for this hop; else start a trace.
fn traceparent(inbound: Option<&HeaderValue>) -> String {
    let trace_id = inbound
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let parts: Vec<&str> = v.split('-').collect();
            let ok = parts.len() == 4
                && parts[0] == "00"
                && parts[1].len() == 32
                && parts[2].len() == 16
                && parts[3].len() == 2
                && parts[1..]
                    .iter()
                    .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
                && parts[1] != "00000000000000000000000000000000";
            ok.then(|| parts[1].to_ascii_lowercase())
        })
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let span = uuid::Uuid::new_v4().as_u64_pair().0;
    format!("00-{trace_id}-{span:016x}-01")
}

/// What the handler knows of the request besides its parts.
struct Call<'a> {
    gate: &'a Gate,
    upstreams: &'a Upstreams,
    peer: SocketAddr,
    request_id: &'a str,
    traceparent: &'a str,
    /// `meta.url` of the gatekeeper's own answers.
    url: String,
}

pub async fn handle(
    gate: &Gate,
    upstreams: &Upstreams,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<ResBody> {
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let traceparent = traceparent(req.headers().get(TRACEPARENT));
    let call = Call {
        gate,
        upstreams,
        peer,
        request_id: &request_id,
        traceparent: &traceparent,
        url: request_url(&req),
    };
    let table = gate.table.load_full();
    let mut res = match preflight(&req, &table) {
        Some(res) => res,
        None => {
            let decided = {
                let inbound = Inbound {
                    method: req.method().as_str(),
                    raw_path: req.uri().path(),
                    query: req.uri().query().unwrap_or(""),
                    authorization: req
                        .headers()
                        .get_all(header::AUTHORIZATION)
                        .iter()
                        .map(|v| v.as_bytes())
                        .collect(),
                    cookie: cookie_value(req.headers(), "authorization"),
                    api_key: req.headers().get("api-key").and_then(|v| v.to_str().ok()),
                    request_id: &request_id,
                };
                gate::decide(&table, &gate.deps(), &inbound, &mut Trace::default()).await
            };
            match decided {
                Err(stop) => stop_response(&call, stop),
                Ok(passed) => forward_limited(&call, req, passed).await,
            }
        }
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert(REQUEST_ID, v);
    }
    if let Ok(v) = HeaderValue::from_str(&traceparent) {
        h.insert(TRACEPARENT, v);
    }
    res
}

/// `http://host/path`, as the other services put in `meta.url`.
fn request_url(req: &Request<Incoming>) -> String {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    format!("http://{host}{}", req.uri().path())
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.trim_matches('"').to_owned())
        })
}

/// An envelope: the error, with the request's url and id in `meta`.
pub fn error_response(err: &ApiError, url: String, request_id: &str) -> Response<ResBody> {
    let meta = ehealth_core::Meta {
        url,
        kind: "object",
        code: err.status().as_u16(),
        request_id: request_id.to_owned(),
        idempotency_key: None,
    };
    let mut res = Response::new(ResBody::Full(Some(Bytes::from(err.envelope(meta)))));
    *res.status_mut() =
        StatusCode::from_u16(err.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in err.headers() {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    res
}

/// The gatekeeper's own answer, counted in the request metric.
fn stop_response(call: &Call<'_>, stop: Stop) -> Response<ResBody> {
    let res = error_response(&stop.error, call.url.clone(), call.request_id);
    call.gate.metrics.request(
        stop.route.as_deref().unwrap_or("UNMATCHED"),
        res.status().as_u16(),
        stop.decision,
    );
    res
}

/// CORS preflight on routes that enable CORS: answered before authentication (as the
/// reference's cors plugin, which ran first).
fn preflight(
    req: &Request<Incoming>,
    table: &crate::table::RouteTable,
) -> Option<Response<ResBody>> {
    if req.method() != Method::OPTIONS
        || !req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return None;
    }
    let path = crate::path::normalize(req.uri().path()).ok()?;
    let route = table.cors_route(&path)?;
    let cors = route.cors.as_ref()?;
    let mut res = Response::new(ResBody::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    if let Some(origin) = allowed_origin(req.headers(), cors) {
        let h = res.headers_mut();
        let mut set = |name: HeaderName, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(name, v);
            }
        };
        set(header::ACCESS_CONTROL_ALLOW_METHODS, &cors.methods);
        set(header::ACCESS_CONTROL_ALLOW_HEADERS, &cors.headers);
        set(header::ACCESS_CONTROL_MAX_AGE, &cors.max_age);
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    Some(res)
}

fn allowed_origin(headers: &HeaderMap, cors: &Cors) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let s = origin.to_str().ok()?;
    (cors.any_origin || cors.origins.contains(s)).then(|| origin.clone())
}

async fn forward_limited(
    call: &Call<'_>,
    req: Request<Incoming>,
    passed: Passed<'_>,
) -> Response<ResBody> {
    let route = passed.route;
    let gate = call.gate;
    let mut limit_headers = None;
    if let Some(limit) = &route.rate_limit {
        let key = match (&passed.identity, &passed.token) {
            (Some(id), _) if id.client_id.is_some() => {
                format!("client:{}", id.client_id.as_deref().unwrap_or_default())
            }
            (_, Some(t)) => format!("token:{}", hex::encode(&Verifier::token_hash(t)[..16])),
            _ => format!("ip:{}", call.peer.ip()),
        };
        let (decision, backend) = gate.limiter.check(&route.name, &key, limit).await;
        if !decision.allowed {
            gate.metrics
                .rate_limited(&route.name, &format!("{backend:?}").to_lowercase());
            let stop = Stop::new(
                ApiError::too_many_requests(decision.reset_secs),
                "rate_limited",
                Some(route),
            );
            let mut res = stop_response(call, stop);
            rate_limit_headers(res.headers_mut(), &decision);
            return res;
        }
        limit_headers = Some(decision);
    }
    let origin = route
        .cors
        .as_ref()
        .and_then(|c| allowed_origin(req.headers(), c));
    let mut res = match forward(call, req, &passed).await {
        Ok(res) => {
            gate.metrics
                .request(&route.name, res.status().as_u16(), "forwarded");
            res
        }
        Err(stop) => stop_response(call, stop),
    };
    if let Some(d) = &limit_headers {
        rate_limit_headers(res.headers_mut(), d);
    }
    if let Some(origin) = origin {
        res.headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        res.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Origin"));
    }
    res
}

/// IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers).
fn rate_limit_headers(h: &mut HeaderMap, d: &Decision) {
    let mut set = |name: &'static str, v: u64| {
        h.insert(HeaderName::from_static(name), HeaderValue::from(v));
    };
    set("ratelimit-limit", d.limit.into());
    set("ratelimit-remaining", d.remaining.into());
    set("ratelimit-reset", d.reset_secs);
}

fn upstream_error(
    gate: &Gate,
    route: &str,
    status: actix_web::http::StatusCode,
    kind: &'static str,
    message: &'static str,
) -> Stop {
    gate.metrics.upstream_error(route, kind);
    Stop {
        error: Box::new(ApiError::new(status, kind, Some(message.into()))),
        decision: "upstream_error",
        route: Some(route.to_owned()),
    }
}

fn bad_request(route: &Route, message: &'static str) -> Stop {
    Stop::new(ApiError::malformed_with(message), "bad_request", Some(route))
}

/// The request body to send: none, read whole (small, with a length) or streamed with a limit.
async fn request_body(
    route: &Route,
    headers: &HeaderMap,
    body: Incoming,
    overflow: &Arc<AtomicBool>,
) -> Result<ReqBody, Stop> {
    let too_large = || {
        Stop::new(
            ApiError::payload_too_large(route.max_body as usize),
            "bad_request",
            Some(route),
        )
    };
    let length = match headers.get(header::CONTENT_LENGTH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| bad_request(route, "Content-Length is not valid."))?,
        ),
    };
    if length.is_some_and(|l| l > route.max_body) {
        return Err(too_large());
    }
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    Ok(match length {
        Some(0) => ReqBody::Empty,
        None if !chunked => ReqBody::Empty,
        Some(l) if l <= BUFFERED_BODY && !chunked => {
            let whole = body
                .collect()
                .await
                .map_err(|_| bad_request(route, "Request body could not be read."))?;
            ReqBody::Full(Some(whole.to_bytes()))
        }
        _ => ReqBody::Stream {
            inner: body,
            seen: 0,
            limit: route.max_body,
            overflow: overflow.clone(),
        },
    })
}

async fn forward(
    call: &Call<'_>,
    req: Request<Incoming>,
    passed: &Passed<'_>,
) -> Result<Response<ResBody>, Stop> {
    let route = passed.route;
    let gate = call.gate;
    let (mut parts, body) = req.into_parts();
    let overflow = Arc::new(AtomicBool::new(false));
    let body = request_body(route, &parts.headers, body, &overflow).await?;
    let head = parts.method == Method::HEAD;

    let mut target = route.upstream_path(passed.prefix, &passed.path);
    if let Some(q) = parts.uri.query() {
        target.push('?');
        target.push_str(q);
    }
    parts.uri = Uri::builder()
        .scheme(route.origin.scheme.clone())
        .authority(route.origin.authority.clone())
        .path_and_query(target)
        .build()
        .map_err(|_| bad_request(route, "Request path is not valid."))?;
    parts.version = Version::HTTP_11;
    parts.headers = upstream_headers(call, &mut parts.headers, &body, passed.identity.as_deref());

    let sent = tokio::time::timeout(
        route.response_timeout,
        call.upstreams
            .request(route.connect_timeout_ms, Request::from_parts(parts, body)),
    )
    .await;
    let timed_out = || {
        upstream_error(
            gate,
            &route.name,
            actix_web::http::StatusCode::GATEWAY_TIMEOUT,
            "gateway_timeout",
            "Upstream did not answer in time.",
        )
    };
    let upstream = match sent {
        Err(_) => return Err(timed_out()),
        Ok(Err(_)) if overflow.load(Ordering::Relaxed) => {
            return Err(Stop::new(
                ApiError::payload_too_large(route.max_body as usize),
                "bad_request",
                Some(route),
            ));
        }
        Ok(Err(e)) => {
            tracing::warn!(route = %route.name, error = %e, "upstream unreachable");
            return Err(upstream_error(
                gate,
                &route.name,
                actix_web::http::StatusCode::BAD_GATEWAY,
                "bad_gateway",
                "Upstream is unreachable.",
            ));
        }
        Ok(Ok(res)) => res,
    };
    let (mut parts, body) = upstream.into_parts();
    drop_hop_by_hop(&mut parts.headers);
    let body = if head {
        ResBody::empty()
    } else {
        ResBody::Upstream(body)
    };
    Ok(Response::from_parts(parts, body))
}

/// The headers sent upstream: the caller's, minus hop-by-hop, `Connection`-listed and identity
/// headers (moved, not copied), plus this hop's: request id, traceparent, x-forwarded-*, the
/// body's length and the trusted identity.
fn upstream_headers(
    call: &Call<'_>,
    inbound: &mut HeaderMap,
    body: &ReqBody,
    identity: Option<&Identity>,
) -> HeaderMap {
    let connection_listed: Vec<String> = inbound
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
        .collect();
    let forwarded_for = match inbound
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(prior) => format!("{prior}, {}", call.peer.ip()),
        None => call.peer.ip().to_string(),
    };
    let host = inbound.get(header::HOST).cloned();

    let mut out = HeaderMap::with_capacity(inbound.len() + 12);
    let mut current: Option<HeaderName> = None;
    let mut keep = false;
    for (name, value) in inbound.drain() {
        if let Some(name) = name {
            keep = !(is_hop_by_hop_request(&name)
                || is_identity_header(name.as_str())
                || connection_listed.iter().any(|c| c == name.as_str()));
            current = Some(name);
        }
        if keep && let Some(name) = &current {
            out.append(name.clone(), value);
        }
    }
    if let ReqBody::Full(Some(b)) = body {
        out.insert(header::CONTENT_LENGTH, HeaderValue::from(b.len()));
    } else if let ReqBody::Stream { inner, .. } = body
        && let Some(len) = http_body::Body::size_hint(inner).exact()
    {
        out.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    let mut set = |name: &'static str, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            out.insert(HeaderName::from_static(name), v);
        }
    };
    set("x-request-id", call.request_id);
    set("traceparent", call.traceparent);
    set("x-forwarded-for", &forwarded_for);
    set("x-forwarded-proto", "http");
    if let Some(host) = host {
        out.insert(HeaderName::from_static("x-forwarded-host"), host);
    }
    if let Some(id) = identity {
        set_identity(&mut out, id);
    }
    out
}

fn set_identity(out: &mut HeaderMap, id: &Identity) {
    let h = &id.headers;
    let mut put = |name: &'static str, v: Option<&HeaderValue>| {
        if let Some(v) = v {
            out.insert(HeaderName::from_static(name), v.clone());
        }
    };
    put("x-consumer-id", h.consumer_id.as_ref());
    put("x-consumer-scope", h.consumer_scope.as_ref());
    put("x-consumer-metadata", h.consumer_metadata.as_ref());
    put("x-client-id", h.client_id.as_ref());
    put("x-mis-client-id", h.mis_client_id.as_ref());
    put("x-person-id", h.person_id.as_ref());
}

/// Drops hop-by-hop headers and those the `Connection` header lists.
fn drop_hop_by_hop(h: &mut HeaderMap) {
    if let Some(listed) = h.get(header::CONNECTION).and_then(|v| v.to_str().ok()) {
        let listed: Vec<String> = listed
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .collect();
        for name in listed {
            h.remove(name.as_str());
        }
    }
    for name in &HOP_BY_HOP {
        h.remove(name);
    }
}
