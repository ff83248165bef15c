//! The OpenAPI document as the wire has it.
//!
//! utoipa's annotations describe what each handler deals in (`body = Client`, its own statuses).
//! What every operation of a kind shares is written here once, from the same sources the service
//! obeys, so that the document cannot drift from the wire:
//! - answers in the envelope: `{"meta","data"[,"paging"][,"urgent"]}`, errors `{"meta","error"}`;
//! - request bodies as the JSON Schemas that [`crate::json`] validates them with, under their
//!   wrapper key, with every free string refusing NUL as the validator does;
//! - the credential each path takes ([`crate::admin::Access`], or the gatekeeper's signed
//!   identity, [`crate::caller`]) as a security requirement, with its 401;
//! - the refusals of the extractors: 400, 413, 415 and 422 for bodies, 422 for queries, 404 for
//!   path ids, 503 for an unavailable database;
//! - links from each create to the operations on what it created (the stateful tests' chains).

use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use crate::admin::Access;
use crate::json::{RequestSchema, Schemas};

/// The security schemes operations refer to.
pub const ADMIN_SCHEME: &str = "adminToken";
pub const SERVICE_SCHEME: &str = "serviceToken";
pub const IDENTITY_SCHEME: &str = "gatewayIdentity";

/// A request body: the component it is documented as, the schemas that validate it (a body
/// valid against any one of them passes), and the key it is wrapped under.
pub struct BodySchema {
    component: String,
    schemas: Vec<&'static str>,
    wrapper: Option<&'static str>,
    /// `(method, path)` when the body is this operation's alone (the annotations name a shared
    /// type that the handler narrows by a field, as auth-token's grants do).
    operation: Option<(&'static str, &'static str)>,
}

impl BodySchema {
    pub fn of<T: RequestSchema + utoipa::ToSchema>() -> Self {
        Self {
            component: T::name().into_owned(),
            schemas: vec![T::SCHEMA],
            wrapper: T::WRAPPER,
            operation: None,
        }
    }

    /// The body of one operation, documented as `component`: one of `schemas`, under `wrapper`.
    pub fn at(
        method: &'static str,
        path: &'static str,
        component: &str,
        schemas: &[&'static str],
        wrapper: Option<&'static str>,
    ) -> Self {
        Self {
            component: component.to_owned(),
            schemas: schemas.to_vec(),
            wrapper,
            operation: Some((method, path)),
        }
    }
}

/// What a service says about its paths, beyond the annotations.
pub struct Contract {
    /// Who may call a path: the admin guard's own policy.
    pub access: fn(&str) -> Access,
    /// Paths whose handlers act for the caller the gatekeeper vouches for.
    pub identity: fn(&str) -> bool,
    /// Operations `(method, path)` that record the operator's `x-consumer-id` ([`crate::Actor`]).
    pub actor: fn(&str, &str) -> bool,
    pub bodies: Vec<BodySchema>,
    /// The largest `page_size` the service's lists take.
    pub max_page_size: i64,
    /// Query parameters that are comma-separated lists of UUIDs ([`crate::query::QueryReader::uuid_list`]).
    pub uuid_lists: &'static [&'static str],
    /// The 422s a schema-valid request can still get, because of the data: each operation on
    /// `path` with a body or query lists them under its 422 (`x-business-rules`).
    pub refusals: &'static [Refusal],
    /// Paths that answer in a form of their own, not the envelope (auth-token's standard OAuth
    /// endpoints, RFC 6749): documented as their annotations say, open to any caller.
    pub own_form: fn(&str) -> bool,
}

/// A rule of the data (not of the request's shape) that an operation enforces with a 422.
pub struct Refusal {
    pub path: &'static str,
    /// `$.field` of the body, or a query parameter's name.
    pub entry: &'static str,
    pub rule: &'static str,
    pub why: &'static str,
}

/// One hyphenated UUID (what [`crate::query::QueryReader::uuid`] takes).
pub const UUID_PATTERN: &str =
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

/// `pattern` for strings that may hold anything but NUL.
pub const NO_NUL: &str = "^[^\\x00]*$";

/// Any JSON value whose strings and keys hold no NUL: what a free-form object may carry.
pub const JSON_WITHOUT_NUL: &str = "JsonWithoutNul";

