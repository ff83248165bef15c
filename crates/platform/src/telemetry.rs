//! Structured logs (JSON or pretty) through `tracing`, and OTLP/HTTP trace export when an
//! endpoint is configured. W3C `traceparent` is read from incoming requests (tracing-actix-web)
//! so a trace started at the gatekeeper continues in every service. Sampling is parent-based
//! with a ratio for new traces (`telemetry.sample_ratio`). Without an endpoint nothing records
//! spans that only a trace would use ([`exporting`] says so to the code that makes them).

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::settings::{LogFormat, TelemetrySettings};

/// Set once traces are exported: spans made only for traces are made only then.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether traces are exported (an OTLP endpoint is configured).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Flushes pending spans when dropped (at the end of `main`).
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Exports the spans ended so far (tests read them from a collector).
    pub fn flush(&self) -> anyhow::Result<()> {
        if let Some(p) = &self.provider {
            p.force_flush().context("flushing spans")?;
        }
        Ok(())
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take()
            && let Err(e) = p.shutdown()
        {
            eprintln!("telemetry shutdown: {e}");
        }
    }
}

/// Installs the global subscriber. Call once, from `main`.
pub fn init(service: &'static str, s: &TelemetrySettings) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&s.log_filter))
        .context("invalid log filter")?;
    let fmt = match s.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer().compact().boxed(),
    };
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = match &s.otlp_endpoint {
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(endpoint.clone())
                .build()
                .context("building the OTLP exporter")?;
            let ratio = s.sample_ratio.clamp(0.0, 1.0);
            Some(
                SdkTracerProvider::builder()
                    .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                        ratio,
                    ))))
                    .with_batch_exporter(exporter)
                    .with_resource(
                        opentelemetry_sdk::Resource::builder()
                            .with_service_name(service)
                            .build(),
                    )
                    .build(),
            )
        }
        None => None,
    };
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service)));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()
        .context("installing the tracing subscriber")?;
    if let Some(p) = &provider {
        // Code that makes its spans with the OpenTelemetry API (the gatekeeper's request path).
        opentelemetry::global::set_tracer_provider(p.clone());
        EXPORTING.store(true, Ordering::Relaxed);
    }
    Ok(TelemetryGuard { provider })
}
