//! `/health` (alive), `/ready` (database reachable and migrated, and not draining:
//! [`crate::shutdown`]), `/openapi.json`, `/docs` (with its assets, [`crate::docs_page`]).
//! `/metrics` is [`crate::metrics`].

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::db::{DbPool, has_migration};
use crate::shutdown::Draining;
use crate::{ApiError, ApiResult, Reply};

#[derive(Clone)]
pub struct OpsState {
    inner: Arc<OpsInner>,
}

struct OpsInner {
    db: Option<(DbPool, String)>,
    draining: Draining,
    openapi_json: String,
    docs_html: String,
}

impl OpsState {
    /// `db`: the pool and the migration version readiness requires (none for the gatekeeper).
    pub fn new(db: Option<(DbPool, String)>, openapi: serde_json::Value) -> anyhow::Result<Self> {
        let openapi_json = serde_json::to_string_pretty(&openapi)?;
        let title = openapi["info"]["title"].as_str().unwrap_or("API");
        let docs_html = crate::docs_page::html(title);
        Ok(Self {
            inner: Arc::new(OpsInner {
                db,
                draining: Draining::default(),
                openapi_json,
                docs_html,
            }),
        })
    }

    /// Set on SIGTERM: readiness fails and answers close their connections.
    pub fn draining(&self) -> &Draining {
        &self.inner.draining
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health").get(health))
        .service(web::resource("/ready").get(ready))
        .service(web::resource("/openapi.json").get(openapi))
        .service(web::resource("/docs").get(docs))
        .service(web::resource(crate::docs_page::SCRIPT_PATH).get(docs_asset))
        .service(web::resource(crate::docs_page::STYLE_PATH).get(docs_asset));
}

/// The docs page's script and style, from inside the binary.
async fn docs_asset(req: actix_web::HttpRequest) -> HttpResponse {
    match crate::docs_page::asset(req.path()) {
        Some((body, content_type)) => HttpResponse::Ok()
            .content_type(content_type)
            .insert_header(("cache-control", "public, max-age=86400"))
            .body(body),
        None => HttpResponse::NotFound().finish(),
    }
}

async fn health() -> Reply {
    Reply::ok(serde_json::json!({"status": "ok"}))
}

async fn ready(state: web::Data<OpsState>) -> ApiResult<Reply> {
    if state.inner.draining.is_set() {
        return Err(ApiError::service_unavailable("Shutting down.", 1));
    }
    if let Some((pool, expected)) = &state.inner.db {
        let mut conn = crate::db::conn(pool).await?;
        let migrated = has_migration(&mut conn, expected).await.map_err(|e| {
            tracing::warn!(error = %e, "readiness check failed");
            ApiError::service_unavailable("Database is not ready.", 1)
        })?;
        if !migrated {
            return Err(ApiError::service_unavailable(
                "Migrations are not applied.",
                1,
            ));
        }
    }
    Ok(Reply::object(
        StatusCode::OK,
        serde_json::json!({"status": "ready"}),
    ))
}

async fn openapi(state: web::Data<OpsState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.inner.openapi_json.clone())
}

async fn docs(state: web::Data<OpsState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(state.inner.docs_html.clone())
}
