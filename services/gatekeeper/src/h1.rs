//! The proxy port's own HTTP/1.1 path, for ordinary requests on plain and TLS connections.
//!
//! With hyper on both sides the gatekeeper spent about twice nginx's user CPU per proxied
//! request (bench/RESULTS.md): a `HeaderMap` built and hashed per message on each side, the
//! upstream connection's own task woken through a channel per request, a timer per head. Here
//! the caller connection's task parses the head with httparse, writes the upstream request
//! from the caller's bytes, reads the answer on the same task and relays it. The decision
//! ([`gate::decide`]) and the header rules are [`crate::proxy`]'s.
//!
//! It serves HTTP/1.1 requests without `Transfer-Encoding`, `Upgrade`, `Expect` or
//! `Connection` headers and with a body of at most 64 KiB by `Content-Length`, on
//! [plain](crate::table::Route::is_plain) routes. At the first request that is anything else
//! (or that httparse refuses), the connection goes to hyper with the bytes read so far
//! ([`Handoff`]) and stays with it: hyper answers everything this path does not.

use std::cell::Cell;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderValue;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use crate::body::ResBody;
use crate::gate::{self, Inbound, Passed, Stop, Trace};
use crate::metrics::LastCounter;
use crate::plan::{self, Forwarded, Peer, header_str};
use crate::proxy::{self, BUFFERED_BODY};
use crate::spans;
use crate::state::Gate;
use crate::table::{HttpMethod, Lookup, Route, RouteTable};
use crate::upstream::{RawConn, SendError, Upstreams};
use platform::ApiError;

/// Headers per message read here (hyper's own limit is the same).
const MAX_HEADERS: usize = 100;
/// A longer request head goes to hyper (which reads on, to its own limit).
const MAX_HEAD: usize = 16 * 1024;
/// Longest header name read here; a request with a longer one goes to hyper.
const MAX_NAME: usize = 64;
/// Longest answer head, chunk-size line or trailer read from an upstream.
const MAX_UPSTREAM_HEAD: usize = 64 * 1024;

/// What one caller connection's requests need.
pub struct Conn {
    pub gate: Arc<Gate>,
    pub upstreams: Upstreams,
    pub peer: Peer,
}

/// A caller's connection: plain TCP, or TLS once its handshake is done.
pub trait CallerIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> CallerIo for T {}

/// A connection for hyper to serve on, with the bytes already read from it (the start of the
/// request this path did not take).
pub struct Handoff<S> {
    pub stream: S,
    pub read: BytesMut,
}

/// How long a caller may take.
#[derive(Clone, Copy)]
pub struct Timeouts {
    /// To send a whole request head, from its first byte (slowloris).
    pub head: Duration,
    /// To start the next request on a kept-alive connection: longer than a front proxy keeps
    /// its idle connections to the gateway, so that it never sends on one being closed.
    pub idle: Duration,
}

/// Serves requests until the caller closes, the worker stops, or a request needs hyper.
pub async fn serve<S: CallerIo>(
    conn: &Conn,
    mut stream: S,
    stopping: &mut watch::Receiver<bool>,
    timeouts: Timeouts,
) -> Option<Handoff<S>> {
    match converse(conn, &mut stream, stopping, timeouts).await {
        Some(read) => Some(Handoff { stream, read }),
        None => {
            close(&mut stream).await;
            None
        }
    }
}

/// Ends a connection this path closes: over TLS with a `close_notify` first, without which a
/// caller cannot tell an answer that ends with the connection from a cut one (RFC 8446
/// §6.1). A caller that reads nothing more does not hold the task past the limit.
async fn close<S: CallerIo>(stream: &mut S) {
    const CLOSE_LIMIT: Duration = Duration::from_secs(1);
    let _ = tokio::time::timeout(CLOSE_LIMIT, stream.shutdown()).await;
}

/// The requests of one connection, until it closes (None) or one needs hyper (Some: the bytes
/// read so far).
async fn converse<S: CallerIo>(
    conn: &Conn,
    stream: &mut S,
    stopping: &mut watch::Receiver<bool>,
    timeouts: Timeouts,
) -> Option<BytesMut> {
    let mut read = BytesMut::with_capacity(8 * 1024);
    let mut bufs = Buffers::default();
    // One wait for the worker's stop per connection, not one per read: polled where a read
    // waits, and looked at between requests.
    let mut stop = std::pin::pin!(stopping.wait_for(|stop| *stop));
    // When the request being read began to arrive (the head-read limit runs from there).
    let mut began: Option<Instant> = None;
    loop {
        let step = if read.is_empty() {
            Step::More
        } else {
            exchange(conn, stream, &mut read, &mut bufs).await
        };
        match step {
            Step::Done { used, keep_alive } => {
                if !keep_alive || stop_asked(stop.as_mut()) {
                    return None;
                }
                if used > read.len() {
                    // A refused request's body, still coming: skipped within the body deadline.
                    let skip = used - read.len();
                    read.clear();
                    let deadline = Instant::now() + conn.gate.settings.limits.body_timeout();
                    if !skip_body(stream, &mut read, skip, deadline, &mut bufs.timer).await {
                        return None;
                    }
                } else {
                    read.advance(used);
                }
                began = None;
            }
            Step::More => {
                // A part of a head is here: its limit runs from the first time that was seen.
                if !read.is_empty() && began.is_none() {
                    began = Some(Instant::now());
                }
                // Room for a whole head (an emptied buffer gets its space back here).
                read.reserve(4 * 1024);
                let got = match began {
                    // Idle between requests: closed after the keep-alive limit, or when the
                    // worker stops.
                    None => {
                        let deadline = Instant::now() + timeouts.idle;
                        let reading = within(&mut bufs.timer, deadline, stream.read_buf(&mut read));
                        tokio::select! {
                            biased;
                            got = reading => match got {
                                Some(got) => got,
                                None => return None,
                            },
                            _ = stop.as_mut() => return None,
                        }
                    }
                    Some(began) => {
                        let reading = stream.read_buf(&mut read);
                        match within(&mut bufs.timer, began + timeouts.head, reading).await {
                            Some(got) => got,
                            None => return None,
                        }
                    }
                };
                if let Ok(0) | Err(_) = got {
                    return None;
                }
            }
            Step::Hyper => return Some(read),
            Step::Close => return None,
        }
    }
}

/// Reads and drops the next `skip` bytes (a refused request's body); what comes after them
/// stays in `read`. False when the caller closed or the deadline passed first.
async fn skip_body<S: CallerIo>(
    stream: &mut S,
    read: &mut BytesMut,
    mut skip: usize,
    deadline: Instant,
    timer: &mut Option<Pin<Box<Sleep>>>,
) -> bool {
    while skip > 0 {
        read.reserve(4 * 1024);
        match within(timer, deadline, stream.read_buf(read)).await {
            Some(Ok(n)) if n > 0 => {
                let dropped = skip.min(read.len());
                read.advance(dropped);
                skip -= dropped;
            }
            _ => return false,
        }
    }
    true
}

