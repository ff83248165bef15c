//! The proxy port's server: HTTP/1.1 (the gatekeeper's own [`crate::h1`] for ordinary requests,
//! hyper for the rest) and hyper's HTTP/2 (prior knowledge, told apart by the connection
//! preface) on worker threads, each with its own
//! single-threaded runtime accepting from the shared listener (actix's model, without its
//! per-request layers). With `tls.cert_file`/`tls.key_file` set, connections are TLS
//! ([`crate::tls`]) and ALPN chooses HTTP/2 or HTTP/1.1. HTTP/1.1 connections may be upgraded (WebSocket): see
//! [`crate::proxy`]. Stopping stops accepting and lets open requests finish for up to the
//! shutdown timeout; upgraded connections (tunnels) end with their worker.

use std::convert::Infallible;
use std::net::TcpListener;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_rustls::TlsAcceptor;

use crate::body::ResBody;
use crate::connections::{ByClient, ByWorker, Slot};
use crate::h1;
use crate::state::Gate;
use crate::upstream::Upstreams;

/// A slow client gets this long to send its request head (slowloris).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Concurrent requests on one HTTP/2 connection.
const MAX_STREAMS: u32 = 256;

/// The running workers: stop them with [`ProxyServer::stop`], then await [`ProxyServer::stopped`].
pub struct ProxyServer {
    stop: watch::Sender<bool>,
    done: Vec<oneshot::Receiver<()>>,
}

impl ProxyServer {
    /// Starts `workers` threads serving `listener`.
    pub fn start(
        listener: TcpListener,
        workers: usize,
        gate: Arc<Gate>,
        upstreams: &Upstreams,
        tls: Option<TlsAcceptor>,
        grace: Duration,
    ) -> anyhow::Result<Self> {
        listener
            .set_nonblocking(true)
            .context("setting the proxy listener non-blocking")?;
        let (stop, stopping) = watch::channel(false);
        let by_client = ByClient::new(gate.settings.limits.connections_per_client);
        let mut done = Vec::with_capacity(workers);
        for i in 0..workers.max(1) {
            let listener = listener.try_clone().context("sharing the proxy listener")?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("building a proxy worker's runtime")?;
            let (finished, finished_rx) = oneshot::channel();
            let worker = Worker {
                gate: gate.clone(),
                upstreams: upstreams.for_worker(),
                tls: tls.clone(),
                stopping: stopping.clone(),
                grace,
                by_client: by_client.clone(),
            };
            std::thread::Builder::new()
                .name(format!("proxy-{i}"))
                .spawn(move || {
                    runtime.block_on(worker.run(listener));
                    let _ = finished.send(());
                })
                .context("starting a proxy worker")?;
            done.push(finished_rx);
        }
        Ok(Self { stop, done })
    }

    /// Stops accepting; open requests get the grace period.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Resolves when every worker has finished.
    pub async fn stopped(self) {
        for worker in self.done {
            let _ = worker.await;
        }
    }
}

struct Worker {
    gate: Arc<Gate>,
    upstreams: Upstreams,
    tls: Option<TlsAcceptor>,
    stopping: watch::Receiver<bool>,
    grace: Duration,
    by_client: Arc<ByClient>,
}

