//! The ABAC call of a rule (spec gatekeeper.md §1.8), hardened (§4 W4, W5, W7):
//! - the resource id and contexts come from the named groups of the rule path, which already
//!   matched the normalized path; a query parameter only for contexts that opt in;
//! - `contexts` is always an array;
//! - only a 200 whose `data.result` is the literal `true` allows; any other 200 or a 4xx denies;
//! - a transport error, a timeout or a 5xx is a dependency failure (503), never a silent allow.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::metrics::GateMetrics;
use crate::table::AbacRule;
use crate::verify::Identity;

#[derive(Serialize, Debug)]
pub struct AbacRequest<'a> {
    pub consumer: Consumer<'a>,
    pub resource: Resource<'a>,
    pub contexts: Vec<Context<'a>>,
}

#[derive(Serialize, Debug)]
pub struct Consumer<'a> {
    pub user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mis_client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<&'a str>,
}

#[derive(Serialize, Debug)]
pub struct Resource<'a> {
    pub action: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
}

#[derive(Serialize, Debug)]
pub struct Context<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub id: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AbacAnswer {
    Allow,
    Deny,
    /// ABAC could not answer: unreachable, timed out or 5xx.
    Unavailable,
}

/// The request body for a rule that matched `relative` (the path after the route prefix).
pub fn request<'a>(
    rule: &'a AbacRule,
    path_regex: &regex::Regex,
    relative: &'a str,
    query: &'a [(String, String)],
    who: &'a Identity,
) -> AbacRequest<'a> {
    let caps = path_regex.captures(relative);
    let group = |name: &str| -> Option<&'a str> {
        caps.as_ref()
            .and_then(|c| c.name(name))
            .map(|m| &relative[m.start()..m.end()])
            .filter(|s| !s.is_empty())
    };
    let contexts = rule
        .contexts
        .iter()
        .filter_map(|c| {
            let from_path = group(&c.from);
            let from_query = || {
                c.query
                    .then(|| {
                        query
                            .iter()
                            .find(|(k, _)| *k == c.from)
                            .map(|(_, v)| v.as_str())
                    })
                    .flatten()
                    .filter(|v| !v.is_empty())
            };
            from_path
                .or_else(from_query)
                .map(|id| Context { kind: &c.kind, id })
        })
        .collect();
    AbacRequest {
        consumer: Consumer {
            user_id: who.user_id.as_deref().unwrap_or_default(),
            client_id: who.client_id.as_deref(),
            mis_client_id: who.mis_client_id.as_deref(),
            person_id: who.person_id.as_deref(),
        },
        resource: Resource {
            action: &rule.action,
            kind: &rule.resource,
            id: rule.resource_id.as_deref().and_then(group),
        },
        contexts,
    }
}

pub async fn decide(
    http: &reqwest::Client,
    endpoint: &url::Url,
    body: &AbacRequest<'_>,
    request_id: &str,
    timeout: Duration,
    metrics: &GateMetrics,
    otel: Option<&opentelemetry::Context>,
) -> AbacAnswer {
    let started = Instant::now();
    let span = crate::spans::Call::start(otel, "abac");
    let mut req = http
        .post(endpoint.clone())
        .timeout(timeout)
        .header("accept", "application/json")
        .header("x-request-id", request_id);
    if let Some(span) = &span {
        req = req.header("traceparent", &span.traceparent);
    }
    let res = req.json(body).send().await;
    let answer = match res {
        Err(e) => {
            tracing::warn!(error = %e, "ABAC unreachable");
            AbacAnswer::Unavailable
        }
        Ok(res) if res.status().is_server_error() => {
            tracing::warn!(status = res.status().as_u16(), "ABAC failed");
            AbacAnswer::Unavailable
        }
        Ok(res) if res.status() != reqwest::StatusCode::OK => {
            tracing::warn!(status = res.status().as_u16(), "ABAC refused the request");
            AbacAnswer::Deny
        }
        Ok(res) => match res.bytes().await {
            Err(e) => {
                tracing::warn!(error = %e, "ABAC answer unreadable");
                AbacAnswer::Unavailable
            }
            Ok(bytes) => {
                let allowed = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .is_some_and(|v| {
                        v.pointer("/data/result") == Some(&serde_json::Value::Bool(true))
                    });
                if allowed {
                    AbacAnswer::Allow
                } else {
                    AbacAnswer::Deny
                }
            }
        },
    };
    let outcome = match answer {
        AbacAnswer::Allow => "allow",
        AbacAnswer::Deny => "deny",
        AbacAnswer::Unavailable => "unavailable",
    };
    metrics.abac_latency(outcome, started.elapsed());
    if let Some(span) = span {
        span.end(outcome);
    }
    answer
}