/// Whether the worker was told to stop (the wait is not polled again once it says so: the
/// connection ends).
fn stop_asked<F: Future>(stop: Pin<&mut F>) -> bool {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    stop.poll(&mut cx).is_ready()
}

/// What became of the request at the start of the read bytes.
enum Step {
    /// Answered; its `used` bytes are done with.
    Done { used: usize, keep_alive: bool },
    /// The head is not all here yet.
    More,
    /// Not one for this path: hyper takes the connection from this request on.
    Hyper,
    /// The connection failed mid-answer.
    Close,
}

/// What a connection keeps between its requests: the request sent upstream, the head sent
/// back, the timer for upstream answers, and the request counter it used last.
#[derive(Default)]
struct Buffers {
    request: Vec<u8>,
    reply: Vec<u8>,
    timer: Option<Pin<Box<Sleep>>>,
    counted: LastCounter,
}

/// `fut`'s output, or `None` once `deadline` passed. The connection's one timer is moved only
/// when it fires before the deadline of the request it is timing: under load that is about
/// once per response timeout rather than once per request.
async fn within<F: Future>(
    timer: &mut Option<Pin<Box<Sleep>>>,
    deadline: Instant,
    fut: F,
) -> Option<F::Output> {
    let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
    // Set for a later deadline (a route with a longer timeout): it would fire too late.
    if timer.deadline() > deadline {
        timer.as_mut().reset(deadline);
    }
    let mut fut = std::pin::pin!(fut);
    loop {
        tokio::select! {
            biased;
            out = &mut fut => return Some(out),
            () = timer.as_mut() => {
                if Instant::now() >= deadline {
                    return None;
                }
                timer.as_mut().reset(deadline);
            }
        }
    }
}

/// The identifiers this hop made for a request, while its body arrives.
struct KeptIds {
    new_id: [u8; 36],
    traceparent: [u8; 55],
    otel: Option<opentelemetry::Context>,
}

impl KeptIds {
    fn resume(self, request_id: Option<&[u8]>) -> Ids<'_> {
        Ids {
            caller_id: plan::sane_request_id(request_id),
            new_id: self.new_id,
            traceparent: self.traceparent,
            otel: self.otel,
        }
    }
}

/// The request's identifiers, set upstream and on the answer (kept as bytes: no allocation).
struct Ids<'b> {
    /// The caller's, when sane; else `new_id`.
    caller_id: Option<&'b str>,
    new_id: [u8; 36],
    traceparent: [u8; 55],
    /// The request's span, while traces are exported (it ends when the ids are dropped).
    otel: Option<opentelemetry::Context>,
}

impl<'b> Ids<'b> {
    fn new(request_id: Option<&'b [u8]>, traceparent: Option<&[u8]>) -> Self {
        let caller_id = plan::sane_request_id(request_id);
        let mut new_id = [0u8; 36];
        if caller_id.is_none() {
            plan::new_request_id(&mut new_id);
        }
        Ids {
            caller_id,
            new_id,
            traceparent: plan::traceparent_bytes(traceparent),
            otel: None,
        }
    }

    /// What stays the same while the head is read again: the ids this hop made.
    fn kept(self) -> KeptIds {
        KeptIds {
            new_id: self.new_id,
            traceparent: self.traceparent,
            otel: self.otel,
        }
    }

    fn request_id(&self) -> &str {
        match self.caller_id {
            Some(id) => id,
            None => std::str::from_utf8(&self.new_id).unwrap_or("-"),
        }
    }
}

/// One request: its head is read and decided on (route, token, scope, ABAC) before any of its
/// body is waited for; a refused request is answered at once (its body is skipped as it
/// arrives), a passed one has its body read within the body deadline, then goes upstream.
async fn exchange<S: CallerIo>(
    c: &Conn,
    stream: &mut S,
    read: &mut BytesMut,
    bufs: &mut Buffers,
) -> Step {
    let table = c.gate.table.load_full();
    let (used, kept, passed) = {
        let mut storage = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        let head = match Head::parse(read, &mut storage, &table) {
            Ok(head) => head,
            Err(step) => return step,
        };
        let mut ids = Ids::new(head.scan.request_id, head.scan.traceparent);
        ids.otel = spans::start(
            head.scan.traceparent,
            &mut ids.traceparent,
            head.method,
            head.raw_path,
        );
        let decided = decide(c, &table, &head, &ids).await;
        let used = head.len + head.body_len;
        if read.len() >= used {
            return answer(c, stream, &head, &read[head.len..used], &ids, decided, bufs).await;
        }
        match decided {
            Err(stop) => {
                return Box::pin(own_answer(c, stream, &head, &ids, stop, used, true, bufs)).await;
            }
            Ok(passed) => (used, ids.kept(), passed),
        }
    };
    // Rare (a body that did not come with its head): boxed, so that its state (a second
    // header array) does not enlarge every request's future.
    Box::pin(rest_of_body(
        c, stream, read, bufs, &table, used, kept, passed,
    ))
    .await
}

/// A passed request whose body is still coming: read within the body deadline (408 and closed
/// after it), then forwarded.
#[allow(clippy::too_many_arguments)]
async fn rest_of_body<S: CallerIo>(
    c: &Conn,
    stream: &mut S,
    read: &mut BytesMut,
    bufs: &mut Buffers,
    table: &RouteTable,
    used: usize,
    kept: KeptIds,
    passed: Passed<'_>,
) -> Step {
    let deadline = Instant::now() + c.gate.settings.limits.body_timeout();
    let late = match read_until(stream, read, used, deadline, &mut bufs.timer).await {
        Arrival::Whole => false,
        Arrival::Late => true,
        Arrival::Closed => return Step::Close,
    };
    // The head again (the buffer grew under it): the same bytes, so the same request.
    let mut storage = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let head = match Head::parse(read, &mut storage, table) {
        Ok(head) => head,
        Err(step) => return step,
    };
    let ids = kept.resume(head.scan.request_id);
    if late {
        let stop = Stop::new(
            ApiError::request_timeout(),
            "bad_request",
            Some(passed.route),
        );
        return own_answer(c, stream, &head, &ids, stop, used, false, bufs).await;
    }
    answer(
        c,
        stream,
        &head,
        &read[head.len..used],
        &ids,
        Ok(passed),
        bufs,
    )
    .await
}

