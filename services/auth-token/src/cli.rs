use platform::server::Command;
use secrecy::ExposeSecret;

use crate::{Application, Settings};

/// `serve` (default) or `migrate`.
pub async fn run(args: Vec<String>) -> anyhow::Result<()> {
    let command = Command::parse(&args)?;
    let settings = Settings::load()?;
    let _telemetry = platform::telemetry::init("auth-token", &settings.telemetry)?;
    let db = &settings.database;
    match command {
        Command::Migrate => {
            let (migrations, key) = (mithril_store::MIGRATIONS, mithril_store::MIGRATION_LOCK_KEY);
            platform::db::run_migrations(
                db.url.expose_secret(),
                migrations,
                key,
                db.connect_timeout(),
            )
            .await
        }
        Command::Serve => {
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "auth-token listening");
            app.run_until_stopped().await?;
            tracing::info!("auth-token stopped");
            Ok(())
        }
    }
}
