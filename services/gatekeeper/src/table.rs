//! The route table: read from YAML, validated whole, compiled once. A table that fails any check
//! is never installed (the reloader keeps the previous one), so request handling trusts it.
//!
//! Departures from the reference, on purpose (spec gatekeeper.md §4 W5, W6, W7):
//! - rule paths are regexes anchored at both ends and matched against the path *relative to the
//!   prefix the router matched*, on the same normalized path the router used;
//! - ABAC takes its resource id and contexts from the named groups of the rule's own path
//!   (query parameters only for contexts that opt in), so there is no second regex that can
//!   disagree with routing;
//! - rate limits must not shrink for longer periods; unknown keys are errors; HEAD is a method.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, bail};
use regex::{Regex, RegexSet};
use serde::Deserialize;

use crate::ratelimit::{Period, RateLimit};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    pub routes: Vec<RouteSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    pub name: String,
    /// Path prefixes, matched on segment boundaries (`/api/clients` matches `/api/clients/x`,
    /// not `/api/clientsx`). The longest matching prefix wins.
    pub paths: Vec<String>,
    #[serde(default = "all_methods")]
    pub methods: Vec<HttpMethod>,
    /// `http(s)://host[:port][/base]`; the request path is appended.
    pub upstream: String,
    /// Remove the matched prefix before appending the path.
    #[serde(default)]
    pub strip_prefix: bool,
    #[serde(default)]
    pub timeouts: TimeoutSpec,
    /// Request bodies above this are refused with 413 (default: the server's body_limit).
    #[serde(default)]
    pub max_body_bytes: Option<u64>,
    #[serde(default)]
    pub auth: AuthMode,
    /// Also accept the token from an `authorization` cookie when no header is sent.
    #[serde(default)]
    pub cookie: bool,
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
    #[serde(default)]
    pub rate_limit: Option<RateLimitSpec>,
    #[serde(default)]
    pub cors: Option<CorsSpec>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

fn all_methods() -> Vec<HttpMethod> {
    use HttpMethod::*;
    vec![Get, Head, Post, Put, Patch, Delete, Options]
}

impl HttpMethod {
    pub fn of(m: &str) -> Option<Self> {
        Some(match m {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            "OPTIONS" => Self::Options,
            _ => return None,
        })
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
        }
    }
}

/// A set of methods as bits.
#[derive(Debug, Clone, Copy, Default)]
pub struct Methods(u8);

impl Methods {
    fn of(list: &[HttpMethod]) -> Self {
        Self(list.iter().fold(0, |acc, m| acc | m.bit()))
    }
    pub fn contains(self, m: HttpMethod) -> bool {
        self.0 & m.bit() != 0
    }

