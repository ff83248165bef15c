//! The public contract: one OpenAPI document of everything the gateway routes publicly, served
//! on the proxy port without a token (`/openapi.json`, `/docs`) and committed as
//! `proto-contracts/openapi/public.json` (a test regenerates it from the default route table).
//!
//! It is built from the route table in force and the services' own documents (their committed
//! snapshots, which the services' tests keep equal to what they serve). An operation of a
//! service is public when a route takes its method and path, unchanged (routes that strip a
//! prefix are not described: which service stands behind them is not known here) and, on a
//! route with rules, a rule takes it too. It is documented with the credential the route asks
//! for instead of the service's own (the identity the gateway sets from it): an OAuth2 bearer
//! token with the scopes of the rule, the MIS's `api-key`, or none; and with the gateway's own
//! answers (401 and 403 with its messages, 408, 413, 429, 502–504).

use std::sync::Mutex;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::gate::{INVALID_TOKEN, NO_API_KEY, NO_TOKEN, relative_path};
use crate::table::{AuthMode, HttpMethod, Lookup, RouteTable};

/// The services' documents, as committed.
pub const SERVICE_DOCUMENTS: [&str; 3] = [
    include_str!("../../../proto-contracts/openapi/mithril-api.json"),
    include_str!("../../../proto-contracts/openapi/auth-token.json"),
    include_str!("../../../proto-contracts/openapi/employee-roles.json"),
];

/// Paths the gatekeeper answers itself on the proxy port, before any route.
pub const DOCUMENT_PATH: &str = "/openapi.json";
pub const DOCS_PATH: &str = "/docs";

pub fn is_own_path(path: &str) -> bool {
    path == DOCUMENT_PATH || path == DOCS_PATH || platform::docs_page::asset(path).is_some()
}

const OAUTH: &str = "oauth2";
const API_KEY: &str = "apiKey";

/// The document for `table`, from `services` (parsed [`SERVICE_DOCUMENTS`]).
pub fn document(table: &RouteTable, services: &[Value]) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut responses = Map::new();
    let mut scopes = std::collections::BTreeSet::new();
    for service in services {
        let title = service["info"]["title"].as_str().unwrap_or("service");
        merge_components(&mut schemas, &service["components"]["schemas"], title);
        merge_components(&mut responses, &service["components"]["responses"], title);
        let Some(service_paths) = service["paths"].as_object() else {
            continue;
        };
        for (path, item) in service_paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                let Some(public) = public_operation(table, path, method, op, &mut scopes) else {
                    continue;
                };
                let entry = paths.entry(path.clone()).or_insert_with(|| json!({}));
                entry[method.as_str()] = public;
            }
        }
    }
    drop_dangling_links(&mut paths);
    let used = referenced(&Value::Object(paths.clone()), &schemas, &responses);
    schemas.retain(|name, _| used.contains(&format!("#/components/schemas/{name}")));
    responses.retain(|name, _| used.contains(&format!("#/components/responses/{name}")));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "eHealth gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Everything the gateway routes publicly: the operations of mithril-api, \
                auth-token and employee-roles as an MIS, a clinic or a pharmacy reaches them through \
                the one gateway URL. Every answer is the envelope {\"meta\",\"data\"[,\"paging\"]}; \
                errors are {\"meta\",\"error\":{type,message[,invalid]}}; the standard OAuth 2 \
                endpoints (/oauth/authorize, /oauth/token, /oauth/introspect, /oauth/revoke, \
                /.well-known/oauth-authorization-server) answer in RFC 6749 form instead. A token \
                comes from the OAuth flow of seed 003 (POST /auth/login, POST /oauth/apps/authorize, \
                POST /oauth/tokens) or from the standard code flow with PKCE; a broker client's MIS \
                also sends its `api-key`."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": responses,
            "securitySchemes": security_schemes(&scopes),
        }
    })
}

