use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::web;
use arc_swap::ArcSwap;
use platform::Schemas;
use platform::admin::{AdminGuard, Credentials};
use platform::ops::OpsState;
use platform::server::{Common, app, bind, serve};
use secrecy::ExposeSecret;

use crate::Settings;
use crate::forwarded::TrustedProxies;
use crate::metrics::GateMetrics;
use crate::ratelimit::Limiter;
use crate::reload::Reloader;
use crate::server::ProxyServer;
use crate::state::Gate;
use crate::table::LoadContext;
use crate::tls::Certificates;
use crate::upstream::{Clients, Upstreams};
use crate::verify::Verifier;

pub struct Application {
    port: u16,
    ops_port: u16,
    proxy: ProxyServer,
    ops: Server,
    gate: web::Data<Gate>,
    certificates: Option<Arc<Certificates>>,
    background: Vec<tokio::task::JoinHandle<()>>,
    revocations: Option<tokio::sync::watch::Receiver<bool>>,
}

pub(crate) fn schemas() -> anyhow::Result<Schemas> {
    platform::schemas!("gatekeeper_purge", "gatekeeper_explain")
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let clients = Clients::new(settings.forwarding.upstream_idle());
        let ctx = LoadContext {
            default_body_limit: settings.server.body_limit as u64,
        };
        let (reloader, table) = Reloader::load(&settings.routes.file, ctx)?;
        let reloader = Arc::new(reloader);
        let table = Arc::new(ArcSwap::from_pointee(table));

        let schemas = schemas()?;
        let ops_state = OpsState::new(None, crate::openapi::document(&schemas)?)?;
        let common =
            Common::new("gatekeeper", ops_state, schemas, 16 * 1024)?.with_admin(AdminGuard::new(
                Credentials::from_settings(&settings.admin)?,
                Credentials::default(),
                crate::ops::access,
            ));
        let metrics = GateMetrics::new(common.metrics.registry())?;
        let limiter = Limiter::new(
            settings
                .rate_limit
                .redis_url
                .as_ref()
                .map(|u| u.expose_secret()),
            Duration::from_millis(settings.rate_limit.redis_timeout_ms),
            Duration::from_secs(settings.rate_limit.redis_retry_secs),
        )?;
        let http = clients.get(settings.abac.timeout_ms)?;
        let listener_settings = settings.revocations.listener();
        if listener_settings.is_none() {
            tracing::warn!(
                "revocation events are not configured (revocations.url): a revoked token is \
                 served until its verify answer leaves the cache (verify.cache_ttl_secs)"
            );
        }
        let verifier = Arc::new(Verifier::new(
            &settings.verify,
            settings.limits.verify_misses_per_client,
            clients.get(settings.verify.timeout_ms)?,
            metrics.clone(),
            listener_settings.is_some(),
        )?);
        let gate = Arc::new(Gate {
            verifier: verifier.clone(),
            settings: settings.clone(),
            table: table.clone(),
            reloader: reloader.clone(),
            limiter,
            http,
            metrics,
            trusted_proxies: TrustedProxies::parse(&settings.forwarding.trusted_proxies)?,
            signer: settings.identity.signing_keys()?.into_iter().next(),
            public_docs: Default::default(),
            draining: common.ops.draining().clone(),
        });

        let certificates = Certificates::load(&settings.tls)?;
        let acceptor = certificates.as_ref().map(|c| c.acceptor()).transpose()?;
        let listener = bind(&settings.server)?;
        let port = listener.local_addr()?.port();
        let proxy = ProxyServer::start(
            listener,
            platform::server::worker_count(&settings.server),
            gate.clone(),
            &Upstreams::new(settings.forwarding.upstream_idle())?,
            acceptor,
            Duration::from_secs(settings.server.shutdown_timeout_secs),
        )?;
        let gate = web::Data::from(gate);

        let ops_server = platform::settings::ServerSettings {
            host: settings.ops.host.clone(),
            port: settings.ops.port,
            workers: 1,
            body_limit: 16 * 1024,
            shutdown_timeout_secs: settings.server.shutdown_timeout_secs,
            // The ops port drains with the proxy port (its /ready says so), not on its own.
            drain_secs: 0,
            // As the services': a stop waits for idle connections (a scraper's) too.
            keep_alive_secs: 5,
        };
        let ops_listener = bind(&ops_server)?;
        let ops_port = ops_listener.local_addr()?.port();
        let ops_gate = gate.clone();
        let ops = serve(ops_listener, &ops_server, move || {
            let g = ops_gate.clone();
            app(common.clone(), move |cfg| {
                cfg.app_data(g).configure(crate::ops::routes);
            })
        })?;

        let interval = Duration::from_millis(settings.routes.watch_interval_ms);
        let sweep_gate = gate.clone();
        let mut background = vec![
            tokio::spawn(reloader.watch(table, interval)),
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    sweep_gate.limiter.local().sweep();
                    sweep_gate.verifier.sweep();
                }
            }),
        ];
        if let Some(c) = &certificates {
            background.push(tokio::spawn(c.clone().watch(interval)));
        }
        let revocations = listener_settings.map(|listener| {
            let (subscribed, status) = tokio::sync::watch::channel(false);
            background.push(tokio::spawn(crate::revocations::listen(
                listener,
                verifier,
                gate.metrics.clone(),
                subscribed,
            )));
            status
        });
        Ok(Self {
            port,
            ops_port,
            proxy,
            ops,
            gate,
            certificates,
            background,
            revocations,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn ops_port(&self) -> u16 {
        self.ops_port
    }

    /// The TLS certificate's reload status (generation 1 at start-up, +1 per reload), as it
    /// changes; `None` without TLS.
    pub fn tls_status(&self) -> Option<tokio::sync::watch::Receiver<crate::reload::ReloadStatus>> {
        self.certificates.as_ref().map(|c| c.subscribe())
    }

    /// Whether revocation events arrive (the verify cache is used only then), as it changes;
    /// `None` without `revocations.url`.
    pub fn revocations_subscribed(&self) -> Option<tokio::sync::watch::Receiver<bool>> {
        self.revocations.clone()
    }

    /// The route table's reload status, as it changes.
    pub fn reload_status(&self) -> tokio::sync::watch::Receiver<crate::reload::ReloadStatus> {
        self.gate.reloader.subscribe()
    }

    /// Serves both ports until SIGTERM/SIGINT; see [`Self::run_until`].
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(platform::shutdown::signal()).await
    }

    /// Serves both ports until `stop` resolves; then both drain (`server.drain_secs`: /ready
    /// answers 503, HTTP/1.1 answers close their connections; [`platform::shutdown`]), the proxy
    /// port stops accepting and lets open requests finish (up to the shutdown timeout), and the
    /// ops port stops.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> std::io::Result<()> {
        let Self {
            proxy,
            ops,
            background,
            gate,
            ..
        } = self;
        let ops_handle = ops.handle();
        let ops = tokio::spawn(ops);
        stop.await;
        gate.draining.drain(gate.settings.server.drain()).await;
        proxy.stop();
        proxy.stopped().await;
        ops_handle.stop(true).await;
        for task in background {
            task.abort();
        }
        match ops.await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}
