//! The clients the gatekeeper talks through.
//!
//! - [`Clients`]: reqwest clients for its dependencies (auth-token's verify, ABAC), one per
//!   connect timeout, shared by every worker.
//! - [`Upstreams`]: the proxy's hyper clients, one per connect timeout *per worker thread*. Each
//!   worker runs its own single-threaded runtime, and a pooled connection is driven by the
//!   runtime that opened it, so a worker keeps its own keep-alive pool (as nginx workers do):
//!   no request waits on another thread to move its bytes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use http::Request;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_platform_verifier::BuilderVerifierExt;

use crate::body::ReqBody;

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Pooled reqwest clients for verify and ABAC, one per connect timeout.
#[derive(Default, Clone)]
pub struct Clients(Arc<Mutex<HashMap<u64, reqwest::Client>>>);

impl Clients {
    pub fn get(&self, connect_ms: u64) -> anyhow::Result<reqwest::Client> {
        let mut map = locked(&self.0);
        if let Some(c) = map.get(&connect_ms) {
            return Ok(c.clone());
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(connect_ms))
            .pool_idle_timeout(Duration::from_secs(60))
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

type UpstreamClient = Client<HttpsConnector<HttpConnector>, ReqBody>;

/// One worker's upstream clients. Routes name a connect timeout; the client for it is made on
/// first use and kept for the worker's life, across route reloads.
#[derive(Clone)]
pub struct Upstreams {
    tls: Arc<rustls::ClientConfig>,
    by_connect_ms: Arc<Mutex<HashMap<u64, UpstreamClient>>>,
}

impl Upstreams {
    /// The TLS settings (the platform's trust store) every worker's clients share.
    pub fn new() -> anyhow::Result<Self> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_platform_verifier()
            .context("the platform's certificate verifier")?
            .with_no_client_auth();
        Ok(Self {
            tls: Arc::new(tls),
            by_connect_ms: Arc::default(),
        })
    }

    /// An empty set of clients for one more worker.
    pub fn for_worker(&self) -> Self {
        Self {
            tls: self.tls.clone(),
            by_connect_ms: Arc::default(),
        }
    }

    /// Sends `req` (an absolute URI) over the pooled client for `connect_ms`.
    pub fn request(&self, connect_ms: u64, req: Request<ReqBody>) -> ResponseFuture {
        let mut map = locked(&self.by_connect_ms);
        map.entry(connect_ms)
            .or_insert_with(|| self.client(connect_ms))
            .request(req)
    }

    fn client(&self, connect_ms: u64) -> UpstreamClient {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_millis(connect_ms)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*self.tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(1024)
            .build(https)
    }
}