/// `op` as reached through the gateway, or `None` when no route takes it.
fn public_operation(
    table: &RouteTable,
    path: &str,
    method: &str,
    op: &Value,
    scopes: &mut std::collections::BTreeSet<String>,
) -> Option<Value> {
    let m = HttpMethod::of(&method.to_ascii_uppercase())?;
    let sample = sample_path(path, op);
    let Lookup::Found(matched) = table.lookup(Some(m), &sample) else {
        return None;
    };
    let route = matched.route;
    if route.strip_prefix {
        return None;
    }
    let rule = if route.rules.is_empty() {
        None
    } else {
        Some(route.find_rule(m, relative_path(matched.prefix, &sample))?)
    };
    let mut op = op.as_object()?.clone();
    // The service's own credential (the identity headers) is the gateway's business.
    platform::openapi::drop_identity_params(&mut op);
    let rule_scopes: Vec<String> = rule.map(|r| r.scopes.clone()).unwrap_or_default();
    scopes.extend(rule_scopes.iter().cloned());
    let security = match route.auth {
        AuthMode::Token => json!([{ OAUTH: rule_scopes }]),
        AuthMode::ApiKey => json!([{ API_KEY: [] }]),
        AuthMode::None => json!([]),
    };
    op.insert("security".into(), security);
    if route.auth == AuthMode::Token {
        add_api_key_header(&mut op);
    }
    let answers = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()?;
    // On routes that check a token or a key, the gateway's 401 and 403 stand for the
    // service's too (it refuses the identity the gateway set for the same reasons); on open
    // routes the service's own stay.
    if route.auth != AuthMode::None {
        answers.remove("401");
        answers.remove("403");
    }
    let error = |description: String| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
        })
    };
    match route.auth {
        AuthMode::Token => {
            answers.insert(
                "401".into(),
                error(format!(
                    "No bearer token (\"{NO_TOKEN}\"), or a token that is unknown, expired or \
                     revoked (\"{INVALID_TOKEN}\"), or the service refused the caller."
                )),
            );
        }
        AuthMode::ApiKey => {
            answers.insert(
                "401".into(),
                error(format!(
                    "No `api-key` (\"{NO_API_KEY}\") or one that names no connection."
                )),
            );
        }
        AuthMode::None => {}
    }
    if route.auth != AuthMode::None {
        answers.insert(
            "403".into(),
            error(
                "The token lacks a scope the operation needs (\"Invalid scopes. Missing \
                 allowances: …\"), no rule of the route takes the \
                 call (\"ACL: No matching rule was found for path …\"), the ABAC decision refused \
                 it, or the service refused the caller on this resource."
                    .into(),
            ),
        );
    }
    // The path is normalized before any route is chosen; one that cannot be (a NUL or a
    // control character decoded, a segment climbing out of the root) is refused.
    const BAD_PATH: &str = "The gateway's: the path is not valid (\"Request path is not valid.\").";
    match op
        .get_mut("responses")
        .and_then(|a| a.get_mut("400"))
        .and_then(Value::as_object_mut)
    {
        Some(existing) => {
            let before = existing
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            existing.insert(
                "description".into(),
                Value::String(format!("{before} Or {BAD_PATH}")),
            );
        }
        None => op_answer(&mut op, "400", error(BAD_PATH.into())),
    }
    if op.contains_key("requestBody") {
        op_answer(
            &mut op,
            "408",
            error(
                "The body did not arrive within the gateway's deadline (\"The request body did \
                   not arrive in time.\"); the connection is closed."
                    .into(),
            ),
        );
        op_answer(
            &mut op,
            "413",
            error(format!(
                "The body is larger than this route takes ({} bytes).",
                route.max_body
            )),
        );
    }
    if route.rate_limit.is_some() || route.auth != AuthMode::None {
        op_answer(
            &mut op,
            "429",
            error(
                "Too many calls (the route's rate limit, or too many unknown tokens or keys \
                 from one address); `Retry-After` says when to call again."
                    .into(),
            ),
        );
    }
    op_answer(
        &mut op,
        "502",
        error("The service behind the gateway could not be reached or answered badly.".into()),
    );
    op_answer(
        &mut op,
        "503",
        error(
            "The gateway or the service is unavailable; `Retry-After` says when to try again."
                .into(),
        ),
    );
    op_answer(
        &mut op,
        "504",
        error("The service did not answer within the route's timeout.".into()),
    );
    Some(Value::Object(op))
}

fn op_answer(op: &mut Map<String, Value>, status: &str, answer: Value) {
    if let Some(answers) = op.get_mut("responses").and_then(Value::as_object_mut) {
        answers.entry(status).or_insert(answer);
    }
}

fn add_api_key_header(op: &mut Map<String, Value>) {
    let params = op.entry("parameters").or_insert_with(|| json!([]));
    let Some(params) = params.as_array_mut() else {
        return;
    };
    if params
        .iter()
        .any(|p| p["in"] == "header" && p["name"] == "api-key")
    {
        return;
    }
    params.push(json!({
        "name": "api-key",
        "in": "header",
        "required": false,
        "description": "The MIS's own api-key (its connection secret), when the token belongs to a \
            broker client acting for it.",
        "schema": {"type": "string", "pattern": platform::openapi::NO_NUL}
    }));
}