fn json_without_nul() -> Value {
    let any = json!({"$ref": format!("#/$defs/{JSON_WITHOUT_NUL}")});
    json!({
        "description": "Any JSON value; no string or key holds NUL.",
        "anyOf": [
            {"type": "string", "pattern": NO_NUL},
            {"type": ["number", "boolean", "null"]},
            {"type": "array", "items": any},
            {"type": "object", "propertyNames": {"pattern": NO_NUL}, "additionalProperties": any}
        ]
    })
}

/// Makes a schema refuse NUL wherever a string can be, as PostgreSQL cannot store it: every
/// string schema without a pattern, format or enum of its own gets [`NO_NUL`], and every object
/// that admits properties it does not list admits only names and values without NUL
/// ([`JSON_WITHOUT_NUL`], defined under the root's `$defs`). The validator then refuses NUL with
/// a 422, and the document, built from the same schema, says so.
pub fn forbid_nul(schema: &mut Value) {
    if forbid_nul_in(schema)
        && let Some(root) = schema.as_object_mut()
    {
        let defs = root.entry("$defs").or_insert_with(|| json!({}));
        defs[JSON_WITHOUT_NUL] = json_without_nul();
    }
}

/// Whether a free-form object was met (its values refer to [`JSON_WITHOUT_NUL`]).
fn forbid_nul_in(schema: &mut Value) -> bool {
    let mut free_object = false;
    match schema {
        Value::Object(map) => {
            let has_type = |map: &Map<String, Value>, t: &str| match map.get("type") {
                Some(Value::String(x)) => x == t,
                Some(Value::Array(xs)) => xs.iter().any(|x| x == t),
                _ => false,
            };
            let constrained = ["pattern", "format", "enum", "const"]
                .iter()
                .any(|k| map.contains_key(*k));
            if has_type(map, "string") && !constrained {
                map.insert("pattern".into(), Value::String(NO_NUL.into()));
            }
            let open = matches!(
                map.get("additionalProperties"),
                None | Some(Value::Bool(true))
            );
            if has_type(map, "object") && open {
                map.insert("propertyNames".into(), json!({"pattern": NO_NUL}));
                map.insert(
                    "additionalProperties".into(),
                    json!({"$ref": format!("#/$defs/{JSON_WITHOUT_NUL}")}),
                );
                free_object = true;
            }
            for (key, value) in map.iter_mut() {
                match key.as_str() {
                    // Names of properties are not schemas; their values are.
                    "properties" | "$defs" | "patternProperties" => {
                        if let Value::Object(props) = value {
                            for v in props.values_mut() {
                                free_object |= forbid_nul_in(v);
                            }
                        }
                    }
                    "enum"
                    | "const"
                    | "examples"
                    | "example"
                    | "propertyNames"
                    | "additionalProperties" => {}
                    _ => free_object |= forbid_nul_in(value),
                }
            }
        }
        Value::Array(items) => {
            for v in items.iter_mut() {
                free_object |= forbid_nul_in(v);
            }
        }
        _ => {}
    }
    free_object
}

/// The served document: `doc` (from the annotations) completed as the module header says.
pub fn wire(
    doc: &utoipa::openapi::OpenApi,
    schemas: &Schemas,
    contract: &Contract,
) -> anyhow::Result<Value> {
    let mut doc = doc.clone();
    doc.merge(EnvelopeDoc::openapi());
    let mut doc = serde_json::to_value(doc)?;
    add_shared_components(&mut doc);
    replace_body_schemas(&mut doc, schemas, contract)?;
    let paths = doc
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .map(std::mem::take)
        .unwrap_or_default();
    let mut completed = Map::new();
    for (path, mut item) in paths {
        if let Some(ops) = item.as_object_mut() {
            for (method, op) in ops.iter_mut() {
                if is_method(method) {
                    complete_operation(&path, method, op, contract);
                    op["operationId"] = Value::String(operation_id(method, &path));
                }
            }
        }
        completed.insert(path, item);
    }
    add_links(&mut completed);
    doc["paths"] = Value::Object(completed);
    Ok(doc)
}

