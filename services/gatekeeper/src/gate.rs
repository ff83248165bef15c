//! The decision for one request, shared by the proxy and `explain`: route → token → rule and
//! scopes → ABAC. Every step records what it saw in a [`Trace`], so `explain` can show the
//! decision without forwarding anything.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use platform::ApiError;
use serde::Serialize;

use crate::abac::{self, AbacAnswer};
use crate::path;
use crate::settings::Settings;
use crate::table::{AuthMode, HttpMethod, Lookup, Route, RouteTable, Rule};
use crate::verify::{Identity, NoVerdict, Verdict, Verifier};

/// What the caller sent that the decision reads.
pub struct Inbound<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub query: &'a str,
    /// Every `Authorization` header value (more than one is refused).
    pub authorization: &'a [&'a [u8]],
    /// The `authorization` cookie, read only on routes that allow it.
    pub cookie: Option<String>,
    pub api_key: Option<&'a str>,
    pub request_id: &'a str,
    /// The caller's address (its verify misses are limited).
    pub client: std::net::IpAddr,
}

/// How each step went; `explain` returns it as is. Proxied requests pass a trace that does not
/// record (`Trace::default()`), so the hot path copies nothing into it.
#[derive(Default, Serialize, Debug)]
pub struct Trace {
    #[serde(skip)]
    pub recording: bool,
    pub normalized_path: Option<String>,
    pub route: Option<String>,
    pub prefix: Option<String>,
    pub relative_path: Option<String>,
    pub authenticated: Option<bool>,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub token_scope: Option<String>,
    pub rule: Option<RuleTrace>,
    pub missing_scopes: Vec<String>,
    pub missing_broker_scopes: Vec<String>,
    pub abac: Option<AbacAnswer>,
}

#[derive(Serialize, Debug)]
pub struct RuleTrace {
    pub index: usize,
    pub path: String,
    pub scopes: Vec<String>,
}

/// A request that may go on to the upstream.
pub struct Passed<'t> {
    pub route: &'t Route,
    pub prefix: &'t str,
    pub path: String,
    pub identity: Option<Arc<Identity>>,
    /// The bearer token, for rate-limit keys of tokens without a client (on routes with a
    /// rate limit only).
    pub token: Option<String>,
}

/// A request answered by the gatekeeper itself.
pub struct Stop {
    pub error: Box<ApiError>,
    /// The `decision` label of the request metric.
    pub decision: &'static str,
    /// The route, when one matched (for metrics).
    pub route: Option<String>,
}

impl Trace {
    pub fn recording() -> Self {
        Self {
            recording: true,
            ..Self::default()
        }
    }
}

impl Stop {
    pub fn new(error: ApiError, decision: &'static str, route: Option<&Route>) -> Self {
        Self {
            error: Box::new(error),
            decision,
            route: route.map(|r| r.name.clone()),
        }
    }
}

pub const NO_TOKEN: &str = "Authorization header is not set or doesn't contain Bearer token";
pub const INVALID_TOKEN: &str = "Invalid access token";
pub const NO_API_KEY: &str = "Api key is not set";

/// Everything the decision needs besides the request.
pub struct Deps<'a> {
    pub settings: &'a Settings,
    pub verifier: &'a Verifier,
    pub http: &'a reqwest::Client,
    pub metrics: &'a crate::metrics::GateMetrics,
}

fn dependency_failure(deps: &Deps<'_>, what: &str, compat: ApiError) -> ApiError {
    if deps.settings.dependencies.compat_statuses {
        compat
    } else {
        ApiError::service_unavailable(
            format!("{what} is unavailable. Try later."),
            deps.settings.dependencies.retry_after_secs,
        )
    }
}