impl Worker {
    async fn run(self, listener: TcpListener) {
        let Worker {
            gate,
            upstreams,
            tls,
            mut stopping,
            grace,
            by_client,
        } = self;
        let by_worker = Arc::new(ByWorker::default());
        let cap = gate.settings.limits.connections_per_worker;
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "proxy worker cannot listen");
                return;
            }
        };
        // Every connection holds a clone of `open`; once all are dropped, `closed` ends.
        let (open, mut closed) = mpsc::channel::<()>(1);
        // The worker's own signal to its connections: each connection polls it whenever it
        // wakes, so it must not be shared with (and contended by) the other workers.
        let (tell_connections, told_to_stop) = watch::channel(false);
        let protocols = Protocols::new();
        loop {
            tokio::select! {
                biased;
                _ = stopping.wait_for(|stop| *stop) => break,
                () = by_worker.room(cap) => {}
            }
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, addr)) => {
                        let peer = crate::plan::Peer::new(addr, &gate.trusted_proxies, tls.is_some());
                        let Some(slot) = by_worker.admit(&by_client, addr.ip(), !peer.trusted) else {
                            // Its address holds its share of connections already.
                            gate.metrics.connection_refused("per_client");
                            continue;
                        };
                        let _ = stream.set_nodelay(true);
                        // One shared value per connection: a request costs one reference count.
                        let conn = Arc::new(h1::Conn {
                            peer,
                            gate: gate.clone(),
                            upstreams: upstreams.clone(),
                        });
                        let drain = Drain {
                            stopping: told_to_stop.clone(),
                            _open: open.clone(),
                            _slot: slot,
                        };
                        match &tls {
                            None => tokio::spawn(protocols.clone().serve(stream, conn, drain)),
                            Some(tls) => tokio::spawn(
                                protocols.clone().serve_tls(tls.clone(), stream, conn, drain),
                            ),
                        };
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accepting a proxy connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = stopping.wait_for(|stop| *stop) => break,
            }
        }
        drop(listener);
        let _ = tell_connections.send(true);
        drop(open);
        if tokio::time::timeout(grace, closed.recv()).await.is_err() {
            tracing::warn!("proxy connections still open after the shutdown timeout");
        }
    }
}

/// HTTP/1.1, or HTTP/2 with prior knowledge, told apart by the first bytes: each served by its
/// own hyper connection, so HTTP/1.1 connections are read directly rather than through
/// hyper-util's auto-detecting wrapper, which stays as the fallback for a preface split across
/// reads.
#[derive(Clone)]
struct Protocols {
    h1: http1::Builder,
    h2: http2::Builder<TokioExecutor>,
    auto: auto::Builder<TokioExecutor>,
}

/// The proxy handler as hyper serves it (each connection gets its own, see [`service`]).
trait ProxyService:
    hyper::service::Service<Req, Response = Res, Error = Infallible, Future: Send + 'static>
    + Send
    + 'static
{
}
impl<
    T: hyper::service::Service<Req, Response = Res, Error = Infallible, Future: Send + 'static>
        + Send
        + 'static,
> ProxyService for T
{
}
type Req = http::Request<hyper::body::Incoming>;
type Res = http::Response<ResBody>;

/// The HTTP/2 connection preface starts so; no HTTP/1 method does.
const H2_PREFACE: &[u8; 4] = b"PRI ";

impl Protocols {
    fn new() -> Self {
        let mut h1 = http1::Builder::new();
        h1.timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .keep_alive(true);
        let mut h2 = http2::Builder::new(TokioExecutor::new());
        h2.timer(TokioTimer::new())
            .max_concurrent_streams(MAX_STREAMS);
        let mut auto = auto::Builder::new(TokioExecutor::new());
        auto.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .keep_alive(true);
        auto.http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(MAX_STREAMS);
        Self { h1, h2, auto }
    }

    /// A plain connection: HTTP/2 by its preface, else HTTP/1.1, read by [`h1`] until a
    /// request needs hyper.
    async fn serve(self, stream: TcpStream, conn: Arc<h1::Conn>, drain: Drain) {
        let mut first = [0u8; 4];
        let peeked = tokio::time::timeout(HEADER_READ_TIMEOUT, stream.peek(&mut first)).await;
        match peeked {
            Ok(Ok(n)) if n >= 4 && &first == H2_PREFACE => {
                self.serve_io(TokioIo::new(stream), true, service(conn), drain)
                    .await
            }
            // Fewer bytes that could still be the preface: let hyper-util read on and decide.
            Ok(Ok(n)) if n > 0 && first[..n] == H2_PREFACE[..n] => {
                let io = TokioIo::new(stream);
                let conn = self.auto.serve_connection_with_upgrades(io, service(conn));
                drain.serve(conn, |c| c.graceful_shutdown()).await;
            }
            Ok(Ok(n)) if n > 0 => self.serve_h1(stream, conn, drain).await,
            // Closed, failed or silent: nothing to serve.
            _ => {}
        }
    }

