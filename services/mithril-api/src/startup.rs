use std::sync::Arc;

use actix_web::dev::Server;
use ehealth_core::ClientTypeGroups;
use platform::db::{DbPool, build_pool, latest_migration, run_migrations};
use platform::ops::OpsState;
use platform::server::{Common, app, bind, serve};
use secrecy::ExposeSecret;
use utoipa::OpenApi;

use crate::Settings;
use crate::openapi::ApiDoc;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub client_types: Arc<ClientTypeGroups>,
}

pub struct Application {
    port: u16,
    server: Server,
    pool: DbPool,
}

impl Application {
    /// Applies migrations, builds the pool and binds the listener (port 0 picks a free one).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        run_migrations(
            settings.database.url.expose_secret(),
            mithril_store::MIGRATIONS,
            mithril_store::MIGRATION_LOCK_KEY,
            settings.database.connect_timeout(),
        )
        .await?;
        let pool = build_pool(&settings.database)?;
        let expected = latest_migration(&mithril_store::MIGRATIONS)?;
        let ops = OpsState::new(Some((pool.clone(), expected)), &ApiDoc::openapi())?;
        let common = Common::new(
            "mithril-api",
            ops,
            crate::schemas()?,
            settings.server.body_limit,
        )?;
        let state = AppState {
            pool: pool.clone(),
            client_types: Arc::new(settings.client_types.clone()),
        };
        let listener = bind(&settings.server)?;
        let port = listener.local_addr()?.port();
        let server = serve(listener, &settings.server, move || {
            let state = state.clone();
            app(common.clone(), move |cfg| {
                crate::routes::configure(cfg, state)
            })
        })?;
        Ok(Self { port, server, pool })
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
