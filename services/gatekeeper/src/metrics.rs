//! The gatekeeper's own families, registered beside the ops port's HTTP metrics.

use std::time::Duration;

use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

#[derive(Clone)]
pub struct GateMetrics {
    requests: IntCounterVec,
    verify: HistogramVec,
    cache: IntCounterVec,
    /// `cache{result="hit"}`, looked up once: it is counted on most requests.
    cache_hit: IntCounter,
    rate_limited: IntCounterVec,
    upstream_errors: IntCounterVec,
    abac: HistogramVec,
    revocations: IntCounterVec,
    connections_refused: IntCounterVec,
    /// 1 while the revocation listener is subscribed (the verify cache is in use), else 0.
    revocations_subscribed: IntGauge,
}

impl GateMetrics {
    pub fn new(registry: &Registry) -> anyhow::Result<Self> {
        let counter = |name: &str, help: &str, labels: &[&str]| -> anyhow::Result<IntCounterVec> {
            let c = IntCounterVec::new(Opts::new(name, help).namespace("gatekeeper"), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| -> anyhow::Result<HistogramVec> {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help)
                    .namespace("gatekeeper")
                    .buckets(vec![
                        0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                        1.0, 2.5,
                    ]),
                labels,
            )?;
            registry.register(Box::new(h.clone()))?;
            Ok(h)
        };
        let cache = counter(
            "verify_cache_total",
            "Verify cache lookups by result",
            &["result"],
        )?;
        let subscribed = IntGauge::with_opts(
            Opts::new(
                "revocation_listener_up",
                "1 while revocation events are received (the verify cache is used only then)",
            )
            .namespace("gatekeeper"),
        )?;
        registry.register(Box::new(subscribed.clone()))?;
        Ok(Self {
            revocations: counter(
                "revocation_events_total",
                "Revocation events received, by what they name",
                &["kind"],
            )?,
            revocations_subscribed: subscribed,
            connections_refused: counter(
                "connections_refused_total",
                "Proxy connections closed as accepted, by the cap they met",
                &["cap"],
            )?,
            cache_hit: cache.with_label_values(&["hit"]),
            cache,
            requests: counter(
                "requests_total",
                "Proxied requests by route, status and decision",
                &["route", "status", "decision"],
            )?,
            verify: histogram(
                "verify_duration_seconds",
                "Calls to auth-token's verify, by outcome",
                &["outcome"],
            )?,
            rate_limited: counter(
                "rate_limited_total",
                "Requests refused with 429, by route and limiter backend",
                &["route", "backend"],
            )?,
            upstream_errors: counter(
                "upstream_errors_total",
                "Upstream failures by route and kind",
                &["route", "kind"],
            )?,
            abac: histogram(
                "abac_duration_seconds",
                "Calls to ABAC, by outcome",
                &["outcome"],
            )?,
        })
    }

    pub fn request(&self, route: &str, status: u16, decision: &str) {
        self.request_counter(route, status, decision).inc();
    }
    fn request_counter(&self, route: &str, status: u16, decision: &str) -> IntCounter {
        let mut buf = [0u8; 3];
        self.requests
            .with_label_values(&[route, status_label(status, &mut buf), decision])
    }
    /// [`Self::request`], through the counter a connection used last: a connection mostly
    /// repeats one route and status, and the labelled lookup (three labels hashed) is skipped.
    pub fn request_on(
        &self,
        last: &mut LastCounter,
        route: &str,
        status: u16,
        decision: &'static str,
    ) {
        if let Some((r, s, d, counter)) = &last.0
            && *s == status
            && *d == decision
            && r == route
        {
            counter.inc();
            return;
        }
        let counter = self.request_counter(route, status, decision);
        counter.inc();
        last.0 = Some((route.to_owned(), status, decision, counter));
    }
    pub fn verify_latency(&self, outcome: &str, d: Duration) {
        self.verify
            .with_label_values(&[outcome])
            .observe(d.as_secs_f64());
    }
    pub fn abac_latency(&self, outcome: &str, d: Duration) {
        self.abac
            .with_label_values(&[outcome])
            .observe(d.as_secs_f64());
    }
    pub fn cache(&self, result: &str) {
        match result {
            "hit" => self.cache_hit.inc(),
            _ => self.cache.with_label_values(&[result]).inc(),
        }
    }
    pub fn revocation(&self, kind: &str) {
        self.revocations.with_label_values(&[kind]).inc();
    }
    pub fn revocations_subscribed(&self, up: bool) {
        self.revocations_subscribed.set(i64::from(up));
    }
    pub fn connection_refused(&self, cap: &str) {
        self.connections_refused.with_label_values(&[cap]).inc();
    }
    pub fn rate_limited(&self, route: &str, backend: &str) {
        self.rate_limited.with_label_values(&[route, backend]).inc();
    }
    pub fn upstream_error(&self, route: &str, kind: &str) {
        self.upstream_errors.with_label_values(&[route, kind]).inc();
    }
}

/// The request counter a connection used last, with its route, status and decision labels.
#[derive(Default)]
pub struct LastCounter(Option<(String, u16, &'static str, IntCounter)>);

/// The three digits of a status without allocating.
fn status_label(status: u16, buf: &mut [u8; 3]) -> &str {
    let s = status.min(999);
    buf[0] = b'0' + (s / 100) as u8;
    buf[1] = b'0' + (s / 10 % 10) as u8;
    buf[2] = b'0' + (s % 10) as u8;
    std::str::from_utf8(buf).unwrap_or("000")
}