/// A request head this path serves, as parsed.
struct Head<'h, 'b> {
    len: usize,
    /// The head as it came, which `headers` point into.
    bytes: &'b [u8],
    method: &'b str,
    raw_path: &'b str,
    query: Option<&'b str>,
    headers: &'h [httparse::Header<'b>],
    scan: Scan<'b>,
    body_len: usize,
}

impl<'h, 'b> Head<'h, 'b> {
    /// The head at the start of `read`; `Err` says what to do instead (read more, or leave the
    /// connection to hyper).
    fn parse(
        read: &'b [u8],
        storage: &'h mut [MaybeUninit<httparse::Header<'b>>; MAX_HEADERS],
        table: &RouteTable,
    ) -> Result<Self, Step> {
        let mut req = httparse::Request::new(&mut []);
        let len = match req.parse_with_uninit_headers(read, storage) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if read.len() <= MAX_HEAD => return Err(Step::More),
            _ => return Err(Step::Hyper),
        };
        let (Some(method), Some(target), Some(1)) = (req.method, req.path, req.version) else {
            return Err(Step::Hyper);
        };
        // Preflights (CORS) and anything but an origin-form target are hyper's.
        if matches!(method, "OPTIONS" | "CONNECT")
            || !target.starts_with('/')
            || target.bytes().any(|b| b == b'#' || !b.is_ascii())
        {
            return Err(Step::Hyper);
        }
        let scan = Scan::of(req.headers).ok_or(Step::Hyper)?;
        let body_len = scan.content_length.unwrap_or(0);
        if body_len as u64 > BUFFERED_BODY {
            return Err(Step::Hyper);
        }
        let (raw_path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (target, None),
        };
        if crate::public_doc::is_own_path(raw_path)
            || (!table.all_plain && !plain_route(table, method, raw_path))
        {
            return Err(Step::Hyper);
        }
        Ok(Self {
            len,
            bytes: &read[..len],
            method,
            raw_path,
            query,
            headers: req.headers,
            scan,
            body_len,
        })
    }
}

async fn decide<'t>(
    c: &Conn,
    table: &'t RouteTable,
    head: &Head<'_, '_>,
    ids: &Ids<'_>,
) -> Result<Passed<'t>, Stop> {
    let inbound = Inbound {
        method: head.method,
        raw_path: head.raw_path,
        query: head.query.unwrap_or(""),
        authorization: head.scan.authorization(),
        cookie: proxy::cookie_value(head.scan.cookies.iter().copied(), "authorization"),
        api_key: head.scan.api_key.and_then(header_str),
        request_id: ids.request_id(),
        client: c.peer.client_of(
            head.scan.forwarded_for.iter().copied(),
            &c.gate.trusted_proxies,
        ),
        otel: ids.otel.as_ref(),
    };
    gate::decide(table, &c.gate.deps(), &inbound, &mut Trace::default()).await
}

/// How waiting for the rest of a body ended.
enum Arrival {
    Whole,
    /// The body deadline passed first.
    Late,
    /// The caller closed or the connection failed.
    Closed,
}

/// Reads until `read` holds `used` bytes, or `deadline`.
async fn read_until<S: CallerIo>(
    stream: &mut S,
    read: &mut BytesMut,
    used: usize,
    deadline: Instant,
    timer: &mut Option<Pin<Box<Sleep>>>,
) -> Arrival {
    while read.len() < used {
        read.reserve(used - read.len());
        match within(timer, deadline, stream.read_buf(read)).await {
            Some(Ok(n)) if n > 0 => {}
            Some(_) => return Arrival::Closed,
            None => return Arrival::Late,
        }
    }
    Arrival::Whole
}

/// Forwards a decided request whose body is all in, or answers its refusal.
async fn answer<S: CallerIo>(
    c: &Conn,
    stream: &mut S,
    head: &Head<'_, '_>,
    body: &[u8],
    ids: &Ids<'_>,
    decided: Result<Passed<'_>, Stop>,
    bufs: &mut Buffers,
) -> Step {
    let used = head.len + body.len();
    let request = Request {
        method: head.method,
        query: head.query,
        head: head.bytes,
        headers: head.headers,
        scan: &head.scan,
        body,
    };
    let forwarded = match decided {
        Ok(passed) => forward(c, stream, &request, &passed, ids, bufs).await,
        Err(stop) => Err(stop),
    };
    match forwarded {
        Ok(Relayed::Whole { keep_alive }) => Step::Done { used, keep_alive },
        Ok(Relayed::Broken) => Step::Close,
        Err(stop) => own_answer(c, stream, head, ids, stop, used, true, bufs).await,
    }
}

/// The gatekeeper's own answer to a request of `used` bytes (head and body), some of which may
/// not have arrived: the serve loop skips them as they do. `keep_alive: false` closes the
/// connection after it.
#[allow(clippy::too_many_arguments)]
async fn own_answer<S: CallerIo>(
    c: &Conn,
    stream: &mut S,
    head: &Head<'_, '_>,
    ids: &Ids<'_>,
    stop: Stop,
    used: usize,
    keep_alive: bool,
    bufs: &mut Buffers,
) -> Step {
    let host = head.scan.host.and_then(header_str);
    let url = proxy::meta_url(c.peer.scheme, host, head.raw_path);
    let request_id =
        HeaderValue::from_str(ids.request_id()).unwrap_or(HeaderValue::from_static("-"));
    let answer = proxy::own_answer(&c.gate, url, &request_id, stop);
    let keep_alive = keep_alive && !c.gate.draining.is_set();
    own_reply(
        answer,
        ids,
        head.method == "HEAD",
        keep_alive,
        &mut bufs.reply,
    );
    match deliver(stream, &bufs.reply).await {
        Ok(()) => Step::Done { used, keep_alive },
        Err(_) => Step::Close,
    }
}

/// Whether the route the request would take is one this path serves (a path that does not
/// route is answered here too: the decision refuses it).
fn plain_route(table: &RouteTable, method: &str, raw_path: &str) -> bool {
    let Ok(path) = crate::path::normalize(raw_path) else {
        return true;
    };
    match table.lookup(HttpMethod::of(method), &path) {
        Lookup::Found(m) => m.route.is_plain(),
        _ => true,
    }
}

/// What a request head says, read in one pass over its headers.
#[derive(Default)]
struct Scan<'b> {
    content_length: Option<usize>,
    host: Option<&'b [u8]>,
    /// The first two `Authorization` values (a second one is refused) and how many came.
    authorizations: [&'b [u8]; 2],
    authorization_count: usize,
    cookies: Vec<&'b [u8]>,
    api_key: Option<&'b [u8]>,
    request_id: Option<&'b [u8]>,
    traceparent: Option<&'b [u8]>,
    forwarded_for: Vec<&'b [u8]>,
    forwarded_proto: Option<&'b [u8]>,
    forwarded_host: Option<&'b [u8]>,
    /// The headers that go on upstream as they came, by index (a bit each).
    keep: u128,
}

