//! The proxy port: every request goes through [`crate::gate::decide`], then the rate limit, then
//! to the upstream over the route's pooled keep-alive client. Bodies stream both ways; only a
//! request body with a known length under 64 KiB is read whole first (one write upstream).
//!
//! The gatekeeper's own answers are envelopes; the upstream's answers pass untouched except for
//! hop-by-hop headers, `x-request-id` and `traceparent`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use actix_web::body::{BodyStream, SizedStream};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use platform::ApiError;
use platform::request_context::{RequestMeta, is_sane_request_id, render_error};
use tokio::sync::mpsc;

use crate::gate::{self, Inbound, Passed, Stop, Trace};
use crate::ratelimit::Decision;
use crate::startup::Gate;
use crate::table::Cors;
use crate::verify::{Identity, Verifier};

/// Request bodies up to this size (with a Content-Length) are read whole before forwarding.
const BUFFERED_BODY: u64 = 64 * 1024;

/// Hop-by-hop headers (RFC 9110 §7.6.1) and the ones this hop sets itself.
fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    )
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

pub async fn handle(
    req: HttpRequest,
    payload: web::Payload,
    gate: web::Data<Gate>,
) -> HttpResponse {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let traceparent = traceparent(req.headers().get("traceparent"));
    let table = gate.table.load_full();
    let deps = gate.deps();
    let cookie = cookie_value(&req, "authorization");
    let inbound = Inbound {
        method: req.method(),
        raw_path: req.uri().path(),
        query: req.uri().query().unwrap_or(""),
        authorization: req
            .headers()
            .get_all(header::AUTHORIZATION)
            .map(|v| v.as_bytes())
            .collect(),
        cookie,
        api_key: req.headers().get("api-key").and_then(|v| v.to_str().ok()),
        request_id: &request_id,
    };
    let mut trace = Trace::default();
    let preflight = preflight(&req, &table, &inbound);
    let mut res = if let Some(res) = preflight {
        res
    } else {
        match gate::decide(&table, &deps, &inbound, &mut trace).await {
            Err(stop) => stop_response(&req, &gate, stop, &request_id),
            Ok(passed) => {
                forward_limited(&req, payload, &gate, passed, &request_id, &traceparent).await
            }
        }
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert(HeaderName::from_static("x-request-id"), v);
    }
    if let Ok(v) = HeaderValue::from_str(&traceparent) {
        h.insert(HeaderName::from_static("traceparent"), v);
    }
    res
}

fn cookie_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.trim_matches('"').to_owned())
        })
}

/// The gatekeeper's own answer: the envelope, with the request id in `meta`.
fn stop_response(req: &HttpRequest, gate: &Gate, stop: Stop, request_id: &str) -> HttpResponse {
    req.extensions_mut().insert(RequestMeta {
        request_id: request_id.to_owned(),
        idempotency_key: None,
    });
    let res = render_error(req, &stop.error);
    gate.metrics.request(
        stop.route.as_deref().unwrap_or("UNMATCHED"),
        res.status().as_u16(),
        stop.decision,
    );
    res
}

/// CORS preflight on routes that enable CORS: answered before authentication (as the
/// reference's cors plugin, which ran first).
fn preflight(
    req: &HttpRequest,
    table: &crate::table::RouteTable,
    inb: &Inbound<'_>,
) -> Option<HttpResponse> {
    if req.method() != actix_web::http::Method::OPTIONS
        || !req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return None;
    }
    let path = crate::path::normalize(inb.raw_path).ok()?;
    let route = table.cors_route(&path)?;
    let cors = route.cors.as_ref()?;
    let mut res = HttpResponse::NoContent();
    if let Some(origin) = allowed_origin(req, cors) {
        res.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, cors.methods.as_str()))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, cors.headers.as_str()))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, cors.max_age.as_str()))
            .insert_header((header::VARY, "Origin"));
    }
    Some(res.finish())
}

fn allowed_origin(req: &HttpRequest, cors: &Cors) -> Option<HeaderValue> {
    let origin = req.headers().get(header::ORIGIN)?;
    let s = origin.to_str().ok()?;
    (cors.any_origin || cors.origins.contains(s)).then(|| origin.clone())
}