/// The envelope's parts, which every document refers to.
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    ehealth_core::Meta,
    ehealth_core::Paging,
    ehealth_core::ErrorBody,
    ehealth_core::InvalidEntry,
    ehealth_core::Rule
)))]
struct EnvelopeDoc;

/// `get /admin/clients/{client_id}` → `get_admin_clients_client_id`: unique, as OpenAPI wants
/// (the handlers' names repeat from module to module), and stable for generated clients.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_owned();
    for word in path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        id.push('_');
        id.push_str(word);
    }
    id
}

fn is_method(key: &str) -> bool {
    matches!(
        key,
        "get" | "put" | "post" | "delete" | "patch" | "head" | "options" | "trace"
    )
}

fn add_shared_components(doc: &mut Value) {
    let components = doc
        .as_object_mut()
        .map(|d| d.entry("components").or_insert_with(|| json!({})));
    let Some(components) = components else {
        return;
    };
    let schemas = components
        .as_object_mut()
        .map(|c| c.entry("schemas").or_insert_with(|| json!({})));
    if let Some(Value::Object(schemas)) = schemas {
        schemas.insert(
            "Urgent".into(),
            json!({"type": "object", "description": "Facts the caller must see at once."}),
        );
        schemas.insert(
            "ErrorEnvelope".into(),
            json!({
                "type": "object",
                "required": ["meta", "error"],
                "properties": {
                    "meta": {"$ref": "#/components/schemas/Meta"},
                    "error": {"$ref": "#/components/schemas/ErrorBody"}
                }
            }),
        );
    }
    let error = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
        })
    };
    let mut responses = Map::new();
    for (name, description) in STANDARD_RESPONSES {
        responses.insert((*name).into(), error(description));
    }
    if let Some(c) = components.as_object_mut() {
        c.insert("responses".into(), Value::Object(responses));
        c.insert("securitySchemes".into(), security_schemes());
    }
}

const STANDARD_RESPONSES: &[(&str, &str)] = &[
    (
        "Malformed",
        "The body is not JSON, or lacks its wrapper key (`request_malformed`).",
    ),
    (
        "Unauthenticated",
        "The credential the operation takes is missing, wrong or, for the gatekeeper's identity \
         headers, unsigned, badly signed or too old (`access_denied`).",
    ),
    (
        "Forbidden",
        "The caller may not act on this resource (`forbidden`).",
    ),
    (
        "NotFound",
        "No such resource; a malformed id names none either (`not_found`).",
    ),
    (
        "TooLarge",
        "The body is larger than the service accepts (`request_malformed`).",
    ),
    (
        "UnsupportedMediaType",
        "The body is not `application/json` (`request_malformed`).",
    ),
    (
        "Invalid",
        "A parameter or a field of the body breaks a rule; `error.invalid[]` names each \
         (`validation_failed`).",
    ),
    (
        "Unavailable",
        "The database (or a service this one calls) is unavailable; `Retry-After` says when to \
         try again (`service_unavailable`).",
    ),
];

fn security_schemes() -> Value {
    json!({
        ADMIN_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "An operator's admin token (ADMIN__TOKENS). The internal APIs are not \
                routed by the gatekeeper."
        },
        SERVICE_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "The gatekeeper's service token (SERVICE__TOKENS), for the verify calls."
        },
        IDENTITY_SCHEME: {
            "type": "apiKey",
            "in": "header",
            "name": "x-consumer-signature",
            "description": "The caller as the gatekeeper vouches for it: `x-consumer-id` (the user), \
                `x-consumer-metadata` (JSON with `client_id`), the other x-consumer-* / x-client-id / \
                x-mis-client-id / x-person-id headers it sets, and `x-consumer-signature: \
                t=<unix seconds>,v1=<hex HMAC-SHA256>` over them, the method and the target \
                (ehealth_core::identity_signature). Services refuse identity that is unsigned, badly \
                signed or older than identity.max_age_secs."
        }
    })
}

