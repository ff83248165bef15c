//! What reaches the upstream and what comes back: trusted identity headers only, request id and
//! traceparent, path normalization, untouched answers, 502/504/413, CORS.

use std::time::Duration;

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

/// What a proxy would claim about the request's origin or path never reaches the services, on
/// either transport (`/open` is served by the own HTTP/1.1 path, `/open-limited` by hyper's).
#[tokio::test(flavor = "multi_thread")]
async fn inbound_proxy_claims_never_reach_the_upstream() {
    let Setup { gw, .. } = setup().await;
    let claims = [
        ("forwarded", "for=6.6.6.6;host=evil.example;proto=https"),
        ("x-real-ip", "6.6.6.6"),
        ("x-original-url", "/admin/clients"),
        ("x-rewrite-url", "/admin/clients"),
        ("x-forwarded-prefix", "/evil"),
        ("x-forwarded-host", "evil.example"),
    ];
    for path in ["/open/x", "/open-limited/x"] {
        let mut r = gw.req(Method::GET, path);
        for (k, v) in claims {
            r = r.header(k, v);
        }
        let body = echoed(r.send().await.unwrap()).await;
        let h = &body["headers"];
        for (k, _) in claims {
            if k == "x-forwarded-host" {
                // This hop's own account replaces the caller's.
                assert_ne!(h[k], "evil.example", "{path}");
            } else {
                assert!(
                    h.get(k).is_none(),
                    "{k} reached the upstream on {path}: {h}"
                );
            }
        }
        assert_eq!(h["x-forwarded-for"], "127.0.0.1", "{path}");
    }
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
    // A method the route does not take: 405 with the methods the route's rules take on that
    // path (RFC 9110 §15.5.6), none when no rule takes the path.
    let res = gw
        .req(Method::POST, "/api/patients/x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "");
    let episode = "/api/patients/0d9c2a4e-5a0e-4c38-9d1b-0f1e5c0a0020/episodes/abc";
    let res = gw.req(Method::DELETE, episode).send().await.unwrap();
    assert_eq!(res.headers()["allow"], "GET");
    assert_error(res, 405, "method_not_allowed", None).await;
    let res = gw
        .req(Method::from_bytes(b"TRACE").unwrap(), "/open/x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert!(res.headers().contains_key("allow"));
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
    let conn = |path: &'static str| upstream_connection(&gw, path);
    // One after another, the requests share one upstream connection.
    assert_eq!(conn("/keep/a").await, 1);
    assert_eq!(conn("/keep/b").await, 1);
    // The upstream closes it after this answer; the next request goes on a new one, not a 502.
    assert_eq!(conn("/keep/close").await, 1);
    assert_eq!(conn("/keep/c").await, 2);
    assert_eq!(conn("/keep/d").await, 2);
}

/// Which of the counting upstream's connections a GET of `path` went on.
async fn upstream_connection(gw: &Gateway, path: &str) -> u64 {
    let res = gw.req(Method::GET, path).send().await.unwrap();
    assert_eq!(res.status(), 200);
    json_of(res).await["conn"].as_u64().unwrap()
}

/// Upstreams close idle connections on their own clock (actix, Apache, Node.js: after 5 s). One
/// closing just as a request goes out on it fails a request that cannot be sent again (a POST:
/// a 502), so an idle connection is used again only within `forwarding.upstream_idle_ms`.
#[tokio::test(flavor = "multi_thread")]
async fn idle_upstream_connections_are_used_again_only_within_the_upstream_idle_time() {
    let upstream = crate::stubs::counting_upstream().await;
    let routes = format!(
        "routes:\n  - {{name: keep, paths: [/keep], upstream: '{upstream}', auth: none}}\n"
    );
    let gw = gateway(&routes, "http://127.0.0.1:1", |s| {
        s.forwarding.upstream_idle_ms = 300
    })
    .await;
    let conn = |path: &'static str| upstream_connection(&gw, path);
    assert_eq!(conn("/keep/a").await, 1);
    assert_eq!(conn("/keep/b").await, 1);
    // Idle past the limit (nothing to wait on but the time).
    tokio::time::sleep(Duration::from_millis(400)).await;
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

/// Sends an upgrade request on a raw connection; returns the connection, the answer's head
/// (lower case) and what was read past it.
async fn ask_upgrade(
    gw: &Gateway,
    path: &str,
    extra: &str,
) -> (tokio::net::TcpStream, String, Vec<u8>) {
    ask_upgrade_to(gw, path, extra, "websocket").await
}

async fn ask_upgrade_to(
    gw: &Gateway,
    path: &str,
    extra: &str,
    protocol: &str,
) -> (tokio::net::TcpStream, String, Vec<u8>) {
    use tokio::io::AsyncWriteExt;
    let mut sock = tokio::net::TcpStream::connect(gw.url.trim_start_matches("http://"))
        .await
        .unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nhost: gw.example\r\nconnection: Upgrade\r\nupgrade: {protocol}\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nx-consumer-id: spoofed\r\n{extra}\r\n"
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    let (head, rest) = crate::stubs::read_head(&mut sock).await;
    (sock, head.to_ascii_lowercase(), rest)
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_upgrades_pass_through_after_the_checks() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let w = world().await;
    let (token, _) = w.access().await;
    let upstream = crate::stubs::upgrade_upstream().await;
    let routes = format!(
        "routes:\n  - name: ws\n    paths: [/ws]\n    upstream: '{}'\n    rules:\n      - {{methods: [GET], path: '/.*', scopes: [connection:read]}}\n",
        upstream.url
    );
    let gw = gateway(&routes, &w.app.auth, |_| {}).await;
    let auth = format!(
        "authorization: Bearer {token}\r\napi-key: {}\r\n",
        w.api_key
    );

    // Switched: the caller gets the upstream's 101 and then a byte tunnel both ways.
    let (mut sock, head, rest) = ask_upgrade(&gw, "/ws/chat", &auth).await;
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(rest.is_empty());
    assert!(head.contains("upgrade: websocket\r\n"), "{head}");
    assert!(head.contains("connection: upgrade\r\n"), "{head}");
    assert!(head.contains("sec-websocket-accept: "), "{head}");
    assert!(head.contains("x-request-id: "), "{head}");
    for message in [&b"ping"[..], b"a longer second message"] {
        sock.write_all(message).await.unwrap();
        let mut back = vec![0u8; message.len()];
        sock.read_exact(&mut back).await.unwrap();
        assert_eq!(back, message);
    }
    // The upstream got the upgrade headers and the trusted identity, not the caller's.
    let seen = upstream.heads.lock().unwrap()[0].to_ascii_lowercase();
    assert!(seen.contains("upgrade: websocket\r\n"), "{seen}");
    assert!(seen.contains("connection: upgrade\r\n"), "{seen}");
    assert!(
        seen.contains("sec-websocket-key: dghlihnhbxbszsbub25jzq==\r\n"),
        "{seen}"
    );
    assert!(
        seen.contains(&format!("x-consumer-id: {}\r\n", w.user)),
        "{seen}"
    );
    assert!(!seen.contains("spoofed"), "{seen}");
    // The caller closes; the tunnel closes the upstream side too.
    drop(sock);

    // Refused by the gatekeeper: its own 401, and the upstream never sees the request.
    let (_sock, head, _) = ask_upgrade(&gw, "/ws/chat", "").await;
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert!(head.contains("www-authenticate: bearer"), "{head}");
    assert_eq!(upstream.heads.lock().unwrap().len(), 1);

    // Any protocol but WebSocket is not tunnelled (h2c smuggling): the request goes on as an
    // ordinary one, without its Upgrade header, and the caller gets the upstream's answer.
    let (mut sock, head, mut body) = ask_upgrade_to(&gw, "/ws/refuse", &auth, "h2c").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let mut more = vec![0u8; 13 - body.len()];
    sock.read_exact(&mut more).await.unwrap();
    body.extend(more);
    assert_eq!(body, b"not switching");
    let seen = upstream
        .heads
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .to_ascii_lowercase();
    assert!(!seen.contains("upgrade"), "{seen}");

    // Declined by the upstream: its answer passes as an ordinary one.
    let (mut sock, head, mut body) = ask_upgrade(&gw, "/ws/refuse", &auth).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("upgrade"), "{head}");
    let mut more = vec![0u8; 13 - body.len()];
    sock.read_exact(&mut more).await.unwrap();
    body.extend(more);
    assert_eq!(body, b"not switching");
}

/// An upstream that answers its first request ("done") only when told to: `arrived` resolves
/// once the request is there, sending on `answer` lets the answer go.
struct HeldUpstream {
    url: String,
    arrived: tokio::sync::oneshot::Receiver<()>,
    answer: tokio::sync::oneshot::Sender<()>,
}

async fn held_upstream() -> HeldUpstream {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (arrived, arrived_rx) = tokio::sync::oneshot::channel::<()>();
    let (answer, answer_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        crate::stubs::read_head(&mut sock).await;
        arrived.send(()).unwrap();
        answer_rx.await.unwrap();
        sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone")
            .await
            .unwrap();
    });
    HeldUpstream {
        url,
        arrived: arrived_rx,
        answer,
    }
}

/// A gatekeeper with the route `held` (to `upstream`) and `open` (to the echo stub), stopped
/// when `stop` fires: its proxy address, ops URL and run.
async fn stoppable_gateway(
    upstream: &str,
    drain_secs: u64,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> (String, String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let stub = crate::stubs::upstream().await;
    let routes = format!(
        "routes:\n  - {{name: held, paths: [/held], upstream: '{upstream}', auth: none}}\n  - {{name: open, paths: [/open], upstream: '{stub}', auth: none}}\n"
    );
    let dir = std::env::temp_dir().join(format!("gatekeeper-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("routes.yaml"), routes).unwrap();
    let mut s = gatekeeper::Settings::defaults().unwrap();
    (s.server.port, s.server.workers, s.ops.port) = (0, 1, 0);
    s.server.drain_secs = drain_secs;
    s.routes.file = dir.join("routes.yaml").to_string_lossy().into_owned();
    let app = gatekeeper::Application::build(s).await.unwrap();
    let addr = format!("127.0.0.1:{}", app.port());
    let ops = format!("http://127.0.0.1:{}", app.ops_port());
    let running = tokio::spawn(app.run_until(async {
        let _ = stop.await;
    }));
    (addr, ops, running)
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_lets_open_requests_finish_and_refuses_new_connections() {
    let mut held = held_upstream().await;
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr, _, running) = stoppable_gateway(&held.url, 0, stop_rx).await;

    let in_flight = tokio::spawn(reqwest::get(format!("http://{addr}/held/x")));
    (&mut held.arrived).await.unwrap();
    stop.send(()).unwrap();
    // New connections are refused once the worker has stopped accepting…
    refuses_connections(&addr).await;
    assert!(!running.is_finished(), "a request is still open");
    // …while the open request still gets its answer, and then the gatekeeper ends.
    finishes(held, in_flight, running).await;
}

async fn refuses_connections(addr: &str) {
    eventually(Duration::from_secs(5), || {
        let addr = addr.to_owned();
        async move { tokio::net::TcpStream::connect(addr).await.is_err() }
    })
    .await;
}

/// The held request gets its answer once the upstream sends it; then the gatekeeper ends.
async fn finishes(
    held: HeldUpstream,
    in_flight: tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
    running: tokio::task::JoinHandle<std::io::Result<()>>,
) {
    held.answer.send(()).unwrap();
    let res = in_flight.await.unwrap().unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "done");
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("stopped after its last request")
        .unwrap()
        .unwrap();
}

/// One GET of `path` on a new connection: the answer's head (lower-cased) and whether the
/// gatekeeper closed the connection after it.
async fn get_on_new_connection(addr: &str, path: &str) -> (String, bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nhost: gw\r\n\r\n");
    sock.write_all(req.as_bytes()).await.unwrap();
    let (head, mut rest) = crate::stubs::read_head(&mut sock).await;
    let head = head.to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    let read = tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut rest)).await;
    let closed = matches!(read, Ok(Ok(_))) && rest.len() == length;
    (head, closed)
}

#[tokio::test(flavor = "multi_thread")]
async fn draining_fails_readiness_and_closes_connections_then_stops_accepting() {
    let mut held = held_upstream().await;
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr, ops, running) = stoppable_gateway(&held.url, 2, stop_rx).await;
    let ready = || async { reqwest::get(format!("{ops}/ready")).await.unwrap() };
    assert_eq!(ready().await.status(), 200);
    let in_flight = tokio::spawn(reqwest::get(format!("http://{addr}/held/x")));
    (&mut held.arrived).await.unwrap();
    stop.send(()).unwrap();

    // Draining: not ready (a balancer takes it out), still serving new connections, and each
    // answer ends its connection so that the caller's next request goes elsewhere.
    eventually(Duration::from_secs(5), || async {
        ready().await.status() == 503
    })
    .await;
    let res = ready().await;
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Shutting down.");
    let (head, closed) = get_on_new_connection(&addr, "/open/x").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("\r\nconnection: close\r\n"), "{head}");
    assert!(closed, "the connection stays open: {head}");
    // An answer of the gatekeeper's own (no route) closes its connection too.
    let (head, closed) = get_on_new_connection(&addr, "/nowhere").await;
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert!(
        head.contains("\r\nconnection: close\r\n") && closed,
        "{head}"
    );

    // Then it stops accepting; the request it began still gets its answer.
    refuses_connections(&addr).await;
    finishes(held, in_flight, running).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarding_headers_are_believed_only_from_trusted_proxies() {
    let stub = crate::stubs::upstream().await;
    let routes = format!(
        "routes:\n  - {{name: open, paths: [/open], upstream: '{stub}', auth: none}}\n  - {{name: per-ip, paths: [/per-ip], upstream: '{stub}', auth: none, rate_limit: {{minute: 2}}}}\n"
    );
    // A request claiming to come, through proxies, from `client`.
    let claiming = |gw: &Gateway, path: &str, client: &str| {
        gw.req(Method::GET, path)
            .header("x-forwarded-for", format!("6.6.6.6, {client}"))
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "api.example.com")
            .send()
    };
    let limited = async |gw: &Gateway, calls: [(&str, u16); 3]| {
        for (client, status) in calls {
            let res = claiming(gw, "/per-ip/x", client).await.unwrap();
            assert_eq!(res.status(), status, "{client}");
        }
    };

    // By default the gatekeeper is the first hop: the caller's claims are dropped…
    let gw = gateway(&routes, "http://127.0.0.1:1", |_| {}).await;
    let body = echoed(claiming(&gw, "/open/x", "198.51.100.1").await.unwrap()).await;
    let h = &body["headers"];
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], gw.url.trim_start_matches("http://"));
    // …and every claimed client is the one peer, limited together.
    let one_peer = [
        ("198.51.100.1", 200),
        ("198.51.100.2", 200),
        ("198.51.100.3", 429),
    ];
    limited(&gw, one_peer).await;

    // Behind a trusted proxy (here: loopback) its account is kept and names the client.
    let gw = gateway(&routes, "http://127.0.0.1:1", |s| {
        s.forwarding.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await;
    let body = echoed(claiming(&gw, "/open/x", "198.51.100.1").await.unwrap()).await;
    let h = &body["headers"];
    assert_eq!(h["x-forwarded-for"], "6.6.6.6, 198.51.100.1, 127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "https");
    assert_eq!(h["x-forwarded-host"], "api.example.com");
    let one_client = [
        ("198.51.100.1", 200),
        ("198.51.100.1", 200),
        ("198.51.100.1", 429),
    ];
    limited(&gw, one_client).await;
    let res = claiming(&gw, "/per-ip/x", "198.51.100.2").await.unwrap();
    assert_eq!(res.status(), 200, "another client behind the same proxy");
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_on_the_proxy_port_with_alpn() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/fixtures");
    let stub = crate::stubs::upstream().await;
    let routes =
        format!("routes:\n  - {{name: open, paths: [/open], upstream: '{stub}', auth: none}}\n");
    let gw = gateway(&routes, "http://127.0.0.1:1", |s| {
        s.tls.cert_file = format!("{fixtures}/localhost.pem");
        s.tls.key_file = format!("{fixtures}/localhost-key.pem");
    })
    .await;
    let https = gw.url.replace("http://", "https://");
    let cert = std::fs::read(format!("{fixtures}/localhost.pem")).unwrap();
    let client = |h1: bool| {
        let b = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&cert).unwrap()]);
        if h1 { b.http1_only() } else { b }.build().unwrap()
    };

    // ALPN picks HTTP/2 when the client offers it, HTTP/1.1 otherwise; the upstream learns the
    // caller came over https, and the gatekeeper's own answers say so in meta.url.
    for (h1, version) in [
        (false, reqwest::Version::HTTP_2),
        (true, reqwest::Version::HTTP_11),
    ] {
        let res = client(h1)
            .get(format!("{https}/open/x"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.version(), version);
        let body = echoed(res).await;
        assert_eq!(body["headers"]["x-forwarded-proto"], "https");
        let res = client(h1)
            .get(format!("{https}/nowhere"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
        let url = json_of(res).await["meta"]["url"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(url.starts_with("https://"), "{url}");
    }
    // Plain HTTP on the TLS port gets no answer.
    assert!(gw.req(Method::GET, "/open/x").send().await.is_err());

    // A certificate without its key is a start-up error, not a plain-HTTP port.
    let mut s = gatekeeper::Settings::defaults().unwrap();
    (s.server.port, s.ops.port) = (0, 0);
    s.routes.file = gw.routes_file.to_string_lossy().into_owned();
    s.tls.cert_file = format!("{fixtures}/localhost.pem");
    let err = gatekeeper::Application::build(s)
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{err:#}").contains("must be set together"),
        "{err:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_tls_certificate_is_served_without_a_restart() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/fixtures");
    let fixture = |name: &str| std::fs::read(format!("{fixtures}/{name}")).unwrap();
    let dir = std::env::temp_dir().join(format!("gatekeeper-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("tls.pem"), dir.join("tls-key.pem"));
    std::fs::write(&cert, fixture("localhost.pem")).unwrap();
    std::fs::write(&key, fixture("localhost-key.pem")).unwrap();
    let stub = crate::stubs::upstream().await;
    std::fs::write(
        dir.join("routes.yaml"),
        format!("routes:\n  - {{name: open, paths: [/open], upstream: '{stub}', auth: none}}\n"),
    )
    .unwrap();
    let mut s = gatekeeper::Settings::defaults().unwrap();
    (s.server.port, s.server.workers, s.ops.port) = (0, 1, 0);
    s.routes.file = dir.join("routes.yaml").to_string_lossy().into_owned();
    s.routes.watch_interval_ms = 50;
    s.tls.cert_file = cert.to_string_lossy().into_owned();
    s.tls.key_file = key.to_string_lossy().into_owned();
    let app = gatekeeper::Application::build(s).await.unwrap();
    let url = format!("https://127.0.0.1:{}/open/x", app.port());
    let mut status = app.tls_status().expect("TLS is on");
    tokio::spawn(app.run_until_stopped());

    // A client that trusts only one of the two certificates, with a new connection per request
    // (an open connection keeps the certificate it was made with).
    let trusting = |name: &str| {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&fixture(name)).unwrap()])
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    };
    let (old, new) = (trusting("localhost.pem"), trusting("renewed.pem"));
    let served_by = async |client: &reqwest::Client| client.get(&url).send().await.is_ok();
    assert!(served_by(&old).await);
    assert!(!served_by(&new).await);

    // Half a rotation (the new certificate, the old key) is refused; the old pair stays.
    std::fs::write(&cert, fixture("renewed.pem")).unwrap();
    let wait = async |status: &mut tokio::sync::watch::Receiver<_>,
                      done: fn(&gatekeeper::reload::ReloadStatus) -> bool| {
        tokio::time::timeout(Duration::from_secs(5), status.wait_for(done))
            .await
            .expect("the watcher noticed the files")
            .unwrap()
            .clone()
    };
    let seen = wait(&mut status, |s| s.last_error.is_some()).await;
    assert_eq!(seen.generation, 1);
    assert!(
        seen.last_error
            .unwrap()
            .contains("do not form a usable pair")
    );
    assert!(served_by(&old).await);

    // The whole rotation: new handshakes get the new certificate.
    std::fs::write(&key, fixture("renewed-key.pem")).unwrap();
    wait(&mut status, |s| s.generation == 2).await;
    assert!(served_by(&new).await);
    // (A fresh client: `old` would resume its earlier TLS session without seeing a certificate.)
    assert!(!served_by(&trusting("localhost.pem")).await);
}
