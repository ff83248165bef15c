//! The clients the gatekeeper talks through.
//!
//! - [`Clients`]: reqwest clients for its dependencies (auth-token's verify, ABAC), one per
//!   connect timeout, shared by every worker.
//! - [`Upstreams`]: the proxy's keep-alive connections, one pool per worker thread: hyper's
//!   HTTP/1.1 client connections for requests hyper serves, and plain sockets
//!   ([`RawConn`]) for those `h1` serves. Each worker runs its own single-threaded runtime, and a
//!   connection is driven by the runtime that opened it, so a worker keeps its own pool (as
//!   nginx workers do): no request waits on another thread to move its bytes. hyper-util's
//!   pooled client was measured here and spent more per request than the whole proxy hop
//!   needs (a connector clone, a pool key hash and a spawned task to return each connection).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use std::time::Instant;

use anyhow::Context;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls_platform_verifier::BuilderVerifierExt;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsConnector;

use crate::body::ReqBody;
use crate::table::Origin;

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Pooled reqwest clients for verify and ABAC, one per connect timeout.
#[derive(Clone)]
pub struct Clients {
    by_connect_ms: Arc<Mutex<HashMap<u64, reqwest::Client>>>,
    idle_timeout: Duration,
}

impl Clients {
    /// Clients that reuse an idle connection for `idle_timeout` at most.
    pub fn new(idle_timeout: Duration) -> Self {
        Self {
            by_connect_ms: Arc::default(),
            idle_timeout,
        }
    }

    pub fn get(&self, connect_ms: u64) -> anyhow::Result<reqwest::Client> {
        let mut map = locked(&self.by_connect_ms);
        if let Some(c) = map.get(&connect_ms) {
            return Ok(c.clone());
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(connect_ms))
            .pool_idle_timeout(self.idle_timeout)
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .context("building an HTTP client")?;
        map.insert(connect_ms, client.clone());
        Ok(client)
    }
}

/// Idle connections kept per upstream and worker.
const MAX_IDLE: usize = 1024;
/// Requests one worker has in flight to one upstream through hyper's client (each holds a
/// connection of its own, with its buffers): more wait for one to finish. HTTP/2 callers can
/// have hundreds of streams open at once; without a bound each became an upstream connection
/// (about 70 KB each, measured: 620 of them under 64 connections × 10 streams).
const MAX_IN_FLIGHT: usize = 128;

/// Why a request did not get an answer.
pub enum SendError {
    /// No connection within the route's connect timeout.
    ConnectTimeout,
    Connect(std::io::Error),
    Tls(std::io::Error),
    Http(hyper::Error),
    /// Reading or writing a plain connection (`h1`).
    Io(std::io::Error),
    /// An answer that is not HTTP/1.1 as this hop reads it.
    Protocol(&'static str),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::ConnectTimeout => write!(f, "connect timed out"),
            SendError::Connect(e) => write!(f, "connect: {e}"),
            SendError::Tls(e) => write!(f, "TLS: {e}"),
            SendError::Http(e) => write!(f, "{e}"),
            SendError::Io(e) => write!(f, "{e}"),
            SendError::Protocol(what) => write!(f, "{what}"),
        }
    }
}

struct Idle {
    sender: SendRequest<ReqBody>,
    since: Instant,
}

type Pools = HashMap<Arc<str>, Vec<Idle>>;

/// A plain keep-alive connection to an `http://` upstream, with the bytes read from it that no
/// answer has used yet.
pub struct RawConn {
    pub stream: TcpStream,
    pub read: bytes::BytesMut,
}

struct RawIdle {
    conn: RawConn,
    since: Instant,
}

type RawPools = HashMap<Arc<str>, Vec<RawIdle>>;

/// One worker's keep-alive connections to the upstreams, most recently used first. A
/// connection goes back only once its answer's body has been read to the end ([`Lease`]), so
/// one taken from here is free; one the upstream closed is skipped, and a request that never
/// left on a stale connection is sent again on another.
#[derive(Clone)]
pub struct Upstreams {
    tls: TlsConnector,
    idle: Arc<Mutex<Pools>>,
    raw: Arc<Mutex<RawPools>>,
    in_flight: Arc<Mutex<HashMap<Arc<str>, Arc<Semaphore>>>>,
    /// How long an idle connection is reused (`forwarding.upstream_idle_ms`).
    idle_timeout: Duration,
}

