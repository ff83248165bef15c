//! The internal admin APIs as the CLI calls them: one request, the admin token, the actor, and
//! the envelope's error message turned into the CLI's error.

use std::fmt;

use anyhow::Context;
use reqwest::Method;
use serde_json::Value;

/// Which service answers a call.
#[derive(Clone, Copy, Debug)]
pub enum Service {
    Mithril,
    Auth,
    Roles,
}

pub struct Api {
    http: reqwest::Client,
    token: Option<String>,
    actor: Option<String>,
    mithril: String,
    auth: String,
    roles: String,
}

/// What a failed call says: the status and the API's own message and invalid entries.
#[derive(Debug)]
pub struct ApiFailure {
    pub status: u16,
    pub kind: String,
    pub message: String,
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.kind, self.message)
    }
}

impl std::error::Error for ApiFailure {}

pub struct Endpoints {
    pub mithril: String,
    pub auth: String,
    pub roles: String,
}

impl Api {
    pub fn new(
        endpoints: Endpoints,
        token: Option<String>,
        actor: Option<String>,
    ) -> anyhow::Result<Self> {
        let trim = |u: String| u.trim_end_matches('/').to_owned();
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .context("building the HTTP client")?,
            token,
            actor,
            mithril: trim(endpoints.mithril),
            auth: trim(endpoints.auth),
            roles: trim(endpoints.roles),
        })
    }

    /// One call; `Ok` holds the whole answer (the envelope), or `Null` for an empty body.
    pub async fn call(
        &self,
        method: Method,
        service: Service,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let base = match service {
            Service::Mithril => &self.mithril,
            Service::Auth => &self.auth,
            Service::Roles => &self.roles,
        };
        let url = format!("{base}{path}");
        let mut req = self.http.request(method.clone(), &url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(a) = &self.actor {
            req = req.header("x-consumer-id", a);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("{method} {url}: no answer"))?;
        let status = res.status();
        let text = res
            .text()
            .await
            .with_context(|| format!("{method} {url}: reading the answer"))?;
        let parsed: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .with_context(|| format!("{method} {url}: the answer is not JSON"))?
        };
        if status.is_success() {
            return Ok(parsed);
        }
        Err(failure(status.as_u16(), &parsed).into())
    }
}

fn failure(status: u16, body: &Value) -> ApiFailure {
    let error = &body["error"];
    let mut message = error["message"].as_str().unwrap_or("no message").to_owned();
    let invalid: Vec<String> = error["invalid"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| {
            let rules: Vec<&str> = entry["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["description"].as_str())
                .collect();
            format!(
                "{}: {}",
                entry["entry"].as_str().unwrap_or("?"),
                rules.join("; ")
            )
        })
        .collect();
    if !invalid.is_empty() {
        message = format!("{message} ({})", invalid.join(", "));
    }
    ApiFailure {
        status,
        kind: error["type"].as_str().unwrap_or("error").to_owned(),
        message,
    }
}

/// A path segment or query value, percent-encoded.
pub fn enc(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}