/// Puts each body's validating schema (with [`forbid_nul`] applied, as the validator has it)
/// in place of the annotated one.
fn replace_body_schemas(
    doc: &mut Value,
    schemas: &Schemas,
    contract: &Contract,
) -> anyhow::Result<()> {
    for body in &contract.bodies {
        let mut alternatives = Vec::new();
        for name in &body.schemas {
            let mut schema = schemas
                .source(name)
                .ok_or_else(|| anyhow::anyhow!("schema {name} is not registered"))?
                .clone();
            if let Some(map) = schema.as_object_mut() {
                map.remove("$schema");
                map.remove("$id");
                // The component's name is its name (a generator would name a model by title).
                map.remove("title");
                // Definitions become components, and references follow them.
                if let Some(Value::Object(defs)) = map.remove("$defs") {
                    for (name, mut def) in defs {
                        to_components(&mut def);
                        doc["components"]["schemas"][name] = def;
                    }
                }
            }
            to_components(&mut schema);
            alternatives.push(schema);
        }
        // Alternatives are components of their own, named after their schema files (a
        // generated client then names their models so).
        let schema = match alternatives.len() {
            1 => alternatives.remove(0),
            _ => {
                let mut refs = Vec::new();
                for (name, alternative) in body.schemas.iter().zip(alternatives) {
                    let component = camel_case(name);
                    doc["components"]["schemas"][&component] = alternative;
                    refs.push(json!({"$ref": format!("#/components/schemas/{component}")}));
                }
                json!({"oneOf": refs})
            }
        };
        doc["components"]["schemas"][&body.component] = schema;
        if let Some(wrapper) = body.wrapper {
            doc["components"]["schemas"][format!("{}Request", body.component)] = json!({
                "type": "object",
                "required": [wrapper],
                "additionalProperties": false,
                "properties": {wrapper: {"$ref": format!("#/components/schemas/{}", body.component)}}
            });
        }
    }
    for body in &contract.bodies {
        let Some((method, path)) = body.operation else {
            continue;
        };
        let reference = match body.wrapper {
            Some(_) => format!("#/components/schemas/{}Request", body.component),
            None => format!("#/components/schemas/{}", body.component),
        };
        let pointer = format!(
            "/paths/{}/{method}/requestBody/content/application~1json/schema",
            path.replace('~', "~0").replace('/', "~1")
        );
        let schema = doc
            .pointer_mut(&pointer)
            .ok_or_else(|| anyhow::anyhow!("{method} {path} has no JSON request body"))?;
        *schema = json!({"$ref": reference});
    }
    // Request bodies refer to the wrapped form.
    let wrapped: Vec<(String, String)> = contract
        .bodies
        .iter()
        .filter(|b| b.wrapper.is_some() && b.operation.is_none())
        .map(|b| {
            (
                format!("#/components/schemas/{}", b.component),
                format!("#/components/schemas/{}Request", b.component),
            )
        })
        .collect();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(ops) = item.as_object_mut() else {
                continue;
            };
            for op in ops.values_mut() {
                let Some(schema) = op.pointer_mut("/requestBody/content/application~1json/schema")
                else {
                    continue;
                };
                // An optional body is `oneOf [null, $ref]` in the annotations; on the wire it is
                // absent or the wrapped object (`requestBody.required` says which may be).
                if let Some((_, to)) = wrapped.iter().find(|(from, _)| refers_to(schema, from)) {
                    *schema = json!({"$ref": to});
                }
            }
        }
    }
    Ok(())
}

/// `token_refresh_token` → `TokenRefreshToken`.
fn camel_case(name: &str) -> String {
    name.split('_').map(capitalize).collect()
}

/// `#/$defs/X` → `#/components/schemas/X`, everywhere in `schema`.
fn to_components(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Value::String(r) if key == "$ref" => {
                        if let Some(name) = r.strip_prefix("#/$defs/") {
                            *r = format!("#/components/schemas/{name}");
                        }
                    }
                    other => to_components(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(to_components),
        _ => {}
    }
}

fn refers_to(schema: &Value, reference: &str) -> bool {
    match schema {
        Value::Object(map) => {
            map.get("$ref").and_then(Value::as_str) == Some(reference)
                || map.values().any(|v| refers_to(v, reference))
        }
        Value::Array(items) => items.iter().any(|v| refers_to(v, reference)),
        _ => false,
    }
}

