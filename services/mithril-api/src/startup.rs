use std::sync::Arc;

use ehealth_core::ClientTypeGroups;
use platform::admin::AdminGuard;
use platform::db::{DbPool, Reads};
use platform::server::{Running, ServiceBasics, prepare};

use crate::Settings;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    /// Single-statement reads (the connection lists and gets), pipelined on shared connections.
    pub reads: Reads,
    pub client_types: Arc<ClientTypeGroups>,
}

pub struct Application(Running);

impl Application {
    /// Applies migrations, builds the pool and binds the listener (port 0 picks a free one).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let schemas = crate::schemas()?;
        let p = prepare(
            "mithril-api",
            ServiceBasics {
                server: &settings.server,
                database: &settings.database,
                identity: &settings.identity,
            },
            AdminGuard::for_admin_paths(&settings.admin)?,
            mithril_store::MIGRATIONS,
            mithril_store::MIGRATION_LOCK_KEY,
            crate::openapi::document(&schemas)?,
            schemas,
        )
        .await?;
        let client_types = Arc::new(settings.client_types.clone());
        let state = move |pool, reads| AppState {
            pool,
            reads,
            client_types: client_types.clone(),
        };
        Ok(Self(p.serve_routes(
            &settings.server,
            state,
            crate::routes::configure,
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

    /// Runs until `stop` resolves, then drains and stops as on SIGTERM ([`platform::shutdown`]).
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> std::io::Result<()> {
        self.0.run_until(stop).await
    }
}
