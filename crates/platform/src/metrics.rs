//! HTTP request metrics: a counter and a latency histogram labelled by route pattern, method
//! and status, served at `/metrics` in the Prometheus text format.
//!
//! Written here rather than taken from actix-web-prom because that middleware re-runs the
//! router twice per request and formats the pattern through a `HashMap` and `strfmt`; on the
//! token-verify path it cost more than the handler. This one matches the route once, after the
//! response, and labels unmatched requests `UNMATCHED` (never the raw path: paths can hold
//! bearer tokens, and raw paths would make the label set unbounded).

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{HttpResponse, web};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// The registry and the two HTTP families; services register their own families on
/// [`HttpMetrics::registry`].
#[derive(Clone)]
pub struct HttpMetrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
}

const LABELS: [&str; 3] = ["endpoint", "method", "status"];

impl HttpMetrics {
    /// `namespace` prefixes every family (`mithril_api_http_requests_total`).
    pub fn new(namespace: &str) -> anyhow::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered").namespace(namespace),
            &LABELS,
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_requests_duration_seconds",
                "Time from the request's head to the response's head",
            )
            .namespace(namespace)
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &LABELS,
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self {
            registry,
            requests,
            duration,
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The text exposition of every registered family.
    pub fn render(&self) -> HttpResponse {
        let mut buf = Vec::with_capacity(8 * 1024);
        let encoder = prometheus::TextEncoder::new();
        match encoder.encode(&self.registry.gather(), &mut buf) {
            Ok(()) => HttpResponse::Ok()
                .content_type(encoder.format_type())
                .body(buf),
            Err(e) => {
                tracing::error!(error = %e, "encoding metrics");
                HttpResponse::InternalServerError().finish()
            }
        }
    }

    fn observe(&self, endpoint: &str, method: &str, status: &str, started: Instant) {
        let labels = [endpoint, method, status];
        self.requests.with_label_values(&labels).inc();
        self.duration
            .with_label_values(&labels)
            .observe(started.elapsed().as_secs_f64());
    }
}

/// Standard methods by name, anything else as `OTHER`: a client must not be able to mint
/// label values.
fn method_label(m: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// `GET /metrics`.
pub fn route(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/metrics",
        web::get().to(|m: web::Data<HttpMetrics>| async move { m.render() }),
    );
}

impl<S, B> Transform<S, ServiceRequest> for HttpMetrics
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = MetricsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(MetricsService {
            service: Rc::new(service),
            metrics: self.clone(),
        }))
    }
}

pub struct MetricsService<S> {
    service: Rc<S>,
    metrics: HttpMetrics,
}

impl<S, B> Service<ServiceRequest> for MetricsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = MetricsFuture<S::Future>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        MetricsFuture {
            inner: self.service.call(req),
            metrics: self.metrics.clone(),
            started: Instant::now(),
        }
    }
}

pin_project_lite::pin_project! {
    pub struct MetricsFuture<F> {
        #[pin]
        inner: F,
        metrics: HttpMetrics,
        started: Instant,
    }
}

impl<F, B> Future for MetricsFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let out = std::task::ready!(this.inner.poll(cx));
        let (req, status) = match &out {
            Ok(res) => (res.request(), res.status()),
            // An error that escaped the inner services: the request context renders it later.
            Err(e) => {
                this.metrics.observe(
                    "UNMATCHED",
                    "UNKNOWN",
                    e.as_response_error().status_code().as_str(),
                    *this.started,
                );
                return Poll::Ready(out);
            }
        };
        let pattern = req.match_pattern();
        this.metrics.observe(
            pattern.as_deref().unwrap_or("UNMATCHED"),
            method_label(req.method()),
            status.as_str(),
            *this.started,
        );
        Poll::Ready(out)
    }
}
