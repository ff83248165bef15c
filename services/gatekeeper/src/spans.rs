//! The gateway hop in a trace, made only while traces are exported
//! (`platform::telemetry::exporting`; otherwise no span is made and the request path does
//! nothing here). One span per proxied request on either transport: child of the caller's
//! `traceparent`, parent of the upstream's (the `traceparent` this hop sends names it), with the
//! route, the rule, the verify cache's answer, the decision and the status. The calls to
//! auth-token's verify and to ABAC are its children, and carry their own `traceparent`.
//!
//! The request's `traceparent` (sent upstream and returned to the caller) is rewritten with the
//! span's ids and the sampling decision (parent-based, `telemetry.sample_ratio`), so the header
//! and the exported span agree.

use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer as _,
};
use opentelemetry::{Context, KeyValue, global};

const TRACER: &str = "gatekeeper";

/// Starts the request's span, when traces are exported, and writes its ids and sampling
/// decision into `traceparent` (this hop's, which keeps the caller's trace id).
pub fn start(
    caller: Option<&[u8]>,
    traceparent: &mut [u8; 55],
    method: &str,
    path: &str,
) -> Option<Context> {
    if !platform::telemetry::exporting() {
        return None;
    }
    let parent = match caller.and_then(parse) {
        Some(theirs) => Context::new().with_remote_span_context(theirs),
        None => Context::new(),
    };
    let tracer = global::tracer(TRACER);
    let span = tracer
        .span_builder(format!("{method} gateway"))
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", method.to_owned()),
            KeyValue::new("url.path", path.to_owned()),
        ])
        .start_with_context(&tracer, &parent);
    let written = header_of(span.span_context());
    traceparent.copy_from_slice(written.as_bytes());
    Some(parent.with_span(span))
}

/// `traceparent` naming a span.
fn header_of(sc: &SpanContext) -> String {
    format!(
        "00-{}-{}-{:02x}",
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags().to_u8()
    )
}

/// Sets an attribute on the request's span.
pub fn note(cx: Option<&Context>, key: &'static str, value: impl Into<opentelemetry::Value>) {
    if let Some(cx) = cx {
        cx.span().set_attribute(KeyValue::new(key, value));
    }
}

/// The answer's status on the request's span (5xx marks it failed).
pub fn status(cx: Option<&Context>, status: u16) {
    if let Some(cx) = cx {
        let span = cx.span();
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        if status >= 500 {
            span.set_status(Status::error(format!("answered {status}")));
        }
    }
}

/// A call this hop makes for the request (verify, ABAC): a client span under the request's,
/// and the `traceparent` that names it.
pub struct Call {
    cx: Context,
    pub traceparent: String,
}

impl Call {
    pub fn start(parent: Option<&Context>, name: &'static str) -> Option<Self> {
        let parent = parent?;
        let tracer = global::tracer(TRACER);
        let span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Client)
            .start_with_context(&tracer, parent);
        let traceparent = header_of(span.span_context());
        Some(Self {
            cx: parent.with_span(span),
            traceparent,
        })
    }

    /// Ends the call's span with its outcome.
    pub fn end(self, outcome: &'static str) {
        let span = self.cx.span();
        span.set_attribute(KeyValue::new("gatekeeper.outcome", outcome));
        if outcome == "unavailable" {
            span.set_status(Status::error("unavailable"));
        }
        span.end();
    }
}

/// A well-formed `traceparent` (version 00) as a span context.
fn parse(v: &[u8]) -> Option<SpanContext> {
    let v = std::str::from_utf8(v).ok()?;
    let mut parts = v.split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != "00" || parts.next().is_some() || trace.len() != 32 || span.len() != 16 {
        return None;
    }
    let trace_id = TraceId::from_hex(trace).ok()?;
    let span_id = SpanId::from_hex(span).ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    let sc = SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags),
        true,
        TraceState::default(),
    );
    sc.is_valid().then_some(sc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_traceparent_and_refuses_a_malformed_one() {
        let sc = parse(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(sc.is_sampled());
        for bad in [
            &b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"[..],
            b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            b"garbage",
        ] {
            assert!(parse(bad).is_none(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn nothing_is_made_while_traces_are_not_exported() {
        let mut traceparent = *b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert!(start(None, &mut traceparent, "GET", "/x").is_none());
        assert!(Call::start(None, "verify").is_none());
    }
}