async fn forward_limited(
    req: &HttpRequest,
    payload: web::Payload,
    gate: &Gate,
    passed: Passed<'_>,
    request_id: &str,
    traceparent: &str,
) -> HttpResponse {
    let route = passed.route;
    let mut limit_headers = None;
    if let Some(limit) = &route.rate_limit {
        let key = match (&passed.identity, &passed.token) {
            (Some(id), _) if id.client_id.is_some() => {
                format!("client:{}", id.client_id.as_deref().unwrap_or_default())
            }
            (_, Some(t)) => format!("token:{}", hex::encode(&Verifier::token_hash(t)[..16])),
            _ => format!(
                "ip:{}",
                req.peer_addr()
                    .map(|a| a.ip().to_string())
                    .unwrap_or_default()
            ),
        };
        let (decision, backend) = gate.limiter.check(&route.name, &key, limit).await;
        if !decision.allowed {
            gate.metrics
                .rate_limited(&route.name, &format!("{backend:?}").to_lowercase());
            let mut res = stop_response(
                req,
                gate,
                Stop::new(
                    ApiError::too_many_requests(decision.reset_secs),
                    "rate_limited",
                    Some(route),
                ),
                request_id,
            );
            rate_limit_headers(res.headers_mut(), &decision);
            return res;
        }
        limit_headers = Some(decision);
    }
    let mut res = match forward(req, payload, gate, &passed, request_id, traceparent).await {
        Ok(res) => {
            gate.metrics
                .request(&route.name, res.status().as_u16(), "forwarded");
            res
        }
        Err(stop) => stop_response(req, gate, stop, request_id),
    };
    if let Some(d) = &limit_headers {
        rate_limit_headers(res.headers_mut(), d);
    }
    if let Some(origin) = route.cors.as_ref().and_then(|c| allowed_origin(req, c)) {
        res.headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        res.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Origin"));
    }
    res
}

/// IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers).
fn rate_limit_headers(h: &mut HeaderMap, d: &Decision) {
    let mut set = |name: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    set("ratelimit-limit", d.limit.to_string());
    set("ratelimit-remaining", d.remaining.to_string());
    set("ratelimit-reset", d.reset_secs.to_string());
}

fn upstream_error(
    gate: &Gate,
    route: &str,
    status: StatusCode,
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

async fn forward(
    req: &HttpRequest,
    payload: web::Payload,
    gate: &Gate,
    passed: &Passed<'_>,
    request_id: &str,
    traceparent: &str,
) -> Result<HttpResponse, Stop> {
    let route = passed.route;
    let too_large = || {
        Stop::new(
            ApiError::payload_too_large(route.max_body as usize),
            "bad_request",
            Some(route),
        )
    };
    let length = match req.headers().get(header::CONTENT_LENGTH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| {
                    Stop::new(
                        ApiError::malformed_with("Content-Length is not valid."),
                        "bad_request",
                        Some(route),
                    )
                })?,
        ),
    };
    if length.is_some_and(|l| l > route.max_body) {
        return Err(too_large());
    }
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    let overflow = Arc::new(AtomicBool::new(false));
    let body = match length {
        Some(0) => None,
        Some(l) if l <= BUFFERED_BODY && !chunked => Some(reqwest::Body::from(
            read_small(payload, l).await.map_err(|_| {
                Stop::new(
                    ApiError::malformed_with("Request body could not be read."),
                    "bad_request",
                    Some(route),
                )
            })?,
        )),
        None if !chunked => None,
        _ => Some(stream_body(payload, route.max_body, overflow.clone())),
    };

    let mut url = route.upstream.clone();
    url.set_path(&route.upstream_path(passed.prefix, &passed.path));
    url.set_query(req.uri().query());
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .map_err(|_| Stop::new(ApiError::method_not_allowed(), "no_route", Some(route)))?;
    let mut out = reqwest::header::HeaderMap::with_capacity(req.headers().len() + 8);
    let connection_listed: Vec<String> = req
        .headers()
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
        .collect();
    for (name, value) in req.headers() {
        let n = name.as_str();
        if is_hop_by_hop(n) || is_identity_header(n) || connection_listed.iter().any(|c| c == n) {
            continue;
        }
        if let (Ok(k), Ok(v)) = (
            reqwest::header::HeaderName::from_bytes(n.as_bytes()),
            reqwest::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append(k, v);
        }
    }
    if let Some(l) = length
        && body.is_some()
        && !chunked
        && let Ok(v) = reqwest::header::HeaderValue::from_str(&l.to_string())
    {
        out.insert(reqwest::header::CONTENT_LENGTH, v);
    }
    let mut set = |name: &'static str, v: &[u8]| {
        if let Ok(v) = reqwest::header::HeaderValue::from_bytes(v) {
            out.insert(reqwest::header::HeaderName::from_static(name), v);
        }
    };
    set("x-request-id", request_id.as_bytes());
    set("traceparent", traceparent.as_bytes());
    let (scheme, host) = {
        let info = req.connection_info();
        (info.scheme().to_owned(), info.host().to_owned())
    };
    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let forwarded_for = match req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(prior) if !peer.is_empty() => format!("{prior}, {peer}"),
        Some(prior) => prior.to_owned(),
        None => peer,
    };
    set("x-forwarded-for", forwarded_for.as_bytes());
    set("x-forwarded-proto", scheme.as_bytes());
    set("x-forwarded-host", host.as_bytes());
    if let Some(id) = &passed.identity {
        set_identity(&mut out, id);
    }

    let mut builder = route.client.request(method, url).headers(out);
    if let Some(b) = body {
        builder = builder.body(b);
    }
    let sent = tokio::time::timeout(route.response_timeout, builder.send()).await;
    let timed_out = || {
        upstream_error(
            gate,
            &route.name,
            StatusCode::GATEWAY_TIMEOUT,
            "gateway_timeout",
            "Upstream did not answer in time.",
        )
    };
    let upstream = match sent {
        Err(_) => return Err(timed_out()),
        Ok(Err(_)) if overflow.load(Ordering::Relaxed) => return Err(too_large()),
        Ok(Err(e)) if e.is_timeout() => return Err(timed_out()),
        Ok(Err(e)) => {
            tracing::warn!(route = %route.name, error = %e.without_url(), "upstream unreachable");
            return Err(upstream_error(
                gate,
                &route.name,
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                "Upstream is unreachable.",
            ));
        }
        Ok(Ok(res)) => res,
    };
    Ok(respond(
        upstream,
        req.method() == actix_web::http::Method::HEAD,
    ))
}

