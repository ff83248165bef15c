//! The decision for one request, shared by both transports of the proxy and by `explain`, as
//! named steps: `route` → `authenticate` → `authorize` (rule and scopes) → `check_abac`
//! → `rate_limit`. It reads only the request's head. Every step records what it saw in a
//! [`Trace`], so `explain` can show the decision without forwarding anything (or spending the
//! caller's rate limit).

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use platform::ApiError;
use serde::Serialize;

use crate::abac::{self, AbacAnswer};
use crate::path;
use crate::ratelimit::{Decision, Limiter};
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
    /// The request's span, while traces are exported.
    pub otel: Option<&'a opentelemetry::Context>,
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
    /// The route's rate limit as this request found it (its headers go on the answer).
    pub limit: Option<Decision>,
}

/// A request answered by the gatekeeper itself.
pub struct Stop {
    pub error: Box<ApiError>,
    /// The `decision` label of the request metric.
    pub decision: &'static str,
    /// The route, when one matched (for metrics).
    pub route: Option<String>,
    /// The spent rate limit of a 429 (its headers go on the answer).
    pub limit: Option<Decision>,
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
            limit: None,
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
    pub limiter: &'a Limiter,
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

/// The decision, as a sequence of steps: the route, the caller, the rule and its scopes, ABAC,
/// the rate limit. Each step stops the request (a [`Stop`]) or hands on what the next needs.
pub async fn decide<'t>(
    table: &'t RouteTable,
    deps: &Deps<'_>,
    inb: &Inbound<'_>,
    trace: &mut Trace,
) -> Result<Passed<'t>, Stop> {
    let (path, matched) = route(table, inb, trace)?;
    let route = matched.route;
    let relative = relative_path(matched.prefix, &path);
    let identity = authenticate(route, deps, inb, trace).await?;
    if let (Some(who), Some(method)) = (&identity, HttpMethod::of(inb.method))
        && let Some(rule) = authorize(route, matched.prefix, method, relative, who, trace)?
    {
        crate::spans::note(inb.otel, "gatekeeper.rule", rule.index as i64);
        if let Some(abac_rule) = &rule.abac {
            // Boxed, as the steps below: a rare step should not enlarge every request's future.
            Box::pin(check_abac(
                abac_rule, rule, route, relative, inb, who, deps, trace,
            ))
            .await?;
        }
    }
    // `explain` shows the decision without spending the caller's budget.
    let limit = if trace.recording || route.rate_limit.is_none() {
        None
    } else {
        Box::pin(rate_limit(route, identity.as_deref(), inb, deps)).await?
    };
    Ok(Passed {
        route,
        prefix: matched.prefix,
        path,
        identity,
        limit,
    })
}

/// Step 1: the route, by the normalized path and the method (400, 404 or 405 when none).
fn route<'t>(
    table: &'t RouteTable,
    inb: &Inbound<'_>,
    trace: &mut Trace,
) -> Result<(String, crate::table::Matched<'t>), Stop> {
    let path = path::normalize(inb.raw_path).map_err(|_| {
        Stop::new(
            ApiError::malformed_with("Request path is not valid."),
            "bad_request",
            None,
        )
    })?;
    let matched = match table.lookup(HttpMethod::of(inb.method), &path) {
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
    crate::spans::note(inb.otel, "gatekeeper.route", matched.route.name.clone());
    if trace.recording {
        trace.normalized_path = Some(path.clone());
        trace.route = Some(matched.route.name.clone());
        trace.prefix = Some(matched.prefix.to_owned());
        trace.relative_path = Some(relative_path(matched.prefix, &path).to_owned());
    }
    Ok((path, matched))
}

/// Step 2: the caller, by the route's mode: none, a bearer token or an api-key (401 without
/// one or with one auth-token refuses; 429 for too many unknown ones; 503 when it fails).
async fn authenticate(
    route: &Route,
    deps: &Deps<'_>,
    inb: &Inbound<'_>,
    trace: &mut Trace,
) -> Result<Option<Arc<Identity>>, Stop> {
    let outcome = match route.auth {
        AuthMode::None => return Ok(None),
        AuthMode::ApiKey => {
            let key = inb.api_key.filter(|k| !k.is_empty()).ok_or_else(|| {
                Stop::new(unauthenticated(NO_API_KEY), "unauthenticated", Some(route))
            })?;
            let outcome = deps
                .verifier
                .verify_api_key(key, inb.request_id, inb.client, inb.otel)
                .await;
            identity_of(outcome, deps, route, trace, crate::verify::INVALID_API_KEY)
        }
        AuthMode::Token => {
            let token = bearer_token(inb, route)?;
            let outcome = deps
                .verifier
                .verify(token, inb.api_key, inb.request_id, inb.client, inb.otel)
                .await;
            identity_of(outcome, deps, route, trace, INVALID_TOKEN)
        }
    };
    outcome.map(Some)
}

/// Step 3: the first rule for the method and path, and its scopes (403 when no rule takes the
/// call or a scope is missing). A route without rules only authenticates.
fn authorize<'r>(
    route: &'r Route,
    prefix: &str,
    method: HttpMethod,
    relative: &str,
    who: &Identity,
    trace: &mut Trace,
) -> Result<Option<&'r Rule>, Stop> {
    if route.rules.is_empty() {
        return Ok(None);
    }
    let rule = route.find_rule(method, relative).ok_or_else(|| {
        Stop::new(
            ApiError::forbidden_with(format!("ACL: No matching rule was found for path {prefix}")),
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
    Ok(Some(rule))
}

/// Step 4: the rule's ABAC decision (403 "Access denied" unless it allows; 503 when the engine
/// fails).
#[allow(clippy::too_many_arguments)]
async fn check_abac(
    abac_rule: &crate::table::AbacRule,
    rule: &Rule,
    route: &Route,
    relative: &str,
    inb: &Inbound<'_>,
    who: &Identity,
    deps: &Deps<'_>,
    trace: &mut Trace,
) -> Result<(), Stop> {
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
        inb.otel,
    ))
    .await;
    trace.abac = Some(answer.clone());
    let denied = || ApiError::forbidden_with("Access denied");
    match answer {
        AbacAnswer::Allow => Ok(()),
        AbacAnswer::Deny => Err(Stop::new(denied(), "forbidden", Some(route))),
        AbacAnswer::Unavailable => Err(Stop::new(
            dependency_failure(deps, "Access policy service", denied()),
            "dependency_failure",
            Some(route),
        )),
    }
}

