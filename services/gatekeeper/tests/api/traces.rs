//! One trace per request: the caller's `traceparent` → the gatekeeper's span (and its verify
//! call's) → the service's request span → its database statements, exported over OTLP/HTTP to
//! a collector stub (a real HTTP server in the test) that decodes what arrives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use reqwest::Method;

use crate::helpers::*;

/// A span as the collector got it (ids in hex).
#[derive(Debug, Clone)]
struct Exported {
    trace_id: String,
    span_id: String,
    parent_id: String,
    name: String,
}

/// An OTLP/HTTP collector: `POST /v1/traces` with protobuf bodies.
async fn collector() -> (String, Arc<Mutex<Vec<Exported>>>) {
    let seen: Arc<Mutex<Vec<Exported>>> = Arc::default();
    let store = seen.clone();
    let server = HttpServer::new(move || {
        let store = store.clone();
        App::new().route(
            "/v1/traces",
            web::post().to(move |body: web::Bytes| {
                let store = store.clone();
                async move {
                    let Ok(req) = ExportTraceServiceRequest::decode(body.as_ref()) else {
                        return HttpResponse::BadRequest().finish();
                    };
                    let spans = req
                        .resource_spans
                        .into_iter()
                        .flat_map(|r| r.scope_spans)
                        .flat_map(|s| s.spans)
                        .map(|s| Exported {
                            trace_id: hex::encode(s.trace_id),
                            span_id: hex::encode(s.span_id),
                            parent_id: hex::encode(s.parent_span_id),
                            name: s.name,
                        });
                    store.lock().unwrap().extend(spans);
                    HttpResponse::Ok()
                        .content_type("application/x-protobuf")
                        .finish()
                }
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}/v1/traces"), seen)
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test(flavor = "multi_thread")]
async fn one_trace_from_the_caller_through_the_gateway_to_the_database() {
    let (endpoint, seen) = collector().await;
    let telemetry = platform::settings::TelemetrySettings {
        // Spans at info (the request and statement spans); log lines only from warn up.
        log_filter: "warn,gatekeeper=info,platform=info,tracing_actix_web=info".into(),
        log_format: platform::settings::LogFormat::Json,
        otlp_endpoint: Some(endpoint),
        sample_ratio: 1.0,
    };
    // The process's telemetry, before the services build their database pools.
    let exporter = platform::telemetry::init("ehealth-test", &telemetry).unwrap();
    let w = world().await;
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/config/gatekeeper.yaml"
    ))
    .unwrap()
    .replace("http://127.0.0.1:4010", &w.app.mithril)
    .replace("http://127.0.0.1:4020", &w.app.auth);
    let gw = gateway(&yaml, &w.app.auth, |_| {}).await;
    let (token, _) = w.access().await;

    let res = gw
        .req(Method::GET, &format!("/api/clients/{}/connections", w.msp))
        .bearer_auth(&token)
        .header("api-key", &w.api_key)
        .header("traceparent", format!("00-{TRACE}-{CALLER_SPAN}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let returned = res.headers()["traceparent"].to_str().unwrap().to_owned();
    assert!(returned.starts_with(&format!("00-{TRACE}-")), "{returned}");
    let gateway_span = returned[36..52].to_owned();

    // Spans end as the answers go; the exporter sends what has ended when flushed.
    let ours = |seen: &Mutex<Vec<Exported>>| -> Vec<Exported> {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|s| s.trace_id == TRACE)
            .cloned()
            .collect()
    };
    let child_of = |spans: &[Exported], parent: &str, name: &str| -> Option<Exported> {
        spans
            .iter()
            .find(|s| s.parent_id == parent && s.name.contains(name))
            .cloned()
    };
    // The gateway's own span ends after the answer is written: it may come after the services'.
    eventually(Duration::from_secs(20), || async {
        exporter.flush().unwrap();
        let spans = ours(&seen);
        if !spans.iter().any(|s| s.span_id == gateway_span) {
            return false;
        }
        let Some(service) = spans
            .iter()
            .find(|s| s.parent_id == gateway_span && s.name.contains("/api/clients"))
        else {
            return false;
        };
        spans
            .iter()
            .any(|s| s.parent_id == service.span_id && s.name.contains("postgresql"))
    })
    .await;
    let spans = ours(&seen);
    let gateway = spans
        .iter()
        .find(|s| s.span_id == gateway_span)
        .unwrap_or_else(|| panic!("no gateway span in {spans:#?}"));
    assert_eq!(
        gateway.parent_id, CALLER_SPAN,
        "the gateway's span is the caller's child"
    );
    assert_eq!(gateway.name, "GET gateway");
    let verify = child_of(&spans, &gateway_span, "verify")
        .unwrap_or_else(|| panic!("no verify span in {spans:#?}"));
    assert!(
        child_of(&spans, &verify.span_id, "verify").is_some(),
        "auth-token's verify handler continues the verify call's trace: {spans:#?}"
    );
    let service = child_of(&spans, &gateway_span, "/api/clients").unwrap();
    let statement = child_of(&spans, &service.span_id, "postgresql").unwrap();
    eprintln!(
        "one trace: caller {CALLER_SPAN} → gateway {} → verify {} / service {} → database {} ({} spans)",
        gateway.span_id,
        verify.span_id,
        service.span_id,
        statement.span_id,
        spans.len()
    );
}
