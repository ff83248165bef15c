//! The proxy port's handler for the requests hyper serves ([`crate::h1`] serves ordinary
//! HTTP/1.1 ones with the helpers marked `pub(crate)` here): every request goes through
//! [`crate::gate::decide`], then the rate limit, then to the upstream over the worker's pooled
//! keep-alive client. Requests and answers
//! keep hyper's own types end to end: headers are filtered in place, the upstream's body streams
//! back as hyper received it, and only a request body with a known length under 64 KiB is read
//! whole first (one write upstream).
//!
//! The gatekeeper's own answers are envelopes; the upstream's answers pass untouched except for
//! hop-by-hop headers, `x-request-id` and `traceparent`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use platform::ApiError;

use crate::body::{ReqBody, ResBody};
use crate::gate::{self, Inbound, Passed, Stop, Trace};
use crate::plan::{self, Forwarded, Peer, header_str, request_id};
use crate::ratelimit::Decision;
use crate::spans;
use crate::state::Gate;
use crate::table::{Cors, Route};
use crate::upstream::{Lease, SendError, Upstreams};
use crate::verify::Identity;

/// Request bodies up to this size (with a Content-Length) are read whole before forwarding.
pub(crate) const BUFFERED_BODY: u64 = 64 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// What the handler knows of the request besides its parts.
struct Call<'a> {
    gate: &'a Gate,
    upstreams: &'a Upstreams,
    peer: &'a Peer,
    request_id: HeaderValue,
    traceparent: HeaderValue,
    /// The request's span, while traces are exported.
    otel: Option<opentelemetry::Context>,
    /// The request's target and `Host`, for `meta.url` of the gatekeeper's own answers.
    uri: Uri,
    host: Option<HeaderValue>,
}

impl Call<'_> {
    /// `meta.url` of the gatekeeper's own answers.
    fn url(&self) -> String {
        let host = self
            .host
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .or_else(|| self.uri.authority().map(|a| a.as_str()));
        meta_url(self.peer.scheme, host, self.uri.path())
    }
}

/// `scheme://host/path`, as the other services put in `meta.url`.
pub(crate) fn meta_url(scheme: &str, host: Option<&str>, path: &str) -> String {
    format!("{scheme}://{}{path}", host.unwrap_or("localhost"))
}

pub async fn handle(
    gate: &Gate,
    upstreams: &Upstreams,
    peer: &Peer,
    req: Request<Incoming>,
) -> Response<ResBody> {
    // Draining (SIGTERM): an HTTP/1.1 caller's next request goes through its balancer elsewhere.
    let closing = req.version() < http::Version::HTTP_2 && gate.draining.is_set();
    let caller_trace = req.headers().get(TRACEPARENT).map(HeaderValue::as_bytes);
    let mut trace = plan::traceparent_bytes(caller_trace);
    let otel = spans::start(
        caller_trace,
        &mut trace,
        req.method().as_str(),
        req.uri().path(),
    );
    let call = Call {
        gate,
        upstreams,
        peer,
        request_id: request_id(req.headers().get(REQUEST_ID).map(HeaderValue::as_bytes)),
        traceparent: HeaderValue::from_bytes(&trace).unwrap_or(HeaderValue::from_static("-")),
        otel,
        uri: req.uri().clone(),
        host: req.headers().get(header::HOST).cloned(),
    };
    let table = gate.table.load_full();
    let mut res = match own_page(&req, gate, &table).or_else(|| preflight(&req, &table)) {
        Some(res) => res,
        None => {
            let decided = {
                let authorization: Vec<&[u8]> = req
                    .headers()
                    .get_all(header::AUTHORIZATION)
                    .iter()
                    .map(|v| v.as_bytes())
                    .collect();
                let inbound = Inbound {
                    method: req.method().as_str(),
                    raw_path: req.uri().path(),
                    query: req.uri().query().unwrap_or(""),
                    authorization: &authorization,
                    cookie: cookie_value(
                        req.headers()
                            .get_all(header::COOKIE)
                            .iter()
                            .map(HeaderValue::as_bytes),
                        "authorization",
                    ),
                    api_key: req.headers().get("api-key").and_then(|v| v.to_str().ok()),
                    request_id: call.request_id.to_str().unwrap_or_default(),
                    client: peer.client(req.headers(), &gate.trusted_proxies),
                    otel: call.otel.as_ref(),
                };
                gate::decide(&table, &gate.deps(), &inbound, &mut Trace::default()).await
            };
            match decided {
                Err(stop) => stop_response(&call, stop),
                Ok(passed) => forward_limited(&call, req, passed).await,
            }
        }
    };
    spans::status(call.otel.as_ref(), res.status().as_u16());
    let h = res.headers_mut();
    plan::downstream(
        call.request_id.as_bytes(),
        call.traceparent.as_bytes(),
        |name, value| {
            if let Ok(v) = HeaderValue::from_bytes(value) {
                h.insert(HeaderName::from_static(name), v);
            }
        },
    );
    if closing && res.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// The cookie `name` among the `Cookie` header values.
pub(crate) fn cookie_value<'v>(
    cookies: impl Iterator<Item = &'v [u8]>,
    name: &str,
) -> Option<String> {
    cookies
        .filter_map(header_str)
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
    spans::note(call.otel.as_ref(), "gatekeeper.decision", stop.decision);
    own_answer(call.gate, call.url(), &call.request_id, stop)
}