fn complete_operation(path: &str, method: &str, op: &mut Value, contract: &Contract) {
    let Some(op) = op.as_object_mut() else {
        return;
    };
    let has_body = op.contains_key("requestBody");
    let (has_path_params, has_query) = parameters_of(op, contract);
    if (contract.own_form)(path) {
        op.insert("security".into(), json!([]));
        describe_responses(op);
        return;
    }
    envelope_responses(op);
    let mut standard: Vec<(&str, &str)> = vec![("503", "Unavailable")];
    if has_body {
        standard.extend([
            ("400", "Malformed"),
            ("413", "TooLarge"),
            ("415", "UnsupportedMediaType"),
            ("422", "Invalid"),
        ]);
    }
    if has_query {
        standard.push(("422", "Invalid"));
    }
    if has_path_params {
        standard.push(("404", "NotFound"));
    }
    let access = (contract.access)(path);
    let identity = (contract.identity)(path);
    let security = match access {
        Access::Admin => json!([{ADMIN_SCHEME: []}]),
        Access::AdminOrService => json!([{ADMIN_SCHEME: []}, {SERVICE_SCHEME: []}]),
        Access::Open if identity => json!([{IDENTITY_SCHEME: []}]),
        Access::Open => json!([]),
    };
    op.insert("security".into(), security);
    if access != Access::Open || identity {
        standard.push(("401", "Unauthenticated"));
    }
    if identity {
        standard.push(("403", "Forbidden"));
        // The identity headers are the credential the scheme describes; the gatekeeper sets
        // them, a caller never does.
        drop_identity_params(op);
    }
    if (contract.actor)(method, path) {
        add_actor_header(op);
        standard.push(("401", "Unauthenticated"));
    }
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(responses) = responses {
        for (status, name) in standard {
            responses
                .entry(status)
                .or_insert_with(|| json!({"$ref": format!("#/components/responses/{name}")}));
        }
        let refusals: Vec<&Refusal> = contract
            .refusals
            .iter()
            .filter(|r| r.path == path)
            .collect();
        if !refusals.is_empty() && (has_body || has_query) {
            responses.insert("422".into(), business_422(&refusals));
        }
    }
}

/// The 422 of an operation whose data can refuse a well-formed request, naming each rule.
fn business_422(refusals: &[&Refusal]) -> Value {
    let mut description = String::from(
        "Validation failed; `error.invalid[]` names each rule broken. Besides the shape of the \
         request (the schemas above), these rules of the data:",
    );
    for r in refusals {
        description.push_str(&format!("\n- `{}` `{}`: {}", r.entry, r.rule, r.why));
    }
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
        "x-business-rules": refusals
            .iter()
            .map(|r| json!({"entry": r.entry, "rule": r.rule}))
            .collect::<Vec<_>>()
    })
}

/// Removes the header parameters that carry the gatekeeper's identity (`x-consumer-*`,
/// `x-client-id`) from an operation: they are a credential, not data a caller sends.
pub fn drop_identity_params(op: &mut Map<String, Value>) {
    if let Some(Value::Array(params)) = op.get_mut("parameters") {
        params.retain(|p| {
            let header = p.get("in").and_then(Value::as_str) == Some("header");
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
            !(header && (name.starts_with("x-consumer-") || name == "x-client-id"))
        });
    }
}

/// Whether the operation has path parameters, and query parameters. Parameter schemas say what
/// the extractors take: no `null` (a parameter is sent or not), no NUL in strings, and the
/// bounds of `page` and `page_size` ([`ehealth_core::PageRequest`]).
fn parameters_of(op: &mut Map<String, Value>, contract: &Contract) -> (bool, bool) {
    let (mut path, mut query) = (false, false);
    if let Some(Value::Array(params)) = op.get_mut("parameters") {
        for p in params.iter_mut() {
            let location = p.get("in").and_then(Value::as_str).unwrap_or_default();
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
            match location {
                "path" => path = true,
                "query" => query = true,
                _ => {}
            }
            let bounds = match (location, name) {
                ("query", "page") => {
                    Some(json!({"type": "integer", "minimum": 1, "maximum": i32::MAX}))
                }
                ("query", "page_size") => Some(
                    json!({"type": "integer", "minimum": 1, "maximum": contract.max_page_size}),
                ),
                ("query", list) if contract.uuid_lists.contains(&list) => Some(json!({
                    "type": "string",
                    "pattern": format!("^{UUID_PATTERN}(,{UUID_PATTERN})*$")
                })),
                _ => None,
            };
            if let Some(schema) = p.get_mut("schema") {
                match bounds {
                    Some(b) => *schema = b,
                    None => {
                        drop_null(schema);
                        forbid_nul(schema);
                    }
                }
            }
        }
    }
    (path, query)
}

