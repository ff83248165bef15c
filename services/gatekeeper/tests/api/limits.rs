//! What one caller can hold of the gateway: requests are decided from their head before any
//! body byte is awaited, bodies have a deadline, open connections are capped per worker and
//! per client address, and tokens the cache does not know cost auth-token only so many calls
//! per address.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::*;

/// Long enough never to be what ends a test that passes; short enough to end one that hangs.
const GENEROUS: Duration = Duration::from_secs(10);

fn addr(gw: &Gateway) -> SocketAddr {
    gw.url.trim_start_matches("http://").parse().unwrap()
}

/// A connection to the gateway from `from` (any 127.0.0.0/8 address is this host's).
async fn connect_from(to: SocketAddr, from: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse().unwrap(), 0))
        .unwrap();
    socket.connect(to).await.unwrap()
}

/// The answer's head (status line and headers), read until its blank line.
async fn answer_head(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(GENEROUS, stream.read(&mut byte))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(
            n > 0,
            "closed before an answer: {}",
            String::from_utf8_lossy(&got)
        );
        got.push(byte[0]);
    }
    String::from_utf8(got).unwrap()
}

/// Reads until the caller side sees the connection closed.
async fn closed(stream: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    matches!(
        tokio::time::timeout(GENEROUS, stream.read_to_end(&mut rest)).await,
        Ok(Ok(_)) | Ok(Err(_))
    )
}