/// The envelope for `stop`, counted in the request metric.
pub(crate) fn own_answer(
    gate: &Gate,
    url: String,
    request_id: &HeaderValue,
    stop: Stop,
) -> Response<ResBody> {
    let mut res = error_response(&stop.error, url, request_id.to_str().unwrap_or_default());
    if let Some(d) = &stop.limit {
        rate_limit_headers(res.headers_mut(), d);
    }
    gate.metrics.request(
        stop.route.as_deref().unwrap_or("UNMATCHED"),
        res.status().as_u16(),
        stop.decision,
    );
    res
}

/// The public contract and its page, answered before any route and without a token.
fn own_page(
    req: &Request<Incoming>,
    gate: &Gate,
    table: &std::sync::Arc<crate::table::RouteTable>,
) -> Option<Response<ResBody>> {
    let path = req.uri().path();
    if !crate::public_doc::is_own_path(path) || !matches!(*req.method(), Method::GET | Method::HEAD)
    {
        return None;
    }
    let (body, content_type) = match platform::docs_page::asset(path) {
        Some((asset, content_type)) => (Bytes::from_static(asset), content_type),
        None => {
            let (json, html) = gate.public_docs.for_table(table);
            if path == crate::public_doc::DOCUMENT_PATH {
                (json, "application/json")
            } else {
                (html, "text/html; charset=utf-8")
            }
        }
    };
    let body = (*req.method() == Method::GET).then_some(body);
    let mut res = Response::new(ResBody::Full(body));
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    gate.metrics.request("PUBLIC_DOCS", 200, "own");
    Some(res)
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
    let origin = route
        .cors
        .as_ref()
        .and_then(|c| allowed_origin(req.headers(), c));
    let mut res = match forward(call, req, &passed).await {
        Ok(res) => {
            gate.metrics
                .request(&route.name, res.status().as_u16(), "forwarded");
            spans::note(call.otel.as_ref(), "gatekeeper.decision", "forwarded");
            res
        }
        Err(stop) => stop_response(call, stop),
    };
    if let Some(d) = &passed.limit {
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
        limit: None,
    }
}

pub(crate) fn bad_request(route: &Route, message: &'static str) -> Stop {
    Stop::new(
        ApiError::malformed_with(message),
        "bad_request",
        Some(route),
    )
}

pub(crate) fn too_large(route: &Route) -> Stop {
    Stop::new(
        ApiError::payload_too_large(route.max_body as usize),
        "bad_request",
        Some(route),
    )
}