impl Upstreams {
    /// The TLS settings (the platform's trust store) every worker's clients share; idle
    /// connections reused for `idle_timeout` at most.
    pub fn new(idle_timeout: Duration) -> anyhow::Result<Self> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_platform_verifier()
            .context("the platform's certificate verifier")?
            .with_no_client_auth();
        Ok(Self {
            tls: TlsConnector::from(Arc::new(tls)),
            idle: Arc::default(),
            raw: Arc::default(),
            in_flight: Arc::default(),
            idle_timeout,
        })
    }

    /// An empty pool for one more worker.
    pub fn for_worker(&self) -> Self {
        Self {
            tls: self.tls.clone(),
            idle: Arc::default(),
            raw: Arc::default(),
            in_flight: Arc::default(),
            idle_timeout: self.idle_timeout,
        }
    }

    /// Sends `req` (origin-form URI, `Host` set) to `origin` over an idle connection or a new
    /// one. The [`Lease`] gives the connection back once the answer's body has been read.
    pub async fn send(
        &self,
        origin: &Origin,
        connect_timeout: Duration,
        mut req: Request<ReqBody>,
    ) -> Result<(Response<Incoming>, Lease), SendError> {
        let turn = self.turn(&origin.key).await?;
        while let Some(mut sender) = self.checkout(&origin.key) {
            if !sender.is_ready() && sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(res) => return Ok((res, self.lease(origin, sender, turn))),
                Err(mut e) => match e.take_message() {
                    // Never written: the connection had closed under us. Try the next one.
                    Some(unsent) => req = unsent,
                    None => return Err(SendError::Http(e.into_error())),
                },
            }
        }
        // Boxed: the connect (and TLS) state would otherwise make every request's future larger.
        let mut sender = Box::pin(self.open(origin, connect_timeout, Upgrades::No)).await?;
        match sender.send_request(req).await {
            Ok(res) => Ok((res, self.lease(origin, sender, turn))),
            Err(e) => Err(SendError::Http(e)),
        }
    }

    /// A place among the requests in flight to `key`'s upstream, waited for when all are
    /// taken (the caller's response timeout bounds the wait).
    async fn turn(&self, key: &Arc<str>) -> Result<OwnedSemaphorePermit, SendError> {
        let slots = locked(&self.in_flight)
            .entry(key.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(MAX_IN_FLIGHT)))
            .clone();
        slots
            .acquire_owned()
            .await
            .map_err(|_| SendError::Protocol("upstream slots closed"))
    }

    /// Sends an upgrade request (`Connection: upgrade`) on a connection of its own, never
    /// pooled: when the upstream switches protocols (101), that connection becomes the tunnel
    /// ([`hyper::upgrade::on`] on the answer yields it).
    pub async fn send_upgrade(
        &self,
        origin: &Origin,
        connect_timeout: Duration,
        req: Request<ReqBody>,
    ) -> Result<Response<Incoming>, SendError> {
        let mut sender = Box::pin(self.open(origin, connect_timeout, Upgrades::Allowed)).await?;
        sender.send_request(req).await.map_err(SendError::Http)
    }

    fn lease(
        &self,
        origin: &Origin,
        sender: SendRequest<ReqBody>,
        turn: OwnedSemaphorePermit,
    ) -> Lease {
        Lease {
            pool: self.idle.clone(),
            key: origin.key.clone(),
            sender: Some(sender),
            turn: Some(turn),
        }
    }

    fn checkout(&self, key: &Arc<str>) -> Option<SendRequest<ReqBody>> {
        let mut pools = locked(&self.idle);
        let idle = pools.get_mut(key)?;
        drop_expired(idle, |i| i.since, Instant::now(), self.idle_timeout);
        while let Some(i) = idle.pop() {
            if !i.sender.is_closed() {
                return Some(i.sender);
            }
        }
        None
    }

    /// An idle plain connection to `key`'s upstream, most recently used first. One with
    /// anything to read (the upstream closed it, or sent what nobody asked for) is dropped:
    /// the socket's readiness, as the runtime last saw it, tells without a system call.
    /// `now` is the request's start (one clock read per request serves all its timing).
    pub fn checkout_raw(&self, key: &Arc<str>, now: Instant) -> Option<RawConn> {
        let mut pools = locked(&self.raw);
        let idle = pools.get_mut(key)?;
        drop_expired(idle, |i| i.since, now, self.idle_timeout);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        while let Some(i) = idle.pop() {
            if i.conn.stream.poll_read_ready(&mut cx).is_pending() {
                return Some(i.conn);
            }
        }
        None
    }

    /// Gives back a plain connection whose last answer was read to its end. `since` is the
    /// start of the request it carried: its idle time counts from there, which errs toward
    /// dropping it early.
    pub fn release_raw(&self, key: &Arc<str>, conn: RawConn, since: Instant) {
        let mut pools = locked(&self.raw);
        let idle = pools.entry(key.clone()).or_default();
        if idle.len() < MAX_IDLE {
            idle.push(RawIdle { conn, since });
        }
    }

    /// A new plain connection to an `http://` upstream.
    pub async fn open_raw(&self, origin: &Origin, timeout: Duration) -> Result<RawConn, SendError> {
        Ok(RawConn {
            stream: connect(origin, timeout).await?,
            read: bytes::BytesMut::with_capacity(16 * 1024),
        })
    }

    async fn open(
        &self,
        origin: &Origin,
        timeout: Duration,
        upgrades: Upgrades,
    ) -> Result<SendRequest<ReqBody>, SendError> {
        let tcp = connect(origin, timeout).await?;
        if origin.scheme == http::uri::Scheme::HTTPS {
            let name = ServerName::try_from(origin.authority.host().to_owned())
                .map_err(|e| SendError::Tls(std::io::Error::other(e)))?;
            let tls = match tokio::time::timeout(timeout, self.tls.connect(name, tcp)).await {
                Err(_) => return Err(SendError::ConnectTimeout),
                Ok(Err(e)) => return Err(SendError::Tls(e)),
                Ok(Ok(tls)) => tls,
            };
            handshake(TokioIo::new(tls), upgrades).await
        } else {
            handshake(TokioIo::new(tcp), upgrades).await
        }
    }
}