impl<'b> Scan<'b> {
    /// `None` for a request this path does not serve.
    fn of(headers: &[httparse::Header<'b>]) -> Option<Self> {
        let mut s = Scan::default();
        let mut lower = [0u8; MAX_NAME];
        for (i, h) in headers.iter().enumerate() {
            let name = lowercase(h.name, &mut lower)?;
            let v = h.value;
            // Hop-by-hop and identity headers are read (some) and never sent on; the ones
            // that change how the request is framed or handled are hyper's.
            match name {
                b"transfer-encoding" | b"upgrade" | b"expect" | b"connection" => return None,
                b"content-length" if s.content_length.is_some() => return None,
                b"content-length" => s.content_length = Some(digits(v)?),
                b"host" => first(&mut s.host, v),
                b"x-request-id" => first(&mut s.request_id, v),
                b"traceparent" => first(&mut s.traceparent, v),
                b"x-forwarded-for" => s.forwarded_for.push(v),
                b"x-forwarded-proto" => first(&mut s.forwarded_proto, v),
                b"x-forwarded-host" => first(&mut s.forwarded_host, v),
                b"authorization" => {
                    if let Some(slot) = s.authorizations.get_mut(s.authorization_count) {
                        *slot = v;
                    }
                    s.authorization_count += 1;
                }
                b"cookie" => s.cookies.push(v),
                b"api-key" => first(&mut s.api_key, v),
                _ => {}
            }
            if !plan::drops_upstream(name) {
                s.keep |= 1 << i;
            }
        }
        Some(s)
    }

    fn authorization(&self) -> &[&'b [u8]] {
        &self.authorizations[..self.authorization_count.min(2)]
    }
}

fn first<'b>(slot: &mut Option<&'b [u8]>, v: &'b [u8]) {
    slot.get_or_insert(v);
}

/// `name` in lower case, in `buf`; `None` when longer than it.
fn lowercase<'a>(name: &str, buf: &'a mut [u8; MAX_NAME]) -> Option<&'a [u8]> {
    let out = buf.get_mut(..name.len())?;
    out.copy_from_slice(name.as_bytes());
    out.make_ascii_lowercase();
    Some(out)
}

/// A `Content-Length` value: digits only.
fn digits(v: &[u8]) -> Option<usize> {
    if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// The caller's request, as parsed.
struct Request<'r, 'b> {
    method: &'b str,
    query: Option<&'b str>,
    /// The head as it came, which `headers` point into.
    head: &'b [u8],
    headers: &'r [httparse::Header<'b>],
    scan: &'r Scan<'b>,
    body: &'b [u8],
}

/// How relaying the upstream's answer ended.
enum Relayed {
    /// The whole answer went to the caller; `keep_alive` unless its end was the upstream
    /// closing.
    Whole { keep_alive: bool },
    /// A connection failed after the answer began: the caller's is closed.
    Broken,
}

async fn forward<S: CallerIo>(
    c: &Conn,
    stream: &mut S,
    req: &Request<'_, '_>,
    passed: &Passed<'_>,
    ids: &Ids<'_>,
    bufs: &mut Buffers,
) -> Result<Relayed, Stop> {
    let route = passed.route;
    if req.body.len() as u64 > route.max_body {
        return Err(proxy::too_large(route));
    }
    let mut target = route.upstream_path(passed.prefix, &passed.path);
    if let Some(q) = req.query {
        target.push('?');
        target.push_str(q);
    }
    if http::uri::PathAndQuery::try_from(target.as_str()).is_err() {
        return Err(proxy::bad_request(route, "Request path is not valid."));
    }
    upstream_request(c, req, route, &target, passed, ids, &mut bufs.request);
    let reply = Reply {
        ids,
        head_only: req.method == "HEAD",
        closing: c.gate.draining.is_set(),
    };
    // A request that got no answer on a reused connection is sent again only when resending
    // it cannot do anything twice (RFC 9110 §9.2.2).
    let idempotent = matches!(req.method, "GET" | "HEAD" | "PUT" | "DELETE" | "TRACE");
    let started = Instant::now();
    let deadline = started + route.response_timeout;
    let Buffers {
        request,
        reply: head,
        timer,
        ..
    } = bufs;
    let sending = send(
        &c.upstreams,
        route,
        request,
        idempotent,
        &reply,
        head,
        started,
    );
    let outcome = within(timer, deadline, sending).await;
    let (mut up, answer) = proxy::answer_or_stop(&c.gate, route, outcome, None)?;
    spans::note(ids.otel.as_ref(), "gatekeeper.decision", "forwarded");
    spans::status(ids.otel.as_ref(), answer.status);
    c.gate
        .metrics
        .request_on(&mut bufs.counted, &route.name, answer.status, "forwarded");
    Ok(
        match relay(stream, &mut up, answer.framing, &mut bufs.reply).await {
            Ok(drained) => {
                if drained && answer.reusable {
                    c.upstreams
                        .release_raw(&route.origin.key, up, started.into_std());
                }
                Relayed::Whole {
                    keep_alive: answer.framing != Framing::UntilClose && !reply.closing,
                }
            }
            Err(e) => {
                tracing::debug!(route = %route.name, error = %e, "relaying an answer failed");
                Relayed::Broken
            }
        },
    )
}