/// The request body to send: none, read whole (small, with a length) or streamed with a limit;
/// for a streamed one, the flag its stream raises when the body outgrows the limit.
async fn request_body(
    route: &Route,
    headers: &HeaderMap,
    body: Incoming,
    deadline: std::time::Duration,
) -> Result<(ReqBody, Option<Arc<AtomicBool>>), Stop> {
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
        return Err(too_large(route));
    }
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    Ok(match length {
        Some(0) => (ReqBody::Empty, None),
        None if !chunked => (ReqBody::Empty, None),
        Some(l) if l <= BUFFERED_BODY && !chunked => {
            let whole = tokio::time::timeout(deadline, body.collect())
                .await
                .map_err(|_| Stop::new(ApiError::request_timeout(), "bad_request", Some(route)))?
                .map_err(|_| bad_request(route, "Request body could not be read."))?;
            (ReqBody::Full(Some(whole.to_bytes())), None)
        }
        _ => {
            let overflow = Arc::new(AtomicBool::new(false));
            let stream = ReqBody::Stream {
                inner: body,
                seen: 0,
                limit: route.max_body,
                overflow: overflow.clone(),
            };
            (stream, Some(overflow))
        }
    })
}

async fn forward(
    call: &Call<'_>,
    req: Request<Incoming>,
    passed: &Passed<'_>,
) -> Result<Response<ResBody>, Stop> {
    let route = passed.route;
    let (mut parts, body) = req.into_parts();
    let deadline = call.gate.settings.limits.body_timeout();
    let (body, overflow) = request_body(route, &parts.headers, body, deadline).await?;
    let head = parts.method == Method::HEAD;
    let upgrade = upgrade_protocol(&mut parts);

    let mut target = route.upstream_path(passed.prefix, &passed.path);
    if let Some(q) = parts.uri.query() {
        target.push('?');
        target.push_str(q);
    }
    parts.uri =
        Uri::try_from(target).map_err(|_| bad_request(route, "Request path is not valid."))?;
    parts.version = Version::HTTP_11;
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    parts.headers = upstream_headers(
        call,
        std::mem::take(&mut parts.headers),
        &body,
        passed.identity.as_deref(),
        &parts.method,
        &target,
    );
    parts
        .headers
        .insert(header::HOST, route.origin.host.clone());
    if let Some(protocol) = upgrade {
        // Boxed: upgrades are rare, and their state would make every request's future larger.
        return Box::pin(forward_upgrade(call, route, parts, body, protocol)).await;
    }

    let request = Request::from_parts(parts, body);
    let sending = call
        .upstreams
        .send(&route.origin, route.connect_timeout, request);
    let (upstream, mut lease) = answered(call.gate, route, sending, overflow.as_deref()).await?;
    let (mut parts, body) = upstream.into_parts();
    drop_hop_by_hop(&mut parts.headers);
    let body = if head || body.is_end_stream() {
        lease.release();
        ResBody::empty()
    } else {
        ResBody::Upstream(body, lease)
    };
    Ok(Response::from_parts(parts, body))
}

/// The upstream's answer within the route's response timeout, or the caller's error.
async fn answered<T>(
    gate: &Gate,
    route: &Route,
    sending: impl Future<Output = Result<T, SendError>>,
    overflow: Option<&AtomicBool>,
) -> Result<T, Stop> {
    let outcome = tokio::time::timeout(route.response_timeout, sending).await;
    answer_or_stop(gate, route, outcome.ok(), overflow)
}

/// The upstream's answer, or the caller's error for none (`None`: not in time).
pub(crate) fn answer_or_stop<T>(
    gate: &Gate,
    route: &Route,
    outcome: Option<Result<T, SendError>>,
    overflow: Option<&AtomicBool>,
) -> Result<T, Stop> {
    match outcome {
        Some(Ok(answer)) => Ok(answer),
        None => Err(send_failed(gate, route, None, overflow)),
        Some(Err(e)) => Err(send_failed(gate, route, Some(e), overflow)),
    }
}