pub async fn decide<'t>(
    table: &'t RouteTable,
    deps: &Deps<'_>,
    inb: &Inbound<'_>,
    trace: &mut Trace,
) -> Result<Passed<'t>, Stop> {
    let path = path::normalize(inb.raw_path).map_err(|_| {
        Stop::new(
            ApiError::malformed_with("Request path is not valid."),
            "bad_request",
            None,
        )
    })?;
    if trace.recording {
        trace.normalized_path = Some(path.clone());
    }
    let method = HttpMethod::of(inb.method);
    let matched = match table.lookup(method, &path) {
        Lookup::Found(m) => m,
        Lookup::MethodNotAllowed(allowed) => {
            return Err(Stop::new(
                ApiError::method_not_allowed().with_allow(allowed.header_value()),
                "no_route",
                None,
            ));
        }
        Lookup::NotFound => return Err(Stop::new(ApiError::not_found(), "no_route", None)),
    };
    let route = matched.route;
    let relative = relative_path(matched.prefix, &path);
    if trace.recording {
        trace.route = Some(route.name.clone());
        trace.prefix = Some(matched.prefix.to_owned());
        trace.relative_path = Some(relative.to_owned());
    }
    let (identity, token) = match route.auth {
        AuthMode::None => (None, None),
        AuthMode::ApiKey => {
            let key = inb.api_key.filter(|k| !k.is_empty()).ok_or_else(|| {
                Stop::new(unauthenticated(NO_API_KEY), "unauthenticated", Some(route))
            })?;
            let outcome = deps
                .verifier
                .verify_api_key(key, inb.request_id, inb.client)
                .await;
            let id = identity_of(outcome, deps, route, trace, crate::verify::INVALID_API_KEY)?;
            (Some(id), None)
        }
        AuthMode::Token => {
            let token = bearer_token(inb, route)?;
            let outcome = deps
                .verifier
                .verify(token, inb.api_key, inb.request_id, inb.client)
                .await;
            let id = identity_of(outcome, deps, route, trace, INVALID_TOKEN)?;
            // Kept only where a rate limit may be keyed by it.
            let token = route.rate_limit.is_some().then(|| token.to_owned());
            (Some(id), token)
        }
    };
    if let (Some(who), Some(m)) = (&identity, method)
        && !route.rules.is_empty()
    {
        let rule = route.find_rule(m, relative).ok_or_else(|| {
            Stop::new(
                ApiError::forbidden_with(format!(
                    "ACL: No matching rule was found for path {}",
                    matched.prefix
                )),
                "forbidden",
                Some(route),
            )
        })?;
        if trace.recording {
            trace.rule = Some(RuleTrace {
                index: rule.index,
                path: rule.path.as_str().to_owned(),
                scopes: rule.scopes.clone(),
            });
        }
        check_scopes(rule, who, trace).map_err(|e| Stop::new(e, "forbidden", Some(route)))?;
        if let Some(abac_rule) = &rule.abac {
            let query = parse_query(inb.query);
            let body = abac::request(abac_rule, &rule.path, relative, &query, who);
            // Boxed, like the verify call: a rare path should not enlarge every request's future.
            let answer = Box::pin(abac::decide(
                deps.http,
                &abac_rule.endpoint,
                &body,
                inb.request_id,
                Duration::from_millis(deps.settings.abac.timeout_ms),
                deps.metrics,
            ))
            .await;
            trace.abac = Some(answer.clone());
            match answer {
                AbacAnswer::Allow => {}
                AbacAnswer::Deny => {
                    return Err(Stop::new(
                        ApiError::forbidden_with("Access denied"),
                        "forbidden",
                        Some(route),
                    ));
                }
                AbacAnswer::Unavailable => {
                    return Err(Stop::new(
                        dependency_failure(
                            deps,
                            "Access policy service",
                            ApiError::forbidden_with("Access denied"),
                        ),
                        "dependency_failure",
                        Some(route),
                    ));
                }
            }
        }
    }
    Ok(Passed {
        route,
        prefix: matched.prefix,
        path,
        identity,
        token,
    })
}

