use std::sync::Arc;

use platform::admin::AdminGuard;
use platform::db::{DbPool, Reads};
use platform::server::{Running, ServiceBasics, prepare};

use crate::Settings;

/// What every handler shares (one per worker: the pool is the worker's own).
#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    /// Single-statement reads (get by id), pipelined on shared connections.
    pub reads: Reads,
    pub settings: Arc<Settings>,
}

pub struct Application(Running);

impl Application {
    /// Applies migrations, builds the pools and binds the listener (port 0 picks a free one).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let schemas = crate::schemas()?;
        let p = prepare(
            "employee-roles",
            ServiceBasics {
                server: &settings.server,
                database: &settings.database,
                identity: &settings.identity,
            },
            AdminGuard::for_admin_paths(&settings.admin)?,
            crate::MIGRATIONS,
            crate::MIGRATION_LOCK_KEY,
            crate::openapi::document(&schemas)?,
            schemas,
        )
        .await?;
        let shared = Arc::new(settings.clone());
        let state = move |pool, reads| AppState {
            pool,
            reads,
            settings: shared.clone(),
        };
        Ok(Self(p.serve_routes(
            &settings.server,
            state,
            crate::configure,
        )?))
    }

    pub fn port(&self) -> u16 {
        self.0.port
    }

    pub fn pool(&self) -> &DbPool {
        &self.0.pool
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.0.run_until_stopped().await
    }
}