/// Why a request got no answer, as the caller's answer: no answer in time (`None`, or no
/// connection within the connect timeout) 504; a streamed body that outgrew the limit 413;
/// anything else 502.
fn send_failed(
    gate: &Gate,
    route: &Route,
    error: Option<SendError>,
    overflow: Option<&AtomicBool>,
) -> Stop {
    match error {
        None | Some(SendError::ConnectTimeout) => upstream_error(
            gate,
            &route.name,
            actix_web::http::StatusCode::GATEWAY_TIMEOUT,
            "gateway_timeout",
            "Upstream did not answer in time.",
        ),
        Some(_) if overflow.is_some_and(|o| o.load(Ordering::Relaxed)) => too_large(route),
        Some(e) => {
            tracing::warn!(route = %route.name, error = %e, "upstream unreachable");
            upstream_error(
                gate,
                &route.name,
                actix_web::http::StatusCode::BAD_GATEWAY,
                "bad_gateway",
                "Upstream is unreachable.",
            )
        }
    }
}

/// The protocol an HTTP/1.1 request asks to switch to (`Connection: upgrade` and `Upgrade:
/// websocket`), with the caller's side of the switch.
struct Upgrade {
    protocol: HeaderValue,
    caller: OnUpgrade,
}

fn upgrade_protocol(parts: &mut http::request::Parts) -> Option<Upgrade> {
    // hyper leaves an `OnUpgrade` only on requests that ask to upgrade: the common request
    // costs no header lookup here.
    if parts.extensions.get::<OnUpgrade>().is_none() || parts.version != Version::HTTP_11 {
        return None;
    }
    // WebSocket only. Other protocols are not tunnelled: `Upgrade: h2c` in particular would
    // hand the caller a raw HTTP/2 connection to the upstream whose later requests never pass
    // the gate (h2c smuggling). Such requests go on as ordinary ones, their Upgrade dropped.
    let protocol = parts.headers.get(header::UPGRADE)?.clone();
    if !protocol.as_bytes().eq_ignore_ascii_case(b"websocket") {
        return None;
    }
    let asked = parts
        .headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if !asked {
        return None;
    }
    let caller = parts.extensions.remove::<OnUpgrade>()?;
    Some(Upgrade { protocol, caller })
}

/// Forwards an upgrade request on a connection of its own. When the upstream switches protocols
/// (101), the caller gets the 101 and a tunnel copies bytes both ways until either side
/// closes (or the worker stops); any other answer passes as usual.
async fn forward_upgrade(
    call: &Call<'_>,
    route: &Route,
    mut parts: http::request::Parts,
    body: ReqBody,
    upgrade: Upgrade,
) -> Result<Response<ResBody>, Stop> {
    let h = &mut parts.headers;
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, upgrade.protocol);
    let request = Request::from_parts(parts, body);
    let sending = call
        .upstreams
        .send_upgrade(&route.origin, route.connect_timeout, request);
    let mut upstream = answered(call.gate, route, sending, None).await?;
    if upstream.status() != StatusCode::SWITCHING_PROTOCOLS {
        let (mut parts, body) = upstream.into_parts();
        drop_hop_by_hop(&mut parts.headers);
        return Ok(Response::from_parts(
            parts,
            ResBody::Upstream(body, Lease::detached()),
        ));
    }
    let switched = upstream.headers().get(header::UPGRADE).cloned();
    let upstream_side = hyper::upgrade::on(&mut upstream);
    tokio::spawn(tunnel(upgrade.caller, upstream_side, route.name.clone()));
    let (mut parts, _) = upstream.into_parts();
    drop_hop_by_hop(&mut parts.headers);
    let h = &mut parts.headers;
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    if let Some(protocol) = switched {
        h.insert(header::UPGRADE, protocol);
    }
    Ok(Response::from_parts(parts, ResBody::empty()))
}

