//! A stand-in SMS provider on loopback: it answers `POST /sms/send` (the body auth-token sends:
//! `{phone_number, body, type}`) and records each message, which `GET /messages` lists and
//! [`SmsStub::messages`] returns. Tests read the codes from it; `make run` starts it (binary
//! `sms-stub`) and prints where to read them. [`SmsStub::fail`] makes it answer 500.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Default)]
struct Shared {
    messages: Arc<Mutex<Vec<Value>>>,
    failing: Arc<AtomicBool>,
}

pub struct SmsStub {
    /// `http://127.0.0.1:<port>`: auth-token's `sms.url`.
    pub url: String,
    shared: Shared,
}

impl SmsStub {
    /// On a free loopback port.
    pub async fn start() -> Self {
        match Self::start_on("127.0.0.1:0").await {
            Ok(stub) => stub,
            Err(e) => panic!("the SMS stub cannot listen: {e}"),
        }
    }

    pub async fn start_on(addr: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Shared::default();
        tokio::spawn(serve(listener, shared.clone()));
        Ok(Self { url, shared })
    }

    /// Every message received, oldest first.
    pub fn messages(&self) -> Vec<Value> {
        self.shared
            .messages
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// The code of the latest message to `phone` (its six digits).
    pub fn last_code(&self, phone: &str) -> Option<u32> {
        self.messages()
            .iter()
            .rev()
            .find(|m| m["phone_number"] == phone)
            .and_then(|m| code_in(m["body"].as_str()?))
    }

    /// From now on, answer every send with 500 (`false`: record again).
    pub fn fail(&self, failing: bool) {
        self.shared.failing.store(failing, Ordering::SeqCst);
    }
}

/// The six-digit code in a message's text.
pub fn code_in(text: &str) -> Option<u32> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    (digits.len() == 6).then(|| digits.parse().ok()).flatten()
}

async fn serve(listener: TcpListener, shared: Shared) {
    while let Ok((sock, _)) = listener.accept().await {
        tokio::spawn(answer(sock, shared.clone()));
    }
}

/// One request per connection, then closed.
async fn answer(mut sock: TcpStream, shared: Shared) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match sock.read(&mut chunk).await {
            Ok(n) if n > 0 && buf.len() < 64 * 1024 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
        .min(64 * 1024);
    while buf.len() < head_end + length {
        match sock.read(&mut chunk).await {
            Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
    let body = &buf[head_end..head_end + length];
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    let (status, reply) = if request_line.starts_with("post /sms/send ") {
        if shared.failing.load(Ordering::SeqCst) {
            (
                "500 Internal Server Error",
                json!({"error": "failing on purpose"}),
            )
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(message) => {
                    if let Ok(mut m) = shared.messages.lock() {
                        m.push(message);
                    }
                    ("200 OK", json!({"status": "sent"}))
                }
                Err(_) => ("400 Bad Request", json!({"error": "not JSON"})),
            }
        }
    } else if request_line.starts_with("get /messages ") {
        let messages = shared
            .messages
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        ("200 OK", Value::Array(messages))
    } else {
        (
            "404 Not Found",
            json!({"error": "POST /sms/send or GET /messages"}),
        )
    };
    let text = reply.to_string();
    let answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = sock.write_all(answer.as_bytes()).await;
}