fn both_transports() -> [(&'static str, bool); 2] {
    [("own HTTP/1.1", true), ("hyper", false)]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_request_is_answered_before_its_body_arrives() {
    for (transport, own) in both_transports() {
        let s = setup_with(|s| {
            s.forwarding.own_http1 = own;
            // Far longer than the test: only deciding from the head answers in time.
            s.limits.body_timeout_ms = 120_000;
        })
        .await;
        let mut stream = TcpStream::connect(addr(&s.gw)).await.unwrap();
        stream
            .write_all(
                b"POST /echo/read HTTP/1.1\r\nhost: gw\r\ncontent-length: 60000\r\n\r\n0123456789",
            )
            .await
            .unwrap();
        let head = answer_head(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 401"), "{transport}: {head}");
        if own {
            // The rest of the body is skipped as it comes; the connection serves on.
            skip_answer_body(&mut stream, &head).await;
            stream.write_all(&[b'x'; 59_990]).await.unwrap();
            stream
                .write_all(b"GET /open/again HTTP/1.1\r\nhost: gw\r\n\r\n")
                .await
                .unwrap();
            let next = answer_head(&mut stream).await;
            assert!(next.starts_with("HTTP/1.1 200"), "{transport}: {next}");
        }
    }
}

/// Reads the body the answer `head` announces.
async fn skip_answer_body(stream: &mut TcpStream, head: &str) {
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap();
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_does_not_arrive_in_time_is_408_and_the_connection_closes() {
    for (transport, own) in both_transports() {
        let s = setup_with(|s| {
            s.forwarding.own_http1 = own;
            s.limits.body_timeout_ms = 300;
        })
        .await;
        let mut stream = TcpStream::connect(addr(&s.gw)).await.unwrap();
        stream
            .write_all(
                b"POST /open/x HTTP/1.1\r\nhost: gw\r\ncontent-length: 500\r\n\r\n0123456789",
            )
            .await
            .unwrap();
        let head = answer_head(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 408"), "{transport}: {head}");
        let body = {
            let mut rest = Vec::new();
            let _ = tokio::time::timeout(GENEROUS, stream.read_to_end(&mut rest)).await;
            String::from_utf8_lossy(&rest).into_owned()
        };
        assert!(body.contains("request_timeout"), "{transport}: {body}");
        assert!(
            closed(&mut stream).await,
            "{transport}: the connection stays open"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_are_capped_per_client_address_and_others_are_served() {
    let s = setup_with(|s| s.limits.connections_per_client = 16).await;
    let to = addr(&s.gw);
    // One address opens twice its share and trickles nothing more than a head's start.
    let mut held = Vec::new();
    for _ in 0..32 {
        let mut c = connect_from(to, "127.0.0.2").await;
        c.write_all(b"POST /open/x HTTP/1.1\r\n").await.unwrap();
        held.push(c);
    }
    eventually(GENEROUS, || async {
        counted(
            &s.gw.metrics().await,
            "gatekeeper_connections_refused_total{cap=\"per_client\"}",
        ) == 16
    })
    .await;
    let closed_at_once = {
        let mut n = 0;
        for c in &mut held {
            let mut b = [0u8; 1];
            // The refused ones were closed before the metric counted them: their end is here.
            if let Ok(Ok(0) | Err(_)) =
                tokio::time::timeout(Duration::from_millis(50), c.read(&mut b)).await
            {
                n += 1;
            }
        }
        n
    };
    assert_eq!(
        closed_at_once, 16,
        "the connections beyond the share are closed"
    );
    // Another address is served meanwhile.
    let res = s.gw.req(Method::GET, "/open/x").send().await.unwrap();
    assert_eq!(res.status(), 200);
    // The address gets its share back as its connections close.
    held.clear();
    eventually(GENEROUS, || async {
        let mut c = connect_from(to, "127.0.0.2").await;
        c.write_all(b"GET /open/x HTTP/1.1\r\nhost: gw\r\n\r\n")
            .await
            .unwrap();
        let mut b = [0u8; 12];
        matches!(
            tokio::time::timeout(GENEROUS, c.read_exact(&mut b)).await,
            Ok(Ok(_))
        ) && &b == b"HTTP/1.1 200"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_worker_accepts_again_when_a_connection_closes() {
    let s = setup_with(|s| {
        s.server.workers = 1;
        s.limits.connections_per_worker = 3;
    })
    .await;
    let to = addr(&s.gw);
    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut c = TcpStream::connect(to).await.unwrap();
        c.write_all(b"GET /open/x HTTP/1.1\r\nhost: gw\r\n\r\n")
            .await
            .unwrap();
        assert!(answer_head(&mut c).await.starts_with("HTTP/1.1 200"));
        idle.push(c);
    }
    // The kernel completes the handshake; the worker does not take the connection yet.
    let mut waiting = TcpStream::connect(to).await.unwrap();
    waiting
        .write_all(b"GET /open/x HTTP/1.1\r\nhost: gw\r\n\r\n")
        .await
        .unwrap();
    let mut b = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(300), waiting.peek(&mut b)).await;
    assert!(early.is_err(), "answered while the worker was full");
    drop(idle.pop());
    assert!(answer_head(&mut waiting).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_tokens_cost_auth_token_only_so_many_calls_per_address() {
    let s = setup_with(|s| s.limits.verify_misses_per_client = 5).await;
    let verify_calls = || async {
        counted(
            &s.gw.metrics().await,
            "gatekeeper_verify_duration_seconds_count{outcome=\"refused\"}",
        )
    };
    for i in 0..5 {
        let res =
            s.gw.req(Method::GET, "/echo/read")
                .bearer_auth(format!("garbage-token-{i:04}"))
                .send()
                .await
                .unwrap();
        assert_eq!(res.status(), 401);
    }
    assert_eq!(verify_calls().await, 5);
    let res =
        s.gw.req(Method::GET, "/echo/read")
            .bearer_auth("garbage-token-9999")
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_error(res, 429, "too_many_requests", None).await;
    assert_eq!(verify_calls().await, 5, "auth-token was not called");
    // A token the cache knows is no miss; another address has its own budget.
    let other = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let res = other
        .get(format!("{}/echo/read", s.gw.url))
        .bearer_auth("garbage-token-9999")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_tokens_failures_spend_no_callers_budget() {
    // auth-token down (a database restart, say): every token the cache does not know gets a
    // 503, and none of them spends the address's budget, which is for refused tokens.
    let dead = format!("http://127.0.0.1:{}", crate::stubs::closed_port());
    let s = setup_with(|s| {
        s.limits.verify_misses_per_client = 5;
        s.verify.url = dead.clone();
    })
    .await;
    for i in 0..12 {
        let res =
            s.gw.req(Method::GET, "/echo/read")
                .bearer_auth(format!("some-token-{i:04}"))
                .send()
                .await
                .unwrap();
        assert_eq!(res.status(), 503, "request {i}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_token_and_api_key_pair_is_remembered() {
    let s = setup().await;
    let (token, _) = s.w.access().await;
    for _ in 0..3 {
        let res =
            s.gw.req(Method::GET, "/echo/read")
                .bearer_auth(&token)
                .header("api-key", "not-the-brokers-key-000000000000000")
                .send()
                .await
                .unwrap();
        assert_eq!(res.status(), 401);
    }
    let metrics = s.gw.metrics().await;
    assert_eq!(
        counted(
            &metrics,
            "gatekeeper_verify_duration_seconds_count{outcome=\"refused\"}"
        ),
        1,
        "one call for the pair, then the cache:\n{metrics}"
    );
}

/// The release of the gatekeeper binary, run as a process of its own so that its memory can be
/// read; killed when dropped.
struct Process {
    child: std::process::Child,
    url: String,
    ops: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

async fn gatekeeper_process(envs: &[(&str, String)]) -> Process {
    let stub = crate::stubs::upstream().await;
    let dir = std::env::temp_dir().join(format!("gatekeeper-proc-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let routes = dir.join("routes.yaml");
    std::fs::write(
        &routes,
        format!("routes:\n  - {{name: open, paths: [/open], upstream: \"{stub}\", auth: none}}\n"),
    )
    .unwrap();
    let (port, ops) = (crate::stubs::closed_port(), crate::stubs::closed_port());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_gatekeeper"))
        .env("GATEKEEPER__SERVER__PORT", port.to_string())
        .env("GATEKEEPER__SERVER__WORKERS", "1")
        .env("GATEKEEPER__OPS__PORT", ops.to_string())
        .env("GATEKEEPER__ROUTES__FILE", &routes)
        .env(
            "GATEKEEPER__VERIFY__URL",
            format!("http://127.0.0.1:{}", crate::stubs::closed_port()),
        )
        .env("GATEKEEPER__TELEMETRY__LOG_FILTER", "warn")
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let process = Process {
        child,
        url: format!("http://127.0.0.1:{port}"),
        ops: format!("http://127.0.0.1:{ops}"),
    };
    let http = reqwest::Client::new();
    eventually(GENEROUS, || async {
        http.get(format!("{}/ready", process.ops))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    process
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_connections_from_one_address_hold_only_their_share_of_memory() {
    let p = gatekeeper_process(&[
        ("GATEKEEPER__LIMITS__CONNECTIONS_PER_CLIENT", "64".into()),
        ("GATEKEEPER__LIMITS__BODY_TIMEOUT_MS", "120000".into()),
    ])
    .await;
    let to: SocketAddr = p.url.trim_start_matches("http://").parse().unwrap();
    let before = p.rss_kib();
    // Each passes the decision (the route needs no token) and holds the gateway waiting for a
    // 60000-byte body that never completes.
    let mut held = Vec::new();
    for _ in 0..600 {
        let mut c = connect_from(to, "127.0.0.2").await;
        let _ = c
            .write_all(b"POST /open/x HTTP/1.1\r\nhost: gw\r\ncontent-length: 60000\r\n\r\n")
            .await;
        let _ = c.write_all(&[b'x'; 4096]).await;
        held.push(c);
    }
    let http = reqwest::Client::new();
    eventually(GENEROUS, || async {
        let metrics = http
            .get(format!("{}/metrics", p.ops))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        counted(
            &metrics,
            "gatekeeper_connections_refused_total{cap=\"per_client\"}",
        ) == 600 - 64
    })
    .await;
    let res = http.get(format!("{}/open/x", p.url)).send().await.unwrap();
    assert_eq!(res.status(), 200, "another address is served");
    let grown = p.rss_kib().saturating_sub(before);
    eprintln!("600 slow connections (64 held): resident memory grew by {grown} KiB");
    assert!(grown < 16 * 1024, "grew by {grown} KiB");
}
