//! What the targets share: the default route table, and hyper's side of the differential
//! targets: what hyper's own HTTP/1.1 server and client make of the same bytes the gatekeeper's
//! own path reads (fuzz_targets/h1_head.rs, h1_chunked.rs).
//! Each runs on a paused-clock runtime over an in-memory pipe that stays open after the bytes,
//! so "hyper waits for more" is seen as the runtime going idle, with no real time spent.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use gatekeeper::table::{LoadContext, RouteTable};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// deploy/config/gatekeeper.yaml, the table the gateway ships with.
pub fn default_table() -> &'static RouteTable {
    static TABLE: OnceLock<RouteTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let yaml = include_str!("../../deploy/config/gatekeeper.yaml");
        RouteTable::parse(
            yaml,
            &LoadContext {
                default_body_limit: 1024,
            },
        )
        .expect("the default route table loads")
    })
}

/// A message body as hyper delivered it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Body {
    /// The decoded bytes delivered so far.
    pub data: Vec<u8>,
    /// hyper reached the body's end.
    pub complete: bool,
    /// hyper gave up on it (an error frame).
    pub failed: bool,
}

/// The first request hyper's server handed to its service.
#[derive(Clone, Debug, Default)]
pub struct ServerRequest {
    pub method: String,
    pub target: String,
    pub body: Body,
}

/// Runs `work` on a runtime whose clock is paused: a sleep at its end returns only once every
/// task is blocked (the runtime then moves the clock on), i.e. when hyper waits for bytes that
/// never come.
fn until_idle(work: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime")
        .block_on(work);
}

/// Ends once every other task waits (see [`until_idle`]).
async fn idle() {
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

async fn collect(mut body: Incoming, into: &Mutex<Body>) {
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    into.lock().unwrap().data.extend_from_slice(&data);
                }
            }
            Some(Err(_)) => {
                into.lock().unwrap().failed = true;
                return;
            }
            None => {
                into.lock().unwrap().complete = true;
                return;
            }
        }
    }
}

/// What hyper's HTTP/1.1 server makes of `bytes` sent on a new connection: the first request
/// it passes on (None: it refused or is still waiting for the head).
pub fn hyper_server_reads(bytes: &[u8]) -> Option<ServerRequest> {
    let seen: Arc<Mutex<Option<ServerRequest>>> = Arc::default();
    let body: Arc<Mutex<Body>> = Arc::default();
    let (mut caller, server) = tokio::io::duplex(1 << 20);
    let (s, b) = (seen.clone(), body.clone());
    until_idle(async move {
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let (s, b) = (s.clone(), b.clone());
            async move {
                let (parts, incoming) = req.into_parts();
                if s.lock().unwrap().is_none() {
                    *s.lock().unwrap() = Some(ServerRequest {
                        method: parts.method.as_str().to_owned(),
                        target: parts
                            .uri
                            .path_and_query()
                            .map(|p| p.as_str().to_owned())
                            .unwrap_or_default(),
                        body: Body::default(),
                    });
                    collect(incoming, &b).await;
                }
                Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
            }
        });
        tokio::spawn(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(server), service),
        );
        caller
            .write_all(bytes)
            .await
            .expect("the pipe takes the bytes");
        // `caller` stays open until the runtime is idle: hyper may wait for more.
        idle().await;
    });
    let mut request = seen.lock().unwrap().clone()?;
    request.body = body.lock().unwrap().clone();
    Some(request)
}

/// The body hyper's HTTP/1.1 client reads from an answer of `head` then `body` (the connection
/// left open after them).
pub fn hyper_client_reads(head: &[u8], body: &[u8]) -> Body {
    let got: Arc<Mutex<Body>> = Arc::default();
    let (client, mut origin) = tokio::io::duplex(1 << 20);
    let g = got.clone();
    let answer = [head, body].concat();
    until_idle(async move {
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(client))
                .await
                .expect("a handshake over a pipe");
        tokio::spawn(conn);
        tokio::spawn(async move {
            let req = Request::get("/").body(Empty::new()).expect("a request");
            match sender.send_request(req).await {
                Ok(res) => collect(res.into_body(), &g).await,
                Err(_) => g.lock().unwrap().failed = true,
            }
        });
        // The answer follows the request (hyper refuses an answer to nothing).
        let mut request = Vec::new();
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            if origin.read_buf(&mut request).await.unwrap_or(0) == 0 {
                return;
            }
        }
        origin
            .write_all(&answer)
            .await
            .expect("the pipe takes the bytes");
        idle().await;
    });
    got.lock().unwrap().clone()
}