/// `type: [T, "null"]` → `type: T`.
fn drop_null(schema: &mut Value) {
    if let Some(Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types[0].clone();
            schema["type"] = only;
        }
    }
}

fn add_actor_header(op: &mut Map<String, Value>) {
    let params = op
        .entry("parameters")
        .or_insert_with(|| json!([]))
        .as_array_mut();
    if let Some(params) = params {
        let present = params.iter().any(|p| {
            p.get("in").and_then(Value::as_str) == Some("header")
                && p.get("name").and_then(Value::as_str) == Some(crate::caller::CONSUMER_ID)
        });
        if present {
            return;
        }
        params.push(json!({
            "name": crate::caller::CONSUMER_ID,
            "in": "header",
            "required": true,
            "description": "Who acts: the operator's account, recorded with what changes.",
            "schema": {"type": "string", "format": "uuid"}
        }));
    }
}

/// Success answers in the envelope, errors in the error envelope.
fn envelope_responses(op: &mut Map<String, Value>) {
    let Some(Value::Object(responses)) = op.get_mut("responses") else {
        return;
    };
    for (status, response) in responses.iter_mut() {
        if response.get("$ref").is_some() {
            continue;
        }
        let success = status.starts_with('2');
        if status == "204" {
            continue;
        }
        let data = response
            .pointer("/content/application~1json/schema")
            .cloned();
        let schema = if success {
            success_envelope(data)
        } else {
            json!({"$ref": "#/components/schemas/ErrorEnvelope"})
        };
        response["content"] = json!({"application/json": {"schema": schema}});
    }
    describe_responses(op);
}

/// Every response gets a description (OpenAPI requires one): its status's default when the
/// annotation gave none.
fn describe_responses(op: &mut Map<String, Value>) {
    let Some(Value::Object(responses)) = op.get_mut("responses") else {
        return;
    };
    for (status, response) in responses.iter_mut() {
        if response.get("$ref").is_some() {
            continue;
        }
        let described = response
            .get("description")
            .and_then(Value::as_str)
            .is_some_and(|d| !d.is_empty());
        if !described {
            response["description"] = Value::String(default_description(status).into());
        }
    }
}

fn default_description(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "204" => "No content",
        "303" => "See other",
        "400" => "Malformed request",
        "401" => "Unauthenticated",
        "403" => "Forbidden",
        "404" => "Not found",
        "409" => "Conflict with the current state",
        "422" => "Validation failed; `error.invalid[]` names each rule broken",
        _ => "See the error envelope",
    }
}

fn success_envelope(data: Option<Value>) -> Value {
    let meta = json!({"$ref": "#/components/schemas/Meta"});
    let urgent = json!({"$ref": "#/components/schemas/Urgent"});
    match data {
        None => json!({
            "type": "object",
            "required": ["meta"],
            "properties": {"meta": meta, "urgent": urgent}
        }),
        Some(data) => {
            let list = data.get("type").and_then(Value::as_str) == Some("array");
            let mut properties = json!({"meta": meta, "data": data, "urgent": urgent});
            if list {
                properties["paging"] = json!({"$ref": "#/components/schemas/Paging"});
            }
            json!({"type": "object", "required": ["meta", "data"], "properties": properties})
        }
    }
}

