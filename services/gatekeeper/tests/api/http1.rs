//! The gatekeeper's own HTTP/1.1 path (`h1`) and its handover to hyper, on raw connections:
//! pipelined requests, requests it leaves to hyper on a connection it began, and upstream
//! answers framed every way HTTP/1.1 allows.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// A raw connection to the gateway, plain or TLS.
trait Raw: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Raw for T {}

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/fixtures");

/// The test certificate for the gateway's TLS port (`localhost`).
fn with_tls(s: &mut gatekeeper::Settings) {
    s.tls.cert_file = format!("{FIXTURES}/localhost.pem");
    s.tls.key_file = format!("{FIXTURES}/localhost-key.pem");
}

/// A raw connection to the gateway; with `tls`, a TLS one that offers only HTTP/1.1 by ALPN.
async fn connect(gw: &Gateway, tls: bool) -> Box<dyn Raw> {
    use rustls::pki_types::pem::PemObject;
    let sock = TcpStream::connect(gw.url.trim_start_matches("http://"))
        .await
        .unwrap();
    if !tls {
        return Box::new(sock);
    }
    let mut roots = rustls::RootCertStore::empty();
    let cert =
        rustls::pki_types::CertificateDer::from_pem_file(format!("{FIXTURES}/localhost.pem"));
    roots.add(cert.unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config));
    Box::new(tls.connect(name, sock).await.unwrap())
}

/// One answer read from a raw connection (framed by Content-Length, as the stub's are): its
/// status, head (lower-cased) and body.
async fn read_answer(sock: &mut (impl Raw + ?Sized), buf: &mut Vec<u8>) -> (u16, String, Vec<u8>) {
    read_answer_to(sock, buf, false).await
}