/// Copies bytes between the caller and the upstream once both have switched protocols.
async fn tunnel(caller: OnUpgrade, upstream: OnUpgrade, route: String) {
    let (caller, upstream) = match tokio::try_join!(caller, upstream) {
        Ok(both) => both,
        Err(e) => {
            tracing::debug!(route = %route, error = %e, "upgrade not completed");
            return;
        }
    };
    let (mut caller, mut upstream) = (TokioIo::new(caller), TokioIo::new(upstream));
    if let Err(e) = tokio::io::copy_bidirectional(&mut caller, &mut upstream).await {
        tracing::debug!(route = %route, error = %e, "tunnel ended");
    }
}

/// The headers sent upstream, edited in place: the caller's, minus hop-by-hop,
/// `Connection`-listed and identity headers, plus this hop's: request id, traceparent,
/// x-forwarded-*, the body's length and the trusted identity. (One pass finds what to drop, so
/// a request with nothing to drop costs no hashing beyond the headers set here.)
fn upstream_headers(
    call: &Call<'_>,
    mut headers: HeaderMap,
    body: &ReqBody,
    identity: Option<&Identity>,
    method: &Method,
    target: &str,
) -> HeaderMap {
    let connection_listed: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
        .collect();
    // HTTP/2 callers name the host in the URI's authority, not in `Host`.
    let own_host = headers.remove(header::HOST).or_else(|| {
        call.uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    });
    // Only a trusted proxy's x-forwarded-* are read (no lookups for anyone else's).
    let forwarded = if call.peer.trusted {
        Forwarded::new(
            call.peer,
            headers
                .get_all(X_FORWARDED_FOR)
                .iter()
                .map(HeaderValue::as_bytes),
            headers.get(X_FORWARDED_PROTO).map(HeaderValue::as_bytes),
            headers.get(X_FORWARDED_HOST),
            own_host,
        )
    } else {
        Forwarded::new(call.peer, std::iter::empty(), None, None, own_host)
    };
    let dropped: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            plan::drops_upstream(name.as_str().as_bytes())
                || connection_listed.iter().any(|c| c == name.as_str())
        })
        .cloned()
        .collect();
    for name in dropped {
        headers.remove(name);
    }
    if let ReqBody::Full(Some(b)) = body {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(b.len()));
    } else if let ReqBody::Stream { inner, .. } = body
        && let Some(len) = http_body::Body::size_hint(inner).exact()
    {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    let forwarded_host = forwarded.host.clone();
    let additions = plan::Upstream {
        request_id: call.request_id.as_bytes(),
        traceparent: call.traceparent.as_bytes(),
        forwarded: &forwarded,
        forwarded_host: forwarded_host.as_ref().map(HeaderValue::as_bytes),
        identity,
        signature: plan::Upstream::sign(
            identity,
            call.gate.signer.as_ref(),
            method.as_str().as_bytes(),
            target.as_bytes(),
        ),
    };
    additions.each(|name, value| {
        if let Some(v) = value.to_header() {
            headers.insert(HeaderName::from_static(name), v);
        }
    });
    headers
}

/// Drops what the plan keeps off an answer and the headers its `Connection` header lists (one
/// pass finds them; most answers carry only `Connection: keep-alive`).
fn drop_hop_by_hop(h: &mut HeaderMap) {
    let found: Vec<HeaderName> = h
        .keys()
        .filter(|n| plan::drops_downstream(n.as_str().as_bytes()))
        .cloned()
        .collect();
    if found.is_empty() {
        return;
    }
    if let Some(listed) = h.get(header::CONNECTION).and_then(|v| v.to_str().ok()) {
        let listed: Vec<String> = listed
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        for name in listed {
            h.remove(name.as_str());
        }
    }
    for name in found {
        h.remove(name);
    }
}