/// The oldest idle connections sit at the front: drops those idle too long.
fn drop_expired<T>(
    idle: &mut Vec<T>,
    since: impl Fn(&T) -> Instant,
    now: Instant,
    limit: Duration,
) {
    let expired = idle
        .iter()
        .take_while(|i| now.duration_since(since(i)) > limit)
        .count();
    idle.drain(..expired);
}

/// A TCP connection to the upstream within the route's connect timeout, Nagle off.
async fn connect(origin: &Origin, timeout: Duration) -> Result<TcpStream, SendError> {
    let connect = TcpStream::connect(origin.connect_to.as_str());
    let tcp = match tokio::time::timeout(timeout, connect).await {
        Err(_) => return Err(SendError::ConnectTimeout),
        Ok(Err(e)) => return Err(SendError::Connect(e)),
        Ok(Ok(tcp)) => tcp,
    };
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

#[derive(Clone, Copy, PartialEq)]
enum Upgrades {
    No,
    Allowed,
}

async fn handshake<T>(io: T, upgrades: Upgrades) -> Result<SendRequest<ReqBody>, SendError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(io).await.map_err(SendError::Http)?;
    // The connection ends when the upstream closes it or its last sender is dropped; an
    // upgradeable one also when it switches protocols and hands its socket over.
    let ended = |r: Result<(), hyper::Error>| {
        if let Err(e) = r {
            tracing::debug!(error = %e, "upstream connection ended");
        }
    };
    match upgrades {
        Upgrades::No => tokio::spawn(async move { ended(conn.await) }),
        Upgrades::Allowed => tokio::spawn(async move { ended(conn.with_upgrades().await) }),
    };
    Ok(sender)
}

/// A connection lent to one request: back to the pool once the answer's body has been read to
/// the end; closed if the answer is dropped before that.
pub struct Lease {
    pool: Arc<Mutex<Pools>>,
    key: Arc<str>,
    sender: Option<SendRequest<ReqBody>>,
    /// The request's place among those in flight, freed with the lease.
    turn: Option<OwnedSemaphorePermit>,
}

impl Lease {
    /// For an answer on a connection that is not pooled: releasing it does nothing.
    pub fn detached() -> Self {
        Lease {
            pool: Arc::default(),
            key: Arc::from(""),
            sender: None,
            turn: None,
        }
    }

    pub fn release(&mut self) {
        self.turn = None;
        if let Some(sender) = self.sender.take()
            && !sender.is_closed()
        {
            let mut pools = locked(&self.pool);
            let idle = pools.entry(self.key.clone()).or_default();
            if idle.len() < MAX_IDLE {
                idle.push(Idle {
                    sender,
                    since: Instant::now(),
                });
            }
        }
    }
}
