use std::sync::Arc;

use platform::Schemas;
use platform::admin::{AdminGuard, Credentials};
use platform::db::{DbPool, Reads};
use platform::server::{Running, ServiceBasics, prepare};

use crate::Settings;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    /// Single-statement reads (token verify), pipelined on shared connections.
    pub reads: Reads,
    pub settings: Arc<Settings>,
    /// Per-grant schemas, checked after `grant_type` picks the grant.
    pub schemas: Schemas,
    /// Where two-factor codes are sent.
    pub sms: crate::sms::Sms,
    /// The standard OAuth issuer (the gateway's public URL), without a trailing slash.
    pub issuer: String,
}

pub struct Application {
    running: Running,
    cleanup: Option<tokio::task::JoinHandle<()>>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let schemas = crate::schemas()?;
        let p = prepare(
            "auth-token",
            ServiceBasics {
                server: &settings.server,
                database: &settings.database,
                identity: &settings.identity,
            },
            AdminGuard::new(
                Credentials::from_settings(&settings.admin)?,
                Credentials::of_tokens(&settings.service.tokens)?,
                crate::access,
            ),
            mithril_store::MIGRATIONS,
            mithril_store::MIGRATION_LOCK_KEY,
            crate::openapi::document(&schemas)?,
            schemas.clone(),
        )
        .await?;
        let cleanup = settings.cleanup.enabled.then(|| {
            tokio::spawn(crate::cleanup::run(
                p.pool.clone(),
                settings.cleanup.clone(),
            ))
        });
        let sms = crate::sms::Sms::new(&settings.sms)?;
        let issuer = settings.oauth.issuer()?;
        let shared = Arc::new(settings.clone());
        let state = move |pool, reads| AppState {
            pool,
            reads,
            settings: shared.clone(),
            schemas: schemas.clone(),
            sms: sms.clone(),
            issuer: issuer.clone(),
        };
        let running = p.serve_routes(&settings.server, state, crate::configure)?;
        Ok(Self { running, cleanup })
    }

    pub fn port(&self) -> u16 {
        self.running.port
    }

    pub fn pool(&self) -> &DbPool {
        &self.running.pool
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.running.run_until_stopped().await;
        if let Some(task) = self.cleanup {
            task.abort();
        }
        result
    }
}
