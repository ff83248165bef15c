//! What reaches the upstream and what comes back: trusted identity headers only, request id and
//! traceparent, path normalization, untouched answers, 502/504/413, CORS.

use crate::helpers::*;
use reqwest::Method;

async fn assert_gateway_timeout(res: reqwest::Response) {
    assert_error(
        res,
        504,
        "gateway_timeout",
        Some("Upstream did not answer in time."),
    )
    .await;
}

const SPOOFED: [(&str, &str); 7] = [
    ("x-consumer-id", "00000000-0000-0000-0000-000000000000"),
    (
        "x-consumer-metadata",
        r#"{"client_id":"evil","scope":"everything"}"#,
    ),
    ("x-consumer-scope", "everything"),
    ("x-client-id", "evil"),
    ("x-mis-client-id", "evil"),
    ("x-person-id", "evil"),
    ("x-consumer-custom-id", "evil"),
];

#[tokio::test(flavor = "multi_thread")]
async fn inbound_identity_headers_never_reach_the_upstream() {
    let Setup { w, gw, .. } = setup().await;
    let (token, _) = w.access().await;
    let mut r = gw.authed(&w, &token, Method::GET, "/echo/read/x?a=1&b=%20");
    for (k, v) in SPOOFED {
        r = r.header(k, v);
    }
    let body = echoed(r.send().await.unwrap()).await;
    let h = &body["headers"];
    assert_eq!(h["x-consumer-id"], w.user.to_string());
    assert_eq!(h["x-client-id"], w.msp.to_string());
    assert_eq!(h["x-mis-client-id"], w.mis.to_string());
    assert_eq!(h["x-consumer-scope"], "connection:read connection:write");
    let meta: serde_json::Value =
        serde_json::from_str(h["x-consumer-metadata"].as_str().unwrap()).unwrap();
    assert_eq!(meta["client_id"], w.msp.to_string());
    assert_eq!(meta["scope"], "connection:read connection:write");
    assert_eq!(meta["broker_scope"], "connection:read connection:write");
    assert_eq!(meta["grant_type"], "authorization_code");
    assert!(h.get("x-person-id").is_none(), "{h}");
    assert!(h.get("x-consumer-custom-id").is_none(), "{h}");
    assert_eq!(body["path"], "/echo/read/x");
    assert_eq!(body["query"], "a=1&b=%20");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");

    // On a route without authentication every copy is dropped too.
    let mut r = gw.req(Method::GET, "/open/hello");
    for (k, v) in SPOOFED {
        r = r.header(k, v);
    }
    let body = echoed(r.send().await.unwrap()).await;
    for (k, _) in SPOOFED {
        assert!(body["headers"].get(k).is_none(), "{k} reached the upstream");
    }
    // strip_prefix with an upstream base path.
    assert_eq!(body["path"], "/base/hello");
}

#[tokio::test(flavor = "multi_thread")]
async fn request_id_and_traceparent() {
    let Setup { gw, .. } = setup().await;
    let res = gw
        .req(Method::GET, "/open/x")
        .header("x-request-id", "req-42")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "req-42");
    let tp = res.headers()["traceparent"].to_str().unwrap().to_owned();
    assert!(
        tp.starts_with("00-0af7651916cd43dd8448eb211c80319c-"),
        "{tp}"
    );
    let body = echoed(res).await;
    assert_eq!(body["headers"]["x-request-id"], "req-42");
    assert_eq!(body["headers"]["traceparent"], tp);
    // An insane id is replaced; a bad traceparent starts a new trace.
    let res = gw
        .req(Method::GET, "/open/x")
        .header("x-request-id", "<script>alert(1)</script>")
        .header("traceparent", "garbage")
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert_eq!(res.headers()["traceparent"].len(), 55);
    // The gatekeeper's own errors carry the id in meta.
    let res = gw
        .req(Method::GET, "/echo/read")
        .header("x-request-id", "req-43")
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res).await["meta"]["request_id"], "req-43");
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_answers_pass_untouched() {
    let Setup { gw, .. } = setup().await;
    let res = gw
        .req(Method::GET, "/open/status/404")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["x-upstream"], "yes");
    // Our id wins over the upstream's, as in the reference.
    assert_ne!(res.headers()["x-request-id"], "upstream-chose-this");
    assert_eq!(res.text().await.unwrap(), "");
    let res = gw
        .req(Method::GET, "/open/status/503")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.text().await.unwrap(), "");
}

