use std::sync::Arc;

use actix_web::dev::Server;
use platform::Schemas;
use platform::db::DbPool;
use platform::server::{app, prepare, serve};
use utoipa::OpenApi;

use crate::Settings;
use crate::openapi::ApiDoc;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub settings: Arc<Settings>,
    /// Per-grant schemas, checked after `grant_type` picks the grant.
    pub schemas: Schemas,
}

pub struct Application {
    port: u16,
    server: Server,
    pool: DbPool,
    cleanup: Option<tokio::task::JoinHandle<()>>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let schemas = crate::schemas()?;
        let p = prepare(
            "auth-token",
            &settings.server,
            &settings.database,
            mithril_store::MIGRATIONS,
            mithril_store::MIGRATION_LOCK_KEY,
            &ApiDoc::openapi(),
            schemas.clone(),
        )
        .await?;
        let cleanup = settings.cleanup.enabled.then(|| {
            tokio::spawn(crate::cleanup::run(
                p.pool.clone(),
                settings.cleanup.clone(),
            ))
        });
        let state = AppState {
            pool: p.pool.clone(),
            settings: Arc::new(settings.clone()),
            schemas,
        };
        let common = p.common;
        let pools = p.pools;
        let server = serve(p.listener, &settings.server, move || {
            // Each worker gets its own pool: connections are opened and driven on its thread.
            let state = AppState {
                pool: pools.per_worker(),
                ..state.clone()
            };
            app(common.clone(), move |cfg| crate::configure(cfg, state))
        })?;
        Ok(Self {
            port: p.port,
            server,
            pool: p.pool,
            cleanup,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        if let Some(task) = self.cleanup {
            task.abort();
        }
        result
    }
}
