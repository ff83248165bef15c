//! The pieces every service's `App` shares, in one place: middleware order, error rendering
//! of actix's own failures, ops routes, metrics, schemas and body limit.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpMessage, HttpServer, web};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder, TracingLogger};

use crate::admin::{AdminGuard, require_credentials};
use crate::cli::ServiceCommand;
use crate::json::BodyLimit;
use crate::metrics::{self, HttpMetrics};
use crate::ops::{self, OpsState};
use crate::request_context::{RequestMeta, request_context};
use crate::settings::ServerSettings;
use crate::{ApiError, Schemas};
use ehealth_core::identity_signature::SignatureVerifier;

/// Built once per process and cloned into every worker.
#[derive(Clone)]
pub struct Common {
    pub ops: OpsState,
    pub metrics: HttpMetrics,
    pub schemas: Schemas,
    pub body_limit: BodyLimit,
    /// Who may call which path (operator and service credentials).
    pub admin: AdminGuard,
    /// The keys identity headers must be signed with (none: believed unsigned).
    pub identity: SignatureVerifier,
}

impl Common {
    pub fn new(
        service: &str,
        ops: OpsState,
        schemas: Schemas,
        body_limit: usize,
    ) -> anyhow::Result<Self> {
        let namespace = service.replace('-', "_");
        let metrics = HttpMetrics::new(&namespace)?;
        Ok(Self {
            ops,
            metrics,
            schemas,
            body_limit: BodyLimit(body_limit),
            admin: AdminGuard::open(),
            identity: SignatureVerifier::new(Vec::new(), 0),
        })
    }

    /// Who may call which path.
    pub fn with_admin(mut self, admin: AdminGuard) -> Self {
        self.admin = admin;
        self
    }

    /// The keys identity headers must be signed with.
    pub fn with_identity(mut self, identity: SignatureVerifier) -> Self {
        self.identity = identity;
        self
    }
}

/// The root span of a request. It carries our request id, and the route *pattern* but never the
/// raw path or query: paths like `/admin/tokens/{token}/verify` hold bearer credentials, which
/// must not reach logs or traces.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestMeta>()
            .map(|m| m.request_id.clone())
            .unwrap_or_default();
        let method = request.method().as_str();
        let span = tracing::info_span!(
            "HTTP request",
            http.method = %method,
            http.route = tracing::field::Empty,
            http.status_code = tracing::field::Empty,
            otel.name = tracing::field::Empty,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            trace_id = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        );
        // Matching the route pattern costs a regex pass, and the trace parent a header
        // extraction: only when the span is recorded.
        if !span.is_disabled() {
            let route = request
                .match_pattern()
                .unwrap_or_else(|| "UNMATCHED".to_owned());
            span.record("http.route", route.as_str());
            span.record("otel.name", format!("{method} {route}").as_str());
            tracing_actix_web::root_span_macro::private::set_otel_parent(request, &span);
        }
        span
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// An `App` with the shared middleware, data and ops routes; `configure` adds the service's routes.
pub fn app(
    common: Common,
    configure: impl FnOnce(&mut web::ServiceConfig),
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(common.ops))
        .app_data(common.schemas)
        .app_data(common.body_limit)
        .app_data(common.admin)
        .app_data(common.identity)
        .app_data(web::Data::new(common.metrics.clone()))
        .app_data(crate::path::path_config())
        .configure(ops::routes)
        .configure(metrics::route)
        .configure(configure)
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::not_found())
        }))
        .wrap(from_fn(require_credentials))
        .wrap(common.metrics)
        .wrap(TracingLogger::<RequestSpan>::new())
        .wrap(from_fn(request_context))
}

/// Binds the server to an already-bound listener (port 0 in tests). Signals are the caller's
/// ([`Running::run_until_stopped`]): stopped through its handle, it stops accepting, lets
/// in-flight requests finish for up to `shutdown_timeout_secs`, then returns.
pub fn serve<F, I, S, B>(
    listener: TcpListener,
    s: &ServerSettings,
    factory: F,
) -> anyhow::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: ServiceFactory<actix_http::Request, Config = actix_web::dev::AppConfig> + 'static,
    S::Error: Into<actix_web::Error>,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_http::Response<B>>,
    B: MessageBody + 'static,
{
    let mut server = HttpServer::new(factory)
        .shutdown_timeout(s.shutdown_timeout_secs)
        .disable_signals()
        .keep_alive(s.keep_alive())
        .client_request_timeout(Duration::from_secs(10));
    server = server.workers(worker_count(s));
    Ok(server.listen(listener)?.run())
}

/// Binds `host:port` (port 0 picks a free one).
pub fn bind(s: &ServerSettings) -> anyhow::Result<TcpListener> {
    let addr = format!("{}:{}", s.host, s.port);
    TcpListener::bind(&addr).map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))
}

/// What a database-backed service needs before it can serve: migrations applied, a pool, the
/// shared app pieces and a bound listener.
pub struct Prepared {
    /// The process pool (readiness, background jobs).
    pub pool: crate::db::DbPool,
    /// Pools for the HTTP workers: call `per_worker()` in the app factory.
    pub pools: crate::db::PoolFactory,
    pub common: Common,
    pub listener: TcpListener,
    pub port: u16,
}