    /// HTTP/1.1, plain or over TLS: read by [`h1`] until a request needs hyper (or by hyper
    /// from the start when the own path is switched off).
    async fn serve_h1<I>(self, stream: I, conn: Arc<h1::Conn>, mut drain: Drain)
    where
        I: h1::CallerIo + 'static,
    {
        if !conn.gate.settings.forwarding.own_http1 {
            return self
                .serve_io(TokioIo::new(stream), false, service(conn), drain)
                .await;
        }
        let stopping = &mut drain.stopping;
        let timeouts = h1::Timeouts {
            head: HEADER_READ_TIMEOUT,
            idle: conn.gate.settings.server.keep_alive(),
        };
        if let Some(handoff) = h1::serve(&conn, stream, stopping, timeouts).await {
            let io = TokioIo::new(Rewind::new(handoff.read, handoff.stream));
            self.serve_io(io, false, service(conn), drain).await
        }
    }

    /// A TLS connection: the handshake (within the head-read limit), then HTTP/2 when the
    /// client chose it by ALPN, else HTTP/1.1.
    async fn serve_tls(
        self,
        tls: TlsAcceptor,
        stream: TcpStream,
        conn: Arc<h1::Conn>,
        drain: Drain,
    ) {
        let stream = match tokio::time::timeout(HEADER_READ_TIMEOUT, tls.accept(stream)).await {
            Ok(Ok(stream)) => stream,
            // A failed or stalled handshake concerns only that connection.
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => return,
        };
        if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
            self.serve_io(TokioIo::new(stream), true, service(conn), drain)
                .await
        } else {
            self.serve_h1(stream, conn, drain).await
        }
    }

    /// HTTP/2 or HTTP/1.1 (upgradeable) on a connection whose protocol is known.
    async fn serve_io<I, S>(self, io: TokioIo<I>, h2: bool, svc: S, drain: Drain)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
        S: ProxyService,
    {
        if h2 {
            let conn = self.h2.serve_connection(io, svc);
            drain.serve(conn, |c| c.graceful_shutdown()).await;
        } else {
            let conn = self.h1.serve_connection(io, svc).with_upgrades();
            drain.serve(conn, |c| c.graceful_shutdown()).await;
        }
    }
}

/// A connection's part in stopping: when the worker stops, the connection is asked to finish
/// the requests it has begun and close; the worker waits until every `Drain` is dropped.
struct Drain {
    stopping: watch::Receiver<bool>,
    _open: mpsc::Sender<()>,
    /// Its place under the connection caps.
    _slot: Slot,
}

impl Drain {
    /// Runs `conn` to its end (its result concerns only that connection, so it is dropped).
    async fn serve<C: Future>(mut self, conn: C, close: impl FnOnce(Pin<&mut C>)) {
        let mut conn = std::pin::pin!(conn);
        tokio::select! {
            biased;
            _ = conn.as_mut() => return,
            _ = self.stopping.wait_for(|stop| *stop) => close(conn.as_mut()),
        }
        let _ = conn.await;
    }
}

/// One connection's service: the proxy handler with the worker's gate and clients.
fn service(
    conn: Arc<h1::Conn>,
) -> impl hyper::service::Service<
    http::Request<hyper::body::Incoming>,
    Response = http::Response<ResBody>,
    Error = Infallible,
    Future = impl Future<Output = Result<http::Response<ResBody>, Infallible>> + Send,
> {
    service_fn(move |req| {
        let conn = conn.clone();
        async move {
            let h1::Conn {
                gate,
                upstreams,
                peer,
            } = &*conn;
            Ok(crate::proxy::handle(gate, upstreams, peer, req).await)
        }
    })
}

/// A connection whose first bytes were already read: they are read again first.
struct Rewind<I> {
    read: bytes::BytesMut,
    inner: I,
}

impl<I> Rewind<I> {
    fn new(read: bytes::BytesMut, inner: I) -> Self {
        Self { read, inner }
    }
}

impl<I: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Rewind<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.read.is_empty() {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        let n = self.read.len().min(buf.remaining());
        buf.put_slice(&self.read.split_to(n));
        std::task::Poll::Ready(Ok(()))
    }
}

impl<I: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Rewind<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
