use std::sync::Arc;

use actix_web::dev::Server;
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
}

pub struct Application {
    port: u16,
    server: Server,
    pool: DbPool,
}

impl Application {
    /// Applies migrations, builds the pool and binds the listener (port 0 picks a free one).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let p = prepare(
            "employee-roles",
            &settings.server,
            &settings.database,
            crate::MIGRATIONS,
            crate::MIGRATION_LOCK_KEY,
            &ApiDoc::openapi(),
            crate::schemas()?,
        )
        .await?;
        let state = AppState {
            pool: p.pool.clone(),
            settings: Arc::new(settings.clone()),
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
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