/// The settings every database-backed service shares, besides its own.
pub struct ServiceBasics<'a> {
    pub server: &'a ServerSettings,
    pub database: &'a crate::settings::DatabaseSettings,
    pub identity: &'a crate::settings::IdentitySettings,
}

/// Applies `migrations` (under the advisory lock), builds the pool and the shared pieces, binds.
/// `access` says who may call which path; services without service tokens use
/// [`AdminGuard::for_admin_paths`].
pub async fn prepare(
    service: &str,
    basics: ServiceBasics<'_>,
    access: AdminGuard,
    migrations: diesel_migrations::EmbeddedMigrations,
    lock_key: i64,
    openapi: serde_json::Value,
    schemas: Schemas,
) -> anyhow::Result<Prepared> {
    use secrecy::ExposeSecret;
    let ServiceBasics {
        server,
        database,
        identity,
    } = basics;
    let expected = crate::db::latest_migration(&migrations)?;
    crate::db::run_migrations(
        database.url.expose_secret(),
        migrations,
        lock_key,
        database.connect_timeout(),
    )
    .await?;
    let pools = crate::db::PoolFactory::new(database, worker_count(server))?;
    let pool = pools.process();
    let ops = OpsState::new(Some((pool.clone(), expected)), openapi)?;
    let common = Common::new(service, ops, schemas, server.body_limit)?
        .with_admin(access)
        .with_identity(identity.verifier()?);
    let listener = bind(server)?;
    let port = listener.local_addr()?.port();
    Ok(Prepared {
        pool,
        pools,
        common,
        listener,
        port,
    })
}

/// A database-backed service's running HTTP server and its process pool.
pub struct Running {
    pub port: u16,
    pub server: Server,
    /// The process pool (readiness, background jobs, tests).
    pub pool: crate::db::DbPool,
    draining: crate::shutdown::Draining,
    drain: Duration,
}

impl Running {
    /// Runs until SIGTERM/SIGINT, then drains and stops ([`crate::shutdown`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(crate::shutdown::signal()).await
    }

    /// Runs until `stop` resolves, then drains and stops.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> std::io::Result<()> {
        let handle = self.server.handle();
        let (draining, drain) = (self.draining, self.drain);
        let stopping = async move {
            stop.await;
            draining.drain(drain).await;
            handle.stop(true).await;
            std::future::pending::<()>().await
        };
        tokio::select! {
            served = self.server => served,
            () = stopping => Ok(()),
        }
    }
}

impl Prepared {
    /// Serves the shared app with the service's routes: each worker builds its state around its
    /// own pool (connections are opened and driven on the worker's thread).
    pub fn serve_routes<S, F, C>(
        self,
        settings: &ServerSettings,
        state: F,
        configure: C,
    ) -> anyhow::Result<Running>
    where
        S: 'static,
        F: Fn(crate::db::DbPool, crate::db::Reads) -> S + Clone + Send + 'static,
        C: Fn(&mut web::ServiceConfig, S) + Clone + Send + 'static,
    {
        let common = self.common;
        let draining = common.ops.draining().clone();
        let pools = self.pools;
        let server = serve(self.listener, settings, move || {
            let pool = pools.per_worker();
            let reads = pools.reads(pool.clone());
            let worker_state = state(pool, reads);
            let configure = configure.clone();
            app(common.clone(), move |cfg| configure(cfg, worker_state))
        })?;
        Ok(Running {
            port: self.port,
            server,
            pool: self.pool,
            draining,
            drain: settings.drain(),
        })
    }
}

/// The HTTP workers `serve` starts: the configured number, or one per available core.
pub fn worker_count(s: &ServerSettings) -> usize {
    if s.workers > 0 {
        s.workers
    } else {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    }
}

/// The common `main` of a database-backed service: installs telemetry, then applies migrations
/// (`migrate`), runs `serve` until SIGTERM/SIGINT, or probes the running service
/// (`healthcheck`).
pub struct ServiceMain {
    pub name: &'static str,
    pub server: ServerSettings,
    pub telemetry: crate::settings::TelemetrySettings,
    pub database: crate::settings::DatabaseSettings,
    pub migrations: diesel_migrations::EmbeddedMigrations,
    pub lock_key: i64,
}

impl ServiceMain {
    pub async fn run<F, Fut>(self, command: Option<ServiceCommand>, serve: F) -> anyhow::Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        use secrecy::ExposeSecret;
        let command = command.unwrap_or(ServiceCommand::Serve);
        if command == ServiceCommand::Healthcheck {
            return crate::cli::probe(&self.server.host, self.server.port, "/ready");
        }
        let _telemetry = crate::telemetry::init(self.name, &self.telemetry)?;
        let db = &self.database;
        match command {
            ServiceCommand::Migrate => {
                crate::db::run_migrations(
                    db.url.expose_secret(),
                    self.migrations,
                    self.lock_key,
                    db.connect_timeout(),
                )
                .await
            }
            ServiceCommand::Serve => {
                serve().await?;
                tracing::info!(service = self.name, "stopped");
                Ok(())
            }
            ServiceCommand::Healthcheck => Ok(()),
        }
    }
}
