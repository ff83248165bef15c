use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn health_ready_metrics_docs() {
    let app = spawn_app().await;
    let body = json_of(app.send(Method::GET, "/health", None).await).await;
    assert_eq!(body["data"]["status"], "ok");
    let res = app.send(Method::GET, "/ready", None).await;
    assert_eq!(res.status(), 200);
    let res = app.send(Method::GET, "/docs", None).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    // Offline: the page names no other host; its script and style come from the binary.
    testkit::assert_offline_docs_page(&res.text().await.unwrap());
    for (asset, kind) in [
        ("/docs/swagger-ui-bundle.js", "application/javascript"),
        ("/docs/swagger-ui.css", "text/css"),
    ] {
        let res = app.send(Method::GET, asset, None).await;
        assert_eq!(res.status(), 200, "{asset}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert!(res.bytes().await.unwrap().len() > 100_000, "{asset}");
    }
    app.send(Method::GET, "/admin/clients", None).await;
    app.send(Method::GET, "/admin/clients/not-a-uuid", None)
        .await;
    app.send(Method::GET, "/no/such/route-s3cr3t", None).await;
    let metrics = app
        .send(Method::GET, "/metrics", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("mithril_api_http_requests_total"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"mithril_api_http_requests_total{endpoint="/admin/clients",method="GET",status="200"} 1"#
        ),
        "{metrics}"
    );
    // Matched routes are labelled by pattern, unmatched ones by a mask: never the raw path.
    assert!(
        metrics.contains(r#"endpoint="/admin/clients/{id}",method="GET",status="404""#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"endpoint="UNMATCHED",method="GET",status="404""#),
        "{metrics}"
    );
    assert!(!metrics.contains("s3cr3t") && !metrics.contains("not-a-uuid"));
    assert!(metrics.contains("mithril_api_http_requests_duration_seconds_bucket"));
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_is_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    let mut conn = app.db.connect().await.unwrap();
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("DROP TABLE __diesel_schema_migrations"),
        &mut conn,
    )
    .await
    .unwrap();
    let res = app.send(Method::GET, "/ready", None).await;
    assert_error(res, 503, "service_unavailable").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn request_id_and_idempotency_key_are_echoed() {
    let app = spawn_app().await;
    let res = app
        .req(Method::GET, "/admin/clients")
        .header("x-request-id", "6617aeec-15e2-4d6f-b9bd-53559c358f97#17810")
        .header("x-idempotency-key", "key-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["x-request-id"],
        "6617aeec-15e2-4d6f-b9bd-53559c358f97#17810"
    );
    let body = json_of(res).await;
    assert_eq!(
        body["meta"]["request_id"],
        "6617aeec-15e2-4d6f-b9bd-53559c358f97#17810"
    );
    assert_eq!(body["meta"]["idempotency_key"], "key-1");

    let res = app
        .req(Method::GET, "/nowhere")
        .header("x-request-id", "<script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    let echoed = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(echoed, "<script>alert(1)</script>");
    assert!(uuid::Uuid::parse_str(&echoed).is_ok());
    assert_eq!(json_of(res).await["meta"]["request_id"], echoed);
}

/// The committed contract must be what the service generates. To refresh it after an
/// intended change: `UPDATE_SNAPSHOTS=1 cargo test -p mithril-api openapi`.
#[tokio::test(flavor = "multi_thread")]
async fn openapi_matches_the_committed_snapshot() {
    let app = spawn_app().await;
    let served: serde_json::Value = app
        .send(Method::GET, "/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    let snapshot = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../proto-contracts/openapi/mithril-api.json"
    );
    testkit::assert_openapi_snapshot(&served, snapshot);
}

#[test]
fn the_binary_answers_help_and_version() {
    testkit::assert_cli(
        env!("CARGO_BIN_EXE_mithril-api"),
        "mithril-api",
        env!("CARGO_PKG_VERSION"),
        &["serve", "migrate", "healthcheck"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn healthcheck_exits_zero_only_when_the_configured_service_is_ready() {
    let app = crate::helpers::spawn_app().await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let probe = |port: String| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_mithril-api"))
            .arg("healthcheck")
            .env("MITHRIL_API__SERVER__PORT", port)
            .output()
    };
    assert!(probe(port).await.unwrap().status.success());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let refused = probe(closed_port).await.unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("connecting to 127.0.0.1:"));
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_drains_then_lets_the_open_request_finish() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (app, running) = spawn_stoppable(|s| s.server.drain_secs = 2, stop_rx).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    // A request begun before the stop: its head and half of its body.
    let body = br#"{"client_type": {"name": "DRAINED", "scope": "a:read"}}"#;
    let mut open = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /admin/client_types HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        testkit::access::ADMIN_TOKEN,
        body.len()
    );
    open.write_all(head.as_bytes()).await.unwrap();
    open.write_all(&body[..10]).await.unwrap();
    stop.send(()).unwrap();

    // Draining: not ready, still serving, every answer closing its connection.
    testkit::eventually(std::time::Duration::from_secs(5), || async {
        app.send(Method::GET, "/ready", None).await.status() == 503
    })
    .await;
    let res = app.send(Method::GET, "/ready", None).await;
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(json_of(res).await["error"]["message"], "Shutting down.");
    let res = app.send(Method::GET, "/health", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["connection"], "close");

    // Then no new connection; the open request still gets its answer, and the service ends.
    testkit::eventually(std::time::Duration::from_secs(5), || {
        let addr = addr.clone();
        async move { tokio::net::TcpStream::connect(addr).await.is_err() }
    })
    .await;
    open.write_all(&body[10..]).await.unwrap();
    let mut answer = Vec::new();
    open.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM client_types WHERE name = 'DRAINED'")
            .await,
        1
    );
    tokio::time::timeout(std::time::Duration::from_secs(5), running)
        .await
        .expect("stopped after its last request")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_a_burst_opened_are_closed_once_idle() {
    let (app, _test_app) = build_with(|s| s.database.idle_timeout_secs = 2).await;
    let pool = app.pool().clone();
    let (a, b, c) = tokio::join!(pool.get(), pool.get(), pool.get());
    assert!(pool.status().size >= 3, "{:?}", pool.status());
    drop((a.unwrap(), b.unwrap(), c.unwrap()));
    testkit::eventually(std::time::Duration::from_secs(10), || async {
        pool.status().size == 0
    })
    .await;
    // Closed, not broken: the next request opens a connection again.
    assert!(pool.get().await.is_ok());
}

/// The workers' pools open `database.min_connections` at start and keep them however idle:
/// idle longer than the idle timeout, they are still open, and the next request runs on one of
/// them instead of opening another. Closed by the database (as by a restart), they are opened
/// again without a request.
#[tokio::test(flavor = "multi_thread")]
async fn the_workers_pools_keep_their_floor_open_however_idle() {
    const BACKENDS: &str = "SELECT pid::text AS t FROM pg_stat_activity \
        WHERE datname = current_database() AND pid <> pg_backend_pid() \
          AND backend_type = 'client backend' AND state = 'idle' \
          AND now() - state_change > interval '4 seconds' ORDER BY pid";
    let app = spawn_with(|s| {
        s.database.min_connections = 2;
        s.database.idle_timeout_secs = 2;
    })
    .await;
    testkit::eventually(std::time::Duration::from_secs(20), || async {
        app.texts(BACKENDS).await.len() == 2
    })
    .await;
    let floor = app.texts(BACKENDS).await;

    let res = app
        .send(
            Method::POST,
            "/admin/client_types",
            Some(json!({"client_type": {"name": format!("T-{}", uuid::Uuid::now_v7()), "scope": "a:read"}})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let all = app
        .texts(
            "SELECT pid::text AS t FROM pg_stat_activity WHERE datname = current_database() \
               AND pid <> pg_backend_pid() AND backend_type = 'client backend' ORDER BY pid",
        )
        .await;
    assert_eq!(all, floor, "the write ran on a connection of the floor");

    // The call returns once the backends have exited.
    app.texts(
        "SELECT pg_terminate_backend(pid, 10000)::text AS t FROM pg_stat_activity \
          WHERE datname = current_database() AND pid <> pg_backend_pid() \
            AND backend_type = 'client backend'",
    )
    .await;
    testkit::eventually(std::time::Duration::from_secs(20), || async {
        let now = app.texts(BACKENDS).await;
        now.len() == 2 && now.iter().all(|pid| !floor.contains(pid))
    })
    .await;
}

/// `server.keep_alive_secs` is what the gatekeeper's `forwarding.upstream_idle_ms` must stay
/// under: the service closes an idle connection after that time, not another.
#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_stay_open_for_the_configured_keep_alive() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_with(|s| s.server.keep_alive_secs = 8).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    sock.write_all(b"GET /health HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 4096];
    let n = sock.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
    let answered = std::time::Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        sock.read_to_end(&mut rest),
    )
    .await
    .expect("closed once idle for the keep-alive time")
    .unwrap();
    let idle = answered.elapsed();
    assert!(idle >= std::time::Duration::from_millis(7500), "{idle:?}");
}
