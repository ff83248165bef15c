//! The proxy port's server: hyper's HTTP/1.1 on worker threads, each with its own
//! single-threaded runtime accepting from the shared listener (actix's model, without its
//! per-request layers). Stopping stops accepting and lets open requests finish for up to the
//! shutdown timeout.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::{oneshot, watch};

use crate::body::ResBody;
use crate::startup::Gate;
use crate::upstream::Upstreams;

/// A slow client gets this long to send its request head (slowloris).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

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
        grace: Duration,
    ) -> anyhow::Result<Self> {
        listener
            .set_nonblocking(true)
            .context("setting the proxy listener non-blocking")?;
        let (stop, stopping) = watch::channel(false);
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
                stopping: stopping.clone(),
                grace,
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
    stopping: watch::Receiver<bool>,
    grace: Duration,
}

impl Worker {
    async fn run(self, listener: TcpListener) {
        let Worker {
            gate,
            upstreams,
            mut stopping,
            grace,
        } = self;
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "proxy worker cannot listen");
                return;
            }
        };
        let graceful = GracefulShutdown::new();
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .keep_alive(true);
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let conn = http.serve_connection(TokioIo::new(stream), service(gate.clone(), upstreams.clone(), peer));
                        let conn = graceful.watch(conn);
                        tokio::spawn(async move {
                            // A connection's end (the client left, a malformed request, a
                            // timeout) concerns only that connection.
                            let _ = conn.await;
                        });
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
        if tokio::time::timeout(grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("proxy connections still open after the shutdown timeout");
        }
    }
}

/// One connection's service: the proxy handler with the worker's gate and clients.
fn service(
    gate: Arc<Gate>,
    upstreams: Upstreams,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    http::Request<hyper::body::Incoming>,
    Response = http::Response<ResBody>,
    Error = Infallible,
    Future = impl Future<Output = Result<http::Response<ResBody>, Infallible>> + Send,
> {
    // One shared value per connection: a request costs one reference count.
    let conn = Arc::new((gate, upstreams, crate::proxy::Peer::new(peer)));
    service_fn(move |req| {
        let conn = conn.clone();
        async move {
            let (gate, upstreams, peer) = &*conn;
            Ok(crate::proxy::handle(gate, upstreams, peer, req).await)
        }
    })
}