/// Step 5: the route's rate limit, keyed by the token's client, else the token, else the
/// caller's address (429 with the limit's headers when spent).
async fn rate_limit(
    route: &Route,
    identity: Option<&Identity>,
    inb: &Inbound<'_>,
    deps: &Deps<'_>,
) -> Result<Option<Decision>, Stop> {
    let Some(limit) = &route.rate_limit else {
        return Ok(None);
    };
    let key = match (identity.and_then(|id| id.client_id.as_deref()), route.auth) {
        (Some(client), _) => format!("client:{client}"),
        (None, AuthMode::Token) => match bearer_token(inb, route) {
            Ok(t) => format!("token:{}", hex::encode(&Verifier::token_hash(t)[..16])),
            Err(_) => format!("ip:{}", inb.client),
        },
        _ => format!("ip:{}", inb.client),
    };
    let (decision, backend) = deps.limiter.check(&route.name, &key, limit).await;
    if decision.allowed {
        return Ok(Some(decision));
    }
    deps.metrics
        .rate_limited(&route.name, &format!("{backend:?}").to_lowercase());
    let mut stop = Stop::new(
        ApiError::too_many_requests(decision.reset_secs),
        "rate_limited",
        Some(route),
    );
    stop.limit = Some(decision);
    Err(stop)
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

    const TABLE: &str = r#"
routes:
  - name: api
    paths: [/api]
    methods: [GET, POST]
    upstream: "http://127.0.0.1:1"
    rules:
      - {methods: [GET], path: '/things(/.*)?', scopes: [thing:read]}
      - {methods: [POST], path: '/things', scopes: [thing:read, thing:write]}
"#;

    fn table() -> RouteTable {
        RouteTable::parse(
            TABLE,
            &crate::table::LoadContext {
                default_body_limit: 1024,
            },
        )
        .unwrap()
    }

    fn inbound(method: &'static str, raw_path: &'static str) -> Inbound<'static> {
        Inbound {
            method,
            raw_path,
            query: "",
            authorization: &[],
            cookie: None,
            api_key: None,
            request_id: "test",
            client: std::net::Ipv4Addr::LOCALHOST.into(),
            otel: None,
        }
    }

    fn who(scope: &str) -> Identity {
        Identity {
            user_id: Some("u".into()),
            client_id: Some("c".into()),
            mis_client_id: None,
            person_id: None,
            scope: scope.into(),
            broker_scope: None,
            expires_at: i64::MAX,
            headers: crate::verify::IdentityHeaders {
                consumer_id: None,
                consumer_scope: None,
                consumer_metadata: None,
                client_id: None,
                mis_client_id: None,
                person_id: None,
                signing: Default::default(),
            },
        }
    }

    #[test]
    fn the_route_step_normalizes_then_matches_path_and_method() {
        let table = table();
        let mut trace = Trace::recording();
        let (path, matched) = route(&table, &inbound("GET", "/api/x/../things/1"), &mut trace)
            .map_err(|s| s.error)
            .unwrap();
        assert_eq!((path.as_str(), matched.prefix), ("/api/things/1", "/api"));
        assert_eq!(trace.relative_path.as_deref(), Some("/things/1"));
        let status = |method, path| {
            route(&table, &inbound(method, path), &mut Trace::default())
                .err()
                .map(|s| s.error.status().as_u16())
        };
        assert_eq!(status("GET", "/elsewhere"), Some(404));
        assert_eq!(status("DELETE", "/api/things"), Some(405));
        assert_eq!(status("GET", "/api/%00"), Some(400));
    }

    #[test]
    fn the_authorize_step_takes_the_first_rule_and_names_the_missing_scopes() {
        let table = table();
        let route = &table.routes[0];
        let mut trace = Trace::recording();
        let rule = authorize(
            route,
            "/api",
            HttpMethod::Get,
            "/things/1",
            &who("thing:read"),
            &mut trace,
        )
        .map_err(|s| s.error)
        .unwrap()
        .unwrap();
        assert_eq!(rule.index, 0);
        let refused = |method, relative, scope: &str| {
            authorize(
                route,
                "/api",
                method,
                relative,
                &who(scope),
                &mut Trace::default(),
            )
            .err()
            .map(|s| s.error.message().map(str::to_owned))
        };
        assert_eq!(
            refused(HttpMethod::Post, "/things", "thing:read"),
            Some(Some(
                "Invalid scopes. Missing allowances: thing:write".into()
            ))
        );
        assert_eq!(
            refused(HttpMethod::Get, "/other", "thing:read"),
            Some(Some("ACL: No matching rule was found for path /api".into()))
        );
    }
}