/// The request as the upstream gets it: the caller's headers minus hop-by-hop and identity
/// ones, plus this hop's (as [`crate::proxy`] sets them).
fn upstream_request(
    c: &Conn,
    req: &Request<'_, '_>,
    route: &Route,
    target: &str,
    passed: &Passed<'_>,
    ids: &Ids<'_>,
    out: &mut Vec<u8>,
) {
    let scan = req.scan;
    out.clear();
    out.extend_from_slice(req.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    put(out, "host", route.origin.host.as_bytes());
    copy_lines(out, req.head, req.headers, scan.keep);
    if scan.content_length.is_some() {
        let mut n = [0u8; 20];
        put(out, "content-length", format_usize(req.body.len(), &mut n));
    }
    let to_value = |v: &[u8]| HeaderValue::from_bytes(v).ok();
    // The caller's own Host is written from its bytes when no trusted proxy named one.
    let forwarded = Forwarded::new(
        &c.peer,
        scan.forwarded_for.iter().copied(),
        scan.forwarded_proto,
        scan.forwarded_host.and_then(to_value).as_ref(),
        None,
    );
    let additions = plan::Upstream {
        request_id: ids.request_id().as_bytes(),
        traceparent: &ids.traceparent,
        forwarded: &forwarded,
        forwarded_host: forwarded
            .host
            .as_ref()
            .map(HeaderValue::as_bytes)
            .or(scan.host),
        identity: passed.identity.as_deref(),
        signature: plan::Upstream::sign(
            passed.identity.as_deref(),
            c.gate.signer.as_ref(),
            req.method.as_bytes(),
            target.as_bytes(),
        ),
    };
    additions.each(|name, value| put(out, name, value.as_bytes()));
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(req.body);
}

/// Appends the header lines of `head` whose bit is set in `keep`, unchanged. Lines that follow
/// each other go in one copy when the head ends its lines with CRLF (as nearly all do); else
/// each line is written anew.
fn copy_lines(out: &mut Vec<u8>, head: &[u8], headers: &[httparse::Header<'_>], keep: u128) {
    let kept = |i: usize| keep & (1 << i) != 0;
    let before = out.len();
    if !head.ends_with(b"\r\n\r\n") || !copy_runs(out, head, headers, kept) {
        out.truncate(before);
        for (i, h) in headers.iter().enumerate() {
            if kept(i) {
                put(out, h.name, h.value);
            }
        }
    }
}

/// The runs of kept lines: a line runs from its name to the next line's name, the last one to
/// the empty line. False (with part written) if a name does not start a line right after a
/// CRLF: a bare LF anywhere sends every line through [`put`] instead, so the upstream never
/// sees a line end this hop did not write.
fn copy_runs(
    out: &mut Vec<u8>,
    head: &[u8],
    headers: &[httparse::Header<'_>],
    kept: impl Fn(usize) -> bool,
) -> bool {
    let end = head.len() - 2;
    let base = head.as_ptr() as usize;
    let mut run: Option<usize> = None;
    let mut last = 0;
    for (i, h) in headers.iter().enumerate() {
        let Some(start) = (h.name.as_ptr() as usize)
            .checked_sub(base)
            .filter(|&s| s >= last && s < end && head.get(s.wrapping_sub(2)..s) == Some(b"\r\n"))
        else {
            return false;
        };
        last = start;
        match (kept(i), run) {
            (true, None) => run = Some(start),
            (false, Some(from)) => {
                out.extend_from_slice(&head[from..start]);
                run = None;
            }
            _ => {}
        }
    }
    if let Some(from) = run {
        out.extend_from_slice(&head[from..end]);
    }
    true
}

fn put(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn format_usize(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// What the answer's head needs from the request.
struct Reply<'a> {
    ids: &'a Ids<'a>,
    head_only: bool,
    /// The caller's connection closes after this answer (the gatekeeper is draining).
    closing: bool,
}

/// How the upstream's answer body ends (RFC 9112 §6.3).
#[derive(Clone, Copy, PartialEq, Debug)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// The upstream's answer head, already written for the caller.
struct Answer {
    status: u16,
    framing: Framing,
    /// The upstream keeps the connection open after this answer.
    reusable: bool,
}

/// Sends the request on an idle connection or a new one and reads the answer's head. A
/// connection found closed (or failing) before any answer came is replaced when `resend`.
async fn send(
    upstreams: &Upstreams,
    route: &Route,
    request: &[u8],
    resend: bool,
    reply: &Reply<'_>,
    head: &mut Vec<u8>,
    started: Instant,
) -> Result<(RawConn, Answer), SendError> {
    loop {
        let (mut conn, reused) = match upstreams.checkout_raw(&route.origin.key, started.into_std())
        {
            Some(conn) => (conn, true),
            None => {
                let opening = upstreams.open_raw(&route.origin, route.connect_timeout);
                (Box::pin(opening).await?, false)
            }
        };
        match round_trip(&mut conn, request, reply, head).await {
            Ok(answer) => return Ok((conn, answer)),
            Err((unanswered, e)) if unanswered && reused && resend => {
                tracing::debug!(route = %route.name, error = %e, "idle upstream connection failed; resending");
            }
            Err((_, e)) => return Err(e),
        }
    }
}

/// Writes the request and reads the answer's head (skipping interim 1xx answers), writing the
/// caller's head into `head`. An error says whether nothing at all was read back.
async fn round_trip(
    conn: &mut RawConn,
    request: &[u8],
    reply: &Reply<'_>,
    head: &mut Vec<u8>,
) -> Result<Answer, (bool, SendError)> {
    conn.read.clear();
    if let Err(e) = conn.stream.write_all(request).await {
        return Err((true, SendError::Io(e)));
    }
    let mut answered = false;
    loop {
        if !conn.read.is_empty() {
            answered = true;
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut res = httparse::Response::new(&mut headers);
            match res.parse(&conn.read) {
                Ok(httparse::Status::Complete(n)) => {
                    let status = res.code.unwrap_or(0);
                    if (100..200).contains(&status) && status != 101 {
                        conn.read.advance(n);
                        continue;
                    }
                    let answer =
                        reply_head(&res, &conn.read[..n], reply, head).map_err(|e| (false, e))?;
                    conn.read.advance(n);
                    return Ok(answer);
                }
                Ok(httparse::Status::Partial) if conn.read.len() < MAX_UPSTREAM_HEAD => {}
                Ok(httparse::Status::Partial) => {
                    return Err((false, SendError::Protocol("answer head too large")));
                }
                Err(_) => return Err((false, SendError::Protocol("answer is not HTTP/1.1"))),
            }
        }
        conn.read.reserve(8 * 1024);
        match conn.stream.read_buf(&mut conn.read).await {
            Ok(0) => {
                let closed = io::Error::from(io::ErrorKind::UnexpectedEof);
                return Err((!answered, SendError::Io(closed)));
            }
            Ok(_) => {}
            Err(e) => return Err((!answered, SendError::Io(e))),
        }
    }
}

/// The caller's head for the upstream's answer: its status and headers, minus hop-by-hop ones
/// (and those `Connection` lists) and the upstream's request id and traceparent, plus this
/// hop's; `Date` when the upstream sent none, as hyper does.
fn reply_head(
    res: &httparse::Response<'_, '_>,
    raw: &[u8],
    reply: &Reply<'_>,
    out: &mut Vec<u8>,
) -> Result<Answer, SendError> {
    let status = res.code.unwrap_or(0);
    if status == 101 {
        return Err(SendError::Protocol("upstream switched protocols unasked"));
    }
    let mut lower = [0u8; MAX_NAME];
    let mut length: Option<u64> = None;
    let (mut encoded, mut chunked, mut close, mut dated) = (false, false, false, false);
    let mut listed: Vec<Vec<u8>> = Vec::new();
    // The headers not sent on, by index (one pass reads and sorts them).
    let mut dropped: u128 = 0;
    for (i, h) in res.headers.iter().enumerate() {
        let Some(name) = lowercase(h.name, &mut lower) else {
            continue;
        };
        if plan::drops_downstream(name) {
            dropped |= 1 << i;
        }
        match name {
            b"content-length" => {
                let n = digits(h.value).ok_or(SendError::Protocol("bad Content-Length"))? as u64;
                if length.is_some_and(|l| l != n) {
                    return Err(SendError::Protocol("conflicting Content-Length"));
                }
                length = Some(n);
            }
            b"transfer-encoding" => {
                encoded = true;
                let last = h.value.rsplit(|&b| b == b',').next().unwrap_or_default();
                chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
            }
            b"connection" => {
                // Most answers say `keep-alive` (nginx does): nothing to keep for it.
                for token in header_str(h.value).unwrap_or_default().split(',') {
                    let token = token.trim();
                    if token.eq_ignore_ascii_case("close") {
                        close = true;
                    } else if !token.is_empty() && !token.eq_ignore_ascii_case("keep-alive") {
                        listed.push(token.to_ascii_lowercase().into_bytes());
                    }
                }
            }
            b"date" => dated = true,
            _ => {}
        }
    }
    let framing = if reply.head_only || status == 204 || status == 304 {
        Framing::None
    } else if encoded {
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else {
        length.map_or(Framing::UntilClose, Framing::Length)
    };
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    let mut n = [0u8; 20];
    out.extend_from_slice(format_usize(status as usize, &mut n));
    out.push(b' ');
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    out.extend_from_slice(reason.unwrap_or(res.reason.unwrap_or_default()).as_bytes());
    out.extend_from_slice(b"\r\n");
    // Rare: a `Transfer-Encoding` beside a length, or `Connection` naming headers.
    if encoded || !listed.is_empty() {
        for (i, h) in res.headers.iter().enumerate() {
            let name = lowercase(h.name, &mut lower).unwrap_or_default();
            if (encoded && name == b"content-length") || listed.iter().any(|l| l == name) {
                dropped |= 1 << i;
            }
        }
    }
    copy_lines(out, raw, res.headers, !dropped);
    if framing == Framing::Chunked {
        put(out, "transfer-encoding", b"chunked");
    }
    if !dated {
        with_date(|date| put(out, "date", date));
    }
    plan::downstream(
        reply.ids.request_id().as_bytes(),
        &reply.ids.traceparent,
        |name, value| put(out, name, value),
    );
    if framing == Framing::UntilClose || reply.closing {
        put(out, "connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    Ok(Answer {
        status,
        framing,
        reusable: res.version == Some(1) && !close && framing != Framing::UntilClose,
    })
}

/// Sends the head (in `reply`) and the body to the caller as the upstream sends it. Ok(true)
/// when the upstream connection holds nothing more (it may go back to the pool).
async fn relay<S: CallerIo>(
    caller: &mut S,
    up: &mut RawConn,
    framing: Framing,
    reply: &mut Vec<u8>,
) -> io::Result<bool> {
    match framing {
        Framing::None => deliver(caller, reply).await?,
        Framing::Length(n) => {
            let first = up.read.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            reply.extend_from_slice(&up.read[..first]);
            up.read.advance(first);
            deliver(caller, reply).await?;
            let mut left = n - first as u64;
            while left > 0 {
                let got = read_more(up).await?;
                let take = got.min(usize::try_from(left).unwrap_or(usize::MAX));
                deliver(caller, &up.read[..take]).await?;
                up.read.advance(take);
                left -= take as u64;
            }
        }
        Framing::Chunked => {
            let mut chunks = Chunks::default();
            loop {
                let used = chunks.scan(&up.read)?;
                reply.extend_from_slice(&up.read[..used]);
                up.read.advance(used);
                if chunks.done() {
                    deliver(caller, reply).await?;
                    break;
                }
                if reply.len() >= 16 * 1024 || !reply.is_empty() && up.read.is_empty() {
                    deliver(caller, reply).await?;
                    reply.clear();
                }
                read_more(up).await?;
            }
        }
        Framing::UntilClose => {
            reply.extend_from_slice(&up.read);
            up.read.clear();
            deliver(caller, reply).await?;
            loop {
                up.read.reserve(16 * 1024);
                if up.stream.read_buf(&mut up.read).await? == 0 {
                    return Ok(false);
                }
                deliver(caller, &up.read).await?;
                up.read.clear();
            }
        }
    }
    Ok(up.read.is_empty())
}

/// Writes to the caller and flushes: a TLS stream may hold the last record until flushed (a
/// plain one has nothing to flush), and the caller must have it before the next upstream read.
async fn deliver<S: CallerIo>(caller: &mut S, bytes: &[u8]) -> io::Result<()> {
    caller.write_all(bytes).await?;
    caller.flush().await
}

/// Reads more of the upstream's answer; its end here is an error (the answer was cut short).
async fn read_more(up: &mut RawConn) -> io::Result<usize> {
    up.read.reserve(16 * 1024);
    match up.stream.read_buf(&mut up.read).await? {
        0 => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "upstream closed mid-answer",
        )),
        n => Ok(n),
    }
}

/// Where a chunked body (RFC 9112 §7.1) ends, found as its bytes pass through unchanged. It
/// ends where hyper's decoder ends it, and what hyper refuses is refused here (make fuzz,
/// `h1_chunked`): its trailer section is checked as hyper checks it, within hyper's limits.
#[derive(Default)]
struct Chunks {
    state: ChunkState,
    /// The trailer section so far (at most [`MAX_TRAILER_BYTES`]) and its field lines.
    trailer: Vec<u8>,
    trailer_fields: usize,
    /// The chunk extensions' bytes so far (hyper's limit: [`MAX_EXTENSION_BYTES`] a body).
    extension_bytes: usize,
}

const MAX_EXTENSION_BYTES: usize = 16 * 1024;

/// A chunk-size line (RFC 9112 §7.1), as hyper reads it.
struct ChunkLine {
    /// Its bytes with the CRLF.
    len: usize,
    size: u64,
    /// The extension's bytes after `;`.
    extension: usize,
}

/// The chunk-size line at the start of `rest` (None: not all here yet): hex digits that fit
/// in 64 bits, spaces or tabs, an extension (`;` and anything but CR and LF), CRLF.
fn chunk_size_line(rest: &[u8]) -> io::Result<Option<ChunkLine>> {
    let mut size: u64 = 0;
    let mut i = 0;
    while let Some(digit) = rest.get(i).and_then(|&b| (b as char).to_digit(16)) {
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(u64::from(digit)))
            .ok_or_else(|| bad_chunk("chunk size too large"))?;
        i += 1;
    }
    if i == 0 && !rest.is_empty() {
        return Err(bad_chunk("chunk size line without a size"));
    }
    while matches!(rest.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    let mut extension = 0;
    if rest.get(i) == Some(&b';') {
        i += 1;
        while rest.get(i).is_some_and(|b| !matches!(b, b'\r' | b'\n')) {
            i += 1;
            extension += 1;
        }
    }
    match (rest.get(i), rest.get(i + 1)) {
        (None, _) | (Some(b'\r'), None) => Ok(None),
        (Some(b'\r'), Some(b'\n')) => Ok(Some(ChunkLine {
            len: i + 2,
            size,
            extension,
        })),
        _ => Err(bad_chunk("bad chunk size line")),
    }
}

/// hyper's limits on a trailer section: its bytes (all lines with their line ends) stay under
/// this, and it has at most [`MAX_TRAILER_FIELDS`] lines.
const MAX_TRAILER_BYTES: usize = 16 * 1024;
const MAX_TRAILER_FIELDS: usize = MAX_HEADERS;

#[derive(Default, Clone, Copy)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    DataEnd,
    Trailer,
    Done,
}

impl Chunks {
    fn done(&self) -> bool {
        matches!(self.state, ChunkState::Done)
    }

    /// How many bytes at the start of `data` belong to the body, scanning on from where the
    /// last call stopped (the rest, an unfinished line, is scanned again with more bytes).
    fn scan(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut at = 0;
        loop {
            let rest = &data[at..];
            match self.state {
                ChunkState::Size => match chunk_size_line(rest)? {
                    Some(line) => {
                        self.extension_bytes += line.extension;
                        if self.extension_bytes >= MAX_EXTENSION_BYTES {
                            return Err(bad_chunk("chunk extensions too long"));
                        }
                        at += line.len;
                        self.state = if line.size == 0 {
                            ChunkState::Trailer
                        } else {
                            ChunkState::Data(line.size)
                        };
                    }
                    None if rest.len() < MAX_UPSTREAM_HEAD => return Ok(at),
                    None => return Err(bad_chunk("chunk size line too long")),
                },
                ChunkState::Data(left) => {
                    let take = left.min(rest.len() as u64);
                    at += take as usize;
                    if take < left {
                        self.state = ChunkState::Data(left - take);
                        return Ok(at);
                    }
                    self.state = ChunkState::DataEnd;
                }
                ChunkState::DataEnd => {
                    if rest.len() < 2 {
                        return Ok(at);
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(bad_chunk("chunk not followed by CRLF"));
                    }
                    at += 2;
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailer => match rest.windows(2).position(|w| w == b"\r\n") {
                    Some(end) => {
                        self.trailer_line(&rest[..end + 2])?;
                        at += end + 2;
                    }
                    None if self.trailer.len() + rest.len() < MAX_TRAILER_BYTES => return Ok(at),
                    None => return Err(bad_chunk("trailer section too long")),
                },
                ChunkState::Done => return Ok(at),
            }
        }
    }

    /// One line of the trailer section, with its CRLF: a field kept for the check at the
    /// section's end, or that end (the empty line).
    fn trailer_line(&mut self, line: &[u8]) -> io::Result<()> {
        // A bare CR or LF would end the line for one reader and not for another.
        if line[..line.len() - 2]
            .iter()
            .any(|&b| b == b'\r' || b == b'\n')
        {
            return Err(bad_chunk("bare CR or LF in a trailer line"));
        }
        let last = line == b"\r\n";
        if last && self.trailer_fields == 0 {
            self.state = ChunkState::Done;
            return Ok(());
        }
        if !last {
            self.trailer_fields += 1;
        }
        self.trailer.extend_from_slice(line);
        if self.trailer_fields > MAX_TRAILER_FIELDS || self.trailer.len() >= MAX_TRAILER_BYTES {
            return Err(bad_chunk("trailer section too long"));
        }
        if last {
            if !trailer_fields_valid(&self.trailer, self.trailer_fields) {
                return Err(bad_chunk("bad trailer field"));
            }
            self.state = ChunkState::Done;
        }
        Ok(())
    }
}

fn bad_chunk(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// The trailer section read as fields, as hyper reads it: `fields` header lines, each a valid
/// name and value.
fn trailer_fields_valid(section: &[u8], fields: usize) -> bool {
    let mut headers = vec![httparse::EMPTY_HEADER; fields];
    match httparse::parse_headers(section, &mut headers) {
        Ok(httparse::Status::Complete((_, headers))) => headers.iter().all(|h| {
            http::HeaderName::from_bytes(h.name.as_bytes()).is_ok()
                && HeaderValue::from_bytes(h.value).is_ok()
        }),
        _ => false,
    }
}

/// The gatekeeper's own answer (an envelope) as bytes, with the request's identifiers; the
/// answer to a HEAD request has the envelope's length and no body (RFC 9110 §9.3.2).
fn own_reply(
    answer: http::Response<ResBody>,
    ids: &Ids,
    head_only: bool,
    keep_alive: bool,
    out: &mut Vec<u8>,
) {
    let (parts, body) = answer.into_parts();
    let body = match body {
        ResBody::Full(b) => b.unwrap_or_default(),
        ResBody::Upstream(..) => Bytes::new(),
    };
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(parts.status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(parts.status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        put(out, name.as_str(), value.as_bytes());
    }
    let mut n = [0u8; 20];
    put(out, "content-length", format_usize(body.len(), &mut n));
    with_date(|date| put(out, "date", date));
    plan::downstream(
        ids.request_id().as_bytes(),
        &ids.traceparent,
        |name, value| put(out, name, value),
    );
    if !keep_alive {
        put(out, "connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(&body);
    }
}

thread_local! {
    /// The `Date` value, made once a second per thread.
    static DATE: Cell<(u64, [u8; 29])> = const { Cell::new((0, [0; 29])) };
}

fn with_date<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (at, mut text) = DATE.get();
    if at != secs {
        let made = httpdate::fmt_http_date(now);
        if made.len() == text.len() {
            text.copy_from_slice(made.as_bytes());
            DATE.set((secs, text));
        } else {
            return f(made.as_bytes());
        }
    }
    f(&text)
}

/// What `make fuzz` holds this path to against hyper (fuzz/fuzz_targets/h1_*.rs): which
/// requests it keeps and how it frames them, and where its scanner ends a chunked body. Built
/// only with the `fuzzing` feature.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    use std::mem::MaybeUninit;

    use super::{Chunks, Head, MAX_HEADERS, Step};
    use crate::table::RouteTable;

    /// A request head this path keeps: its length, method, target and body length.
    #[derive(Debug)]
    pub struct Kept {
        pub head_len: usize,
        pub method: String,
        pub target: String,
        pub body_len: usize,
    }

    /// What this path does with the request at the start of `read`.
    #[derive(Debug)]
    pub enum Taken {
        Kept(Kept),
        /// The head is not all here: it reads on.
        More,
        /// The connection goes to hyper from this request on.
        Hyper,
    }

    pub fn takes(read: &[u8], table: &RouteTable) -> Taken {
        let mut storage = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        match Head::parse(read, &mut storage, table) {
            Ok(head) => Taken::Kept(Kept {
                head_len: head.len,
                method: head.method.to_owned(),
                target: match head.query {
                    Some(q) => format!("{}?{q}", head.raw_path),
                    None => head.raw_path.to_owned(),
                },
                body_len: head.body_len,
            }),
            Err(Step::More) => Taken::More,
            Err(_) => Taken::Hyper,
        }
    }

    /// The scanner that finds where an upstream's chunked answer body ends.
    #[derive(Default)]
    pub struct ChunkScanner(Chunks);

    impl ChunkScanner {
        /// Bytes at the start of `data` that belong to the body (see `Chunks::scan`).
        pub fn scan(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.scan(data)
        }

        pub fn done(&self) -> bool {
            self.0.done()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_header_lines_are_copied_as_they_came() {
        let lines = |head: &[u8], keep: u128| {
            let mut headers = [httparse::EMPTY_HEADER; 8];
            let mut req = httparse::Request::new(&mut headers);
            assert!(req.parse(head).unwrap().is_complete());
            let mut out = Vec::new();
            copy_lines(&mut out, head, req.headers, keep);
            String::from_utf8(out).unwrap()
        };
        let crlf = b"GET / HTTP/1.1\r\nA: 1\r\nB:  two \r\nC: 3\r\nD: 4\r\n\r\n";
        assert_eq!(lines(crlf, 0b1111), "A: 1\r\nB:  two \r\nC: 3\r\nD: 4\r\n");
        assert_eq!(lines(crlf, 0b1001), "A: 1\r\nD: 4\r\n");
        assert_eq!(lines(crlf, 0b0110), "B:  two \r\nC: 3\r\n");
        assert_eq!(lines(crlf, 0), "");
        // Bare LF line ends, all or some: each kept line written anew, with CRLF.
        let lf = b"GET / HTTP/1.1\nA: 1\nB: 2\nC: 3\n\n";
        assert_eq!(lines(lf, 0b101), "A: 1\r\nC: 3\r\n");
        let mixed = b"GET / HTTP/1.1\r\nA: 1\nX-Consumer-Id: no\r\nC: 3\r\n\r\n";
        assert_eq!(lines(mixed, 0b101), "A: 1\r\nC: 3\r\n");
    }

    #[test]
    fn chunked_bodies_end_where_the_last_chunk_and_trailers_do() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        // Whole, and fed a byte at a time: the same end.
        let mut whole = Chunks::default();
        assert_eq!(whole.scan(body).unwrap(), body.len() - 4);
        assert!(whole.done());
        let mut bytewise = Chunks::default();
        let mut pending: Vec<u8> = Vec::new();
        let mut passed = 0;
        for &b in body.iter() {
            pending.push(b);
            let used = bytewise.scan(&pending).unwrap();
            passed += used;
            pending.drain(..used);
            if bytewise.done() {
                break;
            }
        }
        assert!(bytewise.done());
        assert_eq!(passed, body.len() - 4);
        assert!(Chunks::default().scan(b"zz\r\n").is_err());
        assert!(Chunks::default().scan(b"2\r\nabXY").is_err());
    }

    /// Found by `make fuzz` (h1_chunked, against hyper's decoder): each of these ended a body
    /// here that hyper refuses, or the reverse.
    #[test]
    fn chunked_bodies_are_refused_where_hyper_refuses_them() {
        let ends = |body: &[u8]| {
            let mut c = Chunks::default();
            c.scan(body).ok().filter(|_| c.done())
        };
        let refused = |body: &[u8]| Chunks::default().scan(body).is_err();
        // The size line: digits first, none after spaces, no LF in an extension, 64 bits.
        assert!(refused(b"\r\n\r\n"), "an empty size line");
        assert!(refused(b"1 1\r\n"));
        assert!(refused(b"1;a\nb\r\n"));
        assert!(refused(b"10000000000000000\r\n"));
        assert_eq!(ends(b"1 \t;x=y\r\na\r\n0\r\n\r\n"), Some(17));
        let long_extension = [b"1;".as_slice(), &[b'x'; 16 * 1024], b"\r\n"].concat();
        assert!(refused(&long_extension));
        // Trailers: fields as hyper reads them, no bare CR or LF, within its limits.
        assert!(refused(b"0\r\n\x03\x00ailer: 1\r\n\r\n"));
        assert!(refused(b"0\r\nx: 1\nyz: 2\r\n\r\n"));
        assert!(refused(b"0\r\n\n10\r\n\r\n"));
        assert!(refused(b"0\r\nx: a\rb\r\n\r\n"));
        let many = [b"0\r\n".as_slice(), &b"x: 1\r\n".repeat(101), b"\r\n"].concat();
        assert!(refused(&many));
        let hundred = [b"0\r\n".as_slice(), &b"x: 1\r\n".repeat(100), b"\r\n"].concat();
        assert_eq!(ends(&hundred), Some(hundred.len()));
        let big = [b"0\r\nx: ".as_slice(), &[b'v'; 16 * 1024], b"\r\n\r\n"].concat();
        assert!(refused(&big));
    }

    #[test]
    fn request_heads_this_path_leaves_to_hyper() {
        let scan = |raw: &[u8]| {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut headers);
            req.parse(raw).unwrap();
            Scan::of(req.headers).map(|s| (s.content_length, s.keep.count_ones()))
        };
        assert_eq!(
            scan(b"GET / HTTP/1.1\r\nHost: a\r\nX-Consumer-Id: x\r\nAccept: */*\r\n\r\n"),
            Some((None, 1))
        );
        assert_eq!(
            scan(b"POST / HTTP/1.1\r\nContent-Length: 3\r\nKeep-Alive: 5\r\n\r\n"),
            Some((Some(3), 0))
        );
        for refused in [
            &b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
            b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            b"POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
        ] {
            assert_eq!(scan(refused), None, "{}", String::from_utf8_lossy(refused));
        }
    }

    #[test]
    fn numbers_and_dates() {
        let mut n = [0u8; 20];
        assert_eq!(format_usize(0, &mut n), b"0");
        assert_eq!(format_usize(316, &mut n), b"316");
        assert_eq!(
            format_usize(usize::MAX, &mut n),
            usize::MAX.to_string().as_bytes()
        );
        with_date(|d| assert!(httpdate::parse_http_date(std::str::from_utf8(d).unwrap()).is_ok()));
    }
}
