//! The ops port (4001): /health, /ready, /metrics, /openapi.json, /docs from platform, plus
//! - `POST /cache/purge`: drop one token's cached verify answers (under every api-key) or all;
//! - `POST /explain`: the decision for a method, path and token, without forwarding;
//! - `GET /routes`: the table in force (generation, loaded at, route names);
//! - `POST /routes/reload`: reload the route file now (as SIGHUP does).
//!
//! All but the first three need the admin credential when one is configured ([`access`]).
//! Tokens travel in bodies here, never in paths, so they cannot reach access logs.

use actix_web::web;
use platform::admin::Access;
use platform::{ApiError, ApiResult, Reply, RequestSchema, ValidatedJson};
use serde::{Deserialize, Serialize};

use crate::gate::{self, Inbound, Trace};
use crate::state::Gate;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PurgeRequest {
    token: Option<String>,
    all: Option<bool>,
}

impl RequestSchema for PurgeRequest {
    const SCHEMA: &'static str = "gatekeeper_purge";
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ExplainRequest {
    method: String,
    path: String,
    token: Option<String>,
    api_key: Option<String>,
}

impl RequestSchema for ExplainRequest {
    const SCHEMA: &'static str = "gatekeeper_explain";
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Explanation {
    /// `allow` (would be forwarded) or `deny`.
    decision: &'static str,
    /// The status the gatekeeper would answer with when it denies.
    status: Option<u16>,
    message: Option<String>,
    #[schema(value_type = Object)]
    trace: Trace,
}

/// The endpoints that change the gateway or reveal what a token is worth need the admin
/// credential; health, readiness, metrics and the documents do not.
pub fn access(path: &str) -> Access {
    match path {
        "/cache/purge" | "/explain" | "/routes" | "/routes/reload" => Access::Admin,
        _ => Access::Open,
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/cache/purge").post(purge))
        .service(web::resource("/explain").post(explain))
        .service(web::resource("/routes").get(table))
        .service(web::resource("/routes/reload").post(reload));
}

#[utoipa::path(post, path = "/cache/purge", tag = "ops",
    request_body = PurgeRequest,
    responses((status = 200, description = "purged"), (status = 422, description = "neither token nor all", body = ehealth_core::ErrorBody)))]
pub async fn purge(gate: web::Data<Gate>, body: ValidatedJson<PurgeRequest>) -> ApiResult<Reply> {
    let body = body.into_inner();
    match (body.token, body.all) {
        (Some(token), _) => {
            gate.verifier.purge_token(&token)?;
            Ok(Reply::ok(serde_json::json!({"purged": "token"})))
        }
        (None, Some(true)) => {
            gate.verifier.purge_all();
            Ok(Reply::ok(serde_json::json!({"purged": "all"})))
        }
        _ => Err(ApiError::invalid_request("Send a token or all: true.")),
    }
}

#[utoipa::path(post, path = "/explain", tag = "ops",
    request_body = ExplainRequest,
    responses((status = 200, description = "the decision and how it was reached", body = Explanation)))]
pub async fn explain(
    gate: web::Data<Gate>,
    req: actix_web::HttpRequest,
    body: ValidatedJson<ExplainRequest>,
) -> ApiResult<Reply> {
    let body = body.into_inner();
    let method = actix_web::http::Method::from_bytes(body.method.as_bytes())
        .map_err(|_| ApiError::invalid_field("$.method", "inclusion", "unknown method"))?;
    let (path, query) = body.path.split_once('?').unwrap_or((&body.path, ""));
    let authorization = body.token.as_ref().map(|t| format!("Bearer {t}"));
    let request_id = uuid::Uuid::new_v4().to_string();
    let authorization: Vec<&[u8]> = authorization.iter().map(|a| a.as_bytes()).collect();
    let inbound = Inbound {
        method: method.as_str(),
        raw_path: path,
        query,
        authorization: &authorization,
        cookie: None,
        api_key: body.api_key.as_deref(),
        request_id: &request_id,
        // The operator's verify misses count under its own address.
        client: req
            .peer_addr()
            .map_or(std::net::Ipv6Addr::UNSPECIFIED.into(), |a| a.ip()),
        otel: None,
    };
    let table = gate.table.load_full();
    let mut trace = Trace::recording();
    let outcome = gate::decide(&table, &gate.deps(), &inbound, &mut trace).await;
    let explanation = match outcome {
        Ok(_) => Explanation {
            decision: "allow",
            status: None,
            message: None,
            trace,
        },
        Err(stop) => Explanation {
            decision: "deny",
            status: Some(stop.error.status().as_u16()),
            message: stop.error.message().map(str::to_owned),
            trace,
        },
    };
    Ok(Reply::ok(explanation))
}

#[utoipa::path(get, path = "/routes", tag = "ops",
    responses((status = 200, description = "the route table in force")))]
pub async fn table(gate: web::Data<Gate>) -> Reply {
    let status = gate.reloader.status();
    let table = gate.table.load();
    Reply::ok(serde_json::json!({
        "generation": status.generation,
        "loaded_at": status.loaded_at,
        "last_error": status.last_error,
        "file": gate.settings.routes.file,
        "routes": table.route_names(),
    }))
}

#[utoipa::path(post, path = "/routes/reload", tag = "ops",
    responses((status = 200, description = "reloaded"), (status = 422, description = "the file is invalid; the table in force is kept", body = ehealth_core::ErrorBody)))]
pub async fn reload(gate: web::Data<Gate>) -> ApiResult<Reply> {
    match gate.reloader.reload_now(&gate.table) {
        Ok(generation) => Ok(Reply::ok(serde_json::json!({"generation": generation}))),
        Err(e) => Err(ApiError::unprocessable(
            "invalid_route_file",
            format!("{e:#}"),
        )),
    }
}