fn set_identity(out: &mut reqwest::header::HeaderMap, id: &Identity) {
    let h = &id.headers;
    let mut put = |name: &'static str, v: Option<&HeaderValue>| {
        if let Some(v) = v
            && let Ok(v) = reqwest::header::HeaderValue::from_bytes(v.as_bytes())
        {
            out.insert(reqwest::header::HeaderName::from_static(name), v);
        }
    };
    put("x-consumer-id", h.consumer_id.as_ref());
    put("x-consumer-scope", h.consumer_scope.as_ref());
    put("x-consumer-metadata", h.consumer_metadata.as_ref());
    put("x-client-id", h.client_id.as_ref());
    put("x-mis-client-id", h.mis_client_id.as_ref());
    put("x-person-id", h.person_id.as_ref());
}

fn respond(upstream: reqwest::Response, head: bool) -> HttpResponse {
    let status =
        StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut res = HttpResponse::build(status);
    let mut length = None;
    for (name, value) in upstream.headers() {
        let n = name.as_str();
        if n == "content-length" {
            length = value.to_str().ok().and_then(|s| s.parse::<u64>().ok());
            continue;
        }
        if is_hop_by_hop(n) {
            continue;
        }
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            res.append_header((k, v));
        }
    }
    if head || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return res.finish();
    }
    let stream = upstream.bytes_stream();
    match length {
        Some(len) => res.body(SizedStream::new(len, stream)),
        None => res.body(BodyStream::new(stream)),
    }
}

async fn read_small(mut payload: web::Payload, expected: u64) -> Result<Bytes, ()> {
    let mut buf = BytesMut::with_capacity(expected as usize);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ())?;
        if (buf.len() + chunk.len()) as u64 > expected {
            return Err(());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// actix's payload is not `Send`; a local task feeds it to the upstream client through a
/// channel, counting bytes: past `limit` it stops and flags the overflow (answered 413).
fn stream_body(mut payload: web::Payload, limit: u64, overflow: Arc<AtomicBool>) -> reqwest::Body {
    let (tx, rx) = mpsc::channel::<Result<Bytes, io::Error>>(8);
    actix_web::rt::spawn(async move {
        let mut total = 0u64;
        while let Some(chunk) = payload.next().await {
            match chunk {
                Ok(bytes) => {
                    total += bytes.len() as u64;
                    if total > limit {
                        overflow.store(true, Ordering::Relaxed);
                        let _ = tx
                            .send(Err(io::Error::other("request body too large")))
                            .await;
                        return;
                    }
                    if tx.send(Ok(bytes)).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
                    return;
                }
            }
        }
    });
    reqwest::Body::wrap_stream(ChannelBody(rx))
}

struct ChannelBody(mpsc::Receiver<Result<Bytes, io::Error>>);

impl futures_util::Stream for ChannelBody {
    type Item = Result<Bytes, io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}