/// The caller's identity from auth-token's answer, or the gatekeeper's 401 (refused) or 503
/// (auth-token failing; `compat_message`'s 401 with the compatibility flag).
fn identity_of(
    outcome: Result<Verdict, NoVerdict>,
    deps: &Deps<'_>,
    route: &Route,
    trace: &mut Trace,
    compat_message: &'static str,
) -> Result<Arc<Identity>, Stop> {
    let verdict = outcome.map_err(|e| match e {
        NoVerdict::TooManyMisses { retry_after_secs } => Stop::new(
            ApiError::too_many_requests(retry_after_secs),
            "rate_limited",
            Some(route),
        ),
        NoVerdict::Unavailable(e) => {
            tracing::warn!(error = %e.0, "verification failed");
            Stop::new(
                dependency_failure(
                    deps,
                    "Authorization service",
                    unauthenticated(compat_message),
                ),
                "dependency_failure",
                Some(route),
            )
        }
    })?;
    match verdict {
        Verdict::Valid(id) => {
            if trace.recording {
                trace.authenticated = Some(true);
                trace.user_id = id.user_id.clone();
                trace.client_id = id.client_id.clone();
                trace.token_scope = Some(id.scope.clone());
            }
            Ok(id)
        }
        Verdict::Refused(message) => {
            trace.authenticated = Some(false);
            Err(Stop::new(
                unauthenticated(message.to_string()),
                "unauthenticated",
                Some(route),
            ))
        }
    }
}

/// The path after the route prefix ("" for the prefix itself).
pub fn relative_path<'p>(prefix: &str, path: &'p str) -> &'p str {
    if prefix == "/" {
        path
    } else {
        &path[prefix.len()..]
    }
}

fn unauthenticated(message: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "access_denied",
        Some(message.into()),
    )
    .with_www_authenticate()
}

/// RFC 6750 `Bearer <token68>`, scheme case-insensitive; one header only. The cookie is read
/// only where the route allows it and no header was sent (the reference let it win, W8).
fn bearer_token<'a>(inb: &'a Inbound<'_>, route: &Route) -> Result<&'a str, Stop> {
    let no_token = || Stop::new(unauthenticated(NO_TOKEN), "unauthenticated", Some(route));
    let token = match inb.authorization {
        [] => match (&inb.cookie, route.cookie) {
            (Some(c), true) => c.strip_prefix("Bearer ").unwrap_or(c),
            _ => return Err(no_token()),
        },
        [one] => {
            let value = std::str::from_utf8(one).map_err(|_| no_token())?;
            let (scheme, token) = value.split_once(' ').ok_or_else(no_token)?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(no_token());
            }
            token.trim_matches(' ')
        }
        _ => return Err(no_token()),
    };
    if !is_token68(token) {
        return Err(Stop::new(
            unauthenticated(INVALID_TOKEN),
            "unauthenticated",
            Some(route),
        ));
    }
    Ok(token)
}

/// RFC 7235 token68: what a bearer token may contain. Anything else never reaches auth-token.
fn is_token68(t: &str) -> bool {
    let body = t.trim_end_matches('=');
    !body.is_empty()
        && t.len() <= 4096
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// Every rule scope must be in the token's scope and, when the token has one, in its
/// broker_scope; the 403 lists what is missing, in rule order.
fn check_scopes(rule: &Rule, who: &Identity, trace: &mut Trace) -> Result<(), ApiError> {
    let missing: Vec<String> = rule
        .scopes
        .iter()
        .filter(|s| !who.has_scope(s))
        .cloned()
        .collect();
    let broker_missing: Vec<String> = rule
        .scopes
        .iter()
        .filter(|s| !who.broker_allows(s))
        .cloned()
        .collect();
    if trace.recording {
        trace.missing_scopes = missing.clone();
        trace.missing_broker_scopes = broker_missing.clone();
    }
    let list = if !missing.is_empty() {
        missing
    } else {
        broker_missing
    };
    if list.is_empty() {
        Ok(())
    } else {
        Err(ApiError::forbidden_with(format!(
            "Invalid scopes. Missing allowances: {}",
            list.join(", ")
        )))
    }
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token68() {
        assert!(is_token68("abc-DEF_123"));
        assert!(is_token68("abc+/=="));
        assert!(!is_token68(""));
        assert!(!is_token68("=="));
        assert!(!is_token68("a%2Fb"));
        assert!(!is_token68("a/../b?x"));
        assert!(!is_token68("a b"));
    }
}