/// [`read_answer`]; `head`: the answer to a HEAD request (a length, no body).
async fn read_answer_to(
    sock: &mut (impl Raw + ?Sized),
    buf: &mut Vec<u8>,
    head_request: bool,
) -> (u16, String, Vec<u8>) {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(buf[..end + 4].to_vec())
                .unwrap()
                .to_ascii_lowercase();
            let status = head[9..12].parse().unwrap();
            let len: usize = head
                .split("\r\n")
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.parse().unwrap());
            let len = if head_request { 0 } else { len };
            while buf.len() < end + 4 + len {
                let n = sock.read(&mut chunk).await.unwrap();
                assert!(n > 0, "closed mid-answer");
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = buf[end + 4..end + 4 + len].to_vec();
            buf.drain(..end + 4 + len);
            return (status, head, body);
        }
        let n = sock.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed before an answer");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn pipelined_requests_then_ones_left_to_hyper_on_one_connection() {
    let upstream = crate::stubs::upstream().await;
    let routes = format!(
        "routes:\n  - {{name: open, paths: [/open], upstream: '{upstream}', strip_prefix: true, auth: none}}\n"
    );
    // The same conversation with the gatekeeper's own path and with hyper alone, on plain
    // connections and over TLS.
    for (own_http1, tls) in [(true, false), (false, false), (true, true), (false, true)] {
        let gw = gateway(&routes, "http://127.0.0.1:1", |s| {
            s.forwarding.own_http1 = own_http1;
            if tls {
                with_tls(s);
            }
        })
        .await;
        let mut sock = connect(&gw, tls).await;
        let mut buf = Vec::new();
        // Two requests in one write: two answers, in order.
        sock.write_all(
            b"GET /open/a HTTP/1.1\r\nHost: gw.test\r\n\r\n\
              POST /open/b?q=1 HTTP/1.1\r\nHost: gw.test\r\nX-Consumer-Id: spoofed\r\ncontent-length: 3\r\n\r\nabc",
        )
        .await
        .unwrap();
        let (status, head, body) = read_answer(&mut sock, &mut buf).await;
        assert_eq!(status, 200, "{head}");
        assert!(head.contains("\r\nx-request-id: "), "{head}");
        assert_eq!(json(&body)["path"], "/a");
        let (status, _, body) = read_answer(&mut sock, &mut buf).await;
        assert_eq!(status, 200);
        let seen = json(&body);
        assert_eq!(seen["path"], "/b");
        assert_eq!(seen["query"], "q=1");
        assert_eq!(seen["body_len"], 3);
        assert!(seen["headers"].get("x-consumer-id").is_none());
        assert_eq!(seen["headers"]["x-forwarded-host"], "gw.test");
        let proto = if tls { "https" } else { "http" };
        assert_eq!(seen["headers"]["x-forwarded-proto"], proto);
        // The gatekeeper's own refusal to a HEAD request: its length, no body (the next answer
        // follows).
        sock.write_all(b"HEAD /nowhere HTTP/1.1\r\nHost: gw.test\r\n\r\nGET /open/h HTTP/1.1\r\nHost: gw.test\r\n\r\n")
            .await
            .unwrap();
        let (status, head, _) = read_answer_to(&mut sock, &mut buf, true).await;
        assert_eq!(status, 404);
        assert!(!head.contains("content-length: 0\r\n"), "{head}");
        let (status, _, body) = read_answer(&mut sock, &mut buf).await;
        assert_eq!(status, 200);
        assert_eq!(json(&body)["path"], "/h");
        // A chunked body (hyper's from here on, with own_http1) on the same connection…
        sock.write_all(
            b"POST /open/c HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        )
        .await
        .unwrap();
        let (status, _, body) = read_answer(&mut sock, &mut buf).await;
        assert_eq!(status, 200);
        assert_eq!(json(&body)["body_len"], 5);
        // …then an ordinary request, the gatekeeper's own refusal, and a last one that closes.
        sock.write_all(b"GET /open/d HTTP/1.1\r\nHost: gw.test\r\n\r\n")
            .await
            .unwrap();
        let (status, _, body) = read_answer(&mut sock, &mut buf).await;
        assert_eq!(status, 200);
        assert_eq!(json(&body)["path"], "/d");
        sock.write_all(b"GET /nowhere HTTP/1.1\r\nHost: gw.test\r\n\r\n")
            .await
            .unwrap();
        let (status, _, body) = read_answer(&mut sock, &mut buf).await;
        assert_eq!(status, 404);
        assert_eq!(json(&body)["error"]["type"], "not_found");
        sock.write_all(b"GET /open/e HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let (status, _, _) = read_answer(&mut sock, &mut buf).await;
        assert_eq!(status, 200);
        let mut rest = Vec::new();
        sock.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "closed after the answer");
    }
}

/// A raw upstream that answers by path, framing each answer differently, and sends its
/// connection's number in `x-conn`.
async fn framing_upstream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let conn = count.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while let Some(head) = crate::stubs::next_head(&mut sock, &mut buf).await {
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                    let c = format!("x-conn: {conn}\r\n");
                    let answer: Vec<u8> = match path.as_str() {
                        "/chunked" => format!(
                            "HTTP/1.1 200 OK\r\n{c}transfer-encoding: chunked\r\ntrailer: x-sum\r\n\r\n4\r\nWiki\r\n5;x=1\r\npedia\r\n0\r\nx-sum: 9\r\n\r\n"
                        )
                        .into(),
                        "/interim" => format!(
                            "HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\n{c}content-length: 2\r\n\r\nok"
                        )
                        .into(),
                        "/no-content" => {
                            format!("HTTP/1.1 204 No Content\r\n{c}x-upstream: yes\r\n\r\n").into()
                        }
                        "/hop-by-hop" => format!(
                            "HTTP/1.1 201 Created\r\n{c}connection: x-secret, keep-alive\r\nx-secret: 1\r\nkeep-alive: timeout=5\r\nx-request-id: upstream-chose-this\r\ncontent-length: 2\r\n\r\nok"
                        )
                        .into(),
                        "/big" => {
                            let mut a = format!("HTTP/1.1 200 OK\r\n{c}content-length: 300000\r\n\r\n")
                                .into_bytes();
                            a.extend(std::iter::repeat_n(b'x', 300_000));
                            a
                        }
                        "/until-close" => {
                            let a = format!("HTTP/1.1 200 OK\r\n{c}content-type: text/plain\r\n\r\nall of it");
                            let _ = sock.write_all(a.as_bytes()).await;
                            return;
                        }
                        _ => format!("HTTP/1.1 500 Internal Server Error\r\n{c}content-length: 0\r\n\r\n").into(),
                    };
                    // Written in pieces, so the gatekeeper reads answers across several reads.
                    for piece in answer.chunks(7001) {
                        if sock.write_all(piece).await.is_err() {
                            return;
                        }
                        tokio::task::yield_now().await;
                    }
                }
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_answers_framed_every_way_reach_the_caller_whole() {
    let upstream = framing_upstream().await;
    let routes = format!(
        "routes:\n  - {{name: framed, paths: [/f], upstream: '{upstream}', strip_prefix: true, auth: none}}\n"
    );
    // Over TLS (HTTP/1.1) the caller's stream must be flushed after each piece it is sent.
    for tls in [false, true] {
        framed_answers(&routes, tls).await;
    }
}