    /// As an `Allow` header lists them.
    pub fn header_value(self) -> String {
        all_methods()
            .into_iter()
            .filter(|m| self.contains(*m))
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Bearer token verified by auth-token (the reference's default mode).
    #[default]
    Token,
    /// The caller's `api-key` alone (the reference's `mis_only`): the client that owns that
    /// connection secret, with its client type's scope; no user, no ABAC.
    ApiKey,
    /// No authentication: the OAuth endpoints themselves. Identity headers are still stripped.
    None,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutSpec {
    #[serde(default = "default_connect_ms")]
    pub connect_ms: u64,
    /// From sending the request to the upstream's response head.
    #[serde(default = "default_response_ms")]
    pub response_ms: u64,
}

impl Default for TimeoutSpec {
    fn default() -> Self {
        Self {
            connect_ms: default_connect_ms(),
            response_ms: default_response_ms(),
        }
    }
}

fn default_connect_ms() -> u64 {
    2_000
}
fn default_response_ms() -> u64 {
    60_000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub methods: Vec<HttpMethod>,
    /// A regex over the path relative to the route prefix, anchored at both ends.
    pub path: String,
    /// Every one is required (AND). Empty: any valid token.
    pub scopes: Vec<String>,
    #[serde(default)]
    pub abac: Option<AbacSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbacSpec {
    /// Full URL of the decision endpoint (the reference's `POST /api/authorize`).
    pub endpoint: String,
    pub action: String,
    pub resource: String,
    /// A named group of the rule path that holds the resource id.
    #[serde(default)]
    pub resource_id: Option<String>,
    #[serde(default)]
    pub contexts: Vec<ContextSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSpec {
    /// The context's `type` in the ABAC request (`patient`, `episode`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// A named group of the rule path, or (with `query: true`) a query parameter.
    pub from: String,
    #[serde(default)]
    pub query: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    #[serde(default)]
    pub second: Option<u32>,
    #[serde(default)]
    pub minute: Option<u32>,
    #[serde(default)]
    pub hour: Option<u32>,
    #[serde(default)]
    pub day: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsSpec {
    /// Allowed origins (`https://app.example`), or `*`.
    pub origins: Vec<String>,
    #[serde(default)]
    pub headers: Vec<String>,
    #[serde(default = "default_max_age")]
    pub max_age_secs: u32,
}

fn default_max_age() -> u32 {
    600
}

// ---------------------------------------------------------------------------------------------

/// What compiling a table needs besides the file.
pub struct LoadContext {
    /// `max_body_bytes` of routes that do not set it.
    pub default_body_limit: u64,
}

/// A compiled, validated table.
pub struct RouteTable {
    pub routes: Vec<Route>,
    /// (prefix, route index), longest prefix first.
    prefixes: Vec<(String, usize)>,
    /// Every route is [`Route::is_plain`]: `h1` need not look a route up first.
    pub all_plain: bool,
}

pub struct Route {
    pub name: String,
    pub paths: Vec<String>,
    pub methods: Methods,
    pub upstream: url::Url,
    pub strip_prefix: bool,
    pub response_timeout: Duration,
    pub max_body: u64,
    pub auth: AuthMode,
    pub cookie: bool,
    pub rules: Vec<Rule>,
    rule_set: RegexSet,
    pub rate_limit: Option<RateLimit>,
    pub cors: Option<Cors>,
    /// The upstream's scheme and authority, parsed once for every request URI.
    pub origin: Origin,
    pub connect_timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct Origin {
    pub scheme: http::uri::Scheme,
    pub authority: http::uri::Authority,
    /// The `Host` header sent upstream.
    pub host: http::HeaderValue,
    /// `scheme://authority`: the connection pool's key.
    pub key: std::sync::Arc<str>,
    /// `host:port`, the port made explicit.
    pub connect_to: String,
}

pub struct Rule {
    pub index: usize,
    pub methods: Methods,
    pub path: Regex,
    pub scopes: Vec<String>,
    pub abac: Option<AbacRule>,
}

pub struct AbacRule {
    pub endpoint: url::Url,
    pub action: String,
    pub resource: String,
    pub resource_id: Option<String>,
    pub contexts: Vec<ContextSpec>,
}

pub struct Cors {
    pub any_origin: bool,
    pub origins: HashSet<String>,
    pub headers: String,
    pub methods: String,
    pub max_age: String,
}

/// What the router found for a request.
pub struct Matched<'a> {
    pub route: &'a Route,
    pub prefix: &'a str,
}

pub enum Lookup<'a> {
    Found(Matched<'a>),
    /// Routes have the path but not the method: the methods they take.
    MethodNotAllowed(Methods),
    NotFound,
}

impl RouteTable {
    /// Parses a route file; `${NAME}` and `${NAME:-default}` are replaced from the environment
    /// first (upstream addresses differ between a laptop, compose and Kubernetes).
    pub fn parse(yaml: &str, ctx: &LoadContext) -> anyhow::Result<Self> {
        let yaml = expand_env(yaml, |k| std::env::var(k).ok())?;
        let file: RouteFile = serde_norway::from_str(&yaml).context("route file is not valid")?;
        Self::compile(file, ctx)
    }

    pub fn load(path: &str, ctx: &LoadContext) -> anyhow::Result<Self> {
        let yaml =
            std::fs::read_to_string(path).with_context(|| format!("reading route file {path}"))?;
        Self::parse(&yaml, ctx).with_context(|| format!("route file {path}"))
    }

    pub fn compile(file: RouteFile, ctx: &LoadContext) -> anyhow::Result<Self> {
        let mut names = HashSet::new();
        let mut seen: Vec<(String, Methods, String)> = Vec::new();
        let mut routes = Vec::with_capacity(file.routes.len());
        let mut prefixes = Vec::new();
        for (i, spec) in file.routes.into_iter().enumerate() {
            let name = spec.name.clone();
            if !names.insert(name.clone()) {
                bail!("routes[{i}]: duplicate route name {name:?}");
            }
            let route =
                compile_route(spec, ctx).with_context(|| format!("routes[{i}] ({name})"))?;
            for p in &route.paths {
                for (other_path, other_methods, other_name) in &seen {
                    if other_path == p && other_methods.0 & route.methods.0 != 0 {
                        bail!(
                            "routes[{i}] ({name}): path {p} with these methods is already routed by {other_name}"
                        );
                    }
                }
                seen.push((p.clone(), route.methods, name.clone()));
                prefixes.push((p.clone(), i));
            }
            routes.push(route);
        }
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        let all_plain = routes.iter().all(Route::is_plain);
        Ok(Self {
            routes,
            prefixes,
            all_plain,
        })
    }

    /// The longest prefix with the method wins; a shorter prefix may still take a method the
    /// longer one does not route.
    pub fn lookup(&self, method: Option<HttpMethod>, path: &str) -> Lookup<'_> {
        let mut path_known = false;
        let mut allowed = Methods::default();
        for (prefix, idx) in &self.prefixes {
            if !prefix_matches(prefix, path) {
                continue;
            }
            path_known = true;
            let route = &self.routes[*idx];
            if method.is_some_and(|m| route.methods.contains(m)) {
                return Lookup::Found(Matched { route, prefix });
            }
            allowed = Methods(allowed.0 | route.methods_for(prefix, path).0);
        }
        if path_known {
            Lookup::MethodNotAllowed(allowed)
        } else {
            Lookup::NotFound
        }
    }

    /// The route that answers CORS preflights for this path (any method).
    pub fn cors_route(&self, path: &str) -> Option<&Route> {
        self.prefixes
            .iter()
            .filter(|(p, _)| prefix_matches(p, path))
            .map(|(_, i)| &self.routes[*i])
            .find(|r| r.cors.is_some())
    }

    pub fn route_names(&self) -> Vec<&str> {
        self.routes.iter().map(|r| r.name.as_str()).collect()
    }
}

/// `${NAME}` (required) and `${NAME:-default}`; `$$` is a literal `$`.
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| anyhow::anyhow!("unclosed ${{ in the route file"))?;
            let (name, default) = match body[..end].split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (&body[..end], None),
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                bail!("${{{}}}: not a variable name", &body[..end]);
            }
            match (lookup(name).filter(|v| !v.is_empty()), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => bail!("${{{name}}} is not set"),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

impl Route {
    /// The methods this route takes on `path` (under `prefix`): on a route with rules, those of
    /// the rules whose path matches (any other method is refused), else all of the route's.
    pub fn methods_for(&self, prefix: &str, path: &str) -> Methods {
        if self.rules.is_empty() {
            return self.methods;
        }
        let relative = if prefix == "/" {
            path
        } else {
            &path[prefix.len()..]
        };
        let of_rules = self
            .rule_set
            .matches(relative)
            .iter()
            .fold(0, |acc, i| acc | self.rules[i].methods.0);
        Methods(of_rules & self.methods.0)
    }

    /// The first rule, in file order, whose methods and path match.
    pub fn find_rule(&self, method: HttpMethod, relative: &str) -> Option<&Rule> {
        self.rule_set
            .matches(relative)
            .iter()
            .map(|i| &self.rules[i])
            .find(|r| r.methods.contains(method))
    }

    /// Served by `h1`: an `http://` upstream, no rate limit, no CORS.
    pub fn is_plain(&self) -> bool {
        self.rate_limit.is_none()
            && self.cors.is_none()
            && self.origin.scheme == http::uri::Scheme::HTTP
    }

    /// The path sent upstream: the base path of the upstream URL, then the request path (without
    /// the prefix when `strip_prefix`).
    pub fn upstream_path(&self, prefix: &str, path: &str) -> String {
        let tail = if self.strip_prefix && prefix != "/" {
            &path[prefix.len()..]
        } else {
            path
        };
        let base = self.upstream.path().trim_end_matches('/');
        match (base.is_empty(), tail.is_empty()) {
            (true, true) => "/".to_owned(),
            (true, false) => tail.to_owned(),
            (false, _) => format!("{base}{tail}"),
        }
    }
}

fn compile_route(spec: RouteSpec, ctx: &LoadContext) -> anyhow::Result<Route> {
    if spec.paths.is_empty() {
        bail!("paths: at least one prefix is required");
    }
    if spec.methods.is_empty() {
        bail!("methods: at least one method is required");
    }
    for p in &spec.paths {
        check_prefix(p).with_context(|| format!("paths: {p:?}"))?;
    }
    let upstream = parse_http_url(&spec.upstream).context("upstream")?;
    if upstream.query().is_some() || upstream.fragment().is_some() {
        bail!("upstream: no query or fragment allowed");
    }
    if spec.auth == AuthMode::None && !spec.rules.is_empty() {
        bail!("rules: a route with auth none has no token to check scopes against");
    }
    if spec.auth == AuthMode::ApiKey && spec.rules.iter().any(|r| r.abac.is_some()) {
        bail!("rules: ABAC needs a user; routes with auth api_key have none");
    }
    if spec.timeouts.connect_ms == 0 || spec.timeouts.response_ms == 0 {
        bail!("timeouts: must be above 0");
    }
    let mut rules = Vec::with_capacity(spec.rules.len());
    for (i, r) in spec.rules.into_iter().enumerate() {
        rules.push(compile_rule(i, r).with_context(|| format!("rules[{i}]"))?);
    }
    let rule_set = RegexSet::new(rules.iter().map(|r| r.path.as_str()))
        .context("rules: compiling the rule set")?;
    let rate_limit = spec
        .rate_limit
        .map(compile_rate_limit)
        .transpose()
        .context("rate_limit")?;
    let methods = Methods::of(&spec.methods);
    let cors = spec
        .cors
        .map(|c| compile_cors(c, &spec.methods))
        .transpose()?;
    let authority = &upstream[url::Position::BeforeHost..url::Position::AfterPort];
    let origin = Origin {
        scheme: upstream.scheme().parse().context("upstream: the scheme")?,
        authority: authority.parse().context("upstream: the host and port")?,
        host: authority.parse().context("upstream: the host and port")?,
        key: format!("{}://{authority}", upstream.scheme()).into(),
        connect_to: format!(
            "{}:{}",
            upstream.host_str().unwrap_or_default(),
            upstream.port_or_known_default().unwrap_or(80)
        ),
    };
    Ok(Route {
        name: spec.name,
        paths: spec.paths,
        methods,
        upstream,
        strip_prefix: spec.strip_prefix,
        response_timeout: Duration::from_millis(spec.timeouts.response_ms),
        max_body: spec.max_body_bytes.unwrap_or(ctx.default_body_limit),
        auth: spec.auth,
        cookie: spec.cookie,
        rules,
        rule_set,
        rate_limit,
        cors,
        origin,
        connect_timeout: Duration::from_millis(spec.timeouts.connect_ms),
    })
}

fn check_prefix(p: &str) -> anyhow::Result<()> {
    if !p.starts_with('/') {
        bail!("must start with /");
    }
    if p.len() > 1 && p.ends_with('/') {
        bail!("must not end with /");
    }
    match crate::path::normalize(p) {
        Ok(n) if n == p => Ok(()),
        _ => bail!("must be a normalized path (no //, . or .., no percent-escapes)"),
    }
}

fn parse_http_url(s: &str) -> anyhow::Result<url::Url> {
    let u = url::Url::parse(s).with_context(|| format!("{s:?} is not a URL"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        bail!("{s:?} must be an http(s) URL with a host");
    }
    Ok(u)
}

fn compile_rule(index: usize, spec: RuleSpec) -> anyhow::Result<Rule> {
    if spec.methods.is_empty() {
        bail!("methods: at least one method is required");
    }
    if spec.scopes.iter().any(|s| s.is_empty() || s.contains(' ')) {
        bail!("scopes: each scope is one non-empty word");
    }
    let path = Regex::new(&format!("^(?:{})$", spec.path))
        .with_context(|| format!("path {:?} is not a valid regex", spec.path))?;
    let groups: HashSet<&str> = path.capture_names().flatten().collect();
    let abac = match spec.abac {
        None => None,
        Some(a) => {
            let endpoint = parse_http_url(&a.endpoint).context("abac.endpoint")?;
            if a.action.is_empty() || a.resource.is_empty() {
                bail!("abac: action and resource are required");
            }
            if let Some(id) = &a.resource_id
                && !groups.contains(id.as_str())
            {
                bail!("abac.resource_id: the rule path has no group named {id:?}");
            }
            for c in &a.contexts {
                if !c.query && !groups.contains(c.from.as_str()) {
                    bail!(
                        "abac.contexts: the rule path has no group named {:?} (set query: true to read a query parameter)",
                        c.from
                    );
                }
            }
            Some(AbacRule {
                endpoint,
                action: a.action,
                resource: a.resource,
                resource_id: a.resource_id,
                contexts: a.contexts,
            })
        }
    };
    Ok(Rule {
        index,
        methods: Methods::of(&spec.methods),
        path,
        scopes: spec.scopes,
        abac,
    })
}

fn compile_rate_limit(spec: RateLimitSpec) -> anyhow::Result<RateLimit> {
    let limits: Vec<(Period, u32)> = [
        (Period::Second, spec.second),
        (Period::Minute, spec.minute),
        (Period::Hour, spec.hour),
        (Period::Day, spec.day),
    ]
    .into_iter()
    .filter_map(|(p, l)| l.map(|l| (p, l)))
    .collect();
    if limits.is_empty() {
        bail!("at least one of second, minute, hour, day");
    }
    if limits.iter().any(|(_, l)| *l == 0) {
        bail!("limits must be above 0");
    }
    for pair in limits.windows(2) {
        if pair[1].1 < pair[0].1 {
            bail!(
                "{} ({}) is below {} ({}): a longer period cannot allow fewer requests",
                pair[1].0.name(),
                pair[1].1,
                pair[0].0.name(),
                pair[0].1
            );
        }
    }
    Ok(RateLimit::new(limits))
}

fn compile_cors(spec: CorsSpec, methods: &[HttpMethod]) -> anyhow::Result<Cors> {
    if spec.origins.is_empty() {
        bail!("cors.origins: at least one origin (or *)");
    }
    let any_origin = spec.origins.iter().any(|o| o == "*");
    for o in spec.origins.iter().filter(|o| *o != "*") {
        let u = parse_http_url(o).with_context(|| format!("cors.origins: {o:?}"))?;
        if u.path() != "/" || o.ends_with('/') {
            bail!("cors.origins: {o:?} must be scheme://host[:port]");
        }
    }
    let methods = methods
        .iter()
        .map(|m| format!("{m:?}").to_uppercase())
        .collect::<Vec<_>>()
        .join(", ");
    let mut headers = vec!["authorization", "content-type", "api-key", "x-request-id"];
    headers.extend(spec.headers.iter().map(String::as_str));
    Ok(Cors {
        any_origin,
        origins: spec.origins.iter().cloned().collect(),
        headers: headers.join(", "),
        methods,
        max_age: spec.max_age_secs.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_environment_references() {
        let env = |k: &str| (k == "UP").then(|| "http://up:1".to_owned());
        assert_eq!(
            expand_env("a: ${UP}/x ${NOPE:-http://d:2} $$5 $x", env).unwrap(),
            "a: http://up:1/x http://d:2 $5 $x"
        );
        assert!(expand_env("${NOPE}", env).is_err());
        assert!(expand_env("${UP", env).is_err());
        assert!(expand_env("${A B}", env).is_err());
    }

    fn compile(yaml: &str) -> anyhow::Result<RouteTable> {
        let ctx = LoadContext {
            default_body_limit: 1024,
        };
        RouteTable::parse(yaml, &ctx)
    }

    #[test]
    fn rejects_what_a_schema_cannot() {
        let route = |extra: &str| {
            format!(
                "routes:\n  - name: r\n    paths: [/r]\n    upstream: http://127.0.0.1:1\n{extra}"
            )
        };
        assert!(compile(&route("")).is_ok());
        let abac = "      - {methods: [GET], path: '/(?P<id>x)', scopes: [], abac: {endpoint: 'http://a:1/x', action: read, resource: r, resource_id: id}}\n";
        assert!(compile(&route(&format!("    rules:\n{abac}"))).is_ok());
        let err = |extra: &str| format!("{:#}", compile(&route(extra)).err().unwrap());
        assert!(
            err(&format!("    auth: api_key\n    rules:\n{abac}")).contains("ABAC needs a user")
        );
        assert!(
            err("    auth: none\n    rules:\n      - {methods: [GET], path: '', scopes: [a]}\n")
                .contains("auth none")
        );
        assert!(err("    rules:\n      - {methods: [GET], path: '/(?P<id>x)', scopes: [], abac: {endpoint: 'http://a:1/x', action: read, resource: r, resource_id: nope}}\n").contains("no group named"));
        assert!(err("    rate_limit: {second: 5, minute: 2}\n").contains("below"));
        assert!(err("    colour: blue\n").contains("unknown field"));
        let two = "routes:\n  - {name: a, paths: [/x], upstream: 'http://h:1'}\n  - {name: b, paths: [/x], upstream: 'http://h:1'}\n";
        assert!(format!("{:#}", compile(two).err().unwrap()).contains("already routed by a"));
    }
}