#[tokio::test(flavor = "multi_thread")]
async fn paths_are_normalized_once_for_routing_rules_and_upstream() {
    let Setup { w, gw, .. } = setup().await;
    let (token, _) = w.access().await;
    let body = echoed(
        gw.authed(&w, &token, Method::GET, "/echo//x/../%72ead/./y")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["path"], "/echo/read/y");
    // A dot-segment cannot climb out of the rule: /echo/read/../admin is /echo/admin.
    let res = gw
        .authed(&w, &token, Method::GET, "/echo/read/../admin")
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        403,
        "forbidden",
        Some("Invalid scopes. Missing allowances: connection:delete"),
    )
    .await;
    // (Dot segments above the root are refused too: reqwest resolves them before sending, so
    // the path unit tests cover them.)
    for bad in ["/echo/read%2F..%2Fadmin", "/echo/a%00", "/echo/a%5Cb"] {
        let res = gw
            .authed(&w, &token, Method::GET, bad)
            .send()
            .await
            .unwrap();
        assert_error(
            res,
            400,
            "request_malformed",
            Some("Request path is not valid."),
        )
        .await;
    }
    // Prefixes match whole segments.
    let res = gw.req(Method::GET, "/openx").send().await.unwrap();
    assert_error(res, 404, "not_found", None).await;
    let res = gw
        .req(Method::POST, "/api/patients/x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_failures_and_body_limits() {
    let Setup { gw, .. } = setup().await;
    let res = gw.req(Method::GET, "/dead/x").send().await.unwrap();
    assert_error(res, 502, "bad_gateway", Some("Upstream is unreachable.")).await;
    let res = gw.req(Method::GET, "/slow").send().await.unwrap();
    assert_gateway_timeout(res).await;
    // Within the limit: forwarded whole, with its length.
    let body = echoed(
        gw.req(Method::POST, "/open/upload")
            .body(vec![b'a'; 1024])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["body_len"], 1024);
    // Over it with a Content-Length: refused before any upstream call.
    let res = gw
        .req(Method::POST, "/open/upload")
        .body(vec![b'a'; 1025])
        .send()
        .await
        .unwrap();
    assert_error(res, 413, "request_malformed", None).await;
    // Over it while streaming (chunked, no length).
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b'b'; 512])).collect();
    let res = gw
        .req(Method::POST, "/open/upload")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_error(res, 413, "request_malformed", None).await;
    // A small chunked body streams through.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..2).map(|_| Ok(vec![b'b'; 100])).collect();
    let body = echoed(
        gw.req(Method::POST, "/open/upload")
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            )))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["body_len"], 200);
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(r#"gatekeeper_upstream_errors_total{kind="bad_gateway",route="dead"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(r#"gatekeeper_upstream_errors_total{kind="gateway_timeout",route="slow"} 1"#)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_preflight_before_auth() {
    let Setup { w, gw, .. } = setup().await;
    let res = gw
        .req(Method::OPTIONS, "/cors/x")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let res = gw
        .req(Method::OPTIONS, "/cors/x")
        .header("origin", "https://evil.example.com")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let (token, _) = w.access().await;
    let res = gw
        .authed(&w, &token, Method::GET, "/cors/x")
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_connections_are_kept_alive_and_closed_ones_replaced() {
    let upstream = crate::stubs::counting_upstream().await;
    let routes = format!(
        "routes:\n  - {{name: keep, paths: [/keep], upstream: '{upstream}', auth: none}}\n"
    );
    let gw = gateway(&routes, "http://127.0.0.1:1", |_| {}).await;
    let conn = |path: &'static str| {
        let req = gw.req(Method::GET, path);
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 200);
            json_of(res).await["conn"].as_u64().unwrap()
        }
    };
    // One after another, the requests share one upstream connection.
    assert_eq!(conn("/keep/a").await, 1);
    assert_eq!(conn("/keep/b").await, 1);
    // The upstream closes it after this answer; the next request goes on a new one, not a 502.
    assert_eq!(conn("/keep/close").await, 1);
    assert_eq!(conn("/keep/c").await, 2);
    assert_eq!(conn("/keep/d").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn http2_callers_are_served_and_forwarded_over_http1() {
    let Setup { gw, .. } = setup().await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let res = h2
        .get(format!("{}/open/hello?x=1", gw.url))
        .header("x-consumer-id", "spoofed")
        .send()
        .await
        .unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));
    let body = echoed(res).await;
    assert_eq!(body["path"], "/base/hello");
    assert_eq!(body["query"], "x=1");
    let authority = gw.url.trim_start_matches("http://");
    assert_eq!(body["headers"]["x-forwarded-host"], authority);
    assert!(body["headers"].get("x-consumer-id").is_none());
    // The gatekeeper's own answers too.
    let res = h2
        .get(format!("{}/echo/read", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    assert_error(res, 401, "access_denied", None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_that_does_not_answer_the_connect_is_a_504() {
    let (port, _listener, _queue) = crate::stubs::unanswering_port().await;
    let routes = format!(
        "routes:\n  - {{name: silent, paths: [/silent], upstream: 'http://127.0.0.1:{port}', auth: none, timeouts: {{connect_ms: 200, response_ms: 10000}}}}\n"
    );
    let gw = gateway(&routes, "http://127.0.0.1:1", |_| {}).await;
    let started = std::time::Instant::now();
    let res = gw.req(Method::GET, "/silent/x").send().await.unwrap();
    // The connect timeout ended it, not the 10 s response timeout.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_gateway_timeout(res).await;
}