async fn framed_answers(routes: &str, tls: bool) {
    let gw = gateway(routes, "http://127.0.0.1:1", |s| {
        if tls {
            with_tls(s);
        }
    })
    .await;
    // An answer whose end is missed would otherwise hang the test.
    let mut http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10));
    let mut url = gw.url.clone();
    if tls {
        let cert = std::fs::read(format!("{FIXTURES}/localhost.pem")).unwrap();
        http = http
            .tls_certs_only([reqwest::Certificate::from_pem(&cert).unwrap()])
            .http1_only();
        url = url.replace("http://", "https://");
    }
    let http = http.build().unwrap();
    let get = |path: &str| http.get(format!("{url}/f{path}")).send();
    let conn = |res: &reqwest::Response| res.headers()["x-conn"].to_str().unwrap().to_owned();

    // Chunked: the body whole, then the same upstream connection serves the next answer.
    let res = get("/chunked").await.unwrap();
    assert_eq!(res.status(), 200);
    let first = conn(&res);
    assert!(res.headers().get("trailer").is_none(), "hop-by-hop");
    assert_eq!(res.text().await.unwrap(), "Wikipedia");
    let res = get("/interim").await.unwrap();
    assert_eq!(res.status(), 200, "the 103 is skipped");
    assert_eq!(conn(&res), first);
    assert_eq!(res.text().await.unwrap(), "ok");

    let res = get("/no-content").await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["x-upstream"], "yes");
    assert_eq!(conn(&res), first);

    // Hop-by-hop headers and those `Connection` names are dropped; the request id is ours.
    let res = get("/hop-by-hop").await.unwrap();
    assert_eq!(res.status(), 201);
    for dropped in ["x-secret", "keep-alive", "connection"] {
        assert!(res.headers().get(dropped).is_none(), "{dropped}");
    }
    assert_ne!(res.headers()["x-request-id"], "upstream-chose-this");
    assert_eq!(res.text().await.unwrap(), "ok");

    let res = get("/big").await.unwrap();
    assert_eq!(res.headers()["content-length"], "300000");
    let body = res.bytes().await.unwrap();
    assert!(body.len() == 300_000 && body.iter().all(|&b| b == b'x'));

    // An answer that ends when the upstream closes: whole, and the caller's connection ends
    // with it; the next request opens a new upstream connection.
    let res = get("/until-close").await.unwrap();
    assert_eq!(res.headers()["connection"], "close");
    let closing = conn(&res);
    assert_eq!(res.text().await.unwrap(), "all of it");
    let res = get("/interim").await.unwrap();
    assert_ne!(conn(&res), closing);
    assert_eq!(res.text().await.unwrap(), "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_request_gets_its_own_routes_response_timeout_on_a_shared_connection() {
    let upstream = crate::stubs::upstream().await;
    let routes = format!(
        "routes:\n  - {{name: patient, paths: [/patient], upstream: '{upstream}', strip_prefix: true, auth: none, timeouts: {{response_ms: 60000}}}}\n  - {{name: hasty, paths: [/hasty], upstream: '{upstream}', strip_prefix: true, auth: none, timeouts: {{response_ms: 300}}}}\n"
    );
    let gw = gateway(&routes, "http://127.0.0.1:1", |_| {}).await;
    let mut sock = TcpStream::connect(gw.url.trim_start_matches("http://"))
        .await
        .unwrap();
    let mut buf = Vec::new();
    // The connection's timer is first set for a 60 s deadline; the next request's is 300 ms.
    sock.write_all(b"GET /patient/a HTTP/1.1\r\nHost: gw.test\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_answer(&mut sock, &mut buf).await.0, 200);
    sock.write_all(b"GET /hasty/slow HTTP/1.1\r\nHost: gw.test\r\n\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        read_answer(&mut sock, &mut buf),
    )
    .await
    .expect("the 300 ms timeout, not the 60 s one");
    assert_eq!(answer.0, 504);
    assert_eq!(json(&answer.2)["error"]["type"], "gateway_timeout");
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    // And the connection goes on.
    sock.write_all(b"GET /hasty/b HTTP/1.1\r\nHost: gw.test\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_answer(&mut sock, &mut buf).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn half_sent_heads_close_at_the_head_limit_idle_connections_at_the_keep_alive_limit() {
    let upstream = crate::stubs::upstream().await;
    let routes = format!(
        "routes:\n  - {{name: open, paths: [/open], upstream: '{upstream}', auth: none}}\n"
    );
    // Bodies have a deadline of their own (limits.rs), here longer than both limits; the
    // keep-alive limit here is longer than the head limit (10 s).
    let gw = gateway(&routes, "http://127.0.0.1:1", |s| {
        s.limits.body_timeout_ms = 60_000;
        s.server.keep_alive_secs = 12;
    })
    .await;
    let addr = gw.url.trim_start_matches("http://").to_owned();
    // One connection idle after an answer, one that sent half a head.
    let idle = async {
        let mut sock = TcpStream::connect(&addr).await.unwrap();
        sock.write_all(b"GET /open/a HTTP/1.1\r\nHost: gw.test\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_answer(&mut sock, &mut Vec::new()).await.0, 200);
        sock
    };
    let half = async {
        let mut sock = TcpStream::connect(&addr).await.unwrap();
        sock.write_all(b"GET /open/b HTTP/1.1\r\nHost: gw")
            .await
            .unwrap();
        sock
    };
    // And one that sent its head and half its body: neither limit applies to it.
    let slow_body = async {
        let mut sock = TcpStream::connect(&addr).await.unwrap();
        sock.write_all(b"POST /open/c HTTP/1.1\r\nHost: gw.test\r\ncontent-length: 4\r\n\r\nab")
            .await
            .unwrap();
        sock
    };
    let (idle, half, mut slow_body) = tokio::join!(idle, half, slow_body);
    let started = std::time::Instant::now();
    let closed_after = |mut sock: TcpStream| async move {
        let mut rest = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(20),
            sock.read_to_end(&mut rest),
        )
        .await
        .expect("closed by the gatekeeper")
        .unwrap();
        assert!(rest.is_empty());
        started.elapsed()
    };
    let half_closed = closed_after(half).await;
    let idle_closed = closed_after(idle).await;
    assert!(
        half_closed >= std::time::Duration::from_secs(9),
        "{half_closed:?}"
    );
    assert!(
        idle_closed >= std::time::Duration::from_secs(11),
        "{idle_closed:?}"
    );
    slow_body.write_all(b"cd").await.unwrap();
    let (status, _, body) = read_answer(&mut slow_body, &mut Vec::new()).await;
    assert_eq!(status, 200);
    assert_eq!(json(&body)["body_len"], 4);
}
