//! Stub servers for what is outside this system: an upstream service and ABAC.

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

/// An upstream that echoes what it received: method, path, query, headers, body length.
/// `/slow…` never answers (the gatekeeper's timeout ends it); `…/status/{code}` answers that
/// status with an empty body.
pub async fn upstream() -> String {
    let server = HttpServer::new(|| App::new().default_service(web::to(echo)))
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    format!("http://127.0.0.1:{port}")
}

async fn echo(req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let path = req.path().to_owned();
    if path.starts_with("/slow") {
        std::future::pending::<()>().await;
    }
    if let Some(code) = path.rsplit_once("/status/").map(|(_, c)| c) {
        return HttpResponse::build(
            actix_web::http::StatusCode::from_u16(code.parse().unwrap()).unwrap(),
        )
        .insert_header(("x-upstream", "yes"))
        .insert_header(("x-request-id", "upstream-chose-this"))
        .finish();
    }
    let mut headers = serde_json::Map::new();
    for (k, v) in req.headers() {
        headers.insert(k.as_str().to_owned(), json!(v.to_str().unwrap_or("?")));
    }
    HttpResponse::Ok().json(json!({
        "method": req.method().as_str(),
        "path": path,
        "query": req.query_string(),
        "headers": headers,
        "body_len": body.len(),
    }))
}

/// A stub ABAC that answers by `resource.id`: `allow`, `deny`, `malformed` (a 200 whose result
/// is the string "true"), `slow` (never answers), `broken` (500); and records every request body.
pub struct Abac {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Value>>>,
}

pub async fn abac() -> Abac {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let s = seen.clone();
    let server = HttpServer::new(move || {
        let s = s.clone();
        App::new().route(
            "/api/authorize",
            web::post().to(move |body: web::Json<Value>| {
                let s = s.clone();
                async move {
                    s.lock().unwrap().push(body.0.clone());
                    match body["resource"]["id"].as_str().unwrap_or("") {
                        "allow" => HttpResponse::Ok().json(json!({"data": {"result": true}})),
                        "malformed" => HttpResponse::Ok().json(json!({"data": {"result": "true"}})),
                        "slow" => std::future::pending().await,
                        "broken" => HttpResponse::InternalServerError().finish(),
                        _ => HttpResponse::Ok().json(json!({"data": {"result": false}})),
                    }
                }
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    Abac {
        url: format!("http://127.0.0.1:{port}/api/authorize"),
        seen,
    }
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A raw HTTP/1.1 upstream that numbers its connections and answers `{"conn":N}` on each,
/// keeping it open; after answering a path that ends in `/close` it closes that connection (as
/// an upstream whose keep-alive timeout ran out).
pub async fn counting_upstream() -> String {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            count += 1;
            let conn = count;
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while let Some(head) = next_head(&mut sock, &mut buf).await {
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                    let body = format!(r#"{{"conn":{conn}}}"#);
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if sock.write_all(answer.as_bytes()).await.is_err() || path.ends_with("/close")
                    {
                        return;
                    }
                }
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// A loopback port that listens but never accepts, its accept queue already full: a connect to
/// it gets no answer (the kernel drops the SYN), as an upstream that is down behind a firewall.
/// Keep the returned listener and sockets alive for as long as the port is used.
pub async fn unanswering_port() -> (u16, tokio::net::TcpListener, Vec<tokio::net::TcpStream>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut fillers = Vec::new();
    // Connect until one hangs: the queue is full then.
    loop {
        let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
        match tokio::time::timeout(std::time::Duration::from_millis(300), connect).await {
            Ok(Ok(s)) => fillers.push(s),
            _ => break,
        }
    }
    (port, listener, fillers)
}

/// A raw HTTP/1.1 upstream that switches to an echo protocol: a request with `Upgrade:
/// websocket` gets a 101, then every byte it sends comes back; a path ending in `/refuse`
/// gets a plain 200 instead. Each request head it read is kept in `heads`.
pub struct UpgradeUpstream {
    pub url: String,
    pub heads: Arc<Mutex<Vec<String>>>,
}

pub async fn upgrade_upstream() -> UpgradeUpstream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let heads: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = heads.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            tokio::spawn(async move {
                let (head, rest) = read_head(&mut sock).await;
                seen.lock().unwrap().push(head.clone());
                let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                if path.ends_with("/refuse") {
                    let body = "not switching";
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(answer.as_bytes()).await;
                    return;
                }
                sock.write_all(
                    b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                )
                .await
                .unwrap();
                sock.write_all(&rest).await.unwrap();
                let mut chunk = [0u8; 4096];
                loop {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if sock.write_all(&chunk[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    UpgradeUpstream {
        url: format!("http://127.0.0.1:{port}"),
        heads,
    }
}

/// Reads an HTTP head (through the blank line) from `sock`: the head, and the bytes read past it.
/// The next request head on a keep-alive connection (bodies are not read: the stubs' callers
/// send none); `buf` keeps what was read past it. `None` once the connection ends.
pub async fn next_head(sock: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    buf.drain(..end);
    Some(head)
}

pub async fn read_head(sock: &mut tokio::net::TcpStream) -> (String, Vec<u8>) {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(i + 4);
            return (String::from_utf8_lossy(&buf).into_owned(), rest);
        }
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return (String::from_utf8_lossy(&buf).into_owned(), Vec::new()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