/// From each `POST` that answers 201 on a collection to the operations on `{collection}/{id}`,
/// with the id taken from the created resource.
fn add_links(paths: &mut Map<String, Value>) {
    let items: Vec<(String, String, Vec<String>)> = paths
        .iter()
        .filter_map(|(path, item)| {
            let (collection, last) = path.rsplit_once('/')?;
            let param = last.strip_prefix('{')?.strip_suffix('}')?;
            let methods = item
                .as_object()?
                .keys()
                .filter(|m| is_method(m))
                .cloned()
                .collect();
            Some((collection.to_owned(), param.to_owned(), methods))
        })
        .collect();
    for (collection, param, methods) in items {
        let item_path = format!("{collection}/{{{param}}}");
        let Some(created) = paths
            .get_mut(&collection)
            .and_then(|c| c.pointer_mut("/post/responses/201"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let mut links = Map::new();
        for method in methods {
            let reference = format!(
                "#/paths/{}/{method}",
                item_path.replace('~', "~0").replace('/', "~1")
            );
            links.insert(
                format!("{}{}", capitalize(&method), link_name(&collection)),
                json!({
                    "operationRef": reference,
                    "parameters": {param.as_str(): "$response.body#/data/id"}
                }),
            );
        }
        created.insert("links".into(), Value::Object(links));
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn link_name(collection: &str) -> String {
    collection
        .split(['/', '_', '{', '}'])
        .filter(|s| !s.is_empty())
        .map(capitalize)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::admin_paths;

    #[derive(serde::Deserialize, utoipa::ToSchema)]
    #[allow(dead_code)]
    struct ThingCreate {
        name: String,
    }

    impl RequestSchema for ThingCreate {
        const SCHEMA: &'static str = "thing_create";
        const WRAPPER: Option<&'static str> = Some("thing");
    }

    #[derive(serde::Serialize, utoipa::ToSchema)]
    struct Thing {
        id: uuid::Uuid,
        name: String,
    }

    #[utoipa::path(get, path = "/api/things", params(("page" = Option<i64>, Query), ("q" = Option<String>, Query)),
        responses((status = 200, body = Vec<Thing>)))]
    #[allow(dead_code)]
    fn list() {}

    #[utoipa::path(post, path = "/admin/things", request_body = ThingCreate,
        responses((status = 201, body = Thing), (status = 409, description = "Thing is in use.", body = ehealth_core::ErrorBody)))]
    #[allow(dead_code)]
    fn create() {}

    #[utoipa::path(get, path = "/admin/things/{id}", params(("id" = uuid::Uuid, Path)),
        responses((status = 200, body = Thing)))]
    #[allow(dead_code)]
    fn show() {}

    #[derive(utoipa::OpenApi)]
    #[openapi(paths(list, create, show), components(schemas(Thing, ThingCreate)))]
    struct Doc;

    fn document() -> Value {
        let schemas = Schemas::compile(&[(
            "thing_create",
            r#"{"type":"object","additionalProperties":false,"required":["name"],
                "properties":{"name":{"type":"string","maxLength":9}}}"#,
        )])
        .unwrap();
        let contract = Contract {
            access: admin_paths,
            identity: |path| path.starts_with("/api/"),
            actor: |_, _| false,
            bodies: vec![BodySchema::of::<ThingCreate>()],
            max_page_size: 50,
            uuid_lists: &[],
            own_form: |_| false,
            refusals: &[Refusal {
                path: "/admin/things",
                entry: "$.name",
                rule: "unique",
                why: "another thing has this name",
            }],
        };
        wire(&Doc::openapi(), &schemas, &contract).unwrap()
    }

    fn statuses(op: &Value) -> Vec<String> {
        op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn operations_document_the_wire() {
        let doc = document();
        let list = &doc["paths"]["/api/things"]["get"];
        assert_eq!(list["security"], json!([{IDENTITY_SCHEME: []}]));
        assert_eq!(statuses(list), ["200", "401", "403", "422", "503"]);
        let ok = &list["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(ok["required"], json!(["meta", "data"]));
        assert_eq!(ok["properties"]["data"]["type"], "array");
        assert_eq!(
            ok["properties"]["paging"]["$ref"],
            "#/components/schemas/Paging"
        );
        let params = list["parameters"].as_array().unwrap();
        assert_eq!(
            params[0]["schema"],
            json!({"type": "integer", "minimum": 1, "maximum": i32::MAX})
        );
        assert_eq!(params[1]["schema"]["type"], "string");
        assert_eq!(params[1]["schema"]["pattern"], NO_NUL);

        let create = &doc["paths"]["/admin/things"]["post"];
        assert_eq!(create["security"], json!([{ADMIN_SCHEME: []}]));
        assert_eq!(
            statuses(create),
            ["201", "400", "401", "409", "413", "415", "422", "503"]
        );
        assert_eq!(
            create["responses"]["409"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorEnvelope"
        );
        assert_eq!(
            create["responses"]["409"]["description"],
            "Thing is in use."
        );
        assert_eq!(
            create["responses"]["422"]["x-business-rules"],
            json!([{"entry": "$.name", "rule": "unique"}])
        );
        assert_eq!(
            create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ThingCreateRequest"
        );
        let wrapper = &doc["components"]["schemas"]["ThingCreateRequest"];
        assert_eq!(wrapper["required"], json!(["thing"]));
        assert_eq!(wrapper["additionalProperties"], false);
        let body = &doc["components"]["schemas"]["ThingCreate"];
        assert_eq!(body["additionalProperties"], false);
        assert_eq!(body["properties"]["name"]["maxLength"], 9);
        assert_eq!(body["properties"]["name"]["pattern"], NO_NUL);
        let link = &create["responses"]["201"]["links"]["GetAdminThings"];
        assert_eq!(link["operationRef"], "#/paths/~1admin~1things~1{id}/get");
        assert_eq!(link["parameters"]["id"], "$response.body#/data/id");

        let show = &doc["paths"]["/admin/things/{id}"]["get"];
        assert_eq!(statuses(show), ["200", "401", "404", "503"]);
        for name in ["Meta", "Paging", "ErrorBody", "ErrorEnvelope"] {
            assert!(doc["components"]["schemas"].get(name).is_some(), "{name}");
        }
        assert!(
            doc["components"]["securitySchemes"]
                .get(IDENTITY_SCHEME)
                .is_some()
        );
    }

    #[test]
    fn free_strings_refuse_nul_and_constrained_ones_keep_their_rule() {
        let mut s = json!({"type": "object", "properties": {
            "name": {"type": "string"},
            "id": {"type": "string", "format": "uuid"},
            "kind": {"type": "string", "enum": ["A"]},
            "note": {"type": ["string", "null"], "maxLength": 5},
            "type": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}}
        }});
        forbid_nul(&mut s);
        let p = &s["properties"];
        assert_eq!(p["name"]["pattern"], NO_NUL);
        assert_eq!(p["note"]["pattern"], NO_NUL);
        assert_eq!(p["type"]["pattern"], NO_NUL);
        assert_eq!(p["tags"]["items"]["pattern"], NO_NUL);
        assert!(p["id"].get("pattern").is_none());
        assert!(p["kind"].get("pattern").is_none());
        assert!(s.get("pattern").is_none());
        // The outer object lists its properties but does not close them.
        assert_eq!(s["propertyNames"]["pattern"], NO_NUL);
        assert!(s["$defs"].get(JSON_WITHOUT_NUL).is_some());
    }

    #[test]
    fn free_form_objects_take_any_json_without_nul() {
        let mut s = json!({"type": "object", "additionalProperties": false, "properties": {
            "settings": {"type": "object"}
        }});
        forbid_nul(&mut s);
        let validator = jsonschema::validator_for(&s).unwrap();
        let ok = json!({"settings": {"a": [1, "x", {"b": null}]}});
        assert!(validator.is_valid(&ok));
        for bad in [
            json!({"settings": {"a": [1, "x\0"]}}),
            json!({"settings": {"a\0": 1}}),
            json!({"settings": {"a": {"b\0": {}}}}),
        ] {
            assert!(!validator.is_valid(&bad), "{bad}");
        }
    }

    #[test]
    fn answers_are_wrapped_in_the_envelope() {
        let list = success_envelope(Some(json!({"type": "array", "items": {}})));
        assert_eq!(list["required"], json!(["meta", "data"]));
        assert!(list["properties"].get("paging").is_some());
        let object = success_envelope(Some(json!({"$ref": "#/components/schemas/X"})));
        assert!(object["properties"].get("paging").is_none());
        assert_eq!(success_envelope(None)["required"], json!(["meta"]));
    }
}