/// `path` with each parameter replaced by a value of its schema, for the route lookup.
fn sample_path(path: &str, op: &Value) -> String {
    let mut out = String::with_capacity(path.len() + 32);
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let name = &rest[open + 1..open + close];
        let format = op["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name && p["in"] == "path"))
            .and_then(|p| p["schema"]["format"].as_str());
        out.push_str(match format {
            Some("uuid") => "00000000-0000-4000-8000-000000000000",
            _ => "x",
        });
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// Components by name; one a second service names differently is kept under `<title>.<name>`
/// (none does today: the envelope's parts are the same everywhere).
fn merge_components(into: &mut Map<String, Value>, from: &Value, title: &str) {
    let Some(from) = from.as_object() else {
        return;
    };
    for (name, value) in from {
        match into.get(name) {
            Some(existing) if existing != value => {
                into.insert(format!("{title}.{name}"), value.clone());
            }
            _ => {
                into.insert(name.clone(), value.clone());
            }
        }
    }
}

/// Every `$ref` reachable from `root`, following the components it names: what the public
/// operations use (the internal ones' schemas stay out).
fn referenced(
    root: &Value,
    schemas: &Map<String, Value>,
    responses: &Map<String, Value>,
) -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut pending = vec![root];
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    if key == "$ref"
                        && let Some(r) = v.as_str()
                        && seen.insert(r.to_owned())
                    {
                        let target = r
                            .strip_prefix("#/components/schemas/")
                            .and_then(|n| schemas.get(n))
                            .or_else(|| {
                                r.strip_prefix("#/components/responses/")
                                    .and_then(|n| responses.get(n))
                            });
                        pending.extend(target);
                    } else {
                        pending.push(v);
                    }
                }
            }
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    seen
}

/// Links whose target is not public are dropped.
fn drop_dangling_links(paths: &mut Map<String, Value>) {
    let known: Vec<String> = paths
        .iter()
        .flat_map(|(path, item)| {
            let escaped = path.replace('~', "~0").replace('/', "~1");
            item.as_object()
                .into_iter()
                .flat_map(|ops| ops.keys())
                .map(move |m| format!("#/paths/{escaped}/{m}"))
                .collect::<Vec<_>>()
        })
        .collect();
    for item in paths.values_mut() {
        let Some(ops) = item.as_object_mut() else {
            continue;
        };
        for op in ops.values_mut() {
            let Some(answers) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for answer in answers.values_mut() {
                if let Some(Value::Object(links)) = answer.get_mut("links") {
                    links.retain(|_, l| {
                        l["operationRef"]
                            .as_str()
                            .is_some_and(|r| known.iter().any(|k| k == r))
                    });
                    if links.is_empty() {
                        answer.as_object_mut().map(|a| a.remove("links"));
                    }
                }
            }
        }
    }
}

fn security_schemes(scopes: &std::collections::BTreeSet<String>) -> Value {
    let scopes: Map<String, Value> = scopes
        .iter()
        .map(|s| (s.clone(), Value::String(format!("the `{s}` scope"))))
        .collect();
    json!({
        OAUTH: {
            "type": "oauth2",
            "description": "A bearer token of the standard code flow (RFC 6749 with PKCE: the \
                user signs in at /oauth/authorize, the client exchanges the code at /oauth/token), or \
                of seed 003's flow: the user logs in (POST /auth/login), approves the client (POST \
                /oauth/apps/authorize, which answers with a code on the client's redirect URI) and \
                the client exchanges the code (POST /oauth/tokens).",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": "/oauth/authorize",
                    "tokenUrl": "/oauth/token",
                    "refreshUrl": "/oauth/token",
                    "scopes": scopes
                }
            }
        },
        API_KEY: {
            "type": "apiKey",
            "in": "header",
            "name": "api-key",
            "description": "An MIS's api-key: the secret of its own connection."
        }
    })
}

/// The document and its page for the table in force, made again only when the table changes.
#[derive(Default)]
pub struct PublicDocs {
    made: Mutex<Option<Made>>,
}

struct Made {
    /// The table they were made for (compared by address: a reload swaps in a new one).
    table: usize,
    json: Bytes,
    html: Bytes,
}

impl PublicDocs {
    /// `(document, docs page)` for `table`.
    pub fn for_table(&self, table: &std::sync::Arc<RouteTable>) -> (Bytes, Bytes) {
        let key = std::sync::Arc::as_ptr(table) as usize;
        let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = made.as_ref().filter(|m| m.table == key) {
            return (m.json.clone(), m.html.clone());
        }
        let services: Vec<Value> = SERVICE_DOCUMENTS
            .iter()
            .filter_map(|text| serde_json::from_str(text).ok())
            .collect();
        let doc = document(table, &services);
        let json = Bytes::from(serde_json::to_vec_pretty(&doc).unwrap_or_default());
        let html = Bytes::from(platform::docs_page::html("eHealth gateway"));
        *made = Some(Made {
            table: key,
            json: json.clone(),
            html: html.clone(),
        });
        (json, html)
    }
}
